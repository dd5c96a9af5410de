package store

import (
	"context"
	"testing"
	"time"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
)

// TestMemBackgroundSnapshots checks that the memory engine really snapshots on
// its own (the contract suite only sees that answers stay right).
func TestMemBackgroundSnapshots(t *testing.T) {
	m := NewMem(MemOptions{SnapshotEvery: 10})
	defer m.Close()
	ctx := context.Background()
	if _, err := m.CreateDoc(ctx, NewDocument{ID: "d"}); err != nil {
		t.Fatal(err)
	}
	text := ""
	for v := int64(0); v < 35; v++ {
		op := ot.Op{{Insert: "x"}}
		text += "x"
		if err := m.AppendOps(ctx, "d", v, []OpRecord{{Version: v, Op: op}}); err != nil {
			t.Fatal(err)
		}
		if (v+1)%10 == 0 {
			// Wait for the snapshot this append made due, so the next ones count
			// from it.
			waitFor(t, func() bool { vs := m.snapshotVersions("d"); return vs[len(vs)-1] == v+1 })
		}
	}
	if vs := m.snapshotVersions("d"); !equalInts(vs, []int64{0, 10, 20, 30}) {
		t.Fatalf("background snapshots at %v, want [0 10 20 30]", vs)
	}
	for _, v := range m.snapshotVersions("d") {
		snap, err := m.SnapshotAt(ctx, "d", v)
		if err != nil || textdoc.String(snap.Content) != text[:v] {
			t.Fatalf("SnapshotAt(%d) = %q, %v", v, textdoc.String(snap.Content), err)
		}
	}
	// Never means never.
	n := NewMem(MemOptions{SnapshotEvery: -1})
	defer n.Close()
	if _, err := n.CreateDoc(ctx, NewDocument{ID: "d"}); err != nil {
		t.Fatal(err)
	}
	for v := int64(0); v < 20; v++ {
		if err := n.AppendOps(ctx, "d", v, []OpRecord{{Version: v, Op: ot.Op{{Insert: "x"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if vs := n.snapshotVersions("d"); len(vs) != 1 {
		t.Fatalf("SnapshotEvery < 0 still snapshotted: %v", vs)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
