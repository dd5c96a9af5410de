package wire

import (
	"runtime"
	"strings"
	"testing"
)

// allocBytes is the heap allocated by one call of fn, averaged over runs.
func allocBytes(runs int, fn func()) uint64 {
	fn() // warm pools and validator caches
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestHostileFramesAllocateLittle checks that no decoder allocates by what a
// header claims: every frame here claims gigabytes and holds a few bytes.
func TestHostileFramesAllocateLittle(t *testing.T) {
	hostile := map[string][]byte{
		"array32 op":         raw(0x85, "t", "op", "doc", "d", "v", 1, "seq", 1, "op", 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02),
		"array32 top":        raw(0xdd, 0xff, 0xff, 0xff, 0xff, 0x80),
		"map32 top":          raw(0xdf, 0xff, 0xff, 0xff, 0xff, "t", "op"),
		"map32 data":         raw(0x85, "t", "presence", "doc", "d", "v", 1, "sel", 0xc0, "data", 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0),
		"str32 sid":          raw(0x83, "t", "hello", "proto", 1, "sid", 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'),
		"bin32 value":        raw(0x82, "t", "leave", "doc", 0xc6, 0xff, 0xff, 0xff, 0xff, 'x'),
		"ext32 value":        raw(0x82, "t", "leave", "x", 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 'x'),
		"array32 sel":        raw(0x84, "t", "presence", "doc", "d", "v", 1, "sel", 0xdd, 0xff, 0xff, 0xff, 0xff, 0x92, 0x01, 0x01),
		"array16 sel ranges": raw(0x84, "t", "presence", "doc", "d", "v", 1, "sel", 0xdc, 0x7f, 0xff, 0x92, 0x01, 0x01),
		"deep nesting":       nested(10000),
	}
	for name, in := range hostile {
		t.Run(name, func(t *testing.T) {
			for _, dec := range []struct {
				name string
				fn   func()
			}{
				{"client", func() { _, _ = DecodeClient(in, Limits{}) }},
				{"server", func() { _, _ = DecodeServer(in) }},
			} {
				got := allocBytes(20, dec.fn)
				// The error message and its formatting are the only allocations.
				if limit := uint64(2048 + 16*len(in)); got > limit {
					t.Errorf("%s decoder allocated %d bytes for a %d-byte frame (limit %d)", dec.name, got, len(in), limit)
				}
			}
		})
	}
}

// TestLegitFrameAllocationIsProportional bounds the worst honest case: a frame
// packed with the smallest possible elements, which the decoders must really
// materialise.
func TestLegitFrameAllocationIsProportional(t *testing.T) {
	var op []any
	for i := range 20000 {
		if i%2 == 0 {
			op = append(op, 1)
		} else {
			op = append(op, "a")
		}
	}
	var sel [][]int
	for range DefaultMaxRanges {
		sel = append(sel, []int{1, 1})
	}
	frames := map[string][]byte{
		"op of 20000 tiny components": frame(t, with(baseOp, "op", op, "sel", sel)),
		"data of tiny values":         frame(t, with(basePresence, "data", map[string]any{"k": strings.Repeat("\x00", 900)})),
	}
	for name, in := range frames {
		got := allocBytes(5, func() {
			if _, err := DecodeClient(in, Limits{}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
		// ot's decoder materialises a 32-byte Component per 1- or 2-byte element
		// and then normalises into a second slice, both grown by append: about
		// 160 bytes per component, i.e. ~100x this densest possible op. That is
		// ot's cost, bounded by MaxOpBytes; this test catches regressions past it.
		if limit := uint64(128*len(in) + 64<<10); got > limit {
			t.Errorf("%s: %d bytes allocated for a %d-byte frame (limit %d)", name, got, len(in), limit)
		}
		t.Logf("%s: %d-byte frame, %d bytes allocated (%.1fx)", name, len(in), got, float64(got)/float64(len(in)))
	}
}
