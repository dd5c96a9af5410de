package tree

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocBytes is the heap allocated by one call of fn, averaged over runs.
func allocBytes(runs int, fn func()) uint64 {
	fn()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// nestedArrays is a value of n nested one-element arrays.
func nestedArrays(n int) []byte {
	b := bytes.Repeat([]byte{0x91}, n)
	return append(b, 0x01)
}

// TestHostileOpsAllocateLittle: headers that claim 2^31 elements or a 2 GiB
// string, and 100,000-deep nesting, in every place an op can hold them. Each
// input is a few bytes (or 100 KB of nesting); decoding must fail fast and
// allocate about what an error message costs, never by the claim.
func TestHostileOpsAllocateLittle(t *testing.T) {
	claim31 := []byte{0x80, 0, 0, 0}
	hostile := map[string][]byte{
		"op array of 2^31":          mp(0xdd, claim31, 0x92, "del", "a"),
		"action array of 2^31":      mp(0x91, 0xdd, claim31, "del", "a"),
		"props map of 2^31":         mp(0x91, 0x95, "new", "a", "", "a0", 0xdf, claim31, "x", 0x01),
		"value array of 2^31":       mp(0x91, 0x94, "set", "a", "p", 0xdd, claim31, 0x01),
		"value map of 2^31":         mp(0x91, 0x94, "set", "a", "p", 0xdf, claim31, "k", 0x01),
		"text op array of 2^31":     mp(0x91, 0x94, "text", "a", "p", 0xdd, claim31, 0x01),
		"2 GiB string value":        mp(0x91, 0x94, "set", "a", "p", 0xdb, claim31, 'x'),
		"2 GiB id":                  mp(0x91, 0x92, "del", 0xdb, claim31, 'x'),
		"2 GiB binary":              mp(0x91, 0x94, "set", "a", "p", 0xc6, claim31, 'x'),
		"2 GiB extension":           mp(0x91, 0x94, "set", "a", "p", 0xc9, claim31, 0x01, 'x'),
		"100,000-deep value":        mp(0x91, 0x94, "set", "a", "p", nestedArrays(100_000)),
		"100,000-deep props value":  mp(0x91, 0x95, "new", "a", "", "a0", 0x81, "x", nestedArrays(100_000)),
		"100,000-deep op":           nestedArrays(100_000),
		"100,000-deep maps":         append(mp(0x91, 0x94, "set", "a", "p"), bytes.Repeat(mp(0x81, "k"), 100_000)...),
		"selection claims 2^31 ids": mp(0xdd, claim31, "a"),
	}
	for name, in := range hostile {
		t.Run(name, func(t *testing.T) {
			decoders := map[string]func() error{
				"op":        func() error { _, err := DecodeOp(in, Limits{}); return err },
				"content":   func() error { _, err := DecodeContent(in, Limits{}); return err },
				"selection": func() error { _, err := DecodeSelection(in, Limits{}); return err },
			}
			for dname, dec := range decoders {
				if dec() == nil && dname == "op" {
					t.Fatalf("%s decoder accepted it", dname)
				}
				// Nothing but an error message, plus a bounded walk.
				if got, limit := allocBytes(5, func() { _ = dec() }), uint64(4096+len(in)/8); got > limit {
					t.Errorf("%s decoder allocated %d bytes for %d bytes of input (limit %d)", dname, got, len(in), limit)
				}
			}
		})
	}
	// JSON: deep nesting is refused by encoding/json's own bound or ours,
	// without a stack overflow, and allocation stays proportional.
	deep := `[["set","a","p",` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `]]`
	if _, err := ParseOpJSON([]byte(deep), Limits{}); err == nil {
		t.Fatal("100,000-deep JSON accepted")
	}
	if got := allocBytes(2, func() { _, _ = ParseOpJSON([]byte(deep), Limits{}) }); got > 64*uint64(len(deep)) {
		t.Errorf("deep JSON: %d bytes allocated for %d", got, len(deep))
	}
}

// TestLegitOpAllocationIsProportional bounds the honest worst case: an op of
// the op limit packed with the smallest actions, which must be materialised.
func TestLegitOpAllocationIsProportional(t *testing.T) {
	var op Op
	for size := 5; size < DefaultMaxOpBytes-64; size += 7 {
		op = append(op, Delete("a"))
	}
	b, _ := op.MarshalMsgpack()
	got := allocBytes(3, func() {
		if _, err := DecodeOp(b, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	// An Action is ~200 bytes for 7 encoded: the decoder's cost per action,
	// bounded by the op limit.
	if limit := uint64(48 * len(b)); got > limit {
		t.Errorf("%d actions in %d bytes: %d bytes allocated (limit %d)", len(op), len(b), got, limit)
	}
	t.Logf("%d-byte op of %d actions: %d bytes allocated (%.0fx)", len(b), len(op), got, float64(got)/float64(len(b)))
}

// TestCycleOfMoves: a cycle made of 10,000 moves, in one op and as 10,000
// concurrent ops, is refused in bounded time and leaves a forest.
func TestCycleOfMoves(t *testing.T) {
	const n = 10_000
	build := func() *Content {
		c := NewContent(Limits{})
		var op Op
		for i := range n {
			op = append(op, NewObject(fmt.Sprintf("o%d", i), "", "a0"))
		}
		if _, err := c.Apply(op); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("one op chaining every object", func(t *testing.T) {
		c := build()
		// o0 under o1 under o2 ... and o9999 under o0 to close the ring:
		// past 64 levels the op breaks the depth limit and fails whole.
		var op Op
		for i := range n {
			op = append(op, MoveTo(fmt.Sprintf("o%d", i), fmt.Sprintf("o%d", (i+1)%n), "a0"))
		}
		start := time.Now()
		_, err := c.Apply(op)
		if KindOf(err) != KindLimit {
			t.Fatalf("got %v, want a depth limit error", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %v", d)
		}
		checkInvariants(t, c)
	})
	t.Run("rings of two within the depth limit", func(t *testing.T) {
		c := build()
		// Pairs move under each other: the first of each pair applies, the
		// second would close a cycle and is dropped.
		var op Op
		for i := 0; i < n; i += 2 {
			a, b := fmt.Sprintf("o%d", i), fmt.Sprintf("o%d", i+1)
			op = append(op, MoveTo(a, b, "a0"), MoveTo(b, a, "a0"))
		}
		applied, err := c.Apply(op)
		if err != nil || len(applied) != n/2 {
			t.Fatalf("applied %d of %d moves: %v", len(applied), n, err)
		}
		checkInvariants(t, c)
	})
	t.Run("concurrent ops each closing the ring", func(t *testing.T) {
		c := build()
		// 10,000 clients each move o(i) under o(i+1), all made at version 0:
		// the server transforms each past those committed before it. All
		// but the moves that would close a cycle or nest past 64 commit.
		var log []Op
		start := time.Now()
		for i := range n {
			op := Op{MoveTo(fmt.Sprintf("o%d", i), fmt.Sprintf("o%d", (i+1)%n), "a0")}
			for _, committed := range log[max(0, len(log)-3):] { // a window suffices: moves pass unchanged
				var err error
				if op, err = Transform(op, committed, fmt.Sprintf("sid%06d", i), "other"); err != nil {
					t.Fatal(err)
				}
			}
			applied, err := c.Apply(op)
			if err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
			log = append(log, applied)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
		checkInvariants(t, c)
	})
}
