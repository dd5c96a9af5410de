// Package rope holds the shape rules of the persistent B-trees that the
// text and rich types keep their documents in: packing nodes of one height
// under parents, building a tree, merging underfull nodes with a neighbour.
// What a leaf holds (UTF-8 chunks for text, attributed runs for rich) and
// how an edit rebuilds it stay with each type; the tree around the leaves is
// this package's, written once.
//
// Nodes are immutable once built (which is what lets a document be cloned
// by sharing its root): every function here builds new parents and never
// writes a node it was given.
package rope

// Node is a rope node as its package builds it (a pointer type).
type Node[N any] interface {
	comparable
	// Kids are the node's children, all of one height; nil for a leaf.
	Kids() []N
	// Underfull reports whether the node is small enough to merge with a
	// neighbour.
	Underfull() bool
}

// Shape is the tree around one node type's leaves.
type Shape[N Node[N]] struct {
	// KidsMax points to the most children an internal node has (a variable,
	// so that tests build deep trees from small documents).
	KidsMax *int
	// NewInternal builds an internal node over kids (at least one).
	NewInternal func(kids []N) N
	// MergeLeaves joins two adjacent leaves into one or more balanced ones.
	MergeLeaves func(a, b N) []N
}

// Group packs same-height nodes into parents of at most KidsMax children,
// spread evenly so that no parent is underfull unless there are too few
// nodes.
func (s Shape[N]) Group(nodes []N) []N {
	kidsMax := *s.KidsMax
	if len(nodes) <= kidsMax {
		return []N{s.NewInternal(nodes)}
	}
	groups := (len(nodes) + kidsMax - 1) / kidsMax
	out := make([]N, 0, groups)
	for g := 0; g < groups; g++ {
		lo := len(nodes) * g / groups
		hi := len(nodes) * (g + 1) / groups
		kids := make([]N, hi-lo)
		copy(kids, nodes[lo:hi])
		out = append(out, s.NewInternal(kids))
	}
	return out
}

// Build stacks parents over same-height nodes up to one root; ok is false
// when there are none.
func (s Shape[N]) Build(nodes []N) (root N, ok bool) {
	if len(nodes) == 0 {
		return root, false
	}
	for len(nodes) > 1 {
		nodes = s.Group(nodes)
	}
	return nodes[0], true
}

// Root turns the nodes that replace a root into a root: grouped under new
// parents if there are several, without single-child chains; ok is false
// when there are none.
func (s Shape[N]) Root(nodes []N) (root N, ok bool) {
	r, ok := s.Build(nodes)
	for ok && r.Kids() != nil && len(r.Kids()) == 1 {
		r = r.Kids()[0]
	}
	return r, ok
}

// Parents appends to out the nodes that replace a parent whose children are
// now kids (the edited ones rebuilt, all of one height): one parent, or
// several when they are too many for one, after merging underfull children.
func (s Shape[N]) Parents(kids []N, out []N) []N {
	kids = s.Repair(kids)
	if len(kids) <= *s.KidsMax {
		return append(out, s.NewInternal(kids))
	}
	return append(out, s.Group(kids)...)
}

// Repair merges each underfull child with a neighbour (children all have
// the same height). It may reuse kids' backing array.
func (s Shape[N]) Repair(kids []N) []N {
	for i := 0; i < len(kids) && len(kids) > 1; {
		if !kids[i].Underfull() {
			i++
			continue
		}
		l := i
		if l == len(kids)-1 {
			l--
		}
		merged := s.Merge(kids[l], kids[l+1])
		// A fresh array when merged is longer than the pair it replaces:
		// writing it in place would overwrite the rest.
		if len(merged) <= 2 {
			rest := kids[l+2:]
			kids = append(append(kids[:l], merged...), rest...)
		} else {
			kids = append(append(kids[:l:l], merged...), kids[l+2:]...)
		}
		if len(merged) >= 2 {
			i = l + len(merged) // split in balanced nodes
		} else {
			i = l // the merged node may still be underfull
		}
	}
	return kids
}

// Merge joins two adjacent same-height nodes into one, or into balanced ones
// when they do not fit in one.
func (s Shape[N]) Merge(a, b N) []N {
	if a.Kids() == nil {
		return s.MergeLeaves(a, b)
	}
	kids := make([]N, 0, len(a.Kids())+len(b.Kids()))
	kids = append(kids, a.Kids()...)
	kids = append(kids, b.Kids()...)
	// An underfull node may have been left with a single (underfull) child,
	// which only now has neighbours to merge with.
	kids = s.Repair(kids)
	if len(kids) <= *s.KidsMax {
		return []N{s.NewInternal(kids)}
	}
	half := len(kids) / 2
	return []N{s.NewInternal(kids[:half:half]), s.NewInternal(kids[half:])}
}
