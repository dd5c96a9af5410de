package tree

import (
	"hash/maphash"
	"math/bits"
)

// pmap is a persistent map from object ids to objects: a CHAMP (compressed
// hash-array mapped prefix tree, Steindorfer and Vinju 2015). Every version
// is immutable; set and delete copy the O(log32 n) nodes on the key's path
// and share the rest, so a clone is a pointer copy.
//
// It replaces github.com/benbjohnson/immutable's Map for the objects of a
// document because a set there copies about 1.9 KB at 100,000 entries (its
// full nodes hold 32 interfaces) against 0.27 KB at 10, and that copying and
// the garbage it makes is what a drag (one set) costs on a large document.
// Here a node keeps its entries inline, beside 8-byte child pointers, and a
// set copies about 0.8 KB at 100,000 entries (docs/benchmarks.md, "tree").
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
	entries          []pentry
	kids             []*pnode
}

type pentry struct {
	key string
	val *object
}

const (
	pbits      = 5
	pmask      = 1<<pbits - 1
	pmaxShift  = 64 // past this every hash bit is used: collision nodes
	pfanoutMax = 1 << pbits
)

var pseed = maphash.MakeSeed()

// phash is the hash of an id; a variable so tests can force collisions.
var phash = func(s string) uint64 { return maphash.String(pseed, s) }

func slot(h uint64, shift uint) uint32 { return 1 << ((h >> shift) & pmask) }

func index(bitmap, bit uint32) int { return bits.OnesCount32(bitmap & (bit - 1)) }

// Len is the number of entries.
func (m *pmap) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// Get returns the value of key.
func (m *pmap) Get(key string) (*object, bool) {
	if m == nil || m.root == nil {
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

// Set returns a map with key set to val.
func (m *pmap) Set(key string, val *object) *pmap {
	var root *pnode
	if m != nil {
		root = m.root
	}
	if root == nil {
		root = &pnode{}
	}
	added := false
	nr := root.set(key, val, phash(key), 0, &added)
	n := m.Len()
	if added {
		n++
	}
	return &pmap{root: nr, n: n}
}

func (n *pnode) set(key string, val *object, h uint64, shift uint, added *bool) *pnode {
	if shift >= pmaxShift {
		c := &pnode{entries: make([]pentry, len(n.entries), len(n.entries)+1)}
		copy(c.entries, n.entries)
		for i := range c.entries {
			if c.entries[i].key == key {
				c.entries[i].val = val
				return c
			}
		}
		*added = true
		c.entries = append(c.entries, pentry{key, val})
		return c
	}
	bit := slot(h, shift)
	switch {
	case n.datamap&bit != 0:
		i := index(n.datamap, bit)
		e := n.entries[i]
		c := n.copyNode()
		if e.key == key {
			c.entries = cloneEntries(n.entries)
			c.entries[i].val = val
			return c
		}
		// Two keys share this prefix: push both one level down.
		*added = true
		sub := pair(e, phash(e.key), pentry{key, val}, h, shift+pbits)
		c.entries = removeEntry(n.entries, i)
		c.datamap &^= bit
		c.nodemap |= bit
		c.kids = insertKid(n.kids, index(c.nodemap, bit), sub)
		return c
	case n.nodemap&bit != 0:
		i := index(n.nodemap, bit)
		c := n.copyNode()
		c.kids = cloneKids(n.kids)
		c.kids[i] = n.kids[i].set(key, val, h, shift+pbits, added)
		return c
	}
	*added = true
	c := n.copyNode()
	c.datamap |= bit
	c.entries = insertEntry(n.entries, index(c.datamap, bit), pentry{key, val})
	return c
}

// pair is the smallest subtree holding two entries whose hashes agree
// below shift.
func pair(a pentry, ha uint64, b pentry, hb uint64, shift uint) *pnode {
	if shift >= pmaxShift {
		return &pnode{entries: []pentry{a, b}}
	}
	ba, bb := slot(ha, shift), slot(hb, shift)
	if ba == bb {
		return &pnode{nodemap: ba, kids: []*pnode{pair(a, ha, b, hb, shift+pbits)}}
	}
	n := &pnode{datamap: ba | bb}
	if index(n.datamap, ba) == 0 {
		n.entries = []pentry{a, b}
	} else {
		n.entries = []pentry{b, a}
	}
	return n
}

// Delete returns a map without key.
func (m *pmap) Delete(key string) *pmap {
	if m.Len() == 0 {
		return m
	}
	removed := false
	nr := m.root.del(key, phash(key), 0, &removed)
	if !removed {
		return m
	}
	return &pmap{root: nr, n: m.n - 1}
}

// del returns the node without key, nil when it became empty. A child left
// with a single entry and no children is pulled up into its parent, so the
// tree stays as shallow as its keys need (and equal maps have equal shapes).
func (n *pnode) del(key string, h uint64, shift uint, removed *bool) *pnode {
	if shift >= pmaxShift {
		for i, e := range n.entries {
			if e.key == key {
				*removed = true
				if len(n.entries) == 1 {
					return nil
				}
				return &pnode{entries: removeEntry(n.entries, i)}
			}
		}
		return n
	}
	bit := slot(h, shift)
	switch {
	case n.datamap&bit != 0:
		i := index(n.datamap, bit)
		if n.entries[i].key != key {
			return n
		}
		*removed = true
		if len(n.entries) == 1 && n.nodemap == 0 {
			return nil
		}
		c := n.copyNode()
		c.datamap &^= bit
		c.entries = removeEntry(n.entries, i)
		return c
	case n.nodemap&bit != 0:
		i := index(n.nodemap, bit)
		sub := n.kids[i].del(key, h, shift+pbits, removed)
		if !*removed {
			return n
		}
		c := n.copyNode()
		switch {
		case sub == nil:
			c.nodemap &^= bit
			c.kids = removeKid(n.kids, i)
		case sub.nodemap == 0 && len(sub.entries) == 1:
			// Inline the last entry of the child here.
			c.nodemap &^= bit
			c.kids = removeKid(n.kids, i)
			c.datamap |= bit
			c.entries = insertEntry(n.entries, index(c.datamap, bit), sub.entries[0])
		default:
			c.kids = cloneKids(n.kids)
			c.kids[i] = sub
		}
		if c.datamap == 0 && c.nodemap == 0 {
			return nil
		}
		return c
	}
	return n
}

// Each calls fn for every entry, in hash order, until fn returns false.
func (m *pmap) Each(fn func(key string, val *object) bool) {
	if m.Len() > 0 {
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

func (n *pnode) copyNode() *pnode {
	c := *n
	return &c
}

func cloneEntries(s []pentry) []pentry { return append([]pentry(nil), s...) }

func cloneKids(s []*pnode) []*pnode { return append([]*pnode(nil), s...) }

func insertEntry(s []pentry, i int, e pentry) []pentry {
	out := make([]pentry, len(s)+1)
	copy(out, s[:i])
	out[i] = e
	copy(out[i+1:], s[i:])
	return out
}

func removeEntry(s []pentry, i int) []pentry {
	if len(s) == 1 {
		return nil
	}
	out := make([]pentry, len(s)-1)
	copy(out, s[:i])
	copy(out[i:], s[i+1:])
	return out
}

func insertKid(s []*pnode, i int, k *pnode) []*pnode {
	out := make([]*pnode, len(s)+1)
	copy(out, s[:i])
	out[i] = k
	copy(out[i+1:], s[i:])
	return out
}

func removeKid(s []*pnode, i int) []*pnode {
	if len(s) == 1 {
		return nil
	}
	out := make([]*pnode, len(s)-1)
	copy(out, s[:i])
	copy(out[i:], s[i+1:])
	return out
}

// pmapBuilder fills a new map in place: its nodes belong to it alone until
// Map, so inserting needs no path copies (decoding a 100,000-object
// snapshot would otherwise copy about 100 MB).
type pmapBuilder struct {
	root *pnode
	n    int
}

// Set inserts or replaces key.
func (b *pmapBuilder) Set(key string, val *object) {
	if b.root == nil {
		b.root = &pnode{}
	}
	if b.root.setMut(key, val, phash(key), 0) {
		b.n++
	}
}

// Map returns the map built; the builder must not be used afterwards.
func (b *pmapBuilder) Map() *pmap {
	m := &pmap{root: b.root, n: b.n}
	b.root = nil
	return m
}

// setMut is set changing n in place; it reports whether key was added.
func (n *pnode) setMut(key string, val *object, h uint64, shift uint) bool {
	if shift >= pmaxShift {
		for i := range n.entries {
			if n.entries[i].key == key {
				n.entries[i].val = val
				return false
			}
		}
		n.entries = append(n.entries, pentry{key, val})
		return true
	}
	bit := slot(h, shift)
	switch {
	case n.datamap&bit != 0:
		i := index(n.datamap, bit)
		e := n.entries[i]
		if e.key == key {
			n.entries[i].val = val
			return false
		}
		sub := pair(e, phash(e.key), pentry{key, val}, h, shift+pbits)
		n.entries = append(n.entries[:i], n.entries[i+1:]...)
		n.datamap &^= bit
		n.nodemap |= bit
		j := index(n.nodemap, bit)
		n.kids = append(n.kids, nil)
		copy(n.kids[j+1:], n.kids[j:])
		n.kids[j] = sub
		return true
	case n.nodemap&bit != 0:
		return n.kids[index(n.nodemap, bit)].setMut(key, val, h, shift+pbits)
	}
	n.datamap |= bit
	i := index(n.datamap, bit)
	n.entries = append(n.entries, pentry{})
	copy(n.entries[i+1:], n.entries[i:])
	n.entries[i] = pentry{key, val}
	return true
}
