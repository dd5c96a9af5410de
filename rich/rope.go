package rich

import (
	"strings"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/rope"
	"github.com/tandem-collab/tandem/internal/textutil"
)

// Tree shape. A leaf holds pieces (attributed runs) weighing up to leafMax,
// where a piece weighs its bytes plus pieceOverhead, so that rebuilding a leaf
// copies about 1 KiB however the text is formatted. Internal nodes hold up to
// kidsMax children, so a 1 MiB document is three or four levels deep. They
// are variables only so that tests can build deep trees from small documents;
// nothing else changes them.
var (
	leafMax = 1024
	kidsMax = 32
)

const pieceOverhead = 16

// piece is a run of text with one set of attributes, or one embed.
type piece struct {
	text  string // non-empty for text; "" for an embed
	embed *Embed // the embed, for an embed
	attrs Attrs  // nil for none; never holds a null
	akey  string // attrsKey(attrs): equal keys mean equal attributes
	runes int    // code points (1 for an embed)
	bytes int    // len(text), or the encoded size of the embed
}

func textPiece(s string, a Attrs, key string) piece {
	return piece{text: s, attrs: a, akey: key, runes: utf8.RuneCountInString(s), bytes: len(s)}
}

func embedPiece(e Embed, a Attrs, key string) piece {
	return piece{embed: &e, attrs: a, akey: key, runes: 1, bytes: embedSize(e)}
}

func (p *piece) isText() bool { return p.text != "" }

// size is the piece's share of the document size: its bytes and its encoded
// attributes.
func (p *piece) size() int { return p.bytes + len(p.akey) }

func (p *piece) weight() int { return p.bytes + pieceOverhead }

// component is the insert that recreates the piece.
func (p *piece) component() Component {
	if p.isText() {
		return Component{Insert: p.text, Attrs: p.attrs}
	}
	return Component{Embed: *p.embed, Attrs: p.attrs}
}

// canMerge reports whether q can be appended to p as one piece.
func (p *piece) canMerge(q *piece) bool {
	return p.isText() && q.isText() && p.akey == q.akey
}

// slice returns the code points [off, off+n) of a text piece (an embed is
// returned whole).
func (p piece) slice(off, n int) piece {
	if off == 0 && n >= p.runes {
		return p
	}
	var s, e int
	if p.runes == p.bytes { // ASCII
		s, e = off, off+n
	} else {
		s = textutil.Advance(p.text, 0, off)
		e = textutil.Advance(p.text, s, n)
	}
	p.text = p.text[s:e]
	p.runes, p.bytes = n, e-s
	return p
}

// node is an immutable tree node: once built it is never written again, which
// is what lets Clone share the whole tree. A leaf has kids == nil.
type node struct {
	runes  int
	weight int
	count  int // pieces in the subtree
	// size is the document size of the subtree's content on its own: bytes of
	// text and embeds plus the encoded attributes of each run, where a run
	// split over two leaves counts its attributes once (see join).
	size int
	// The first and last pieces' attribute keys and whether they are text,
	// to tell whether a run continues across a boundary.
	firstKey, lastKey   string
	firstText, lastText bool

	pieces []piece
	kids   []*node
}

func (n *node) isLeaf() bool { return n.kids == nil }

// Kids implements rope.Node.
func (n *node) Kids() []*node { return n.kids }

// Underfull implements rope.Node.
func (n *node) Underfull() bool {
	if n.isLeaf() {
		return n.weight < leafMax/4
	}
	return len(n.kids) < kidsMax/4
}

// joinCost is what a boundary between left and right takes off the sum of
// their sizes: one copy of the attributes of a run that continues across it.
func joinCost(lastText bool, lastKey string, right *node) int {
	if lastText && right.firstText && lastKey == right.firstKey {
		return len(lastKey)
	}
	return 0
}

func newLeaf(ps []piece) *node {
	n := &node{pieces: ps, count: len(ps)}
	for i := range ps {
		p := &ps[i]
		n.runes += p.runes
		n.weight += p.weight()
		n.size += p.size()
		if i > 0 && ps[i-1].canMerge(p) {
			n.size -= len(p.akey)
		}
	}
	if len(ps) > 0 {
		f, l := &ps[0], &ps[len(ps)-1]
		n.firstKey, n.firstText = f.akey, f.isText()
		n.lastKey, n.lastText = l.akey, l.isText()
	}
	return n
}

func newInternal(kids []*node) *node {
	n := &node{kids: kids}
	for i, k := range kids {
		n.runes += k.runes
		n.weight += k.weight
		n.count += k.count
		n.size += k.size
		if i > 0 {
			n.size -= joinCost(kids[i-1].lastText, kids[i-1].lastKey, k)
		}
	}
	f, l := kids[0], kids[len(kids)-1]
	n.firstKey, n.firstText = f.firstKey, f.firstText
	n.lastKey, n.lastText = l.lastKey, l.lastText
	return n
}

// mergeRuns appends p to ps, merging it into the last piece when they are
// one run.
func mergeRuns(ps []piece, p piece) []piece {
	if n := len(ps); n > 0 && ps[n-1].canMerge(&p) {
		last := &ps[n-1]
		last.text += p.text
		last.runes += p.runes
		last.bytes += p.bytes
		return ps
	}
	return append(ps, p)
}

// leavesOf packs pieces (already merged into runs) into leaves of at most
// leafMax weight, splitting long text runs at code point boundaries and
// spreading the weight evenly so that the last leaf is not a sliver. An embed
// heavier than a leaf gets a leaf of its own.
func leavesOf(ps []piece) []*node {
	if len(ps) == 0 {
		return nil
	}
	total := 0
	for i := range ps {
		total += ps[i].weight()
	}
	if total <= leafMax {
		return []*node{newLeaf(ps)}
	}
	count := (total + leafMax - 1) / leafMax
	// Each cut adds a piece's overhead: allow for it so that no sliver is left.
	target := (total+count-1)/count + pieceOverhead
	out := make([]*node, 0, count+1)
	perLeaf := len(ps)/count + 2
	cur := make([]piece, 0, perLeaf)
	w := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, newLeaf(cur))
			cur, w = make([]piece, 0, perLeaf), 0
		}
	}
	for _, p := range ps {
		for p.isText() && w+p.weight() > target {
			room := target - w - pieceOverhead
			if room < 64 && w > 0 {
				flush()
				continue
			}
			cut := max(room, 64)
			if cut >= len(p.text) {
				break
			}
			for cut > 0 && !utf8.RuneStart(p.text[cut]) {
				cut--
			}
			if cut == 0 {
				break
			}
			head := p.text[:cut]
			hr := utf8.RuneCountInString(head)
			if p.runes == p.bytes {
				hr = cut
			}
			cur = append(cur, piece{text: head, attrs: p.attrs, akey: p.akey, runes: hr, bytes: cut})
			flush()
			p.text = p.text[cut:]
			p.runes -= hr
			p.bytes -= cut
		}
		if w > 0 && w+p.weight() > target {
			flush()
		}
		cur = append(cur, p)
		w += p.weight()
	}
	flush()
	return out
}

// shape is the tree around the leaves (internal/rope).
var shape = rope.Shape[*node]{
	KidsMax:     &kidsMax,
	NewInternal: newInternal,
	MergeLeaves: func(a, b *node) []*node {
		ps := make([]piece, 0, len(a.pieces)+len(b.pieces))
		ps = append(ps, a.pieces...)
		for _, p := range b.pieces {
			ps = mergeRuns(ps, p)
		}
		return leavesOf(ps)
	},
}

// buildTree stacks parents over same-height nodes up to one root; nil for
// none.
func buildTree(nodes []*node) *node {
	r, _ := shape.Build(nodes)
	return r
}

// rootOf turns the nodes that replace the root into a root, without
// single-child chains; nil for none.
func rootOf(nodes []*node) *node {
	r, _ := shape.Root(nodes)
	return r
}

// Doc is a rich document held as a persistent B-tree of attributed runs.
// Apply replaces the path from the root to the edited leaves (O(log n) nodes
// plus the leaves an op touches) and never copies the rest; Clone is O(1)
// since nodes are shared and never mutated. A Doc is not safe for concurrent
// Apply; clones are independent and may be used from different goroutines.
// The zero Doc and a nil *Doc are the new document "\n".
type Doc struct {
	root *node
}

// newline is the content of a new document.
var newlineRoot = newLeaf([]piece{textPiece("\n", nil, "")})

// NewDoc returns a new document: "\n".
func NewDoc() *Doc { return &Doc{root: newlineRoot} }

func (d *Doc) rootNode() *node {
	if d == nil || d.root == nil {
		return newlineRoot
	}
	return d.root
}

// Len is the length of the document in code points (an embed counts 1).
func (d *Doc) Len() int { return d.rootNode().runes }

// Size is the document's size for the server's document limit: the UTF-8
// bytes of its text, plus for each run of its content (each component of
// Delta) the MessagePack size of its attributes, plus the MessagePack size of
// each embed. A document without attributes or embeds has the size of its
// text, as a text document does. O(1).
func (d *Doc) Size() int { return d.rootNode().size }

// Clone returns a document that shares this one's tree; applying ops to
// either does not affect the other. O(1).
func (d *Doc) Clone() *Doc { return &Doc{root: d.rootNode()} }

// each calls fn with the pieces covering code points [start, start+n),
// clipped to the range, in order. Pieces of one run split over leaves come as
// several pieces.
func (d *Doc) each(start, n int, fn func(p piece)) {
	r := d.rootNode()
	if start < 0 {
		n += start
		start = 0
	}
	n = min(n, r.runes-start)
	if n > 0 {
		eachIn(r, start, n, fn)
	}
}

func eachIn(nd *node, start, n int, fn func(p piece)) {
	if nd.isLeaf() {
		for _, p := range nd.pieces {
			if n <= 0 {
				return
			}
			if start >= p.runes {
				start -= p.runes
				continue
			}
			take := min(n, p.runes-start)
			fn(p.slice(start, take))
			n -= take
			start = 0
		}
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
		eachIn(k, start, take, fn)
		n -= take
		start = 0
	}
}

// Slice returns code points [start, start+n) of the document as a canonical
// op of inserts (a Delta), clamped to the document.
func (d *Doc) Slice(start, n int) Op {
	o, _ := d.runs(start, n)
	return o
}

// runs is Slice plus the attribute key of each component. It allocates the
// op once (a node knows how many pieces it holds) and builds a string only
// for a run that continues across leaves.
func (d *Doc) runs(start, n int) (Op, []string) {
	o := make(Op, 0, d.rootNode().count)
	keys := make([]string, 0, cap(o))
	var b strings.Builder
	building := false // the last component's text is being built in b
	lastText := false
	d.each(start, n, func(p piece) {
		if k := len(o); k > 0 && lastText && p.isText() && keys[k-1] == p.akey {
			if !building {
				b.Reset()
				b.Grow(len(o[k-1].Insert) + len(p.text))
				b.WriteString(o[k-1].Insert)
				building = true
			}
			b.WriteString(p.text)
			return
		}
		if building {
			o[len(o)-1].Insert = b.String()
			building = false
		}
		o = append(o, p.component())
		keys = append(keys, p.akey)
		lastText = p.isText()
	})
	if building {
		o[len(o)-1].Insert = b.String()
	}
	return o, keys
}

// Delta returns the whole document as a canonical op of inserts: the form
// its content takes on the wire.
func (d *Doc) Delta() Op { return d.Slice(0, d.Len()) }

// ObjectReplacement is the character Text puts in place of an embed.
const ObjectReplacement = '\uFFFC'

// Text returns the document's plain text, each embed as U+FFFC (object
// replacement character), so that positions in it are positions in the
// document.
func (d *Doc) Text() string {
	var b strings.Builder
	b.Grow(d.rootNode().weight)
	d.each(0, d.Len(), func(p piece) {
		if p.isText() {
			b.WriteString(p.text)
		} else {
			b.WriteRune(ObjectReplacement)
		}
	})
	return b.String()
}

// AttrsAt returns the attributes of the character at code point pos (nil when
// it has none or pos is outside the document). The map must not be modified.
func (d *Doc) AttrsAt(pos int) Attrs {
	var a Attrs
	d.each(pos, 1, func(p piece) { a = p.attrs })
	return a
}
