package ot

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/internal/textutil"
)

// requireTyped fails when err is not one of this package's errors: callers
// branch on the kind, so an untyped error would be a bug.
func requireTyped(t *testing.T, err error) {
	t.Helper()
	if err != nil && KindOf(err) == 0 {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

func FuzzDecodeMsgpack(f *testing.F) {
	for _, v := range []any{
		[]any{1, "x", -1},
		[]any{"😀", 3, -2, "é"},
		[]any{uint64(1 << 40)},
		[]any{},
		[]any{1.0, "a"},
		[]any{[]any{1, 2}},
		map[string]any{"a": 1},
		nil,
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x91, 0xa3, 0xed, 0xa0, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var op Op
		err := op.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(data)))
		requireTyped(t, err)
		if err == nil {
			if verr := op.Validate(); verr != nil || !op.IsCanonical() {
				t.Fatalf("decoded op %v is not valid and canonical: %v", op, verr)
			}
			b, err := msgpack.Marshal(op)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != op.Size() {
				t.Fatalf("Size %d, encoded %d", op.Size(), len(b))
			}
			var again Op
			if err := again.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(b))); err != nil || !opsEqual(again, op) {
				t.Fatalf("re-decode: %v, %v; want %v", again, err, op)
			}
		}
		raw, rerr := ParseMsgpackRaw(data)
		requireTyped(t, rerr)
		if rerr == nil {
			// The op as sent: the same op, before normalising.
			if err != nil || !opsEqual(raw.Normalize(), op) || raw.Validate() != nil {
				t.Fatalf("ParseMsgpackRaw = %v; DecodeMsgpack = %v, %v", raw, op, err)
			}
		}
		var sel Selection
		requireTyped(t, sel.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(data))))
		// Not msgpack.Unmarshal into any: the library preallocates generic
		// slices and maps by their untrusted headers (a 5-byte frame can ask
		// for 64 GiB), which is why Op and Selection have their own decoders.
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`[1,"x",-1]`, `["😀",3,-2,"é"]`, `[]`, `null`, `[1.5]`, `["\ud83d"]`, `["\ud83d\ude00"]`,
		`[0]`, `[-0]`, `[""]`, `[1e3,"a"]`, `[[1]]`, `[99999999999999999999]`, `["a\\ud83d"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := ParseJSONRaw(data)
		requireTyped(t, err)
		var op Op
		err2 := op.UnmarshalJSON(data)
		requireTyped(t, err2)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("ParseJSONRaw error %v, UnmarshalJSON error %v", err, err2)
		}
		if err != nil {
			return
		}
		if !opsEqual(raw.Normalize(), op) || !op.IsCanonical() {
			t.Fatalf("UnmarshalJSON %v, raw %v", op, raw)
		}
		b, err := op.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again Op
		if err := again.UnmarshalJSON(b); err != nil || !opsEqual(again, op) {
			t.Fatalf("round trip through %s: %v, %v", b, again, err)
		}
	})
}

// opFromProgram turns fuzz bytes into an op: each byte is a component whose
// kind is the low two bits and whose size is the rest. With clamp set, counts
// are cut to the document so that most ops fit.
func opFromProgram(prog []byte, docLen int, clamp bool) Op {
	var op Op
	pos := 0
	for _, b := range prog {
		n := int(b>>2) + 1
		switch b & 3 {
		case 0, 1:
			if clamp {
				n = min(n, docLen-pos)
				if n <= 0 {
					continue
				}
			}
			if b&3 == 0 {
				op = append(op, Component{Retain: n})
			} else {
				op = append(op, Component{Delete: n})
			}
			pos += n
		default:
			op = append(op, Component{Insert: strings.Repeat(pieces[n%len(pieces)], 1+n/16)})
		}
	}
	return op
}

func FuzzApply(f *testing.F) {
	f.Add("hello world", []byte{0x10, 0x02, 0x05})
	f.Add("a😀b👨\u200d👩\u200d👧c", []byte{0x03, 0x04, 0x0a, 0x01})
	f.Add("", []byte{0x02})
	f.Add("abc", []byte(`[1,"x",-1]`))
	f.Add("abc", []byte(`[4]`))
	f.Add("日本語", []byte{0x81, 0x0d, 0xfe, 0x41})
	f.Add("a\xffb", []byte{0x00})
	f.Fuzz(func(t *testing.T, doc string, prog []byte) {
		if len(prog) > 0 && prog[0]&0x80 != 0 && len(doc) < 4096 {
			doc = strings.Repeat(doc, 64) // deep enough for a multi-level rope
		}
		docLen := runeLen(doc)
		op, perr := ParseJSONRaw(prog)
		if perr != nil {
			op = opFromProgram(prog, docLen, len(prog) > 0 && prog[0]&0x40 != 0)
		}
		want, err := Apply(doc, op)
		requireTyped(t, err)
		d, derr := NewDoc(doc)
		requireTyped(t, derr)
		if derr != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewDoc rejected the text (%v) but Apply did not (%v)", derr, err)
			}
			return
		}
		before := d.Clone()
		rerr := d.Apply(op)
		requireTyped(t, rerr)
		if KindOf(rerr) != KindOf(err) {
			t.Fatalf("Doc.Apply error %v, Apply error %v", rerr, err)
		}
		if err != nil {
			if d.String() != doc {
				t.Fatal("failed Doc.Apply changed the document")
			}
			return
		}
		if got := d.String(); got != want {
			t.Fatalf("rope %q, string %q", got, want)
		}
		if before.String() != doc {
			t.Fatal("Apply changed a clone")
		}
		checkTree(t, d)
		inv, err := Invert(op, before)
		if err != nil {
			t.Fatalf("Invert: %v", err)
		}
		if err := d.Apply(inv); err != nil || d.String() != doc {
			t.Fatalf("Invert did not undo: %v", err)
		}
		checkTree(t, d)
		// Transform against itself: both sides converge.
		for _, side := range []Side{Left, Right} {
			x, err := Transform(op, op, side)
			if err != nil {
				t.Fatal(err)
			}
			y, _ := Transform(op, op, 1-side)
			a, err1 := Apply(want, y)
			b, err2 := Apply(want, x)
			if err1 != nil || err2 != nil || a != b {
				t.Fatalf("self-transform diverges: %q vs %q (%v %v)", a, b, err1, err2)
			}
		}
	})
}

// FuzzAdvanceValid checks the rope's fast code point stepping against the
// decoding one on every valid UTF-8 text, from every start and for every count.
func FuzzAdvanceValid(f *testing.F) {
	for _, s := range []string{"", "abc", "héllo wörld 😀 and more ascii text", "😀😀😀😀😀😀😀😀😀", "aaaaaaaaaaaaaaaaé", "\u0800\u07ff\U0010ffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 2048 { // the check is quadratic in len(s)
			return
		}
		runes := utf8.RuneCountInString(s)
		// Counts around the 8-byte ASCII step, and past the end.
		counts := []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, runes - 1, runes, runes + 1}
		for from := 0; from < len(s); from = textutil.Advance(s, from, 1) {
			for _, n := range counts {
				if got, want := advanceValid(s, from, n), textutil.Advance(s, from, n); got != want {
					t.Fatalf("advanceValid(%q, %d, %d) = %d, advance says %d", s, from, n, got, want)
				}
			}
		}
	})
}

// FuzzDecodeOpFast pins the hand-written op decoder to the msgpack one it
// short-cuts: whatever it accepts, the msgpack path accepts too and decodes to
// the same op.
func FuzzDecodeOpFast(f *testing.F) {
	for _, op := range []Op{
		{},
		{{Retain: 3}, {Insert: "héllo 😀"}, {Delete: 2}},
		{{Insert: "a"}, {Insert: "b"}, {Retain: 1}},
		{{Delete: MaxCount}},
		{{Retain: 70000}, {Insert: string(make([]byte, 300))}},
	} {
		b, err := msgpack.Marshal(op)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x93, 0x01, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xa1, 'x'})
	f.Add([]byte{0x92, 0x00, 0xa1, 'x'})
	f.Add([]byte{0x91, 0xa2, 0xff, 0xfe})
	f.Add([]byte{0x92, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeOpFast(b)
		if !ok {
			return
		}
		var slow Op
		if err := msgpack.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %x as %v, msgpack path says %v", b, fast, err)
		}
		if !reflect.DeepEqual(fast.Normalize(), slow) {
			t.Fatalf("decoding %x: fast %#v, msgpack %#v", b, fast.Normalize(), slow)
		}
		asSent, err := ParseMsgpackRaw(b)
		if err != nil || !reflect.DeepEqual(fast, asSent) {
			t.Fatalf("decoding %x as sent: fast %#v, ot %#v, %v", b, fast, asSent, err)
		}
	})
}
