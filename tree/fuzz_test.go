package tree

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// fuzzLimits keeps fuzzed documents small so that every input runs fast.
var fuzzLimits = Limits{MaxObjects: 64, MaxDepth: 6, MaxProps: 8, MaxValueBytes: 256, MaxValueDepth: 4, MaxBytes: 1 << 14}

const fuzzContent = `{"f":{"parent":"","key":"a0","props":{"name":"frame"}},"r":{"parent":"f","key":"a0","props":{"x":1,"fill":"red"}},"s":{"parent":"f","key":"a1","props":{"text":"hello"}},"t":{"parent":"","key":"a1","props":{}}}`

// opSeeds are the ops of the shared vectors, in MessagePack, plus hostile
// shapes.
func opSeeds(t testing.TB) [][]byte {
	v := loadVectors(t)
	var seeds [][]byte
	add := func(raw json.RawMessage) {
		if op, err := ParseOpJSON(raw, Limits{}); err == nil {
			b, _ := op.MarshalMsgpack()
			seeds = append(seeds, b)
		}
	}
	for _, c := range v.Apply {
		add(c.Op)
	}
	for _, c := range v.Transform {
		add(c.Op)
		add(c.Committed)
	}
	return append(seeds,
		mp(0xdd, 0x80, 0, 0, 0, 0x92, "del", "a"),
		mp(0x91, 0x94, "set", "a", "p", 0xdb, 0x80, 0, 0, 0, 'x'),
		mp(0x91, 0x94, "set", "a", "p", nestedArrays(40)),
		mp(0x91, 0x94, "text", "s", "text", 0x92, 0x05, "x"),
	)
}

// FuzzDecodeOp: no panic; what is accepted is valid, re-encodes to what
// decodes to the same op, and reads the same from its JSON form.
func FuzzDecodeOp(f *testing.F) {
	for _, s := range opSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b, fuzzLimits)
		if err != nil {
			if KindOf(err) == 0 {
				t.Fatalf("error of another type: %T %v", err, err)
			}
			return
		}
		if err := op.Validate(fuzzLimits); err != nil {
			t.Fatalf("decoded op is invalid: %v", err)
		}
		enc, _ := op.MarshalMsgpack()
		if len(enc) != op.Size() {
			t.Fatalf("Size %d, encoding %d", op.Size(), len(enc))
		}
		again, err := DecodeOp(enc, fuzzLimits)
		if err != nil || !reflect.DeepEqual(again, op) {
			t.Fatalf("round trip: %v\n%#v\n%#v", err, op, again)
		}
		j, _ := op.MarshalJSON()
		fromJSON, err := ParseOpJSON(j, fuzzLimits)
		if err != nil {
			t.Fatalf("JSON %s: %v", j, err)
		}
		if e2, _ := fromJSON.MarshalMsgpack(); !bytes.Equal(e2, enc) {
			t.Fatalf("JSON round trip changed the op: %s", j)
		}
	})
}

// FuzzParseOpJSON: no panic; what is accepted round-trips.
func FuzzParseOpJSON(f *testing.F) {
	for _, s := range opSeeds(f) {
		if op, err := DecodeOp(s, Limits{}); err == nil {
			j, _ := op.MarshalJSON()
			f.Add(string(j))
		}
	}
	f.Add(`[["set","a","p","\ud800"]]`)
	f.Add(`[["set","a","p",{"k":1,"k":2}]]`)
	f.Add(`[["new","a","","a0",{"x":[[[[1]]]]}]]`)
	f.Fuzz(func(t *testing.T, s string) {
		op, err := ParseOpJSON([]byte(s), fuzzLimits)
		if err != nil {
			if KindOf(err) == 0 {
				t.Fatalf("error of another type: %T %v", err, err)
			}
			return
		}
		j, _ := op.MarshalJSON()
		again, err := ParseOpJSON(j, fuzzLimits)
		if err != nil || !reflect.DeepEqual(again, op) {
			t.Fatalf("round trip of %s: %v", j, err)
		}
	})
}

// FuzzDecodeContent: no panic; accepted content keeps the invariants and
// re-encodes to itself.
func FuzzDecodeContent(f *testing.F) {
	c, err := ParseContentJSON([]byte(fuzzContent), Limits{})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := c.MarshalMsgpack()
	f.Add(b)
	f.Add(mp(0x81, "a", 0x82, "parent", "a", "key", "a0"))
	f.Add(mp(0x82, "a", 0x82, "parent", "b", "key", "a0", "b", 0x82, "parent", "a", "key", "a0"))
	f.Add(mp(0xdf, 0x80, 0, 0, 0, "a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeContent(b, fuzzLimits)
		if err != nil {
			if KindOf(err) == 0 {
				t.Fatalf("error of another type: %T %v", err, err)
			}
			return
		}
		checkInvariants(t, c)
		enc, _ := c.MarshalMsgpack()
		if len(enc) != c.Size() {
			t.Fatalf("Size %d, encoding %d", c.Size(), len(enc))
		}
		back, err := DecodeContent(enc, fuzzLimits)
		if err != nil {
			t.Fatalf("own encoding: %v", err)
		}
		if enc2, _ := back.MarshalMsgpack(); !bytes.Equal(enc, enc2) {
			t.Fatal("re-encoding changed the content")
		}
		j, _ := c.MarshalJSON()
		fromJSON, err := ParseContentJSON(j, fuzzLimits)
		if err != nil {
			t.Fatalf("JSON %s: %v", j, err)
		}
		if enc3, _ := fromJSON.MarshalMsgpack(); !bytes.Equal(enc, enc3) {
			t.Fatalf("JSON round trip changed the content: %s", j)
		}
	})
}

// FuzzApplyTransform plays the server: a committed op applies to the
// document, an op made at the same version is transformed past it and
// applied. No panic; a failed Apply changes nothing; the content always keeps
// its invariants; the applied op re-applied to a copy of the state before
// gives the same state.
func FuzzApplyTransform(f *testing.F) {
	seeds := opSeeds(f)
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)], i%2 == 0)
	}
	base, err := ParseContentJSON([]byte(fuzzContent), fuzzLimits)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, opBytes, committedBytes []byte, aliceFirst bool) {
		op, err := DecodeOp(opBytes, fuzzLimits)
		if err != nil {
			return
		}
		committed, err := DecodeOp(committedBytes, fuzzLimits)
		if err != nil {
			return
		}
		sid, csid := "alice-0123456789ab", "bob-0123456789abcd"
		if !aliceFirst {
			sid, csid = csid, sid
		}
		c := base.Clone()
		applyChecked(t, c, committed)
		op2, err := Transform(op, committed, sid, csid)
		if err != nil {
			t.Fatalf("transform: %v", err)
		}
		applyChecked(t, c, op2)
		if b, _ := base.MarshalMsgpack(); !bytes.Equal(b, mustMsgpack(base)) {
			t.Fatal("clone changed the original")
		}
	})
}

func mustMsgpack(c *Content) []byte {
	b, _ := c.MarshalMsgpack()
	return b
}

// applyChecked applies op to c and checks what Apply promises.
func applyChecked(t *testing.T, c *Content, op Op) {
	t.Helper()
	before := c.Clone()
	beforeBytes := mustMsgpack(c)
	applied, err := c.Apply(op)
	if err != nil {
		if KindOf(err) == 0 {
			t.Fatalf("error of another type: %T %v", err, err)
		}
		if !bytes.Equal(mustMsgpack(c), beforeBytes) {
			t.Fatal("failed Apply changed the content")
		}
		return
	}
	checkInvariants(t, c)
	// The op as applied replays to the same state and drops nothing more.
	replay := before.Clone()
	again, err := replay.Apply(applied)
	if err != nil || len(again) != len(applied) {
		t.Fatalf("replaying the applied op: %v (%d of %d actions)", err, len(again), len(applied))
	}
	if !bytes.Equal(mustMsgpack(replay), mustMsgpack(c)) {
		t.Fatal("replaying the applied op gives another state")
	}
}
