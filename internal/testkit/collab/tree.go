package collab

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/tree"
)

// TreeStart is the content tree tests start from: a frame holding a note
// with a text everyone edits, and a box at the top.
var TreeStart = tree.Op{
	tree.NewObject("frame", "", "a0", tree.Prop{Name: "text", Value: tree.StringValue("hello")}),
	tree.NewObject("note", "frame", "a0", tree.Prop{Name: "text", Value: tree.StringValue("shared note")}),
	tree.NewObject("box", "", "a1", tree.Prop{Name: "x", Value: tree.MustValue(1)}),
}

// CreateTreeDoc creates tree document id in st holding what op makes.
func CreateTreeDoc(t testing.TB, st store.Store, id string, op tree.Op) {
	t.Helper()
	c := tree.Type{}.NewContent()
	if _, err := c.Apply(tree.AsOp(op)); err != nil {
		t.Fatalf("tree document %q: %v", id, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.CreateDoc(ctx, store.NewDocument{ID: id, Type: tree.Name, Content: c}); err != nil {
		t.Fatalf("create tree document %q: %v", id, err)
	}
}

// RandomTreeOp makes one to three random actions against view, the way
// people fight over a board: creates under random objects, sets of shared
// properties, text edits of the shared note (and of other strings), moves
// into each other's subtrees (some would make cycles), deletes of ancestors.
// next numbers the ids this client creates (prefix makes them its own).
func RandomTreeOp(r *rand.Rand, view *tree.Content, prefix string, next *int) tree.Op {
	var ids []string
	view.IDs(func(id string) bool { ids = append(ids, id); return true })
	pick := func() string {
		if len(ids) == 0 {
			return ""
		}
		return ids[r.IntN(len(ids))]
	}
	keyIn := func(parent string) string {
		k, err := view.KeyAt(parent, r.IntN(len(view.Children(parent))+1))
		if err != nil {
			return "a0"
		}
		return k
	}
	var op tree.Op
	for range 1 + r.IntN(3) {
		switch x := r.IntN(100); {
		case x < 18 || len(ids) < 3:
			parent := ""
			if len(ids) > 0 && r.IntN(3) > 0 {
				parent = pick()
			}
			if view.Depth(parent) >= 6 {
				parent = ""
			}
			*next++
			id := fmt.Sprintf("%s.%d", prefix, *next)
			op = append(op, tree.NewObject(id, parent, keyIn(parent),
				tree.Prop{Name: "x", Value: tree.MustValue(r.IntN(1000))},
				tree.Prop{Name: "text", Value: tree.StringValue("new")}))
		case x < 45:
			name := []string{"x", "y", "color", "text"}[r.IntN(4)]
			var v tree.Value
			switch name {
			case "text":
				v = tree.StringValue(fmt.Sprintf("s%d", r.IntN(100)))
			case "color":
				v = tree.StringValue([]string{"red", "blue", "green"}[r.IntN(3)])
			default:
				v = tree.MustValue(r.IntN(1000))
			}
			op = append(op, tree.SetProp(pick(), name, v))
		case x < 70:
			id := "note"
			if r.IntN(3) == 0 {
				id = pick()
			}
			s, ok := view.Prop(id, "text")
			str, isStr := s.Str()
			if !ok || !isStr || len(op) > 0 {
				// (a text edit is made against the view before this op:
				// only as the op's first action)
				op = append(op, tree.SetProp(pick(), "y", tree.MustValue(r.IntN(1000))))
				continue
			}
			op = append(op, tree.EditText(id, "text", randomTextEdit(r, []rune(str))))
		case x < 88:
			id, parent := pick(), pick()
			if r.IntN(4) == 0 {
				parent = ""
			}
			if id == "" || id == parent || view.Depth(parent)+view.Height(id) > 7 {
				continue
			}
			op = append(op, tree.MoveTo(id, parent, keyIn(parent)))
		default:
			if id := pick(); id != "" && id != "note" && id != "frame" {
				op = append(op, tree.Delete(id))
			}
		}
		if len(op) > 0 && op[len(op)-1].Kind != tree.Set {
			break // later actions would be judged against a view this op changed
		}
	}
	if len(op) == 0 {
		op = tree.Op{tree.SetProp("frame", "x", tree.MustValue(r.IntN(1000)))}
	}
	return op
}

func randomTextEdit(r *rand.Rand, s []rune) ot.Op {
	pos := r.IntN(len(s) + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	if pos < len(s) && r.IntN(3) == 0 {
		op = append(op, ot.Component{Delete: 1 + r.IntN(min(3, len(s)-pos))})
	} else {
		op = append(op, ot.Component{Insert: string(rune('a' + r.IntN(26)))})
	}
	return op
}

// CheckTree fails the test when c holds a cycle, an orphan or a duplicate
// id, or does not survive its own encoding (decoding checks everything a
// stored content could get wrong).
func CheckTree(t testing.TB, who string, c *tree.Content) {
	t.Helper()
	parents := map[string]string{}
	dup := ""
	c.IDs(func(id string) bool {
		if _, seen := parents[id]; seen {
			dup = id
		}
		o, _ := c.Get(id)
		parents[id] = o.Parent
		return true
	})
	if dup != "" {
		t.Fatalf("%s: duplicate id %q", who, dup)
	}
	children := 0
	for id := range parents {
		seen := map[string]bool{}
		for p := id; p != ""; p = parents[p] {
			if seen[p] {
				t.Fatalf("%s: cycle through %q", who, p)
			}
			seen[p] = true
			if _, ok := parents[p]; !ok {
				t.Fatalf("%s: object %q has a missing ancestor %q", who, id, p)
			}
		}
		children += len(c.Children(id))
	}
	if top := len(c.Children("")); children+top != len(parents) {
		t.Fatalf("%s: %d objects but %d in the children index", who, len(parents), children+top)
	}
	if _, err := (tree.Type{}).DecodeContent(c.AppendMsgpack(nil)); err != nil {
		t.Fatalf("%s: the content does not decode: %v", who, err)
	}
}

// StoredTree returns the content and version of tree document id in st.
func StoredTree(t testing.TB, st store.Store, id string) (*tree.Content, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, snap, err := st.Load(ctx, id)
	if err != nil {
		t.Fatalf("load %q: %v", id, err)
	}
	c, ok := tree.Tree(snap.Content)
	if !ok {
		t.Fatalf("document %q is not a tree", id)
	}
	return c, d.Version
}

// ConvergeTrees waits until every doc is synced and at the store's version,
// then checks that each holds exactly the store's content, which must hold
// no cycle, orphan or duplicate id.
func ConvergeTrees(t testing.TB, st store.Store, id string, docs []*client.TreeDoc, timeout time.Duration) *tree.Content {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i, d := range docs {
		if err := d.WaitSynced(ctx); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	want, v := StoredTree(t, st, id)
	CheckTree(t, "the store", want)
	wantB := want.AppendMsgpack(nil)
	for i, d := range docs {
		if err := d.WaitVersion(ctx, v); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		got := d.Content()
		CheckTree(t, fmt.Sprintf("client %d", i), got)
		if !bytes.Equal(got.AppendMsgpack(nil), wantB) {
			gj, _ := got.MarshalJSON()
			wj, _ := want.MarshalJSON()
			t.Fatalf("client %d at v%d diverged from the store at v%d:\n got %s\nwant %s", i, d.Version(), v, gj, wj)
		}
	}
	return want
}

// Acks collects the (sid, seq) and version of every acknowledged op
// (OnTreeAck).
type Acks struct {
	mu   sync.Mutex
	seen map[ackKey]int64
}

type ackKey struct {
	sid string
	seq int64
}

// Hook returns the OnTreeAck option that records sid's acks.
func (a *Acks) Hook(sid string) client.TreeOption {
	return client.OnTreeAck(func(ai client.AckInfo) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.seen == nil {
			a.seen = map[ackKey]int64{}
		}
		a.seen[ackKey{sid, ai.Seq}] = ai.V
	})
}

// CheckStoredOnce checks that every acknowledged op is in the op log of id
// exactly once, at the version it was acknowledged as, and that no (sid,
// seq) is there twice.
func (a *Acks) CheckStoredOnce(t testing.TB, st store.Store, id string) (acked, logged int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ops, err := st.ReadOps(ctx, id, 0, 0)
	if err != nil {
		t.Fatalf("read the op log of %q: %v", id, err)
	}
	count := map[ackKey]int{}
	at := map[ackKey]int64{}
	for _, r := range ops {
		if r.Seq > 0 {
			k := ackKey{r.SID, r.Seq}
			count[k]++
			at[k] = r.Version
		}
	}
	for k, n := range count {
		if n != 1 {
			t.Fatalf("op (%s, %d) is stored %d times", k.sid, k.seq, n)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, v := range a.seen {
		if count[k] != 1 {
			t.Fatalf("acknowledged op (%s, %d) is stored %d times", k.sid, k.seq, count[k])
		}
		if at[k] != v {
			t.Fatalf("op (%s, %d) was acknowledged as v%d and is stored at v%d", k.sid, k.seq, v, at[k])
		}
		acked++
	}
	return acked, len(ops)
}
