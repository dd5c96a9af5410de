package ot

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/internal/textutil"
)

func TestErrorsIs(t *testing.T) {
	cases := []struct {
		err                           error
		invalid, noFit, utf, tooLarge bool
	}{
		{errInvalid(0, "x"), true, false, false, false},
		{errNoFit(1, "x"), true, true, false, false},
		{errUTF8(2, "x"), true, false, true, false},
		{Op{{Insert: strings.Repeat("a", 100)}}.CheckSize(10), false, false, false, true},
		{ErrDoesNotFit, true, true, false, false},
		{ErrBadUTF8, true, false, true, false},
		{ErrTooLarge, false, false, false, true},
		{errors.New("other"), false, false, false, false},
	}
	for i, tc := range cases {
		wrapped := errors.Join(errors.New("context"), tc.err)
		for _, e := range []error{tc.err, wrapped} {
			if got := errors.Is(e, ErrInvalid); got != tc.invalid {
				t.Errorf("case %d: Is(ErrInvalid) = %v", i, got)
			}
			if got := errors.Is(e, ErrDoesNotFit); got != tc.noFit {
				t.Errorf("case %d: Is(ErrDoesNotFit) = %v", i, got)
			}
			if got := errors.Is(e, ErrBadUTF8); got != tc.utf {
				t.Errorf("case %d: Is(ErrBadUTF8) = %v", i, got)
			}
			if got := errors.Is(e, ErrTooLarge); got != tc.tooLarge {
				t.Errorf("case %d: Is(ErrTooLarge) = %v", i, got)
			}
		}
	}
	if KindOf(errNoFit(3, "x")) != KindDoesNotFit || KindOf(nil) != 0 {
		t.Error("KindOf")
	}
	if msg := errNoFit(3, "past end").Error(); !strings.Contains(msg, "component 3") || !strings.Contains(msg, "past end") {
		t.Errorf("message %q", msg)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		op   Op
		want ErrorKind
	}{
		{"empty op", Op{}, 0},
		{"nil op", nil, 0},
		{"retain", Op{{Retain: 1}}, 0},
		{"mixed", Op{{Retain: 1}, {Insert: "é"}, {Delete: 2}}, 0},
		{"non-canonical is valid", Op{{Delete: 1}, {Insert: "x"}, {Retain: 1}, {Retain: 2}}, 0},
		{"zero component", Op{{}}, KindInvalid},
		{"negative retain", Op{{Retain: -1}}, KindInvalid},
		{"negative delete", Op{{Delete: -1}}, KindInvalid},
		{"two fields set", Op{{Retain: 1, Insert: "x"}}, KindInvalid},
		{"retain and delete", Op{{Retain: 1, Delete: 1}}, KindInvalid},
		{"invalid UTF-8", Op{{Insert: "\xff"}}, KindBadUTF8},
		{"UTF-8 encoded surrogate", Op{{Insert: "\xed\xa0\x80"}}, KindBadUTF8},
		{"truncated code point", Op{{Insert: "\xf0\x9f\x98"}}, KindBadUTF8},
		{"count over MaxCount", Op{{Retain: MaxCount + 1}}, KindDoesNotFit},
		{"base length over MaxCount", Op{{Retain: MaxCount}, {Delete: 1}}, KindDoesNotFit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.op.Validate()); got != tc.want {
				t.Fatalf("Validate(%v) kind %v, want %v", tc.op, got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want Op
		kind ErrorKind
	}{
		{"msgpack int widths", []any{int8(1), int16(-2), int32(3), int64(-4), "x"}, Op{{Retain: 1}, {Delete: 2}, {Retain: 3}, {Insert: "x"}, {Delete: 4}}, 0},
		{"msgpack uint widths", []any{uint8(1), "a", uint16(2), "b", uint32(3), "c", uint64(4), "d", uint(5), "e", 6, "f"},
			Op{{Retain: 1}, {Insert: "a"}, {Retain: 2}, {Insert: "b"}, {Retain: 3}, {Insert: "c"}, {Retain: 4}, {Insert: "d"}, {Retain: 5}, {Insert: "e"}, {Retain: 6}, {Insert: "f"}}, 0},
		{"JSON floats", []any{float64(2), "x", float64(-1)}, Op{{Retain: 2}, {Insert: "x"}, {Delete: 1}}, 0},
		{"JSON numbers", []any{json.Number("2"), "x", json.Number("-1"), json.Number("1e1"), "y"}, Op{{Retain: 2}, {Insert: "x"}, {Delete: 1}, {Retain: 10}, {Insert: "y"}}, 0},
		{"normalised", []any{1, 1, "a", "b", 3}, Op{{Retain: 2}, {Insert: "ab"}}, 0},
		{"empty", []any{}, Op{}, 0},
		{"Op value", Op{{Delete: 1}, {Insert: "x"}}, Op{{Insert: "x"}, {Delete: 1}}, 0},
		{"nil", nil, nil, KindInvalid},
		{"not an array", map[string]any{"r": 1}, nil, KindInvalid},
		{"string", "abc", nil, KindInvalid},
		{"zero", []any{int8(0)}, nil, KindInvalid},
		{"empty string", []any{""}, nil, KindInvalid},
		{"fraction", []any{1.5}, nil, KindInvalid},
		{"NaN", []any{math.NaN()}, nil, KindInvalid},
		{"Inf", []any{math.Inf(1)}, nil, KindInvalid},
		{"json.Number fraction", []any{json.Number("0.5")}, nil, KindInvalid},
		{"json.Number garbage", []any{json.Number("x")}, nil, KindInvalid},
		{"bool", []any{true}, nil, KindInvalid},
		{"nil item", []any{nil}, nil, KindInvalid},
		{"nested", []any{[]any{1}}, nil, KindInvalid},
		{"bytes", []any{[]byte("x")}, nil, KindInvalid},
		{"bad UTF-8", []any{"\xff"}, nil, KindBadUTF8},
		{"huge uint", []any{uint64(math.MaxUint64)}, nil, KindDoesNotFit},
		{"min int64", []any{int64(math.MinInt64)}, nil, KindDoesNotFit},
		{"huge float", []any{1e300}, nil, KindDoesNotFit},
		{"huge json.Number", []any{json.Number("123456789012345678901234567890")}, nil, KindDoesNotFit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if KindOf(err) != tc.kind {
				t.Fatalf("Parse error %v, want kind %v", err, tc.kind)
			}
			if tc.kind == 0 && !opsEqual(got, tc.want) {
				t.Fatalf("Parse = %v, want %v", got, tc.want)
			}
		})
	}
}

func mp(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMsgpack(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want Op
		kind ErrorKind
	}{
		{"ints and string", mp(t, []any{int64(3), "héllo", int64(-2)}), Op{{Retain: 3}, {Insert: "héllo"}, {Delete: 2}}, 0},
		{"uint64 retain", []byte{0x92, 0xcf, 0, 0, 0, 0, 0, 0, 0, 7, 0xa1, 'x'}, Op{{Retain: 7}, {Insert: "x"}}, 0},
		{"integral float", []byte{0x92, 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0, 0xa1, 'x'}, Op{{Retain: 2}, {Insert: "x"}}, 0},
		{"normalised", mp(t, []any{1, 1, "a", -1, "b", 4}), Op{{Retain: 2}, {Insert: "ab"}, {Delete: 1}}, 0},
		{"empty array", []byte{0x90}, Op{}, 0},
		{"nil", []byte{0xc0}, nil, KindInvalid},
		{"map", mp(t, map[string]any{"a": 1}), nil, KindInvalid},
		{"string", mp(t, "abc"), nil, KindInvalid},
		{"zero", []byte{0x91, 0x00}, nil, KindInvalid},
		{"empty string", []byte{0x91, 0xa0}, nil, KindInvalid},
		{"fraction", []byte{0x91, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, nil, KindInvalid},
		{"bool item", []byte{0x91, 0xc3}, nil, KindInvalid},
		{"nil item", []byte{0x91, 0xc0}, nil, KindInvalid},
		{"binary item", []byte{0x91, 0xc4, 0x01, 'x'}, nil, KindInvalid},
		{"nested array", []byte{0x91, 0x91, 0x01}, nil, KindInvalid},
		{"bad UTF-8", []byte{0x91, 0xa1, 0xff}, nil, KindBadUTF8},
		{"UTF-8 encoded lone surrogate", []byte{0x91, 0xa3, 0xed, 0xa0, 0x80}, nil, KindBadUTF8},
		{"huge uint64", []byte{0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil, KindDoesNotFit},
		{"min int64", []byte{0x91, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, nil, KindDoesNotFit},
		{"truncated array", []byte{0x93, 0x01}, nil, KindInvalid},
		{"truncated string", []byte{0x91, 0xa5, 'a'}, nil, KindInvalid},
		{"array header claims 4G items", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, nil, KindInvalid},
		{"empty input", nil, nil, KindInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var op Op
			err := op.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(tc.in)))
			if KindOf(err) != tc.kind {
				t.Fatalf("DecodeMsgpack error %v, want kind %v", err, tc.kind)
			}
			if tc.kind == 0 && !opsEqual(op, tc.want) {
				t.Fatalf("decoded %v, want %v", op, tc.want)
			}
		})
	}
}

// TestDecodeMsgpackDoesNotTrustHeaders checks that a frame claiming a huge
// array or string costs memory by its real size, not its header.
func TestDecodeMsgpackDoesNotTrustHeaders(t *testing.T) {
	inputs := [][]byte{
		{0xdd, 0xff, 0xff, 0xff, 0xff},             // array32 of 4G items, none present
		{0xdc, 0xff, 0xff},                         // array16 of 64K items
		{0x91, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'},  // str32 of 2 GiB
		{0xdd, 0x00, 0x10, 0x00, 0x00, 0x01, 0x01}, // 1M items, two present
	}
	for i, in := range inputs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var op Op
		err := op.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(in)))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("input %d: error %v, want ErrInvalid", i, err)
		}
		// The msgpack library reads strings in chunks of at most 1 MiB.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
			t.Fatalf("input %d: decoding allocated %d bytes", i, grew)
		}
	}
}

func TestJSON(t *testing.T) {
	op := Op{{Retain: 2}, {Insert: "q\"\\\n\r\t\x01</>&\u2028\u2029😀"}, {Delete: 3}}
	b, err := op.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `[2,"q\"\\\n\r\t\u0001</>&\u2028\u2029😀",-3]`
	if string(b) != want {
		t.Fatalf("MarshalJSON = %s, want %s", b, want)
	}
	var back Op
	if err := json.Unmarshal(b, &back); err != nil || !opsEqual(back, op) {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	if b, _ := json.Marshal(Op(nil)); string(b) != "[]" {
		t.Fatalf("nil op marshals as %s", b)
	}

	cases := []struct {
		in   string
		want Op
		kind ErrorKind
	}{
		{`[1.0, "x", -1e0]`, Op{{Retain: 1}, {Insert: "x"}, {Delete: 1}}, 0},
		{`["\ud83d\ude00"]`, Op{{Insert: "😀"}}, 0},
		{`["\\ud83d"]`, Op{{Insert: `\ud83d`}}, 0}, // an escaped backslash, not an escape
		{`[ 1 , "a" , 2 ]`, Op{{Retain: 1}, {Insert: "a"}}, 0},
		{`null`, nil, KindInvalid},
		{`{}`, nil, KindInvalid},
		{`[1,`, nil, KindInvalid},
		{`[1.5]`, nil, KindInvalid},
		{`[0]`, nil, KindInvalid},
		{`[-0]`, nil, KindInvalid},
		{`[""]`, nil, KindInvalid},
		{`[true]`, nil, KindInvalid},
		{`[null]`, nil, KindInvalid},
		{`[{}]`, nil, KindInvalid},
		{`[[]]`, nil, KindInvalid},
		{`["\ud83d"]`, nil, KindBadUTF8},
		{`["\ude00"]`, nil, KindBadUTF8},
		{`["\ud83d\u0041"]`, nil, KindBadUTF8},
		{`["\ud83dx"]`, nil, KindBadUTF8},
		{`["\ud83d\n"]`, nil, KindBadUTF8},
		{"[\"\xff\"]", nil, KindBadUTF8},
		{`[1e400]`, nil, KindDoesNotFit},
		{`[99999999999999999999]`, nil, KindDoesNotFit},
	}
	for _, tc := range cases {
		var op Op
		err := op.UnmarshalJSON([]byte(tc.in))
		if KindOf(err) != tc.kind {
			t.Errorf("Unmarshal(%s) error %v, want kind %v", tc.in, err, tc.kind)
			continue
		}
		if tc.kind == 0 && !opsEqual(op, tc.want) {
			t.Errorf("Unmarshal(%s) = %v, want %v", tc.in, op, tc.want)
		}
	}
}

func TestSizeMatchesEncoding(t *testing.T) {
	var ops []Op
	for _, n := range []int{1, 31, 32, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1 - 1<<31, MaxCount} {
		ops = append(ops, Op{{Retain: n}, {Insert: "x"}}, Op{{Delete: n}})
	}
	for _, l := range []int{1, 31, 32, 255, 256, 65535, 65536} {
		ops = append(ops, Op{{Insert: strings.Repeat("é", l)}}, Op{{Insert: strings.Repeat("a", l)}})
	}
	long := make(Op, 0, 70000)
	for i := 0; i < 35000; i++ {
		long = append(long, Component{Retain: 1}, Component{Insert: "x"})
	}
	ops = append(ops, long, long[:16], long[:15])
	for _, op := range ops {
		if got, want := op.Size(), len(mp(t, op)); got != want {
			t.Errorf("Size() = %d, encoding is %d bytes (op of %d components)", got, want, len(op))
		}
	}
	if err := (Op{{Insert: "abc"}}).CheckSize(5); err != nil {
		t.Errorf("CheckSize under the limit: %v", err)
	}
}

func TestNormalizeDropsInvalidComponents(t *testing.T) {
	got := Op{{}, {Retain: -3}, {Insert: "a"}, {Retain: 1, Insert: "b"}, {Delete: 1}}.Normalize()
	if want := (Op{{Insert: "a"}, {Delete: 1}}); !opsEqual(got, want) {
		t.Fatalf("Normalize = %v, want %v", got, want)
	}
}

func TestOpLengths(t *testing.T) {
	op := Op{{Retain: 2}, {Insert: "😀é"}, {Delete: 3}, {Retain: 1}}
	if op.BaseLen() != 6 || op.TargetLen() != 5 {
		t.Fatalf("BaseLen %d TargetLen %d", op.BaseLen(), op.TargetLen())
	}
	if op.IsNoop() || !(Op{{Retain: 3}}).IsNoop() || !Op(nil).IsNoop() {
		t.Fatal("IsNoop")
	}
}

func TestApplyRejectsBadDocument(t *testing.T) {
	if _, err := Apply("a\xffb", Op{{Retain: 1}}); !errors.Is(err, ErrBadUTF8) {
		t.Fatalf("Apply on invalid UTF-8: %v", err)
	}
	if _, err := NewDoc("\xed\xa0\x80"); !errors.Is(err, ErrBadUTF8) {
		t.Fatalf("NewDoc on an encoded surrogate: %v", err)
	}
	if _, err := Apply("abc", Op{{Retain: 1}, {}}); !errors.Is(err, ErrInvalid) || errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("Apply of a zero component: %v", err)
	}
}

func TestDoc(t *testing.T) {
	var zero Doc
	if zero.Len() != 0 || zero.String() != "" || zero.Bytes() != 0 {
		t.Fatal("zero Doc is not empty")
	}
	if err := zero.Apply(Op{{Insert: "hi"}}); err != nil || zero.String() != "hi" {
		t.Fatalf("zero Doc Apply: %v %q", err, zero.String())
	}
	var nilDoc *Doc
	if nilDoc.Len() != 0 || nilDoc.String() != "" || !errors.Is(nilDoc.Apply(Op{}), ErrInvalid) {
		t.Fatal("nil *Doc")
	}

	text := strings.Repeat("añ😀日", 5000) // 20000 code points, 50000 bytes
	d, err := NewDoc(text)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 20000 || d.Bytes() != len(text) {
		t.Fatalf("Len %d Bytes %d", d.Len(), d.Bytes())
	}
	for _, tc := range []struct {
		start, n int
		want     string
	}{
		{0, 4, "añ😀日"}, {2, 3, "😀日a"}, {19998, 10, "😀日"}, {-2, 3, "a"}, {25000, 3, ""}, {5, -1, ""}, {0, 0, ""}, {math.MinInt, -1, ""}, {math.MinInt, math.MaxInt, ""}, {19999, math.MaxInt, "日"},
	} {
		if got := d.Slice(tc.start, tc.n); got != tc.want {
			t.Errorf("Slice(%d, %d) = %q, want %q", tc.start, tc.n, textutil.Truncate(got, 40), tc.want)
		}
	}

	clone := d.Clone()
	for _, bad := range []Op{
		{{Retain: 20001}},
		{{Retain: 5}, {Insert: "x"}, {Delete: 19996}},
		{{Insert: "x"}, {Retain: 0}},
		{{Insert: "\xff"}},
	} {
		if err := d.Apply(bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Apply(%v) = %v, want an error", bad, err)
		}
		if d.String() != text {
			t.Fatalf("failed Apply(%v) changed the document", bad)
		}
	}
	if err := d.Apply(Op{{Retain: 3}, {Insert: "X"}, {Delete: 2}}); err != nil {
		t.Fatal(err)
	}
	if got := d.Slice(0, 6); got != "añ😀Xñ😀" {
		t.Fatalf("after edit: %q", got)
	}
	if clone.String() != text {
		t.Fatal("Apply changed a clone")
	}

	// A large insert in the middle of a large document.
	big := strings.Repeat("0123456789", 100000)
	if err := d.Apply(Op{{Retain: 10000}, {Insert: big}}); err != nil {
		t.Fatal(err)
	}
	want := string([]rune(clone.String())[:3]) + "X" + string([]rune(text)[5:10001]) + big + string([]rune(text)[10001:])
	if d.String() != want {
		t.Fatal("large insert: rope differs")
	}
	checkTree(t, d)
	if err := d.Apply(Op{{Delete: d.Len()}}); err != nil || d.String() != "" || d.Len() != 0 {
		t.Fatalf("delete everything: %v, %d left", err, d.Len())
	}
	checkTree(t, d)
}

func TestDocApplyLimit(t *testing.T) {
	d, _ := NewDoc("héllo")
	if err := d.ApplyLimit(Op{{Retain: 5}, {Insert: "!!"}}, 7); !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInvalid) {
		t.Fatalf("over the limit: %v", err)
	}
	if d.String() != "héllo" {
		t.Fatal("a rejected op changed the document")
	}
	if err := d.ApplyLimit(Op{{Retain: 5}, {Insert: "!"}}, 7); err != nil || d.String() != "héllo!" {
		t.Fatalf("at the limit: %v %q", err, d.String())
	}
	// The limit applies to the result, whatever the op does.
	if err := d.ApplyLimit(Op{{Delete: 1}}, 3); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("still over: %v", err)
	}
	if err := d.ApplyLimit(Op{{Retain: 99}}, 100); !errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("does not fit: %v", err)
	}
}

func TestTransformErrors(t *testing.T) {
	good := Op{{Insert: "x"}}
	bad := Op{{Retain: 0}}
	if _, err := Transform(bad, good, Left); !errors.Is(err, ErrInvalid) {
		t.Errorf("Transform(bad, good): %v", err)
	}
	if _, err := Transform(good, bad, Left); !errors.Is(err, ErrInvalid) {
		t.Errorf("Transform(good, bad): %v", err)
	}
	if _, err := Transform(good, good, Side(7)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Transform with a bad side: %v", err)
	}
	if _, err := Compose(bad, good); !errors.Is(err, ErrInvalid) {
		t.Errorf("Compose(bad, good): %v", err)
	}
	if _, err := Compose(good, bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("Compose(good, bad): %v", err)
	}
	d, _ := NewDoc("ab")
	if _, err := Invert(Op{{Delete: 3}}, d); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("Invert of an op that does not fit: %v", err)
	}
	if _, err := Invert(bad, d); !errors.Is(err, ErrInvalid) {
		t.Errorf("Invert(bad): %v", err)
	}
	if Left.String() != "left" || Right.String() != "right" {
		t.Error("Side.String")
	}
}

func TestInvertTable(t *testing.T) {
	cases := []struct {
		doc  string
		op   Op
		want Op
	}{
		{"abc", Op{{Insert: "x"}}, Op{{Delete: 1}}},
		{"abc", Op{{Retain: 1}, {Delete: 1}}, Op{{Retain: 1}, {Insert: "b"}}},
		{"a😀c", Op{{Retain: 1}, {Insert: "日本"}, {Delete: 2}}, Op{{Retain: 1}, {Insert: "😀c"}, {Delete: 2}}},
		{"abcd", Op{{Delete: 1}, {Insert: "x"}, {Retain: 1}, {Delete: 1}}, Op{{Insert: "a"}, {Delete: 1}, {Retain: 1}, {Insert: "c"}}},
		{"", Op{}, Op{}},
	}
	for _, tc := range cases {
		d, _ := NewDoc(tc.doc)
		got, err := Invert(tc.op, d)
		if err != nil || !opsEqual(got, tc.want) {
			t.Errorf("Invert(%v) on %q = %v, %v; want %v", tc.op, tc.doc, got, err, tc.want)
		}
	}
}

func TestTransformPositionEdges(t *testing.T) {
	if got := TransformPosition(-3, Op{{Insert: "x"}}); got != -3 {
		t.Errorf("negative position moved to %d", got)
	}
	if got := TransformPosition(4, Op{{Retain: 0}, {Insert: "x"}}); got != 5 {
		t.Errorf("zero component: %d", got)
	}
}

func TestSelectionValidate(t *testing.T) {
	cases := []struct {
		sel  Selection
		len  int
		kind ErrorKind
	}{
		{nil, 0, 0},
		{Selection{}, 0, 0},
		{Selection{{0, 0}}, 0, 0},
		{Selection{{3, 1}, {5, 5}}, 5, 0},
		{Selection{{0, 6}}, 5, KindDoesNotFit},
		{Selection{{6, 0}}, 5, KindDoesNotFit},
		{Selection{{-1, 0}}, 5, KindInvalid},
		{Selection{{0, 0}, {0, -2}}, 5, KindInvalid},
	}
	for _, tc := range cases {
		if got := KindOf(tc.sel.Validate(tc.len)); got != tc.kind {
			t.Errorf("%v.Validate(%d) kind %v, want %v", tc.sel, tc.len, got, tc.kind)
		}
	}
}

func TestRangeCodecs(t *testing.T) {
	type msg struct {
		Sel Selection `msgpack:"sel"`
	}
	b := mp(t, msg{Sel: Selection{{1, 2}, {300, 70000}}})
	var m msg
	if err := msgpack.Unmarshal(b, &m); err != nil || len(m.Sel) != 2 || m.Sel[1] != (Range{300, 70000}) {
		t.Fatalf("selection in a struct: %v, %v", m.Sel, err)
	}
	var hidden msg
	if err := msgpack.Unmarshal(mp(t, msg{}), &hidden); err != nil || hidden.Sel != nil {
		t.Fatalf("nil selection: %v, %v", hidden.Sel, err)
	}
	bad := [][]byte{
		{0x91, 0x91, 0x01},                                     // range of one
		{0x91, 0x93, 0x01, 0x02, 0x03},                         // range of three
		{0x91, 0x92, 0xa1, 'a', 0x01},                          // string position
		{0x91, 0x92, 0xff, 0x01},                               // negative
		{0x91, 0x92, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x01}, // 1.5
		{0x91, 0xc0},                                           // nil range
		{0x81, 0xa1, 'a', 0x01},                                // map
		{0xdd, 0xff, 0xff, 0xff, 0xff},                         // huge header, no data
		{0x91, 0x92, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // huge uint
	}
	for i, in := range bad {
		var s Selection
		if err := s.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(in))); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad selection %d: %v", i, err)
		}
	}
	var r Range
	if err := r.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader([]byte{0x92, 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0, 0xcc, 0xc8}))); err != nil || r != (Range{2, 200}) {
		t.Errorf("float and uint8 positions: %v, %v", r, err)
	}

	j, _ := json.Marshal(Selection{{1, 2}})
	if string(j) != "[[1,2]]" {
		t.Errorf("selection JSON %s", j)
	}
	for _, in := range []string{`[1]`, `[1,2,3]`, `["a",1]`, `[-1,0]`, `[1.5,0]`, `{}`, `[1e99,0]`} {
		var r Range
		if err := json.Unmarshal([]byte(in), &r); !errors.Is(err, ErrInvalid) {
			t.Errorf("range %s: %v", in, err)
		}
	}
}

func TestCheckFitCountsTheTrailingRetain(t *testing.T) {
	op := Op{{Retain: 3}, {Insert: "a"}, {Retain: 4}, {Insert: "b"}, {Retain: 99}}
	if err := op.CheckFit(10); !errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("CheckFit(10) = %v, want ErrDoesNotFit", err)
	}
	if err := op.CheckFit(106); err != nil {
		t.Fatalf("CheckFit(106) = %v", err)
	}
	if err := op.Normalize().CheckFit(10); err != nil {
		t.Fatalf("the normalised op no longer reads the trailing retain: %v", err)
	}
}

func TestParseMsgpackRawKeepsTheOpAsSent(t *testing.T) {
	b, err := msgpack.Marshal([]any{3, "a", 4, "b", 99})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ParseMsgpackRaw(b)
	if err != nil {
		t.Fatal(err)
	}
	if raw.BaseLen() != 106 || len(raw) != 5 {
		t.Fatalf("ParseMsgpackRaw = %v, want the five components as sent", raw)
	}
	var canon Op
	if err := msgpack.Unmarshal(b, &canon); err != nil || canon.BaseLen() != 7 {
		t.Fatalf("DecodeMsgpack = %v, %v; want the canonical form", canon, err)
	}
	if _, err := ParseMsgpackRaw(append(b, 0x01)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("trailing bytes: %v", err)
	}
	if _, err := ParseMsgpackRaw([]byte{0x91, 0x00}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero retain: %v", err)
	}
}
