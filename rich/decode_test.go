package rich

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

func TestDecodeOpTable(t *testing.T) {
	big := mp(0x91, 0xde, 0, 65)
	for i := range 65 {
		big = append(big, mp(fmt.Sprintf("k%d", i), 0xc3)...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string // the op as JSON, or "error: kind"
	}{
		{"plain components", mp(0x93, 0x05, "ab", 0xff), `[5,"ab",-1]`},
		{"an integral float count", mp(0x91, 0xcb, mpFloat64(2)), `[2]`},
		{"a fractional float count", mp(0x91, 0xcb, mpFloat64(2.5)), "error: invalid"},
		{"a float32 count", mp(0x91, 0xca, 0x40, 0x40, 0, 0), `[3]`},
		{"uint64 max", mp(0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "error: does_not_fit"},
		{"int64 min", mp(0x91, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), "error: does_not_fit"},
		{"2^31 as uint32", mp(0x91, 0xce, 0x80, 0, 0, 0), "error: does_not_fit"},
		{"2^31-1 as uint32", mp(0x91, 0xce, 0x7f, 0xff, 0xff, 0xff), `[2147483647]`},
		{"attributes before the insert", mp(0x91, 0x82, "a", 0x81, "bold", 0xc3, "i", "x"), `[{"i":"x","a":{"bold":true}}]`},
		{"attributes nil", mp(0x91, 0x82, "i", "x", "a", 0xc0), `["x"]`},
		{"a format", mp(0x91, 0x82, "r", 0x03, "a", 0x81, "heading", 0x02), `[{"r":3,"a":{"heading":2}}]`},
		{"an embed with a boolean", mp(0x91, 0x81, "e", 0x81, "divider", 0xc3), `[{"e":{"divider":true}}]`},
		{"a float32 attribute", mp(0x91, 0x82, "i", "x", "a", 0x81, "size", 0xca, 0x3f, 0xc0, 0, 0), `[{"i":"x","a":{"size":1.5}}]`},
		{"an attribute given twice", mp(0x91, 0x82, "i", "x", "a", 0x82, "b", 0xc3, "b", 0xc2), "error: invalid"},
		{"a component key given twice", mp(0x91, 0x82, "i", "x", "i", "y"), "error: invalid"},
		{"a two-letter component key", mp(0x91, 0x81, "ii", "x"), "error: invalid"},
		{"a binary attribute value", mp(0x91, 0x82, "i", "x", "a", 0x81, "b", 0xc4, 0x01, 0x00), "error: invalid"},
		{"an extension attribute value", mp(0x91, 0x82, "i", "x", "a", 0x81, "b", 0xd4, 0x01, 0x00), "error: invalid"},
		{"a NaN attribute value", mp(0x91, 0x82, "i", "x", "a", 0x81, "b", 0xcb, mpFloat64(math.NaN())), "error: invalid"},
		{"an infinite count", mp(0x91, 0xcb, mpFloat64(math.Inf(1))), "error: invalid"},
		{"invalid UTF-8 in an insert", mp(0x91, 0xa2, 0xff, 0xfe), "error: bad_utf8"},
		{"a UTF-8-encoded surrogate", mp(0x91, 0xa3, 0xed, 0xa0, 0x80), "error: bad_utf8"},
		{"invalid UTF-8 in an attribute name", mp(0x91, 0x82, "i", "x", "a", 0x81, 0xa1, 0xff, 0xc3), "error: invalid"},
		{"65 attributes", append(mp(0x91, 0x82, "i", "x", "a"), big[1:]...), "error: too_large"},
		{"trailing bytes", mp(0x91, 0x01, 0x01), "error: invalid"},
		{"empty input", nil, "error: invalid"},
		{"not an array", mp(0x81, "i", "x"), "error: invalid"},
		{"a binary insert", mp(0x91, 0xc4, 0x01, 'x'), "error: invalid"},
		{"a nil component", mp(0x91, 0xc0), "error: invalid"},
		{"zero", mp(0x91, 0x00), "error: invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := DecodeOp(tc.in)
			requireTyped(t, err)
			got := js(o)
			if err != nil {
				got = "error: " + KindOf(err).String()
			}
			if got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func mpFloat64(f float64) []byte {
	b := make([]byte, 8)
	u := math.Float64bits(f)
	for i := range 8 {
		b[i] = byte(u >> (56 - 8*i))
	}
	return b
}

func TestValueEncoding(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		json string
		mp   []byte
	}{
		{Int(1), "1", []byte{0x01}},
		{Number(-0.0), "0", []byte{0x00}},
		{Number(math.Copysign(0, -1)), "0", []byte{0x00}},
		{Int(-5), "-5", []byte{0xfb}},
		{Int(300), "300", []byte{0xcd, 0x01, 0x2c}},
		{Number(1.5), "1.5", append([]byte{0xcb}, mpFloat64(1.5)...)},
		{Number(1 << 53), "9007199254740992", append([]byte{0xcb}, mpFloat64(1<<53)...)},
		{Number(1<<53 - 1), "9007199254740991", []byte{0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{Number(1e21), "1e+21", append([]byte{0xcb}, mpFloat64(1e21)...)},
		{Number(1e-7), "1e-7", append([]byte{0xcb}, mpFloat64(1e-7)...)},
		{Number(0.1), "0.1", append([]byte{0xcb}, mpFloat64(0.1)...)},
		{Number(123456789012), "123456789012", []byte{0xcf, 0, 0, 0, 0x1c, 0xbe, 0x99, 0x1a, 0x14}},
		{Bool(true), "true", []byte{0xc3}},
		{Bool(false), "false", []byte{0xc2}},
		{String("a\u2028\"b"), `"a\u2028\"b"`, append([]byte{0xa6}, "a\u2028\"b"...)},
		{Null, "null", []byte{0xc0}},
	} {
		if got := tc.v.String(); got != tc.json {
			t.Errorf("%#v as JSON: %s, want %s", tc.v, got, tc.json)
		}
		if got := appendValue(nil, tc.v); string(got) != string(tc.mp) {
			t.Errorf("%#v as MessagePack: %x, want %x", tc.v, got, tc.mp)
		}
		if got := valueSize(tc.v); got != len(tc.mp) {
			t.Errorf("%#v: valueSize %d, encoded %d", tc.v, got, len(tc.mp))
		}
	}
	if Int(1) != Number(1.0) || Bool(true) == Int(1) || String("1") == Int(1) {
		t.Fatal("values compare by kind and content")
	}
	if Int(2).Float() != 2 || String("x").Text() != "x" || !Bool(true).Truth() || String("x").Truth() || !Null.IsNull() {
		t.Fatal("accessors")
	}
}

func TestErrorsMatchOtSentinels(t *testing.T) {
	d := NewDoc()
	err := d.Apply(Op{{Delete: 1}})
	if !errors.Is(err, ErrFinalNewline) || !errors.Is(err, ErrInvalid) || !errors.Is(err, ot.ErrInvalid) || errors.Is(err, ot.ErrTooLarge) {
		t.Fatalf("final newline error %v matches the wrong sentinels", err)
	}
	err = d.Apply(Op{{Retain: 5}})
	if !errors.Is(err, ErrDoesNotFit) || !errors.Is(err, ot.ErrDoesNotFit) || !errors.Is(err, ot.ErrInvalid) {
		t.Fatalf("does-not-fit error %v matches the wrong sentinels", err)
	}
	_, err = DecodeOp(mp(0x91, 0x82, "i", "x", "a", 0x81, "link", 0xda, 0x20, 0x01, strings.Repeat("x", 8193)))
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ot.ErrTooLarge) || errors.Is(err, ot.ErrInvalid) {
		t.Fatalf("too-large error %v matches the wrong sentinels", err)
	}
	if KindOf(errors.New("x")) != 0 || KindOf(nil) != 0 {
		t.Fatal("KindOf of a foreign error")
	}
}

func TestOrderBySID(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		later bool
		side  ot.Side
	}{
		{"alice", "bob", true, ot.Left},
		{"alice", "bob", false, ot.Left},
		{"bob", "alice", true, ot.Right},
		{"bob", "alice", false, ot.Right},
		{"same", "same", true, ot.Right}, // committed last goes right
		{"same", "same", false, ot.Left},
		{"B", "a", true, ot.Left}, // bytewise: upper case sorts first
	} {
		o := OrderBySID(tc.a, tc.b, tc.later)
		if o.Side != tc.side || o.ALater != tc.later {
			t.Errorf("OrderBySID(%q, %q, %v) = %+v, want side %v", tc.a, tc.b, tc.later, o, tc.side)
		}
		if f := OrderBySID(tc.b, tc.a, !tc.later); f != o.Flip() {
			t.Errorf("the other op's order %+v is not the flip of %+v", f, o)
		}
	}
	if a, c, err := TransformPair(Op{{Insert: "A"}}, "same", Op{{Insert: "B"}}, "same"); err != nil || js(a) != `[1,"A"]` || js(c) != `["B"]` {
		t.Fatalf("TransformPair of one sid: %s %s %v (the committed op goes left)", js(a), js(c), err)
	}
	if _, err := Transform(nil, nil, Order{Side: 7}); KindOf(err) != KindInvalid {
		t.Fatalf("a bad side: %v", err)
	}
}

func TestDocAPI(t *testing.T) {
	var zero Doc
	if zero.Len() != 1 || zero.Text() != "\n" || (*Doc)(nil).Len() != 1 || NewDoc().Size() != 1 {
		t.Fatal("the zero and new documents are \"\\n\"")
	}
	if err := (*Doc)(nil).Apply(nil); KindOf(err) != KindInvalid {
		t.Fatalf("Apply to nil: %v", err)
	}
	d := docOf(t, `["a",{"e":{"image":"u"},"a":{"alt":"x"}},{"i":"b😀","a":{"bold":true}},"\n"]`)
	if d.Len() != 5 || d.Text() != "a\uFFFCb😀\n" {
		t.Fatalf("Len %d Text %q", d.Len(), d.Text())
	}
	if a := d.AttrsAt(2); a["bold"] != Bool(true) || d.AttrsAt(0) != nil || d.AttrsAt(99) != nil {
		t.Fatal("AttrsAt")
	}
	if got := js(d.Slice(1, 3)); got != `[{"e":{"image":"u"},"a":{"alt":"x"}},{"i":"b😀","a":{"bold":true}}]` {
		t.Fatalf("Slice: %s", got)
	}
	if got := js(d.Slice(-2, 3)); got != `["a"]` {
		t.Fatalf("Slice clamped: %s", got)
	}
	c := d.Clone()
	if err := d.ApplyLimit(op(t, `[4, "more text"]`), d.Size()+3); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ApplyLimit: %v", err)
	}
	if d.Text() != c.Text() {
		t.Fatal("a refused ApplyLimit changed the document")
	}
	if err := d.ApplyLimit(op(t, `[4, "xyz"]`), d.Size()+3); err != nil {
		t.Fatal(err)
	}
	if c.Text() == d.Text() || c.Len() != 5 {
		t.Fatal("clones are independent")
	}
	b, _ := d.MarshalJSON()
	var back Doc
	if err := back.UnmarshalJSON(b); err != nil || !back.Delta().Equal(d.Delta()) {
		t.Fatalf("JSON round trip: %v", err)
	}
	if _, err := DecodeContent(d.AppendMsgpack(nil), d.Size()-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("DecodeContent over the limit: %v", err)
	}
}

func TestCheckFit(t *testing.T) {
	for _, tc := range []struct {
		op   string
		kind ErrorKind
	}{
		{`[3, "a", 4, "b", 3]`, 0},
		{`[3, "a", 4, "b", 4]`, KindDoesNotFit},         // a trailing retain past the end, as sent
		{`[9, -1]`, KindFinalNewline},                   // deletes the final newline
		{`[10, "x"]`, KindFinalNewline},                 // inserts after it
		{`[9, {"r": 1, "a": {"heading": 1}}]`, 0},       // formats it
		{`[-9, "x", {"r": 1, "a": {"bold": true}}]`, 0}, // replaces everything else
	} {
		if got := KindOf(op(t, tc.op).CheckFit(10)); got != tc.kind {
			t.Errorf("CheckFit(%s, 10): %v, want %v", tc.op, got, tc.kind)
		}
	}
}

func TestComposeOverMaxAttrs(t *testing.T) {
	a, b := Attrs{}, Attrs{}
	for i := range MaxAttrs {
		a[fmt.Sprintf("a%d", i)] = Bool(true)
		b[fmt.Sprintf("b%d", i)] = Bool(true)
	}
	_, err := Compose(Op{{Retain: 1, Attrs: a}}, Op{{Retain: 1, Attrs: b}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Compose of two full formats: %v", err)
	}
}

func TestMaxEmbedBytes(t *testing.T) {
	ok := Op{{Embed: Embed{Type: "image", Value: String("data:" + strings.Repeat("x", MaxEmbedBytes-5))}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeOp(ok.AppendMsgpack(nil)); err != nil {
		t.Fatal(err)
	}
	over := Op{{Embed: Embed{Type: "image", Value: String(strings.Repeat("x", MaxEmbedBytes+1))}}}
	if err := over.Validate(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := DecodeOp(over.AppendMsgpack(nil)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("DecodeOp: %v", err)
	}
	if _, err := ParseJSON(over.AppendJSON(nil)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ParseJSON: %v", err)
	}
}

func TestValidateGoValues(t *testing.T) {
	for name, o := range map[string]Op{
		"delete with attributes":  {{Delete: 1, Attrs: Attrs{"bold": Bool(true)}}},
		"two kinds":               {{Retain: 1, Insert: "x"}},
		"negative retain":         {{Retain: -1}},
		"embed and text":          {{Insert: "x", Embed: Embed{Type: "image", Value: String("u")}}},
		"embed without a type":    {{Embed: Embed{Value: String("u")}}},
		"embed with a null value": {{Embed: Embed{Type: "image"}}},
		"NaN attribute":           {{Insert: "x", Attrs: Attrs{"size": Number(math.NaN())}}},
		"bad UTF-8 attribute":     {{Insert: "x", Attrs: Attrs{"link": String("\xff")}}},
		"nothing set":             {{}},
	} {
		if err := o.Validate(); err == nil || errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: Validate says %v", name, err)
		}
	}
}
