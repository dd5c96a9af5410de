package tree

import (
	"testing"
)

// checkInvariants verifies what Content promises, from first principles: no
// orphan, no cycle, depth within the limit, children index and height
// histograms consistent with the parent links, sizes adding up.
func checkInvariants(t testing.TB, c *Content) {
	t.Helper()
	parents := map[string]string{}
	bytes := 0
	c.objs.Each(func(id string, o *object) bool {
		parents[id] = o.parent
		if o.size != objectSize(id, o) {
			t.Fatalf("object %q: cached size %d, real %d", id, o.size, objectSize(id, o))
		}
		bytes += o.size
		list := o.props.list()
		for j := 1; j < len(list); j++ {
			if list[j-1].Name >= list[j].Name {
				t.Fatalf("object %q: props out of order", id)
			}
		}
		if string(makeBlob(list)) != string(o.props) {
			t.Fatalf("object %q: props blob is not canonical", id)
		}
		return true
	})
	if bytes != c.bytes {
		t.Fatalf("byte count %d, real %d", c.bytes, bytes)
	}
	// Every parent exists; walking up ends at the top within the depth limit.
	for id := range parents {
		seen := map[string]bool{}
		d := 0
		for p := id; p != ""; p = parents[p] {
			if seen[p] {
				t.Fatalf("cycle through %q", p)
			}
			seen[p] = true
			if _, ok := parents[p]; !ok {
				t.Fatalf("object %q has a missing ancestor %q", id, p)
			}
			d++
		}
		if d > c.lim.MaxDepth {
			t.Fatalf("object %q at depth %d", id, d)
		}
		if got := c.Depth(id); got != d {
			t.Fatalf("Depth(%q) = %d, want %d", id, got, d)
		}
	}
	// The children index holds exactly the parent links, in order.
	count := 0
	var check func(parent string, ks *kidSet) int // returns the height of parent
	check = func(parent string, ks *kidSet) int {
		if ks == nil {
			return 1
		}
		hist := []int32{}
		var prev *sibling
		for it := ks.order.Iterator(); !it.Done(); {
			s, _, _ := it.Next()
			o, ok := c.objs.Get(s.id)
			if !ok || o.parent != parent || o.key != s.key {
				t.Fatalf("children of %q list %v, which is not there", parent, s)
			}
			if prev != nil && (siblingOrder{}).Compare(*prev, s) >= 0 {
				t.Fatalf("children of %q out of order", parent)
			}
			prev = &s
			count++
			h := check(s.id, o.kids)
			for len(hist) <= h {
				hist = append(hist, 0)
			}
			hist[h]++
		}
		if len(ks.hist) != len(hist) {
			t.Fatalf("children of %q: height histogram %v, real %v", parent, ks.hist, hist)
		}
		for i := range hist {
			if hist[i] != ks.hist[i] {
				t.Fatalf("children of %q: height histogram %v, real %v", parent, ks.hist, hist)
			}
		}
		if parent != "" && ks.order.Len() == 0 {
			t.Fatalf("object %q keeps an empty child set", parent)
		}
		return max(1, len(hist))
	}
	check("", c.root)
	if count != len(parents) {
		t.Fatalf("children index reaches %d objects of %d", count, len(parents))
	}
}
