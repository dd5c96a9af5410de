package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

// mp builds MessagePack by hand: bytes are written as is, strings as str.
func mp(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch x := p.(type) {
		case byte:
			b = append(b, x)
		case int:
			b = append(b, byte(x))
		case rune:
			b = append(b, byte(x))
		case string:
			b = appendStr(b, x)
		case []byte:
			b = append(b, x...)
		default:
			panic(p)
		}
	}
	return b
}

func TestDecodeOpRules(t *testing.T) {
	setOf := func(value ...any) []byte { return mp(append([]any{0x91, 0x94, "set", "a", "p"}, value...)...) }
	f32 := func(f float32) []byte {
		bits := math.Float32bits(f)
		return []byte{0xca, byte(bits >> 24), byte(bits >> 16), byte(bits >> 8), byte(bits)}
	}
	f64 := func(f float64) []byte { return appendFloat(nil, f) }
	cases := []struct {
		name string
		in   []byte
		kind ErrorKind // 0: valid
		want string    // JSON of the decoded op, when valid
	}{
		{"set of an int", setOf(0x05), 0, `[["set","a","p",5]]`},
		{"uint64 max stays exact", setOf(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0, `[["set","a","p",18446744073709551615]]`},
		{"float32 is widened", setOf(f32(1.5)), 0, `[["set","a","p",1.5]]`},
		{"integral float is an integer", setOf(f64(42)), 0, `[["set","a","p",42]]`},
		{"float past 2^53 stays a float", setOf(f64(1e20)), 0, `[["set","a","p",100000000000000000000.0]]`},
		{"nil in a set removes", setOf(0xc0), 0, `[["set","a","p",null]]`},
		{"nested map and array", setOf(0x82, "k", 0x92, 0x01, 0xc3, "j", 0x80), 0, `[["set","a","p",{"k":[1,true],"j":{}}]]`},
		{"NaN", setOf(f64(math.NaN())), KindInvalid, ""},
		{"infinity", setOf(f64(math.Inf(1))), KindInvalid, ""},
		{"binary", setOf(0xc4, 0x01, 0x00), KindInvalid, ""},
		{"extension", setOf(0xd4, 0x01, 0x00), KindInvalid, ""},
		{"timestamp extension", setOf(0xd6, 0xff, 0, 0, 0, 0), KindInvalid, ""},
		{"integer map key", setOf(0x81, 0x01, 0x01), KindInvalid, ""},
		{"repeated map key", setOf(0x82, "k", 0x01, "k", 0x02), KindInvalid, ""},
		{"invalid UTF-8 string", setOf(0xa2, 0xff, 0xfe), KindInvalid, ""},
		{"invalid UTF-8 id", mp(0x91, 0x92, "del", 0xa1, 0xff), KindInvalid, ""},
		{"reserved byte", setOf(0xc1), KindInvalid, ""},
		{"truncated", setOf(0xa5, 'a'), KindInvalid, ""},
		{"trailing bytes", append(setOf(0x01), 0x01), KindInvalid, ""},
		{"props repeated", mp(0x91, 0x95, "new", "a", "", "a0", 0x82, "x", 0x01, "x", 0x02), KindInvalid, ""},
		{"props sorted and nil dropped", mp(0x91, 0x95, "new", "a", "", "a0", 0x83, "y", 0x01, "x", 0x02, "z", 0xc0), 0, `[["new","a","","a0",{"x":2,"y":1}]]`},
		{"props not a map", mp(0x91, 0x95, "new", "a", "", "a0", 0x90), KindInvalid, ""},
		{"text op with integral float", mp(0x91, 0x94, "text", "a", "t", 0x92, f64(2), "x"), 0, `[["text","a","t",[2,"x"]]]`},
		{"text op is normalised", mp(0x91, 0x94, "text", "a", "t", 0x93, 0xff, "x", 0x03), 0, `[["text","a","t",["x",-1]]]`},
		{"text op with a map", mp(0x91, 0x94, "text", "a", "t", 0x91, 0x80), KindInvalid, ""},
		{"text op count out of range", mp(0x91, 0x94, "text", "a", "t", 0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), KindInvalid, ""},
		{"action name is binary", mp(0x91, 0x92, 0xc4, 0x03, 'd', 'e', 'l', "a"), KindInvalid, ""},
		{"op is a map", mp(0x80), KindInvalid, ""},
		{"empty op", mp(0x90), 0, `[]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, err := DecodeOp(c.in, Limits{})
			if c.kind != 0 {
				if KindOf(err) != c.kind {
					t.Fatalf("got %v (%s), want kind %s", err, mustJSON(op), c.kind)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%v does not match ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(op); string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
			// Encoding is canonical and stable.
			b, _ := op.MarshalMsgpack()
			if len(b) != op.Size() {
				t.Fatalf("Size %d, encoding %d", op.Size(), len(b))
			}
			op2, err := DecodeOp(b, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := op2.MarshalMsgpack(); !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding changed: %x vs %x", b, b2)
			}
		})
	}
}

func TestParseOpJSONRules(t *testing.T) {
	cases := []struct {
		name, in string
		kind     ErrorKind
		want     string
	}{
		{"lone high surrogate", `[["set","a","p","\ud800"]]`, KindInvalid, ""},
		{"lone low surrogate in a name", `[["set","a","\udc00x",1]]`, KindInvalid, ""},
		{"surrogate pair is fine", `[["set","a","p","\ud83d\ude00"]]`, 0, `[["set","a","p","😀"]]`},
		{"repeated key in a value", `[["set","a","p",{"k":1,"k":2}]]`, KindInvalid, ""},
		{"repeated property of new", `[["new","a","","a0",{"x":1,"x":2}]]`, KindInvalid, ""},
		{"number forms", `[["set","a","p",[1e3,1.0,-0,0.5,12345678901234567890,1e400]]]`, KindInvalid, ""},
		{"number forms within range", `[["set","a","p",[1e3,1.0,-0,0.5,12345678901234567890,1e-7]]]`, 0, `[["set","a","p",[1000,1,0,0.5,12345678901234567890,1e-7]]]`},
		{"escapes survive", `[["set","a","p","a\"b\\c\n\u0001\u2028"]]`, 0, `[["set","a","p","a\"b\\c\n\u0001\u2028"]]`},
		{"text op as JSON", `[["text","a","t",[2,"x",-1,3]]]`, 0, `[["text","a","t",[2,"x",-1]]]`},
		{"trailing garbage", `[["del","a"]] x`, KindInvalid, ""},
		{"not UTF-8", "[[\"del\",\"a\xff\"]]", KindInvalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, err := ParseOpJSON([]byte(c.in), Limits{})
			if c.kind != 0 {
				if KindOf(err) != c.kind {
					t.Fatalf("got %v (%s), want kind %s", err, mustJSON(op), c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(op); string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestContentRules(t *testing.T) {
	cases := []struct {
		name, in string
		lim      Limits
		kind     ErrorKind
	}{
		{"empty", `{}`, Limits{}, 0},
		{"parent and props may be left out", `{"a":{"key":"a0"}}`, Limits{}, 0},
		{"missing key", `{"a":{"parent":""}}`, Limits{}, KindInvalid},
		{"orphan", `{"a":{"parent":"zz","key":"a0"}}`, Limits{}, KindInvalid},
		{"cycle", `{"a":{"parent":"b","key":"a0"},"b":{"parent":"a","key":"a0"}}`, Limits{}, KindInvalid},
		{"own parent", `{"a":{"parent":"a","key":"a0"}}`, Limits{}, KindInvalid},
		{"unknown field", `{"a":{"key":"a0","prop":{}}}`, Limits{}, KindInvalid},
		{"repeated field", `{"a":{"key":"a0","key":"a1"}}`, Limits{}, KindInvalid},
		{"repeated id", `{"a":{"key":"a0"},"a":{"key":"a1"}}`, Limits{}, KindInvalid},
		{"bad id", `{"a b":{"key":"a0"}}`, Limits{}, KindInvalid},
		{"bad key", `{"a":{"key":"a_0"}}`, Limits{}, KindInvalid},
		{"not an object", `[]`, Limits{}, KindInvalid},
		{"too deep", `{"a":{"key":"a0"},"b":{"parent":"a","key":"a0"},"c":{"parent":"b","key":"a0"}}`, Limits{MaxDepth: 2}, KindLimit},
		{"deep enough", `{"a":{"key":"a0"},"b":{"parent":"a","key":"a0"},"c":{"parent":"b","key":"a0"}}`, Limits{MaxDepth: 3}, 0},
		{"too many objects", `{"a":{"key":"a0"},"b":{"key":"a1"}}`, Limits{MaxObjects: 1}, KindLimit},
		{"too many props", `{"a":{"key":"a0","props":{"x":1,"y":2}}}`, Limits{MaxProps: 1}, KindLimit},
		{"too large", `{"a":{"key":"a0","props":{"x":"0123456789"}}}`, Limits{MaxBytes: 20}, KindTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content, err := ParseContentJSON([]byte(c.in), c.lim)
			if KindOf(err) != c.kind {
				t.Fatalf("JSON: got %v, want kind %v", err, c.kind)
			}
			if err == nil {
				checkInvariants(t, content)
			}
			// The same content in MessagePack (where it can be written).
			var x any
			if json.Unmarshal([]byte(c.in), &x) != nil || strings.Contains(c.name, "repeated") {
				return
			}
			b, _ := msgpackOf(x)
			if _, err := DecodeContent(b, c.lim); KindOf(err) != c.kind {
				t.Fatalf("MessagePack: got %v, want kind %v", err, c.kind)
			}
		})
	}
	// A repeated id in MessagePack, which JSON decoding cannot show.
	b := mp(0x82, "a", 0x81, "key", "a0", "a", 0x81, "key", "a1")
	if _, err := DecodeContent(b, Limits{}); KindOf(err) != KindInvalid {
		t.Fatalf("repeated id: %v", err)
	}
}

func TestValueConversions(t *testing.T) {
	for _, x := range []any{nil, true, false, int64(-5), int64(1 << 40), uint64(math.MaxUint64), 1.25, -1e-9, 3e300, "héllo",
		[]any{int64(1), "two", nil}, map[string]any{"a": []any{}, "b": map[string]any{}}} {
		v, err := ValueOf(x)
		if err != nil {
			t.Fatalf("ValueOf(%v): %v", x, err)
		}
		j, _ := v.MarshalJSON()
		back, err := ParseValueJSON(j, Limits{})
		if err != nil {
			t.Fatalf("ParseValueJSON(%s): %v", j, err)
		}
		if !back.Equal(v) && x != nil {
			t.Errorf("%v: JSON round trip %s changed %x to %x", x, j, []byte(v), []byte(back))
		}
		if m, err := ParseValue(v, Limits{}); err != nil || !m.Equal(v) {
			t.Errorf("%v: ParseValue: %v", x, err)
		}
		if x != nil {
			want, _ := json.Marshal(x)
			var a, b any
			_ = json.Unmarshal(want, &a)
			_ = json.Unmarshal(j, &b)
			if !jsonEqual(t, j, want) {
				t.Errorf("%v: JSON %s, want %s", x, j, want)
			}
		}
	}
	if _, err := ValueOf(make(chan int)); KindOf(err) != KindInvalid {
		t.Errorf("a channel is a value: %v", err)
	}
	deep := any(int64(1))
	for range DefaultMaxValueDepth + 1 {
		deep = []any{deep}
	}
	if _, err := ValueOf(deep); KindOf(err) != KindLimit {
		t.Errorf("too deep: %v", err)
	}
	if s, ok := StringValue("abc").Str(); !ok || s != "abc" {
		t.Errorf("Str: %q %v", s, ok)
	}
	if _, ok := MustValue(1).Str(); ok {
		t.Error("1 is a string")
	}
}

func TestOpValidate(t *testing.T) {
	good := Op{NewObject("a", "", "a0", Prop{"x", MustValue(1)}), SetProp("a", "x", nil), EditText("a", "t", ot.Op{{Retain: 1}, {Insert: "x"}}), MoveTo("a", "b", "a1"), Delete("a")}
	if err := good.Validate(Limits{}); err != nil {
		t.Fatal(err)
	}
	bad := []Op{
		{{Kind: 9, ID: "a"}},
		{NewObject("a", "", "a0", Prop{"x", nil})},
		{NewObject("a", "", "a0", Prop{"x", Value{0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}})}, // 1.0 as a float: not canonical
		{EditText("a", "t", ot.Op{{Insert: "x"}, {Retain: 2}})},                          // trailing retain: not canonical
		{SetProp("a", "x", Value{0xc4, 0x00})},
	}
	for _, op := range bad {
		if err := op.Validate(Limits{}); KindOf(err) != KindInvalid {
			t.Errorf("%+v: %v", op, err)
		}
	}
}

// TestKeyBetweenProperties checks, on random bounds of both kinds (keys of
// the fractional-indexing scheme and arbitrary ones), that a key is always
// strictly between, valid, and missing only where nothing fits.
func TestKeyBetweenProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randomKey := func() string {
		if rng.IntN(2) == 0 {
			k, _ := KeyBetween("", "")
			for range rng.IntN(20) {
				next, err := KeyBetween(k, "")
				if err != nil {
					break
				}
				k = next
			}
			return k
		}
		n := 1 + rng.IntN(6)
		b := make([]byte, n)
		for i := range b {
			b[i] = digits62[rng.IntN(62)]
		}
		return string(b)
	}
	for range 20000 {
		a, b := randomKey(), randomKey()
		switch rng.IntN(4) {
		case 0:
			a = ""
		case 1:
			b = ""
		}
		if a != "" && b != "" && a > b {
			a, b = b, a
		}
		k, err := KeyBetween(a, b)
		if err != nil {
			if !errors.Is(err, ErrNoKeyBetween) {
				t.Fatalf("KeyBetween(%q, %q): %v", a, b, err)
			}
			// Nothing fits only when b is a followed by zeros (or equal).
			if !(a == b || (b != "" && strings.HasPrefix(b, a) && strings.Trim(b[len(a):], "0") == "")) {
				t.Fatalf("KeyBetween(%q, %q): %v", a, b, err)
			}
			continue
		}
		if !ValidKey(k) || (a != "" && k <= a) || (b != "" && k >= b) {
			t.Fatalf("KeyBetween(%q, %q) = %q", a, b, k)
		}
	}
	// Inserting at the front again and again grows keys slowly.
	k := "a0"
	for i := range 1000 {
		next, err := KeyBetween("", k)
		if err != nil {
			t.Fatalf("insert %d at the front: %v", i, err)
		}
		k = next
	}
	if len(k) > 8 {
		t.Errorf("1000 inserts at the front made a key of %d characters", len(k))
	}
}

func TestKeyAt(t *testing.T) {
	c := mustContentJSON(t, []byte(`{"a":{"key":"a0"},"b":{"key":"a1"},"c":{"key":"a1"},"d":{"key":"a2"}}`), Limits{})
	for _, tc := range []struct {
		index int
		after []string // the new child must sort after these siblings
	}{{0, nil}, {1, []string{"a"}}, {2, []string{"a", "b", "c"}}, {4, []string{"a", "b", "c", "d"}}, {9, []string{"a", "b", "c", "d"}}} {
		k, err := c.KeyAt("", tc.index)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range c.Children("") {
			o, _ := c.Get(id)
			before := false
			for _, x := range tc.after {
				before = before || x == id
			}
			if before != (o.Key <= k) {
				t.Errorf("KeyAt(%d) = %q, sibling %s (%s)", tc.index, k, id, o.Key)
			}
		}
	}
}

func TestTransformRebasedLimits(t *testing.T) {
	c := mustContentJSON(t, []byte(`{"a":{"key":"a0"},"b":{"key":"a1"}}`), Limits{MaxDepth: 2})
	// b moves under a; concurrently, a new child of b was made. After the
	// move the child would be at depth 3: dropped, as the cycle case.
	committed := Op{MoveTo("b", "a", "a0")}
	if _, err := c.Apply(committed); err != nil {
		t.Fatal(err)
	}
	op := Op{NewObject("c", "b", "a0"), SetProp("a", "x", MustValue(1))}
	if _, err := c.Clone().Apply(op); KindOf(err) != KindLimit {
		t.Fatalf("against the current version: %v, want a limit error", err)
	}
	rebased, err := Transform(op, committed, "s1", "s2")
	if err != nil {
		t.Fatal(err)
	}
	applied, err := c.Apply(rebased)
	if err != nil || len(applied) != 1 || applied[0].Kind != Set {
		t.Fatalf("rebased: %s, %v", mustJSON(applied), err)
	}
}

func TestApplyRemoved(t *testing.T) {
	c := mustContentJSON(t, []byte(`{"f":{"key":"a0"},"r":{"parent":"f","key":"a0"},"s":{"parent":"r","key":"a0"},"t":{"key":"a1"}}`), Limits{})
	_, removed, err := c.ApplyRemoved(Op{Delete("f"), Delete("zz")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sortedCopy(removed), ",") != "f,r,s" {
		t.Fatalf("removed %v", removed)
	}
	if _, removed, _ := c.ApplyRemoved(Op{SetProp("t", "x", MustValue(1))}); removed != nil {
		t.Fatalf("removed %v", removed)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestReplicaFlushSplitsByOpSize(t *testing.T) {
	lim := Limits{MaxOpBytes: 64}
	r := NewReplica("me-0123456789abcd", NewContent(lim), 0)
	for i := range 5 {
		if _, err := r.Local(Op{NewObject(strings.Repeat("x", 20)+string(rune('a'+i)), "", "a0")}); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for v := int64(0); r.Pending(); v++ {
		op, at, ok := r.Flush()
		if !ok || at != v {
			t.Fatalf("flush %d: %v at %d", v, ok, at)
		}
		if op.Size() > lim.MaxOpBytes && len(op) > 1 {
			t.Fatalf("flushed %d bytes", op.Size())
		}
		if _, _, again := r.Flush(); again {
			t.Fatal("two ops in flight")
		}
		total += len(op)
		if _, err := r.Ack(v); err != nil {
			t.Fatal(err)
		}
	}
	if total != 5 || r.Base().Len() != 5 {
		t.Fatalf("sent %d actions, base has %d objects", total, r.Base().Len())
	}
	if err := r.Remote(nil, "other-0123456789ab", 9); !errors.Is(err, ErrVersion) {
		t.Fatalf("gap: %v", err)
	}
	if _, err := r.Ack(5); err == nil {
		t.Fatal("ack with nothing in flight")
	}
}

// TestReplicaKeepsOwnPendingValues pins Figma's rule against flicker: while
// our set of a property is unacknowledged, a remote value of it does not
// show, and once the server has both, ours (committed later) wins.
func TestReplicaKeepsOwnPendingValues(t *testing.T) {
	c := mustContentJSON(t, []byte(`{"a":{"key":"a0","props":{"x":1}}}`), Limits{})
	r := NewReplica("me-0123456789abcd", c, 0)
	if _, err := r.Local(Op{SetProp("a", "x", MustValue(2))}); err != nil {
		t.Fatal(err)
	}
	if err := r.Remote(Op{SetProp("a", "x", MustValue(3)), SetProp("a", "y", MustValue(4))}, "other-0123456789ab", 0); err != nil {
		t.Fatal(err)
	}
	view := r.View()
	if x, _ := view.Prop("a", "x"); !x.Equal(MustValue(2)) {
		t.Fatalf("x shows %v", x.Interface())
	}
	if y, _ := view.Prop("a", "y"); !y.Equal(MustValue(4)) {
		t.Fatalf("y shows %v", y.Interface())
	}
}

func TestSelectionRules(t *testing.T) {
	many := make(Selection, DefaultMaxSelection+1)
	for i := range many {
		many[i] = "a"
	}
	if _, err := DecodeSelection(many.AppendMsgpack(nil), Limits{}); KindOf(err) != KindTooLarge {
		t.Fatalf("%d ids: %v", len(many), err)
	}
	if sel, err := DecodeSelection(mp(0x90), Limits{}); err != nil || sel != nil {
		t.Fatalf("empty array: %v %v", sel, err)
	}
	if sel, err := DecodeSelection(mp(0x93, "a", "b", "a"), Limits{}); err != nil || len(sel) != 2 {
		t.Fatalf("repeats: %v %v", sel, err)
	}
	for _, bad := range [][]byte{mp(0x91, 0x01), mp(0x91, "a b"), mp(0x80), mp(0x92, "a")} {
		if _, err := DecodeSelection(bad, Limits{}); KindOf(err) != KindInvalid {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

// TestCloneIsolation: ops on a content and on its clones, interleaved, single
// and multi-action, with failing ops among them, never show through to each
// other (nodes are changed in place only by the generation that made them).
func TestCloneIsolation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	base, ids := benchContent(t, 3000)
	type replica struct {
		c   *Content
		log []Op
	}
	snapshot := mustMsgpack(base)
	reps := []*replica{{c: base}}
	for step := range 3000 {
		r := reps[rng.IntN(len(reps))]
		switch k := rng.IntN(10); {
		case k == 0 && len(reps) < 8:
			reps = append(reps, &replica{c: r.c.Clone(), log: append([]Op(nil), r.log...)})
		default:
			id := ids[rng.IntN(len(ids))]
			op := Op{SetProp(id, "x", MustValue(step))}
			switch rng.IntN(4) {
			case 0:
				op = append(op, SetProp(ids[rng.IntN(len(ids))], "y", MustValue(step)))
			case 1:
				op = append(op, NewObject(id, "", "a0")) // exists: the op fails whole
			case 2:
				op = Op{MoveTo(id, "", "a5")}
			}
			if _, err := r.c.Apply(op); err == nil {
				r.log = append(r.log, op)
			}
		}
	}
	// Each replica equals its own log replayed on a fresh copy of the start.
	for i, r := range reps {
		fresh, err := DecodeContent(snapshot, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range r.log {
			if _, err := fresh.Apply(op); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(mustMsgpack(fresh), mustMsgpack(r.c)) {
			t.Fatalf("replica %d differs from its own history", i)
		}
		checkInvariants(t, r.c)
	}
}

func TestCheckBase(t *testing.T) {
	// Now: f (with child r) was deleted since, q was created since, t was
	// always there.
	cur := mustContentJSON(t, []byte(`{"t":{"key":"a0"},"q":{"key":"a1"}}`), Limits{})
	since := []Since{
		{Op: Op{Delete("f")}, Removed: []string{"f", "r"}},
		{Op: Op{NewObject("q", "", "a1")}},
		{Op: Op{NewObject("z", "", "a2"), Delete("z")}},
	}
	cases := []struct {
		name string
		op   Op
		bad  bool
	}{
		{"an id that exists and existed", Op{NewObject("t", "", "a5")}, true},
		{"an id deleted since", Op{NewObject("f", "", "a5")}, true},
		{"a child deleted with its parent since", Op{NewObject("r", "", "a5")}, true},
		{"an id created since (Transform drops it)", Op{NewObject("q", "", "a5")}, false},
		{"an id created and deleted since", Op{NewObject("z", "", "a5")}, false},
		{"a new id", Op{NewObject("n", "", "a5")}, false},
		{"re-creating what the op deleted", Op{Delete("t"), NewObject("t", "", "a5")}, false},
	}
	for _, c := range cases {
		err := CheckBase(c.op, cur, since)
		if c.bad != (err != nil) || (err != nil && KindOf(err) != KindInvalid) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Without ops since, it is Apply's check: an id that exists now.
	if err := CheckBase(Op{NewObject("t", "", "a5")}, cur, nil); err == nil {
		t.Error("existing id at the current version")
	}
	if err := CheckBase(Op{NewObject("f", "", "a5")}, cur, nil); err != nil {
		t.Errorf("re-creating an id deleted before the op's version: %v", err)
	}
}
