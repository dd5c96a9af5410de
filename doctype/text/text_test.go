package text

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/ot"
)

func TestRegistered(t *testing.T) {
	ty, err := doctype.Lookup(Name)
	if err != nil || ty.Name() != Name || ty.ContentKey() != "text" {
		t.Fatalf("Lookup(text) = %v, %v", ty, err)
	}
	if _, err := doctype.Lookup("nope"); !errors.Is(err, doctype.ErrUnknownType) {
		t.Fatalf("Lookup(nope) = %v, want ErrUnknownType", err)
	}
}

func TestContentRoundTrip(t *testing.T) {
	ty := Type{}
	for _, s := range []string{"", "héllo 😀", strings.Repeat("x", 70000)} {
		c := MustString(s)
		back, err := ty.DecodeContent(c.AppendMsgpack(nil))
		if err != nil || String(back) != s {
			t.Fatalf("msgpack round trip of %d bytes: %v", len(s), err)
		}
		js, _ := c.MarshalJSON()
		back, err = ty.ParseContentJSON(js)
		if err != nil || String(back) != s {
			t.Fatalf("JSON round trip of %d bytes: %v", len(s), err)
		}
	}
	if c, err := ty.ParseContentJSON([]byte("null")); err != nil || String(c) != "" {
		t.Fatalf("null content: %v", err)
	}
	if _, err := ty.ParseContentJSON([]byte("[1]")); err == nil {
		t.Fatal("an array is not text content")
	}
	if _, err := ty.DecodeContent([]byte{0xa1, 0xff}); err == nil {
		t.Fatal("content that is not UTF-8 decoded")
	}
}

func TestApplyCheckBaseTransform(t *testing.T) {
	ty := Type{}
	c := ty.NewContent()
	ins, err := ty.ParseOpJSON([]byte(`["abc"]`))
	if err != nil {
		t.Fatal(err)
	}
	applied, err := c.Apply(ins)
	if err != nil || String(c) != "abc" || Op(applied) == nil {
		t.Fatalf("apply: %v, %q", err, String(c))
	}
	// An op made at version 0 (empty document) with a trailing retain of 1
	// does not fit, though it fits the current text.
	late, _ := ty.ParseOpJSON([]byte(`[1, "x"]`))
	if err := late.CheckBase(c, []doctype.Op{applied}); err == nil {
		t.Fatal("CheckBase accepted an op that did not fit its version")
	}
	other, _ := ty.ParseOpJSON([]byte(`["z"]`))
	if err := other.CheckBase(c, []doctype.Op{applied}); err != nil {
		t.Fatal(err)
	}
	// Ties by sid: "a..." sorts before "b...", so its insert goes left.
	moved, err := other.Transform("b", applied, "a")
	if err != nil || !equalOps(Op(moved), ot.Op{{Retain: 3}, {Insert: "z"}}) {
		t.Fatalf("transform = %v, %v", moved, err)
	}
	past, cpast, err := doctype.TransformPair(other, "b", applied, "a")
	if err != nil || !equalOps(Op(past), Op(moved)) || Op(cpast) == nil {
		t.Fatalf("TransformPair = %v %v %v", past, cpast, err)
	}
	if _, err := c.Apply(ot.Op{{Retain: 9}, {Insert: "x"}}); err == nil {
		t.Fatal("an op past the end applied")
	}
}

func equalOps(a, b ot.Op) bool {
	ja, _ := a.Normalize().MarshalJSON()
	jb, _ := b.Normalize().MarshalJSON()
	return string(ja) == string(jb)
}

func TestDecodeOpFastAndSlowAgree(t *testing.T) {
	ty := Type{}
	for _, js := range []string{`[1,"a",-2]`, `["` + strings.Repeat("y", 300) + `"]`, `[70000,"b"]`, `[-40000]`} {
		op, err := ty.ParseOpJSON([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		b := op.AppendMsgpack(nil)
		fast, err := ty.DecodeOp(b)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := ot.ParseMsgpackRaw(b)
		if err != nil || !equalOps(Op(fast), slow) {
			t.Fatalf("%s: fast %v slow %v (%v)", js, fast, slow, err)
		}
	}
	if _, err := ty.DecodeOp([]byte{0x91, 0x00}); err == nil {
		t.Fatal("a zero retain decoded")
	}
	if _, err := ty.DecodeOp([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Fatal("an array claiming 4G components decoded")
	}
}

func TestDecodeSelection(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want ot.Selection
		err  error
	}{
		{"nil", []byte{0xc0}, nil, nil},
		{"empty", []byte{0x90}, nil, nil},
		{"caret", []byte{0x91, 0x92, 0x03, 0x03}, ot.Selection{{Anchor: 3, Head: 3}}, nil},
		{"float", []byte{0x91, 0x92, 0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0, 0x01}, ot.Selection{{Anchor: 3, Head: 1}}, nil},
		{"negative", []byte{0x91, 0x92, 0xff, 0x01}, nil, ErrSelection},
		{"three", []byte{0x91, 0x93, 0x01, 0x01, 0x01}, nil, ErrSelection},
		{"trailing", []byte{0x91, 0x92, 0x01, 0x01, 0x01}, nil, ErrSelection},
		{"claims", []byte{0xdd, 0x00, 0x00, 0x00, 0x05, 0x92}, nil, ErrSelection},
		{"string", []byte{0xa1, 'x'}, nil, ErrSelection},
	}
	for _, tc := range tests {
		got, err := DecodeSelection(tc.in)
		if !errors.Is(err, tc.err) || (tc.err == nil && !equalSel(got, tc.want)) {
			t.Errorf("%s: got %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
	big := ot.Selection(make([]ot.Range, MaxRanges+1))
	if _, err := DecodeSelection(big.AppendMsgpack(nil)); !errors.Is(err, doctype.ErrTooLarge) {
		t.Fatalf("over MaxRanges: %v, want ErrTooLarge", err)
	}
}

func equalSel(a, b ot.Selection) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSelectionTransform(t *testing.T) {
	sel := ot.Selection{{Anchor: 1, Head: 1}}
	ins := ot.Op{{Retain: 1}, {Insert: "ab"}}
	if got := sel.Transform(ins, false).(ot.Selection); got[0].Head != 1 {
		t.Fatalf("someone else's caret moved past an insert at it: %v", got)
	}
	if got := sel.Transform(ins, true).(ot.Selection); got[0].Head != 3 {
		t.Fatalf("the author's caret did not follow its insert: %v", got)
	}
	if got := ot.Selection(nil).Transform(ins, false); got != nil {
		t.Fatalf("nil moved to %v", got)
	}
	if js, _ := sel.MarshalJSON(); string(js) != "[[1,1]]" {
		t.Fatalf("JSON %s", js)
	}
}

func FuzzDecodeSelection(f *testing.F) {
	f.Add([]byte{0x91, 0x92, 0x03, 0x03})
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sel, err := DecodeSelection(b)
		if err != nil {
			return
		}
		back, err := DecodeSelection(sel.AppendMsgpack(nil))
		if err != nil || !equalSel(back, sel) {
			t.Fatalf("re-decode of %v: %v %v", sel, back, err)
		}
	})
}

// TestTransformAllFastPath: ot's TransformAll gives what the loop of
// TransformPast, or TransformPair and TransformSelectionPast with a
// selection, gives, ties by sid included.
func TestTransformAllFastPath(t *testing.T) {
	committed := []ot.Op{{{Insert: "ab"}}, {{Retain: 1}, {Delete: 1}}, {{Retain: 1}, {Insert: "zz"}}}
	cs := []doctype.Op{committed[0], committed[1], committed[2]}
	sids := []string{"a-sid", "m-sid", "z-sid"}
	for _, sid := range []string{"b-sid", "m-sid", "0-sid"} {
		for _, sel := range []ot.Selection{nil, {{Anchor: 1, Head: 1}}, {{Anchor: 0, Head: 2}}} {
			op := ot.Op{{Retain: 1}, {Insert: "X"}}
			fast, fsel, err := doctype.TransformAll(op, sid, cs, sids, Selection(sel))
			if err != nil {
				t.Fatal(err)
			}
			cur, s := op, sel
			for i, c := range committed {
				if s == nil {
					cur, _ = ot.TransformPast(cur, sid, c, sids[i])
					continue
				}
				var cPast ot.Op
				cur, cPast, _ = ot.TransformPair(cur, sid, c, sids[i])
				s = ot.TransformSelectionPast(s, sid, cPast, sids[i])
			}
			if !equalOps(Op(fast), cur) || !equalSel(OfSelection(fsel), s) {
				t.Fatalf("%s, sel %v: fast %v %v, loop %v %v", sid, sel, fast, fsel, cur, s)
			}
		}
	}
}
