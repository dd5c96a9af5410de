package ot

import (
	"strings"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/rope"
)

// Tree shape. Leaves hold up to leafMax bytes so that editing one copies at
// most 1 KiB; internal nodes hold up to kidsMax children so that an 8 MiB
// document is three or four levels deep and an edit allocates a handful of
// nodes. The minimums keep the tree from degrading under deletes.
const (
	leafMax = 1024
	leafMin = leafMax / 4
	kidsMax = 32
	kidsMin = kidsMax / 4
)

// node is an immutable rope node: once built it is never written again, which
// is what lets Clone share the whole tree. A leaf has kids == nil.
type node struct {
	runes int
	bytes int
	text  string
	kids  []*node
}

var emptyLeaf = &node{}

func newLeaf(text string) *node {
	return &node{runes: utf8.RuneCountInString(text), bytes: len(text), text: text}
}

func newInternal(kids []*node) *node {
	n := &node{kids: kids}
	for _, k := range kids {
		n.runes += k.runes
		n.bytes += k.bytes
	}
	return n
}

func (n *node) isLeaf() bool { return n.kids == nil }

// Kids implements rope.Node.
func (n *node) Kids() []*node { return n.kids }

// Underfull implements rope.Node.
func (n *node) Underfull() bool {
	if n.isLeaf() {
		return n.bytes < leafMin
	}
	return len(n.kids) < kidsMin
}

// byteOffset converts a code point offset inside a leaf to a byte offset.
func (n *node) byteOffset(pos int) int {
	if n.runes == n.bytes {
		return pos // ASCII leaf
	}
	return advanceValid(n.text, 0, pos)
}

// Doc is a text document held as a persistent B-tree rope of UTF-8 chunks.
// Apply replaces the path from the root to the edited leaves (O(log n) nodes
// for a small op) and never copies the rest of the text; Clone is O(1) since
// nodes are shared and never mutated. A Doc is not safe for concurrent
// Apply; clones are independent and may be used from different goroutines.
// The zero Doc is an empty document.
type Doc struct {
	root *node
}

// NewDoc builds a document from s, which must be valid UTF-8.
func NewDoc(s string) (*Doc, error) {
	if !utf8.ValidString(s) {
		return nil, errUTF8(-1, "document is not valid UTF-8")
	}
	return &Doc{root: buildTree(leavesOf(s))}, nil
}

func (d *Doc) rootNode() *node {
	if d == nil || d.root == nil {
		return emptyLeaf
	}
	return d.root
}

// Len is the length of the document in code points.
func (d *Doc) Len() int { return d.rootNode().runes }

// Bytes is the length of the document in UTF-8 bytes (the server's document
// size limit is in bytes).
func (d *Doc) Bytes() int { return d.rootNode().bytes }

// Clone returns a document that shares this one's text; applying ops to either
// does not affect the other.
func (d *Doc) Clone() *Doc { return &Doc{root: d.rootNode()} }

// String returns the whole text.
func (d *Doc) String() string {
	r := d.rootNode()
	if r.isLeaf() {
		return r.text
	}
	var b strings.Builder
	b.Grow(r.bytes)
	appendRange(&b, r, 0, r.runes)
	return b.String()
}

// Slice returns n code points starting at code point start, clamped to the
// document.
func (d *Doc) Slice(start, n int) string {
	r := d.rootNode()
	if n <= 0 {
		return ""
	}
	if start < 0 {
		n += start
		start = 0
	}
	if start > r.runes {
		start = r.runes
	}
	if n > r.runes-start {
		n = r.runes - start
	}
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	appendRange(&b, r, start, n)
	return b.String()
}

// appendRange writes code points [start, start+n) of the subtree to b.
func appendRange(b *strings.Builder, nd *node, start, n int) {
	if nd.isLeaf() {
		s := nd.byteOffset(start)
		e := s + n // ASCII leaf
		if nd.runes != nd.bytes {
			e = advanceValid(nd.text, s, n)
		}
		b.WriteString(nd.text[s:e])
		return
	}
	for _, k := range nd.kids {
		if n <= 0 {
			return
		}
		if start >= k.runes {
			start -= k.runes
			continue
		}
		take := min(n, k.runes-start)
		appendRange(b, k, start, take)
		n -= take
		start = 0
	}
}

// Apply applies op to the document. The op is validated and must fit (see the
// package function Apply); on error the document is unchanged.
func (d *Doc) Apply(op Op) error {
	return d.ApplyLimit(op, -1)
}

// ApplyLimit is Apply with a size limit: if the resulting text would be over
// maxBytes UTF-8 bytes it returns an ErrTooLarge error and leaves the document
// unchanged. The check is free because the new version is built beside the old
// one anyway. A negative maxBytes means no limit.
func (d *Doc) ApplyLimit(op Op, maxBytes int) error {
	if d == nil {
		return errInvalid(-1, "apply to a nil *Doc")
	}
	if err := op.Validate(); err != nil {
		return err
	}
	root := d.rootNode()
	if err := checkFit(op, root.runes); err != nil {
		return err
	}
	var buf [4]edit
	edits := editsOf(op, buf[:0])
	if len(edits) == 0 {
		return nil
	}
	next := rootOf(applyNode(root, 0, edits, nil))
	if maxBytes >= 0 && next.bytes > maxBytes {
		return errTooLarge("document would be " + itoa(next.bytes) + " bytes, over the limit of " + itoa(maxBytes))
	}
	d.root = next
	return nil
}

// edit is one insert or delete of an op, at a position of the document before
// the op. Edits are in op order, so positions never decrease and deletes never
// overlap.
type edit struct {
	pos int
	del int    // code points deleted at pos, or 0 for an insert
	ins string // text inserted at pos
}

func editsOf(op Op, edits []edit) []edit {
	pos := 0
	for _, c := range op {
		switch {
		case c.Insert != "":
			edits = append(edits, edit{pos: pos, ins: c.Insert})
		case c.Delete > 0:
			edits = append(edits, edit{pos: pos, del: c.Delete})
			pos += c.Delete
		default:
			pos += c.Retain
		}
	}
	return edits
}

// kidsLimit is kidsMax where the shape reads it.
var kidsLimit = kidsMax

// shape is the tree around the leaves (internal/rope).
var shape = rope.Shape[*node]{
	KidsMax:     &kidsLimit,
	NewInternal: newInternal,
	MergeLeaves: func(a, b *node) []*node { return leavesOf(a.text + b.text) },
}

// rootOf turns the nodes that replace the root into a root: grouped under new
// parents if there are several, without single-child chains.
func rootOf(nodes []*node) *node {
	if r, ok := shape.Root(nodes); ok {
		return r
	}
	return emptyLeaf
}

// buildTree stacks parents over leaves up to one root.
func buildTree(leaves []*node) *node {
	if r, ok := shape.Build(leaves); ok {
		return r
	}
	return emptyLeaf
}

// applyNode applies edits to the subtree n, which starts at code point base
// of the old document, and appends the nodes that replace n (none, one or
// several, all of n's height) to out. Every node is visited at most once per
// op, however many edits fall in it; subtrees without edits are shared.
// Deletes in edits may extend past either end of n and are clipped to it.
func applyNode(n *node, base int, edits []edit, out []*node) []*node {
	if n.isLeaf() {
		return applyLeaf(n, base, edits, out)
	}
	kids := make([]*node, 0, len(n.kids)+2)
	s, j := base, 0
	last := len(n.kids) - 1
	for i, k := range n.kids {
		e := s + k.runes
		from, to := j, j
	scan:
		for j < len(edits) {
			ed := edits[j]
			switch {
			case ed.del == 0 && ed.pos <= e, ed.del == 0 && i == last:
				// An insert on the boundary of two children goes to the left one.
				j++
				to = j
			case ed.del == 0 || ed.pos >= e:
				break scan
			case ed.pos+ed.del <= e:
				j++
				to = j
			default:
				to = j + 1 // the delete runs on into the next child
				break scan
			}
		}
		sub := edits[from:to]
		switch {
		case len(sub) == 0:
			kids = append(kids, k)
		case len(sub) == 1 && sub[0].del > 0 && sub[0].pos <= s && sub[0].pos+sub[0].del >= e:
			// wholly deleted: drop without visiting
		default:
			kids = applyNode(k, s, sub, kids)
		}
		s = e
	}
	if len(kids) == 0 {
		return out
	}
	return shape.Parents(kids, out)
}

// applyLeaf rebuilds one leaf with its edits.
func applyLeaf(n *node, base int, edits []edit, out []*node) []*node {
	ascii := n.runes == n.bytes
	var (
		b       strings.Builder
		c, cb   int // code point and byte offset in n.text copied so far
		runes   = n.runes
		growing = n.bytes
	)
	for _, ed := range edits {
		growing += len(ed.ins)
	}
	b.Grow(growing)
	skip := func(from, count int) int {
		if ascii {
			return from + count
		}
		return advanceValid(n.text, from, count)
	}
	for _, ed := range edits {
		if ed.del == 0 {
			p := ed.pos - base
			bp := skip(cb, p-c)
			b.WriteString(n.text[cb:bp])
			b.WriteString(ed.ins)
			c, cb = p, bp
			runes += utf8.RuneCountInString(ed.ins)
			continue
		}
		ds := max(ed.pos, base) - base
		de := min(ed.pos+ed.del, base+n.runes) - base
		if de <= ds {
			continue
		}
		bs := skip(cb, ds-c)
		b.WriteString(n.text[cb:bs])
		c, cb = de, skip(bs, de-ds)
		runes -= de - ds
	}
	b.WriteString(n.text[cb:])
	t := b.String()
	switch {
	case t == "":
		return out
	case len(t) <= leafMax:
		return append(out, &node{runes: runes, bytes: len(t), text: t})
	}
	return append(out, leavesOf(t)...)
}

// leavesOf chunks s into leaves of at most leafMax bytes, cut at code point
// boundaries and of even size so that none is needlessly small.
func leavesOf(s string) []*node {
	if s == "" {
		return nil
	}
	if len(s) <= leafMax {
		return []*node{newLeaf(s)}
	}
	out := make([]*node, 0, len(s)/(leafMax/2)+1)
	for len(s) > leafMax {
		// Recomputed each time: backing off to a code point boundary must not
		// leave a sliver for the last leaf.
		pieces := (len(s) + leafMax - 1) / leafMax
		cut := (len(s) + pieces - 1) / pieces
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		out = append(out, newLeaf(s[:cut]))
		s = s[cut:]
	}
	return append(out, newLeaf(s))
}
