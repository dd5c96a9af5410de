package tree

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/ot"
)

// benchContent builds a canvas-like document of n objects: frames of up to
// 100 shapes each, three levels at most, every shape with six properties.
func benchContent(tb testing.TB, n int) (*Content, []string) {
	tb.Helper()
	c := NewContent(Limits{})
	ids := make([]string, 0, n)
	var op Op
	frame := ""
	for i := range n {
		id := fmt.Sprintf("s%06d", i)
		parent := frame
		if i%100 == 0 {
			parent = ""
			frame = id
		}
		key, _ := KeyBetween("", "")
		op = append(op, NewObject(id, parent, key,
			Prop{"x", MustValue(i % 1000)}, Prop{"y", MustValue(i % 700)},
			Prop{"w", MustValue(120)}, Prop{"h", MustValue(80)},
			Prop{"fill", StringValue("#ffcc00")}, Prop{"text", StringValue("a sticky note")}))
		ids = append(ids, id)
		if len(op) == 1000 {
			if _, err := c.Apply(op); err != nil {
				tb.Fatal(err)
			}
			op = op[:0]
		}
	}
	if _, err := c.Apply(op); err != nil {
		tb.Fatal(err)
	}
	return c, ids
}

// cpuTime is the process's CPU time (user and system, all threads: the
// garbage collector's workers included). On a shared machine the wall time
// of a benchmark includes waiting for a core; CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op, the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
}

// loop runs fn b.N times (b.Loop) and reports the CPU time per call.
func loop(b *testing.B, fn func()) {
	b.ReportAllocs()
	start, n := cpuTime(), 0
	for b.Loop() {
		fn()
		n++
	}
	reportCPU(b, start, n)
}

// BenchmarkApplySet is the drag of a shape: one set of one property, on a
// document of 10 and of 100,000 objects (the target: within 2x).
func BenchmarkApplySet(b *testing.B) {
	for _, n := range []int{10, 1000, 100_000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			c, ids := benchContent(b, n)
			rng := rand.New(rand.NewPCG(1, 1))
			ops := make([]Op, 1024)
			for i := range ops {
				ops[i] = Op{SetProp(ids[rng.IntN(len(ids))], "x", MustValue(rng.IntN(2000)))}
			}
			runtime.GC() // not the setup's garbage
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			n := 0
			for i := 0; b.Loop(); i++ {
				if _, err := c.Apply(ops[i%len(ops)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			reportCPU(b, cpu, n)
		})
	}
}

// BenchmarkApplySetBatched is BenchmarkApplySet with a Clone before every
// batch of ops, as the document actor does (it tries a batch on a clone): the
// first op of a batch copies its path, later ones change what the batch
// already copied in place. batch=1 is the worst case, every op cloned.
func BenchmarkApplySetBatched(b *testing.B) {
	for _, batch := range []int{1, 16} {
		for _, n := range []int{10, 100_000} {
			b.Run(fmt.Sprintf("batch=%d/objects=%d", batch, n), func(b *testing.B) {
				c, ids := benchContent(b, n)
				rng := rand.New(rand.NewPCG(1, 1))
				ops := make([]Op, 1024)
				for i := range ops {
					ops[i] = Op{SetProp(ids[rng.IntN(len(ids))], "x", MustValue(rng.IntN(2000)))}
				}
				runtime.GC()
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				k := 0
				for i := 0; b.Loop(); i++ {
					if i%batch == 0 {
						c = c.Clone()
					}
					if _, err := c.Apply(ops[i%len(ops)]); err != nil {
						b.Fatal(err)
					}
					k++
				}
				reportCPU(b, cpu, k)
			})
		}
	}
}

// BenchmarkApplySetBesideLarge is BenchmarkApplySet on 10 objects in a
// process that also holds a 100,000-object document, as a server holding
// other documents does: the garbage collector then has the same heap to mark
// in both cases, and the comparison with objects=100000 is the cost of the
// document's size alone.
func BenchmarkApplySetBesideLarge(b *testing.B) {
	resident, _ := benchContent(b, 100_000)
	c, ids := benchContent(b, 10)
	rng := rand.New(rand.NewPCG(1, 1))
	ops := make([]Op, 1024)
	for i := range ops {
		ops[i] = Op{SetProp(ids[rng.IntN(len(ids))], "x", MustValue(rng.IntN(2000)))}
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	n := 0
	for i := 0; b.Loop(); i++ {
		if _, err := c.Apply(ops[i%len(ops)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportCPU(b, cpu, n)
	runtime.KeepAlive(resident)
}

// BenchmarkApplyMove re-parents a shape into another frame.
func BenchmarkApplyMove(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			c, ids := benchContent(b, n)
			rng := rand.New(rand.NewPCG(1, 1))
			runtime.GC()
			loop(b, func() {
				id := ids[1+rng.IntN(len(ids)-1)]
				if id[len(id)-2:] == "00" {
					return // a frame
				}
				frame := ids[rng.IntN(len(ids)/100+1)*100%len(ids)]
				if _, err := c.Apply(Op{MoveTo(id, frame, "a0")}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkClone is what the actor pays once per batch.
func BenchmarkClone(b *testing.B) {
	c, _ := benchContent(b, 100_000)
	var sink *Content
	loop(b, func() { sink = c.Clone() })
	_ = sink
}

// BenchmarkDecodeOp decodes a drag (one set), a text edit and the creation
// of a shape.
func BenchmarkDecodeOp(b *testing.B) {
	for name, op := range map[string]Op{
		"set":  {SetProp("s000123", "x", MustValue(512))},
		"text": {EditText("s000123", "text", ot.Op{{Retain: 7}, {Insert: "y"}})},
		"new": {NewObject("client.42", "s000100", "a0V", Prop{"x", MustValue(1)}, Prop{"y", MustValue(2)},
			Prop{"w", MustValue(120)}, Prop{"h", MustValue(80)}, Prop{"fill", StringValue("#ffcc00")})},
	} {
		enc, _ := op.MarshalMsgpack()
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			loop(b, func() {
				if _, err := DecodeOp(enc, Limits{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkTransform moves a text edit past a committed edit of the same
// property, and a set past a committed set (the common case: no change).
func BenchmarkTransform(b *testing.B) {
	text := Op{EditText("n", "text", ot.Op{{Retain: 5}, {Insert: "x"}})}
	ctext := Op{EditText("n", "text", ot.Op{{Retain: 2}, {Insert: "y"}})}
	set := Op{SetProp("a", "x", MustValue(1))}
	cset := Op{SetProp("b", "x", MustValue(2))}
	b.Run("text", func(b *testing.B) {
		loop(b, func() {
			if _, err := Transform(text, ctext, "a", "b"); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("set", func(b *testing.B) {
		loop(b, func() {
			if _, err := Transform(set, cset, "a", "b"); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkContent encodes and decodes whole documents in both forms:
// MessagePack (snapshots, joined) and JSON (REST; what a JSONB column would
// be given). B/doc is the encoded size.
func BenchmarkContent(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		c, _ := benchContent(b, n)
		mp, _ := c.MarshalMsgpack()
		js, _ := c.MarshalJSON()
		b.Run(fmt.Sprintf("encode/msgpack/objects=%d", n), func(b *testing.B) {
			b.ReportMetric(float64(len(mp)), "B/doc")
			loop(b, func() { _ = c.AppendMsgpack(make([]byte, 0, c.Size())) })
		})
		b.Run(fmt.Sprintf("encode/json/objects=%d", n), func(b *testing.B) {
			b.ReportMetric(float64(len(js)), "B/doc")
			loop(b, func() { _, _ = c.MarshalJSON() })
		})
		b.Run(fmt.Sprintf("decode/msgpack/objects=%d", n), func(b *testing.B) {
			loop(b, func() {
				if _, err := DecodeContent(mp, Limits{}); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("decode/json/objects=%d", n), func(b *testing.B) {
			loop(b, func() {
				if _, err := ParseContentJSON(js, Limits{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
