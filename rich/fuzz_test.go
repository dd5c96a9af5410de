package rich

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// requireTyped fails when err is not one of this package's errors: callers
// branch on the kind, so an untyped error would be a bug.
func requireTyped(t *testing.T, err error) {
	t.Helper()
	if err != nil && KindOf(err) == 0 {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// checkDecoded is what every accepted op must satisfy.
func checkDecoded(t *testing.T, o Op) {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatalf("decoded op %s is not valid: %v", js(o), err)
	}
	n := o.Normalize()
	if !n.IsCanonical() || !n.Normalize().Equal(n) {
		t.Fatalf("Normalize(%s) = %s is not canonical and stable", js(o), js(n))
	}
	b := n.AppendMsgpack(nil)
	if len(b) != n.Size() {
		t.Fatalf("Size %d, encoded %d", n.Size(), len(b))
	}
	again, err := DecodeOp(b)
	if err != nil || !again.Equal(n) {
		t.Fatalf("MessagePack round trip of %s: %s, %v", js(n), js(again), err)
	}
	j, err := ParseJSON(n.AppendJSON(nil))
	if err != nil || !j.Equal(n) {
		t.Fatalf("JSON round trip of %s: %s, %v", js(n), js(j), err)
	}
}

func FuzzDecodeOp(f *testing.F) {
	for _, s := range []string{
		`[1,"x",-1]`, `["😀",3,-2,"é"]`, `[]`, `[{"r":2,"a":{"bold":true}}]`,
		`[{"i":"ab","a":{"heading":1,"link":"https://x"}},"\n"]`, `[{"e":{"image":"u"},"a":{"alt":"x"}}]`,
		`[{"r":1,"a":{"bold":null,"size":1.5,"x":false}}]`,
	} {
		f.Add(op(f, s).AppendMsgpack(nil))
	}
	// Hostile shapes: claims far beyond the input, a reserved byte, nesting.
	f.Add([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x91, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'})
	f.Add([]byte{0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'i'})
	f.Add([]byte{0x91, 0x82, 0xa1, 'i', 0xa1, 'x', 0xa1, 'a', 0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x91, 0x82, 0xa1, 'i', 0xa1, 'x', 0xa1, 'a', 0x81, 0xa1, 'b', 0x91, 0x91, 0x91, 0x90})
	f.Add([]byte{0x91, 0xc1})
	f.Add([]byte{0x92, 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0, 0xa1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOp(b)
		requireTyped(t, err)
		if err == nil {
			checkDecoded(t, o)
		}
		d, err := DecodeContent(b, 1<<20)
		requireTyped(t, err)
		if err == nil {
			checkTree(t, d)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`[1,"x",-1]`, `["😀",3,-2,"é"]`, `[]`, `null`, `[1.5]`, `["\ud83d"]`, `["\ud83d\ude00"]`,
		`[{"r":2,"a":{"bold":true}}]`, `[{"i":"a","a":{"b":{"c":[1]}}}]`, `[{"e":{"image":"u"}}]`,
		`[{"i":"x","a":{"k":1e400}}]`, `[{"r":1e3,"a":{"x":-0}}]`, `[{"i":"a\\ud800b"}]`, `[{"r":1,"a":{"x":"\u2028"}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseJSON(data)
		requireTyped(t, err)
		var u Op
		err2 := u.UnmarshalJSON(data)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("ParseJSON error %v, UnmarshalJSON error %v", err, err2)
		}
		if err == nil {
			checkDecoded(t, o)
			if !u.Equal(o.Normalize()) {
				t.Fatalf("UnmarshalJSON %s, ParseJSON %s", js(u), js(o))
			}
		}
		if d, err := ParseContentJSON(data); err == nil {
			checkTree(t, d)
		} else {
			requireTyped(t, err)
		}
	})
}

// prog turns fuzz bytes into choices.
type prog struct {
	b []byte
	i int
}

func (p *prog) next() int {
	if p.i >= len(p.b) {
		return 0
	}
	p.i++
	return int(p.b[p.i-1])
}

func (p *prog) done() bool { return p.i >= len(p.b) }

var fuzzAttrs = []Attrs{nil, {"bold": Bool(true)}, {"bold": Null}, {"italic": Bool(true), "link": String("u")},
	{"heading": Int(1)}, {"heading": Int(2)}, {"list": String("bullet")}, {"size": Number(1.5)}, {"bold": Bool(true), "heading": Null}}

func (p *prog) attrs(nulls bool) Attrs {
	a := fuzzAttrs[p.next()%len(fuzzAttrs)]
	if !nulls && hasNull(a) {
		return withoutNulls(a)
	}
	return a
}

func (p *prog) insert(nulls bool) Component {
	k := p.next()
	if k%7 == 0 {
		return Component{Embed: Embed{Type: "image", Value: String(textPieces[k%len(textPieces)])}, Attrs: p.attrs(nulls)}
	}
	return Component{Insert: strings.Repeat(textPieces[k%len(textPieces)], 1+k/32), Attrs: p.attrs(nulls)}
}

// content builds up to n components of content ending with "\n".
func (p *prog) content(n int) Op {
	var c Op
	for range p.next() % (n + 1) {
		c = append(c, p.insert(false))
	}
	return append(c, Component{Insert: "\n", Attrs: p.attrs(false)}).Normalize()
}

// op builds an op for a document of docLen; with clamp it fits and keeps the
// final newline, without it may do neither.
func (p *prog) op(docLen int, clamp bool) Op {
	var o Op
	pos := 0
	for range p.next() % 6 {
		k := p.next()
		n := 1 + p.next()%24
		room := docLen - 1 - pos
		switch k % 4 {
		case 0, 1:
			if clamp {
				n = min(n, docLen-pos)
				if k%4 == 1 {
					n = min(n, room)
				}
				if n <= 0 {
					continue
				}
			}
			if k%4 == 0 {
				o = append(o, Component{Retain: n, Attrs: p.attrs(true)})
			} else {
				o = append(o, Component{Delete: n})
			}
			pos += n
		default:
			if clamp && room < 0 {
				continue
			}
			o = append(o, p.insert(true))
		}
	}
	return o
}

func FuzzApply(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9}, false)
	f.Add([]byte{8, 200, 17, 33, 2, 4, 0, 3, 5, 1, 9, 2, 2}, true)
	f.Add([]byte("a rich document, formatted and edited"), true)
	f.Add(bytes.Repeat([]byte{7, 250, 3}, 40), false)
	f.Fuzz(func(t *testing.T, b []byte, small bool) {
		if small {
			smallNodes(t) // deep trees from small documents
		}
		p := &prog{b: b}
		content := p.content(12)
		d, err := DocFromDelta(content)
		if err != nil {
			t.Fatalf("content %s: %v", short(js(content), 200), err)
		}
		for k := 0; k < 4 && !p.done(); k++ {
			o := p.op(d.Len(), p.next()%4 != 0)
			want, werr := applyModel(content, o)
			before := d.Clone()
			err := d.Apply(o)
			requireTyped(t, err)
			if KindOf(err) != KindOf(werr) {
				t.Fatalf("Apply error %v, model error %v", err, werr)
			}
			if err != nil {
				if !d.Delta().Equal(content) {
					t.Fatal("a failed Apply changed the document")
				}
				continue
			}
			if got := d.Delta(); !got.Equal(want) {
				t.Fatalf("apply %s: rope vs model: %s", short(js(o), 200), diff(got, want))
			}
			checkTree(t, d)
			if !before.Delta().Equal(content) {
				t.Fatal("Apply changed a clone")
			}
			inv, err := Invert(o, before)
			if err != nil {
				t.Fatalf("Invert: %v", err)
			}
			undo := d.Clone()
			if err := undo.Apply(inv); err != nil {
				t.Fatalf("inverse %s: %v", js(inv), err)
			}
			if got := undo.Delta(); !got.Equal(content) {
				t.Fatalf("the inverse does not undo %s: %s", js(o), diff(got, content))
			}
			content = want
		}
	})
}

func FuzzTransform(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4})
	f.Add([]byte{6, 0, 17, 0, 1, 4, 3, 9, 0, 2, 12, 8, 1, 3, 2, 0, 7})
	f.Add([]byte("concurrent edits of a rich document"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &prog{b: b}
		content := p.content(6)
		n := content.TargetLen()
		a, c := p.op(n, true), p.op(n, true)
		sids := []string{"alice", "bob", "alice"}
		o := OrderBySID(sids[p.next()%3], sids[1+p.next()%2], p.next()%2 == 0)
		checkTP1(t, content, a, c, o)
		// Carets survive both orders of application within the document.
		total := mustApplyModel(t, content, a).TargetLen()
		for pos := 0; pos < n; pos++ {
			if q := TransformPosition(pos, a, p.next()%2 == 0); q < 0 || q > total {
				t.Fatalf("caret %d moved to %d outside 0..%d", pos, q, total)
			}
		}
	})
}

func FuzzCompose(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4})
	f.Add([]byte("compose three edits of a rich document"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &prog{b: b}
		content := p.content(6)
		a := p.op(content.TargetLen(), true)
		mid := mustApplyModel(t, content, a)
		c := p.op(mid.TargetLen(), true)
		want := mustApplyModel(t, mid, c)
		ac, err := Compose(a, c)
		requireTyped(t, err)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Compose: %v", err)
			}
			return
		}
		if !ac.IsCanonical() || ac.Validate() != nil {
			t.Fatalf("Compose result %s is not valid and canonical", js(ac))
		}
		if dd := diff(mustApplyModel(t, content, ac), want); dd != "" {
			t.Fatalf("Compose(%s, %s) = %s: %s", js(a), js(c), js(ac), dd)
		}
		e := p.op(want.TargetLen(), true)
		x, err1 := Compose(ac, e)
		ce, err2 := Compose(c, e)
		y, err3 := Compose(a, ce)
		if err1 == nil && err2 == nil && err3 == nil && !x.Equal(y) {
			t.Fatalf("compose is not associative: %s vs %s", js(x), js(y))
		}
	})
}
