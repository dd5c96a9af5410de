package tree

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// pmap is a persistent map from object ids to objects: a CHAMP (compressed
// hash-array mapped prefix tree, Steindorfer and Vinju 2015), with
// Clojure-style transient ownership.
//
// Every node records the generation (owner) that made it. A map changes a
// node in place only when the node is its own (same generation); any other
// node is copied first, with the path to it. Content.Clone gives both the
// original and the copy new generations, so after a clone neither changes a
// node they share: clones are persistent and cost a struct copy, while a
// content that has not been cloned since it made a node (a run of ops
// between the actor's per-batch clones) updates that node in place.
//
// It replaces github.com/benbjohnson/immutable's Map for the objects of a
// document, where a set copies about 1.9 KB at 100,000 entries (its full
// nodes hold 32 interfaces) against 0.27 KB at 10: here a node keeps its
// entries inline beside 8-byte child pointers (about 0.75 KB of path at
// 100,000 entries), and nothing once it owns the path (docs/benchmarks.md,
// "tree").
//
// Ids are chosen by clients, so the hash is seeded per process (maphash):
// nobody can aim ids at one bucket. Two ids with equal 64-bit hashes share a
// collision node at the bottom.
type pmap struct {
	root *pnode
	n    int
}

// pnode holds entries whose hash prefix ends here (datamap) and children
// for prefixes shared by several keys (nodemap); both are indexed by the
// popcount of the map below the slot's bit. A collision node (past the last
// level) keeps its entries in a list and has no maps.
type pnode struct {
	datamap, nodemap uint32
	owner            uint64
	entries          []pentry
	kids             []*pnode
}

type pentry struct {
	key string
	val *object
}

const (
	pbits     = 5
	pmask     = 1<<pbits - 1
	pmaxShift = 64 // past this every hash bit is used: collision nodes
)

var pseed = maphash.MakeSeed()

// phash is the hash of an id; a variable so tests can force collisions.
var phash = func(s string) uint64 { return maphash.String(pseed, s) }

var lastGen atomic.Uint64

// newGen returns a generation no map has used.
func newGen() uint64 { return lastGen.Add(1) }

func slot(h uint64, shift uint) uint32 { return 1 << ((h >> shift) & pmask) }

func index(bitmap, bit uint32) int { return bits.OnesCount32(bitmap & (bit - 1)) }

// Len is the number of entries.
func (m *pmap) Len() int { return m.n }

// Get returns the value of key.
func (m *pmap) Get(key string) (*object, bool) {
	if m.root == nil {
		return nil, false
	}
	h := phash(key)
	n := m.root
	for shift := uint(0); ; shift += pbits {
		if shift >= pmaxShift {
			for _, e := range n.entries {
				if e.key == key {
					return e.val, true
				}
			}
			return nil, false
		}
		bit := slot(h, shift)
		if n.datamap&bit != 0 {
			e := n.entries[index(n.datamap, bit)]
			if e.key == key {
				return e.val, true
			}
			return nil, false
		}
		if n.nodemap&bit == 0 {
			return nil, false
		}
		n = n.kids[index(n.nodemap, bit)]
	}
}

// own returns n itself when generation gen made it, else a copy that gen
// owns (its slices copied too, so that it may change them in place).
func (n *pnode) own(gen uint64) *pnode {
	if n.owner == gen {
		return n
	}
	c := &pnode{datamap: n.datamap, nodemap: n.nodemap, owner: gen}
	if len(n.entries) > 0 {
		c.entries = append(make([]pentry, 0, len(n.entries)+1), n.entries...)
	}
	if len(n.kids) > 0 {
		c.kids = append(make([]*pnode, 0, len(n.kids)+1), n.kids...)
	}
	return c
}

// Set sets key to val, changing in place only the nodes gen owns.
func (m *pmap) Set(key string, val *object, gen uint64) {
	if m.root == nil {
		m.root = &pnode{owner: gen}
	}
	var added bool
	m.root, added = m.root.set(key, val, phash(key), 0, gen)
	if added {
		m.n++
	}
}

func (n *pnode) set(key string, val *object, h uint64, shift uint, gen uint64) (*pnode, bool) {
	c := n.own(gen)
	if shift >= pmaxShift {
		for i := range c.entries {
			if c.entries[i].key == key {
				c.entries[i].val = val
				return c, false
			}
		}
		c.entries = append(c.entries, pentry{key, val})
		return c, true
	}
	bit := slot(h, shift)
	switch {
	case c.datamap&bit != 0:
		i := index(c.datamap, bit)
		e := c.entries[i]
		if e.key == key {
			c.entries[i].val = val
			return c, false
		}
		// Two keys share this prefix: push both one level down.
		sub := pair(e, phash(e.key), pentry{key, val}, h, shift+pbits, gen)
		c.entries = append(c.entries[:i], c.entries[i+1:]...)
		c.datamap &^= bit
		c.nodemap |= bit
		j := index(c.nodemap, bit)
		c.kids = append(c.kids, nil)
		copy(c.kids[j+1:], c.kids[j:])
		c.kids[j] = sub
		return c, true
	case c.nodemap&bit != 0:
		i := index(c.nodemap, bit)
		var added bool
		c.kids[i], added = c.kids[i].set(key, val, h, shift+pbits, gen)
		return c, added
	}
	c.datamap |= bit
	i := index(c.datamap, bit)
	c.entries = append(c.entries, pentry{})
	copy(c.entries[i+1:], c.entries[i:])
	c.entries[i] = pentry{key, val}
	return c, true
}

// pair is the smallest subtree holding two entries whose hashes agree
// below shift.
func pair(a pentry, ha uint64, b pentry, hb uint64, shift uint, gen uint64) *pnode {
	if shift >= pmaxShift {
		return &pnode{owner: gen, entries: []pentry{a, b}}
	}
	ba, bb := slot(ha, shift), slot(hb, shift)
	if ba == bb {
		return &pnode{owner: gen, nodemap: ba, kids: []*pnode{pair(a, ha, b, hb, shift+pbits, gen)}}
	}
	n := &pnode{owner: gen, datamap: ba | bb}
	if index(n.datamap, ba) == 0 {
		n.entries = []pentry{a, b}
	} else {
		n.entries = []pentry{b, a}
	}
	return n
}

// Delete removes key, changing in place only the nodes gen owns.
func (m *pmap) Delete(key string, gen uint64) {
	if _, ok := m.Get(key); !ok {
		return
	}
	m.root = m.root.del(key, phash(key), 0, gen)
	m.n--
}

// del removes key, which is present below n; it returns the node without
// it, nil when it became empty. A child left with a single entry and no
// children is pulled up into its parent, so that the tree stays as shallow
// as its keys need.
func (n *pnode) del(key string, h uint64, shift uint, gen uint64) *pnode {
	c := n.own(gen)
	if shift >= pmaxShift {
		for i, e := range c.entries {
			if e.key == key {
				c.entries = append(c.entries[:i], c.entries[i+1:]...)
				break
			}
		}
		if len(c.entries) == 0 {
			return nil
		}
		return c
	}
	bit := slot(h, shift)
	if c.datamap&bit != 0 {
		i := index(c.datamap, bit)
		c.datamap &^= bit
		c.entries = append(c.entries[:i], c.entries[i+1:]...)
	} else {
		i := index(c.nodemap, bit)
		sub := c.kids[i].del(key, h, shift+pbits, gen)
		switch {
		case sub == nil:
			c.nodemap &^= bit
			c.kids = append(c.kids[:i], c.kids[i+1:]...)
		case sub.nodemap == 0 && len(sub.entries) == 1:
			// Inline the last entry of the child here.
			c.nodemap &^= bit
			c.kids = append(c.kids[:i], c.kids[i+1:]...)
			c.datamap |= bit
			j := index(c.datamap, bit)
			c.entries = append(c.entries, pentry{})
			copy(c.entries[j+1:], c.entries[j:])
			c.entries[j] = sub.entries[0]
		default:
			c.kids[i] = sub
		}
	}
	if c.datamap == 0 && c.nodemap == 0 && shift > 0 {
		return nil
	}
	return c
}

// Each calls fn for every entry, in hash order, until fn returns false.
func (m *pmap) Each(fn func(key string, val *object) bool) {
	if m.root != nil {
		m.root.each(fn)
	}
}

func (n *pnode) each(fn func(string, *object) bool) bool {
	for _, e := range n.entries {
		if !fn(e.key, e.val) {
			return false
		}
	}
	for _, k := range n.kids {
		if !k.each(fn) {
			return false
		}
	}
	return true
}
