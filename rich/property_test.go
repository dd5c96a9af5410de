package rich

import (
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

// TestPropertyRopeMatchesModel applies random ops to the rope and to the
// reference model (composing the content with the op): both must agree,
// the rope must keep its invariants, and a clone must not see the change.
func TestPropertyRopeMatchesModel(t *testing.T) {
	r := newRand(10)
	for i := range 2000 {
		content := randContent(r, 8)
		if i%20 == 0 {
			// Large enough for a multi-level tree.
			for range 250 {
				content = append(content[:len(content)-1:len(content)-1], randInsert(r, 40, false), content[len(content)-1])
			}
			content = content.Normalize()
		}
		d, err := DocFromDelta(content)
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, d)
		if !d.Delta().Equal(content) {
			t.Fatalf("Delta %s, built from %s", js(d.Delta()), js(content))
		}
		for range 3 {
			o := randOp(r, d.Len())
			want := mustApplyModel(t, content, o)
			before := d.Clone()
			if err := d.Apply(o); err != nil {
				t.Fatalf("apply %s: %v", js(o), err)
			}
			checkTree(t, d)
			if dd := diff(d.Delta(), want); dd != "" {
				t.Fatalf("apply %s (content of %d): rope vs model: %s", short(js(o), 300), content.TargetLen(), dd)
			}
			if !before.Delta().Equal(content) {
				t.Fatal("Apply changed a clone")
			}
			content = want
		}
	}
}

// TestPropertyDeepTrees runs the rope against the model with small nodes, so
// that documents of a few hundred characters are four or five levels deep and
// every split, merge and repair path runs, over long runs of ops on one
// document.
func TestPropertyDeepTrees(t *testing.T) {
	smallNodes(t)
	r := newRand(16)
	maxDepth := 0
	for range 30 {
		content := randContent(r, 60)
		d, err := DocFromDelta(content)
		if err != nil {
			t.Fatal(err)
		}
		for range 150 {
			o := randOp(r, d.Len())
			want := mustApplyModel(t, content, o)
			if err := d.Apply(o); err != nil {
				t.Fatalf("apply %s: %v", js(o), err)
			}
			checkTree(t, d)
			if dd := diff(d.Delta(), want); dd != "" {
				t.Fatalf("apply %s: rope vs model: %s", short(js(o), 300), dd)
			}
			content = want
			depth := 0
			for n := d.rootNode(); !n.isLeaf(); n = n.kids[0] {
				depth++
			}
			maxDepth = max(maxDepth, depth)
		}
	}
	if maxDepth < 3 {
		t.Fatalf("the trees were at most %d levels deep", maxDepth)
	}
}

func orders(r interface{ IntN(int) int }) (Order, string, string) {
	sids := []string{"alice-000000000001", "bob-00000000000002", "alice-000000000001"}
	a := sids[r.IntN(3)]
	b := sids[r.IntN(2)+1]
	later := r.IntN(2) == 0
	return OrderBySID(a, b, later), a, b
}

func TestPropertyTP1(t *testing.T) {
	r := newRand(11)
	for range 5000 {
		content := randContent(r, 6)
		n := content.TargetLen()
		a, b := randOp(r, n), randOp(r, n)
		o, _, _ := orders(r)
		checkTP1(t, content, a, b, o)
	}
}

func checkTP1(t *testing.T, content, a, b Op, o Order) {
	t.Helper()
	a2, err := Transform(a, b, o)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := Transform(b, a, o.Flip())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []Op{a2, b2} {
		if !x.IsCanonical() || x.Validate() != nil {
			t.Fatalf("transform result %s not valid and canonical", js(x))
		}
	}
	ab, err1 := applyModel(mustApplyModel(t, content, a), b2)
	ba, err2 := applyModel(mustApplyModel(t, content, b), a2)
	if err1 != nil || err2 != nil {
		t.Fatalf("transformed ops do not apply (final newline kept?): %v, %v\ndoc %s\na %s b %s order %+v\na' %s b' %s", err1, err2, js(content), js(a), js(b), o, js(a2), js(b2))
	}
	if !ab.Equal(ba) {
		t.Fatalf("TP1 fails on %s\na  %s\nb  %s\norder %+v\na' %s\nb' %s\nab' %s\nba' %s", js(content), js(a), js(b), o, js(a2), js(b2), js(ab), js(ba))
	}
}

// TestPropertyLastCommittedWins checks the attribute rule directly: where two
// concurrent ops set one name on one character, the document ends with the
// value of the one committed later, whichever way it was computed.
func TestPropertyLastCommittedWins(t *testing.T) {
	r := newRand(12)
	for range 2000 {
		content := randContent(r, 6)
		n := content.TargetLen()
		k := attrKeys[r.IntN(len(attrKeys))]
		first := Op{{Retain: n, Attrs: Attrs{k: attrValues[r.IntN(len(attrValues))]}}}
		second := Op{{Retain: n, Attrs: Attrs{k: attrValues[r.IntN(len(attrValues))]}}}
		if r.IntN(3) == 0 {
			second[0].Attrs[k] = Null
		}
		// Server: first committed, second transformed past it.
		s2, err := Transform(second, first, OrderBySID("b-sid", "a-sid", true))
		if err != nil {
			t.Fatal(err)
		}
		server := mustApplyModel(t, mustApplyModel(t, content, first), s2)
		// Client that made second: first transformed past its pending second.
		f2, err := Transform(first, second, OrderBySID("a-sid", "b-sid", false))
		if err != nil {
			t.Fatal(err)
		}
		client := mustApplyModel(t, mustApplyModel(t, content, second), f2)
		if !server.Equal(client) {
			t.Fatalf("server %s, client %s", js(server), js(client))
		}
		d, _ := DocFromDelta(server)
		for p := range d.Len() {
			got, has := d.AttrsAt(p)[k]
			want := second[0].Attrs[k]
			if want.IsNull() && has || !want.IsNull() && got != want {
				t.Fatalf("character %d has %s=%v (%v), want the later op's %v", p, k, got, has, want)
			}
		}
	}
}

func TestPropertyCompose(t *testing.T) {
	r := newRand(13)
	for range 4000 {
		content := randContent(r, 6)
		a := randOp(r, content.TargetLen())
		mid := mustApplyModel(t, content, a)
		b := randOp(r, mid.TargetLen())
		want := mustApplyModel(t, mid, b)
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if !ab.IsCanonical() {
			t.Fatalf("Compose result %s not canonical", js(ab))
		}
		if got := mustApplyModel(t, content, ab); !got.Equal(want) {
			t.Fatalf("Compose(%s, %s) = %s on %s: got %s, want %s", js(a), js(b), js(ab), js(content), js(got), js(want))
		}
		// Associativity with a third op.
		c := randOp(r, want.TargetLen())
		abc1, err1 := Compose(ab, c)
		bc, err2 := Compose(b, c)
		abc2, err3 := Compose(a, bc)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		if !abc1.Equal(abc2) {
			t.Fatalf("compose not associative: %s vs %s", js(abc1), js(abc2))
		}
	}
}

func TestPropertyInvert(t *testing.T) {
	r := newRand(14)
	for range 4000 {
		content := randContent(r, 8)
		d, err := DocFromDelta(content)
		if err != nil {
			t.Fatal(err)
		}
		o := randOp(r, d.Len())
		inv, err := Invert(o, d)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.IsCanonical() || inv.Validate() != nil {
			t.Fatalf("inverse %s not valid and canonical", js(inv))
		}
		after := d.Clone()
		if err := after.Apply(o); err != nil {
			t.Fatal(err)
		}
		if err := after.Apply(inv); err != nil {
			t.Fatalf("inverse %s of %s does not apply: %v", js(inv), js(o), err)
		}
		if !after.Delta().Equal(content) {
			t.Fatalf("invert of %s on %s: got back %s (inverse %s)", js(o), js(content), js(after.Delta()), js(inv))
		}
	}
}

// TestPropertyPosition checks carets against a model that follows each
// character: a caret before a surviving character stays before it.
func TestPropertyPosition(t *testing.T) {
	r := newRand(15)
	for range 3000 {
		content := randContent(r, 6)
		n := content.TargetLen()
		o := randOp(r, n).Normalize()
		ids := charIDs(n, o)
		where := make(map[int]int, len(ids))
		for p, id := range ids {
			if id >= 0 {
				where[id] = p
			}
		}
		for pos := 0; pos <= n; pos++ {
			for _, own := range []bool{false, true} {
				got := TransformPosition(pos, o, own)
				if p, ok := where[pos]; ok && pos < n {
					// Before a surviving character: others' carets stay right
					// before it unless text was inserted right before the
					// caret (then they stay before that text).
					if own && got != p {
						t.Fatalf("own caret before char %d moved to %d, char now at %d (op %s)", pos, got, p, js(o))
					}
					if !own && (got > p || got < 0) {
						t.Fatalf("caret before char %d moved to %d past the char at %d (op %s)", pos, got, p, js(o))
					}
				}
				if got < 0 || got > len(ids) {
					t.Fatalf("caret %d moved out of the document: %d", pos, got)
				}
			}
		}
		// An insert exactly at the caret leaves others' carets before it.
		if len(o) > 0 && o[0].isInsert() && TransformPosition(0, o, false) != 0 {
			t.Fatalf("caret at 0 moved by an insert at 0: %s", js(o))
		}
	}
}

// charIDs follows op on a document whose characters are numbered, giving for
// each resulting position the original number (-1 for inserted text).
func charIDs(docLen int, o Op) []int {
	ids := make([]int, 0, docLen)
	pos := 0
	for _, c := range o {
		switch {
		case c.Retain > 0:
			for range c.Retain {
				ids = append(ids, pos)
				pos++
			}
		case c.Delete > 0:
			pos += c.Delete
		default:
			for range c.Len() {
				ids = append(ids, -1)
			}
		}
	}
	for ; pos < docLen; pos++ {
		ids = append(ids, pos)
	}
	return ids
}

var _ = ot.Left
