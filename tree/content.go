package tree

import (
	"strings"

	"github.com/benbjohnson/immutable"
)

// Content is the state of a tree document: its objects, each with a parent,
// a key and properties. It always holds a forest: every parent exists, no
// object is its own ancestor, no object is deeper than the depth limit.
//
// Content is persistent: Clone is O(1), and clones never see each other's
// changes. Apply copies the O(log n) nodes on its path that are shared with a
// clone and changes in place those the content made itself since its last
// Clone, so a run of ops between two clones stops copying once it owns its
// paths. Clone changes the receiver's generation (an internal field): do not
// call it concurrently with other use of the same Content. The zero Content
// is not usable; make one with NewContent or a decoder.
type Content struct {
	objs  pmap
	gen   uint64  // the generation of objs' nodes this content may change in place
	root  *kidSet // the top-level objects (parent "")
	bytes int     // sum of the objects' encoded sizes
	lim   Limits

	// During ApplyRemoved: collect the ids that dels remove.
	report  bool
	removed []string
}

// object is one object. Its fields never change once it is in a map: a
// change stores a modified copy.
type object struct {
	parent string
	key    string
	props  propBlob
	kids   *kidSet // nil without children
	size   int     // bytes of this object's entry in the content encoding
}

// kidSet is the children of one parent, in sibling order, and how many of
// them have each subtree height (hist[h], trailing zeros trimmed). The
// histogram is what keeps the nesting check of a move O(depth): a subtree's
// height is len(hist) of its root, kept current up the ancestors on every
// change instead of walking the subtree.
type kidSet struct {
	order *immutable.SortedMap[sibling, struct{}]
	hist  []int32
}

// sibling is a child's place: siblings sort by key, then by id.
type sibling struct{ key, id string }

type siblingOrder struct{}

func (siblingOrder) Compare(a, b sibling) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// NewContent returns an empty document with the given limits.
func NewContent(lim Limits) *Content {
	return &Content{
		gen:  newGen(),
		root: emptyKids(),
		lim:  lim.WithDefaults(),
	}
}

func emptyKids() *kidSet {
	return &kidSet{order: immutable.NewSortedMap[sibling, struct{}](siblingOrder{})}
}

// Clone returns an independent copy in O(1). Both c and the copy move to new
// generations, so that neither changes in place a node they now share.
func (c *Content) Clone() *Content {
	d := *c
	d.gen, c.gen = newGen(), newGen()
	return &d
}

// Limits returns the limits Apply enforces on this document.
func (c *Content) Limits() Limits { return c.lim }

// Len is the number of objects.
func (c *Content) Len() int { return c.objs.Len() }

// Size is the length in bytes of the content's MessagePack encoding
// (EncodeMsgpack), which the document size limit is measured against.
func (c *Content) Size() int { return containerHeaderSize(c.objs.Len()) + c.bytes }

// Has reports whether object id exists.
func (c *Content) Has(id string) bool {
	_, ok := c.objs.Get(id)
	return ok
}

// Object is a copy of one object. Props is sorted by name; the values share
// memory with the content: do not modify them.
type Object struct {
	ID     string
	Parent string
	Key    string
	Props  []Prop
}

// Get returns object id.
func (c *Content) Get(id string) (Object, bool) {
	o, ok := c.objs.Get(id)
	if !ok {
		return Object{}, false
	}
	return Object{ID: id, Parent: o.parent, Key: o.key, Props: o.props.list()}, true
}

// Prop returns property name of object id; ok is false when either is missing.
func (c *Content) Prop(id, name string) (Value, bool) {
	o, ok := c.objs.Get(id)
	if !ok {
		return nil, false
	}
	return o.props.get(name)
}

// Children returns the ids of parent's children in sibling order (by key, then
// id); parent "" gives the top-level objects.
func (c *Content) Children(parent string) []string {
	ks := c.kidsOf(parent)
	if ks == nil {
		return nil
	}
	out := make([]string, 0, ks.order.Len())
	for it := ks.order.Iterator(); !it.Done(); {
		s, _, _ := it.Next()
		out = append(out, s.id)
	}
	return out
}

// Depth is the nesting level of object id (1 for a top-level object), 0 when
// it does not exist.
func (c *Content) Depth(id string) int {
	d := 0
	for id != "" && d <= c.lim.MaxDepth {
		o, ok := c.objs.Get(id)
		if !ok {
			return 0
		}
		d++
		id = o.parent
	}
	return d
}

// Height is the number of levels of the subtree under object id (1 for an
// object without children), 0 when it does not exist.
func (c *Content) Height(id string) int {
	o, ok := c.objs.Get(id)
	if !ok {
		return 0
	}
	return o.height()
}

// IDs calls fn for every object, parents before their children and siblings
// in order, until fn returns false.
func (c *Content) IDs(fn func(id string) bool) {
	c.walk(c.root, func(id string, _ *object) bool { return fn(id) })
}

// walk visits the subtree under ks depth first, parents first, siblings in
// order. The stack of iterators is at most the depth limit.
func (c *Content) walk(ks *kidSet, fn func(id string, o *object) bool) {
	if ks == nil {
		return
	}
	stack := []*immutable.SortedMapIterator[sibling, struct{}]{ks.order.Iterator()}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		if it.Done() {
			stack = stack[:len(stack)-1]
			continue
		}
		s, _, _ := it.Next()
		o, _ := c.objs.Get(s.id)
		if !fn(s.id, o) {
			return
		}
		if o.kids != nil {
			stack = append(stack, o.kids.order.Iterator())
		}
	}
}

// KeyAt returns a key that puts a new child of parent at position index of
// its current children (0 first; index >= the count appends). When the two
// neighbours share one key (concurrent inserts can make that), no key fits
// between them, and the key returned sorts right after every sibling with
// that key.
func (c *Content) KeyAt(parent string, index int) (string, error) {
	ks := c.kidsOf(parent)
	var keys []string
	if ks != nil {
		keys = make([]string, 0, ks.order.Len())
		for it := ks.order.Iterator(); !it.Done(); {
			s, _, _ := it.Next()
			keys = append(keys, s.key)
		}
	}
	index = max(0, min(index, len(keys)))
	lo, hi := "", ""
	if index > 0 {
		lo = keys[index-1]
	}
	if index < len(keys) {
		hi = keys[index]
	}
	if lo != "" && lo == hi {
		hi = ""
		for _, k := range keys[index:] {
			if k > lo {
				hi = k
				break
			}
		}
	}
	return KeyBetween(lo, hi)
}

// height of o's subtree.
func (o *object) height() int {
	if o.kids == nil || len(o.kids.hist) == 0 {
		return 1
	}
	return len(o.kids.hist)
}

func kidsHeight(ks *kidSet) int {
	if ks == nil || len(ks.hist) == 0 {
		return 1
	}
	return len(ks.hist)
}

func (c *Content) kidsOf(parent string) *kidSet {
	if parent == "" {
		return c.root
	}
	o, ok := c.objs.Get(parent)
	if !ok {
		return nil
	}
	return o.kids
}

// put stores o as object id and keeps the byte count.
func (c *Content) put(id string, o *object, old *object) {
	o.size = objectSize(id, o)
	if old != nil {
		c.bytes -= old.size
	}
	c.bytes += o.size
	c.objs.Set(id, o, c.gen)
}

// objectSize is the bytes of object id's entry in the content encoding:
// id => {"parent": p, "key": k, "props": {name: value}}.
func objectSize(id string, o *object) int {
	return strSize(len(id)) + 1 + 7 + strSize(len(o.parent)) + 4 + strSize(len(o.key)) + 6 + len(o.props)
}

// relink changes the children of parent: it removes the sibling rem (a child
// of height remH) and/or adds add (height addH), and carries a change of
// parent's height up its ancestors.
func (c *Content) relink(parent string, rem *sibling, remH int, add *sibling, addH int) {
	old := c.kidsOf(parent)
	ks := &kidSet{}
	if old != nil {
		*ks = *old
	} else {
		ks.order = immutable.NewSortedMap[sibling, struct{}](siblingOrder{})
	}
	if rem != nil {
		ks.order = ks.order.Delete(*rem)
		ks.hist = histAdd(ks.hist, remH, -1)
	}
	if add != nil {
		ks.order = ks.order.Set(*add, struct{}{})
		ks.hist = histAdd(ks.hist, addH, +1)
	}
	c.setKids(parent, old, ks)
}

// setKids stores ks as parent's children and, when parent's height changed,
// updates the histograms of its ancestors as far as heights change.
func (c *Content) setKids(parent string, old, ks *kidSet) {
	for {
		if parent == "" {
			c.root = ks
			return
		}
		if ks.order.Len() == 0 {
			ks = nil
		}
		o, _ := c.objs.Get(parent)
		n := *o
		n.kids = ks
		c.objs.Set(parent, &n, c.gen) // kids do not count in the size
		before, after := kidsHeight(old), kidsHeight(ks)
		if before == after {
			return
		}
		// parent's own height changed: update its place in its parent.
		up := c.kidsOf(o.parent)
		nks := &kidSet{order: up.order, hist: histAdd(histAdd(up.hist, before, -1), after, +1)}
		parent, old, ks = o.parent, up, nks
	}
}

// histAdd returns a copy of hist with delta added at height h, trimmed.
func histAdd(hist []int32, h int, delta int32) []int32 {
	n := max(len(hist), h+1)
	out := make([]int32, n)
	copy(out, hist)
	out[h] += delta
	for n > 0 && out[n-1] == 0 {
		n--
	}
	return out[:n]
}
