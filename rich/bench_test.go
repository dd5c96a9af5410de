package rich

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/ot"
)

// benchContent builds a rich document of about n bytes of text that looks
// like a real one: paragraphs of ~400 characters with bold, italic and link
// runs, every eighth paragraph a heading, every fifth a list item, some
// non-ASCII text and an image now and then.
func benchContent(n int) (Op, []int) {
	words := strings.Fields("The quick brown fox jumps over the lazy dog while café naïve 日本語 😀 résumé writers edit together in real time")
	var o Op
	var paras []int // code point offset of each paragraph's start
	size, pos, w := 0, 0, 0
	for p := 0; size < n; p++ {
		paras = append(paras, pos)
		for k := 0; k < 60; k++ {
			word := words[w%len(words)] + " "
			w++
			var a Attrs
			switch k % 17 {
			case 3:
				a = Attrs{"bold": Bool(true)}
			case 7:
				a = Attrs{"italic": Bool(true)}
			case 11:
				a = Attrs{"link": String("https://example.com/docs/page")}
			}
			o = append(o, Component{Insert: word, Attrs: a})
			size += len(word)
			pos += len([]rune(word))
		}
		if p%23 == 5 {
			o = append(o, Component{Embed: Embed{Type: "image", Value: String("https://example.com/img.png")}})
			pos++
		}
		var pa Attrs
		switch {
		case p%8 == 0:
			pa = Attrs{"heading": Int(2)}
		case p%5 == 0:
			pa = Attrs{"list": String("bullet")}
		}
		o = append(o, Component{Insert: "\n", Attrs: pa})
		size++
		pos++
	}
	return o.Normalize(), paras
}

func benchDoc(b *testing.B, n int) (*Doc, []int) {
	content, paras := benchContent(n)
	d, err := DocFromDelta(content)
	if err != nil {
		b.Fatal(err)
	}
	return d, paras
}

// spread picks positions over the document so that the benchmarks do not
// keep hitting one cached leaf.
func spread(limit, count int) []int {
	ps := make([]int, count)
	x := uint32(2463534242)
	for i := range ps {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		ps[i] = int(x % uint32(limit))
	}
	return ps
}

var benchSizes = []struct {
	name  string
	bytes int
}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}, {"8MiB", 8 << 20}}

// BenchmarkDocApplyInsert types one character into a rich document and
// deletes it again (two ops per iteration pair), so the size stays put. Each
// op must cost O(log n), independent of the document's size.
func BenchmarkDocApplyInsert(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			d, _ := benchDoc(b, sz.bytes)
			ps := spread(d.Len()-1, 1024)
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
				o := ins[k]
				if i%2 == 1 {
					o = del[k]
				}
				if err := d.Apply(o); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDocApplyBoldParagraph bolds a whole paragraph (about 400
// characters, several runs, its links and italics kept) and unbolds it again.
func BenchmarkDocApplyBoldParagraph(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			d, paras := benchDoc(b, sz.bytes)
			if len(paras) < 2 {
				paras = append(paras, d.Len()-1)
			}
			picks := spread(len(paras)-1, 256)
			bold := make([]Op, len(picks))
			unbold := make([]Op, len(picks))
			for i, k := range picks {
				start, n := paras[k], paras[k+1]-paras[k]-1 // the paragraph's text, not its newline
				bold[i] = Op{{Retain: n, Attrs: Attrs{"bold": Bool(true)}}}
				unbold[i] = Op{{Retain: n, Attrs: Attrs{"bold": Null}}}
				if start > 0 {
					bold[i] = append(Op{{Retain: start}}, bold[i]...)
					unbold[i] = append(Op{{Retain: start}}, unbold[i]...)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := (i / 2) % len(picks)
				o := bold[k]
				if i%2 == 1 {
					o = unbold[k]
				}
				if err := d.Apply(o); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkDocClone(b *testing.B) {
	d, _ := benchDoc(b, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Clone()
	}
}

// BenchmarkDocFromDelta1MiB builds the rope from content, as loading a
// document from its snapshot does.
func BenchmarkDocFromDelta1MiB(b *testing.B) {
	content, _ := benchContent(1 << 20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DocFromDelta(content); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeContent1MiB decodes a document's MessagePack content and
// builds its rope: what loading a document from its snapshot costs.
func BenchmarkDecodeContent1MiB(b *testing.B) {
	d, _ := benchDoc(b, 1<<20)
	in := d.AppendMsgpack(nil)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeContent(in, -1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDocEncode1MiB encodes the whole document as MessagePack, as a
// snapshot or a joined message does.
func BenchmarkDocEncode1MiB(b *testing.B) {
	d, _ := benchDoc(b, 1<<20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		_ = d.AppendMsgpack(nil)
	}
}

func BenchmarkTransform(b *testing.B) {
	bold := Attrs{"bold": Bool(true)}
	cases := []struct {
		name string
		a, c Op
	}{
		{"insert-insert", Op{{Retain: 120}, {Insert: "a"}}, Op{{Retain: 120}, {Insert: "b"}}},
		{"insert-format", Op{{Retain: 130}, {Insert: "a"}}, Op{{Retain: 100}, {Retain: 400, Attrs: bold}}},
		{"format-format", Op{{Retain: 100}, {Retain: 400, Attrs: bold}}, Op{{Retain: 300}, {Retain: 400, Attrs: Attrs{"bold": Null, "italic": Bool(true)}}}},
		{"replace-delete", Op{{Retain: 50}, {Insert: "new", Attrs: bold}, {Delete: 10}}, Op{{Retain: 55}, {Delete: 20}}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			o := OrderBySID("alice", "bob", true)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Transform(tc.a, tc.c, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompose(b *testing.B) {
	a := Op{{Retain: 120}, {Insert: "hello", Attrs: Attrs{"bold": Bool(true)}}}
	c := Op{{Retain: 125}, {Insert: " world"}, {Retain: 3, Attrs: Attrs{"italic": Bool(true)}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compose(a, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeOp decodes ops from MessagePack as the server receives them.
func BenchmarkDecodeOp(b *testing.B) {
	content, _ := benchContent(4 << 10)
	paste := append(Op{{Retain: 1200}}, content...)
	cases := []struct {
		name string
		o    Op
	}{
		{"typing", Op{{Retain: 12345}, {Insert: "x"}}},
		{"bold-paragraph", Op{{Retain: 12345}, {Retain: 400, Attrs: Attrs{"bold": Bool(true)}}}},
		{"formatted-insert", Op{{Retain: 12345}, {Insert: "x", Attrs: Attrs{"bold": Bool(true), "link": String("https://example.com/a")}}}},
		{"paste-4KiB", paste},
	}
	for _, tc := range cases {
		in := tc.o.AppendMsgpack(nil)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeOp(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseJSON(b *testing.B) {
	in := []byte(`[12345,{"r":400,"a":{"bold":true,"link":"https://example.com/a"}},"text",-3]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransformAll is what the server does with an op that arrives 8
// ops behind the head, with its author's caret (doctype.TransformAll): the
// op moves past each committed op, the caret by each as it looks past the
// op.
func BenchmarkTransformAll(b *testing.B) {
	op := Op{{Retain: 1200}, {Insert: "x", Attrs: Attrs{"bold": Bool(true)}}}
	committed := make([]doctype.Op, 8)
	sids := make([]string, 8)
	for i := range committed {
		committed[i] = Op{{Retain: 800 + 40*i}, {Insert: "y"}}
		sids[i] = fmt.Sprintf("peer-%d-0123456789", i)
	}
	for _, tc := range []struct {
		name string
		sel  doctype.Selection
	}{{"no-selection", nil}, {"caret", NewSelection(ot.Selection{{Anchor: 1201, Head: 1201}})}} {
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
