package ot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
)

// benchText returns about n bytes of mostly-ASCII prose with some multi-byte
// code points, like a real document.
func benchText(n int) string {
	const para = "The quick brown fox jumps over the lazy dog. Café naïve 日本語 😀 résumé.\n"
	s := strings.Repeat(para, n/len(para)+1)
	cut := n
	for cut > 0 && cut < len(s) && (s[cut]&0xc0) == 0x80 {
		cut--
	}
	return s[:cut]
}

var benchSizes = []struct {
	name  string
	bytes int
}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}, {"8MiB", 8 << 20}}

// positions spreads edit positions over the document so that the benchmark
// does not keep hitting one cached leaf.
func positions(docLen int) []int {
	ps := make([]int, 1024)
	x := uint32(2463534242)
	for i := range ps {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		ps[i] = int(x % uint32(docLen))
	}
	return ps
}

// BenchmarkDocApply types one character into a document and deletes it again
// (two ops per iteration pair), so the size stays put. Each op must cost
// O(log n), independent of the document size.
func BenchmarkDocApply(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			d, err := NewDoc(benchText(sz.bytes))
			if err != nil {
				b.Fatal(err)
			}
			ps := positions(d.Len())
			ins := make([]Op, len(ps))
			del := make([]Op, len(ps))
			for i, p := range ps {
				ins[i] = Op{{Retain: p}, {Insert: "x"}}
				del[i] = Op{{Retain: p}, {Delete: 1}}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := (i / 2) % len(ps)
				op := ins[k]
				if i%2 == 1 {
					op = del[k]
				}
				if err := d.Apply(op); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkApplyString is the copying string implementation, for comparison.
func BenchmarkApplyString(b *testing.B) {
	for _, sz := range benchSizes[:2] {
		b.Run(sz.name, func(b *testing.B) {
			doc := benchText(sz.bytes)
			op := Op{{Retain: len([]rune(doc)) / 2}, {Insert: "x"}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Apply(doc, op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDocClone(b *testing.B) {
	d, _ := NewDoc(benchText(8 << 20))
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Clone()
	}
}

func BenchmarkNewDoc8MiB(b *testing.B) {
	s := benchText(8 << 20)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewDoc(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDocString8MiB(b *testing.B) {
	d, _ := NewDoc(benchText(8 << 20))
	b.SetBytes(int64(d.Bytes()))
	b.ReportAllocs()
	for b.Loop() {
		_ = d.String()
	}
}

// BenchmarkTransform covers what the server does for every op that arrives
// behind the head: typing against typing.
func BenchmarkTransform(b *testing.B) {
	cases := []struct {
		name string
		a, b Op
	}{
		{"insert-insert", Op{{Retain: 1200}, {Insert: "x"}}, Op{{Retain: 800}, {Insert: "y"}}},
		{"insert-delete", Op{{Retain: 1200}, {Insert: "x"}}, Op{{Retain: 800}, {Delete: 1}}},
		{"delete-insert", Op{{Retain: 800}, {Delete: 1}}, Op{{Retain: 1200}, {Insert: "x"}}},
		{"replace-replace", Op{{Retain: 500}, {Insert: "abc"}, {Delete: 3}}, Op{{Retain: 501}, {Insert: "xy"}, {Delete: 5}}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Transform(tc.a, tc.b, Right); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompose(b *testing.B) {
	x := Op{{Retain: 1200}, {Insert: "hel"}}
	y := Op{{Retain: 1203}, {Insert: "lo"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compose(x, y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransformPosition(b *testing.B) {
	op := Op{{Retain: 500}, {Insert: "abc"}, {Delete: 3}}
	b.ReportAllocs()
	for b.Loop() {
		_ = TransformPosition(1000, op)
	}
}

// BenchmarkDecodeMsgpack decodes a typing op the way the server does: the op
// field of a message struct, through msgpack.Unmarshal.
func BenchmarkDecodeMsgpack(b *testing.B) {
	type message struct {
		T  string    `msgpack:"t"`
		Op Op        `msgpack:"op"`
		Se Selection `msgpack:"sel"`
	}
	cases := []struct {
		name string
		op   Op
	}{
		{"typing", Op{{Retain: 123456}, {Insert: "x"}}},
		{"replace", Op{{Retain: 12}, {Insert: "hello wörld"}, {Delete: 5}, {Retain: 300}, {Delete: 2}}},
		{"paste-4KiB", Op{{Retain: 12}, {Insert: benchText(4096)}}},
	}
	for _, tc := range cases {
		b.Run(tc.name+"/op", func(b *testing.B) {
			data, err := msgpack.Marshal(tc.op)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var op Op
				if err := msgpack.Unmarshal(data, &op); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/message", func(b *testing.B) {
			data, err := msgpack.Marshal(message{T: "op", Op: tc.op, Se: Selection{{5, 5}}})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var m message
				if err := msgpack.Unmarshal(data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeMsgpack(b *testing.B) {
	op := Op{{Retain: 12}, {Insert: "hello wörld"}, {Delete: 5}}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := op.EncodeMsgpack(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalJSON(b *testing.B) {
	data := []byte(`[12,"hello wörld",-5,300,-2]`)
	b.ReportAllocs()
	for b.Loop() {
		var op Op
		if err := json.Unmarshal(data, &op); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDocApplyLargeOp applies an op with many edits spread over a 1 MiB
// document (a big find-and-replace).
func BenchmarkDocApplyLargeOp(b *testing.B) {
	d, _ := NewDoc(benchText(1 << 20))
	var op Op
	for i := 0; i < 1000; i++ {
		op = append(op, Component{Retain: 800}, Component{Insert: "ab"}, Component{Delete: 2})
	}
	undo, err := Invert(op, d)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		o := op
		if i%2 == 1 {
			o = undo
		}
		if err := d.Apply(o); err != nil {
			b.Fatal(fmt.Errorf("iteration %d: %w", i, err))
		}
		i++
	}
}

// BenchmarkTransformAll is what the server does with an op that arrives 8
// ops behind the head, with its author's caret (doctype.TransformAll): the
// op moves past each committed op, the caret by each as it looks past the
// op.
func BenchmarkTransformAll(b *testing.B) {
	op := Op{{Retain: 1200}, {Insert: "x"}}
	committed := make([]doctype.Op, 8)
	sids := make([]string, 8)
	for i := range committed {
		committed[i] = Op{{Retain: 800 + 40*i}, {Insert: "y"}}
		sids[i] = fmt.Sprintf("peer-%d-0123456789", i)
	}
	for _, tc := range []struct {
		name string
		sel  doctype.Selection
	}{{"no-selection", nil}, {"caret", Selection{{Anchor: 1201, Head: 1201}}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := doctype.TransformAll(op, "author-0123456789", committed, sids, tc.sel); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
