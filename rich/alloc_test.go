package rich

import (
	"bytes"
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

// mp concatenates MessagePack fragments: bytes as they are, strings as fixstr.
func mp(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = append(b, byte(v))
		case string:
			b = appendString(b, v)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

// deepArray is an array nested n deep.
func deepArray(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n), 0x90) }

// hostileMsgpack are inputs whose headers claim far more than they hold, or
// that nest without end inside an attribute value.
var hostileMsgpack = map[string][]byte{
	"array32 of 2^31 components":           mp(0xdd, 0x80, 0, 0, 0, 0x01, 0x02),
	"array32 of 2^32-1 components":         mp(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01),
	"str32 insert claiming 2 GiB":          mp(0x91, 0xdb, 0x80, 0, 0, 0, 'x'),
	"map32 component claiming 2^31 pairs":  mp(0x91, 0xdf, 0x80, 0, 0, 0, "i", "x"),
	"map32 attributes claiming 2^32-1":     mp(0x91, 0x82, "i", "x", "a", 0xdf, 0xff, 0xff, 0xff, 0xff, "b", 0xc3),
	"str32 attribute value claiming 2 GiB": mp(0x91, 0x82, "i", "x", "a", 0x81, "link", 0xdb, 0x80, 0, 0, 0, 'u'),
	"str32 embed claiming 2 GiB":           mp(0x91, 0x81, "e", 0x81, "image", 0xdb, 0x80, 0, 0, 0, 'u'),
	"map32 embed claiming 2^31 types":      mp(0x91, 0x81, "e", 0xdf, 0x80, 0, 0, 0, "image", "u"),
	"attribute value nested 100000 deep":   mp(0x91, 0x82, "i", "x", "a", 0x81, "bold", deepArray(100000)),
	"attribute value map32 of maps":        mp(0x91, 0x82, "i", "x", "a", 0x81, "bold", bytes.Repeat([]byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'k'}, 1000)),
	"op nested 100000 deep":                deepArray(100000),
	"bin32 insert claiming 2 GiB":          mp(0x91, 0xc6, 0x80, 0, 0, 0, 'x'),
	"ext32 claiming 2 GiB":                 mp(0x91, 0xc9, 0x80, 0, 0, 0, 1, 'x'),
}

// TestHostileMsgpackAllocatesLittle checks that the decoders never allocate
// by what a header claims: each input claims gigabytes or nests without end
// and holds a few bytes (or only nesting).
func TestHostileMsgpackAllocatesLittle(t *testing.T) {
	for name, in := range hostileMsgpack {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeOp(in); err == nil {
				t.Fatal("accepted")
			} else {
				requireTyped(t, err)
			}
			for _, dec := range []struct {
				name string
				fn   func()
			}{
				{"DecodeOp", func() { _, _ = DecodeOp(in) }},
				{"DecodeContent", func() { _, _ = DecodeContent(in, -1) }},
			} {
				// The error and its message are the only allocations.
				if got := allocBytes(20, dec.fn); got > 2048 {
					t.Errorf("%s allocated %d bytes for a %d-byte input", dec.name, got, len(in))
				}
			}
		})
	}
}

// TestHostileJSON feeds the JSON decoder (REST bodies, bounded by the
// server's body limit) deep nesting and huge numbers: refused, quickly, with
// typed errors.
func TestHostileJSON(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for name, in := range map[string]string{
		"attribute value nested 100000 deep": `[{"i":"x","a":{"bold":` + deep + `}}]`,
		"op nested 100000 deep":              deep,
		"embed value nested":                 `[{"e":{"image":` + deep + `}}]`,
		"count of 400 digits":                `[` + strings.Repeat("9", 400) + `]`,
		"attribute number out of range":      `[{"i":"x","a":{"size":1e999}}]`,
		"65 attributes":                      `[{"i":"x","a":{` + strings.TrimSuffix(strings.Repeat(`"k":1,`, 1)+manyKeysJSON(65), ",") + `}}]`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseJSON([]byte(in))
			if err == nil {
				t.Fatal("accepted")
			}
			requireTyped(t, err)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
			if got := allocBytes(3, func() { _, _ = ParseJSON([]byte(in)) }); got > uint64(64*len(in)+64<<10) {
				t.Errorf("allocated %d bytes for %d bytes of JSON", got, len(in))
			}
		})
	}
}

func manyKeysJSON(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`"key`)
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`":true,`)
	}
	return b.String()
}

// TestLegitOpAllocationIsProportional bounds the worst honest cases: ops
// packed with the smallest components, which the decoder must materialise.
// Repeated attribute maps are shared; distinct ones cost a Go map each (a few
// hundred bytes for a ~10-byte map): the decoder's real cost, bounded by the
// op size limit (1 MiB by default).
func TestLegitOpAllocationIsProportional(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs func(i int) Attrs
		ratio uint64
	}{
		{"two attribute maps repeated", func(i int) Attrs {
			if i%2 == 0 {
				return Attrs{"b": Bool(true)}
			}
			return Attrs{"i": Int(1)}
		}, 32},
		{"a distinct attribute map each", func(i int) Attrs { return Attrs{"k": Int(i)} }, 96},
	} {
		var o Op
		for i := range 20000 {
			if i%2 == 0 {
				o = append(o, Component{Retain: 1, Attrs: tc.attrs(i)})
			} else {
				o = append(o, Component{Insert: "a", Attrs: tc.attrs(i)})
			}
		}
		in := o.AppendMsgpack(nil)
		got := allocBytes(3, func() {
			if _, err := DecodeOp(in); err != nil {
				t.Fatal(err)
			}
		})
		if limit := tc.ratio*uint64(len(in)) + 64<<10; got > limit {
			t.Errorf("%s: %d bytes allocated for a %d-byte op (limit %d)", tc.name, got, len(in), limit)
		}
		t.Logf("%s: %d-byte op, %d bytes allocated (%.1fx)", tc.name, len(in), got, float64(got)/float64(len(in)))
	}
}
