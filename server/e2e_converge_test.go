package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/ot"
)

// TestE2EConvergence: 20 clients on one document edit concurrently (inserts,
// deletes, emoji) for a few seconds; all converge to one text, which is what
// Postgres holds and what a replay of the stored op log gives.
func TestE2EConvergence(t *testing.T) {
	const (
		clients = 20
		initial = "Hello, 🌍 world!\nThe quick brown 🦊 jumps.\n"
		docID   = "converge"
	)
	schema := testkit.Schema(t)
	s := startServer(t, schema)
	createDoc(t, s.st, docID, initial)

	docs := make([]*client.Doc, clients)
	var changes [clients]int
	var chMu sync.Mutex
	for i := range docs {
		c := dial(t, s.wsURL, i, nil)
		docs[i] = collab.Open(t, c, docID, client.OnChange(func(client.Change) {
			chMu.Lock()
			changes[i]++
			chMu.Unlock()
		}))
		if got := docs[i].Text(); got != initial {
			t.Fatalf("client %d joined with %q", i, got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	collab.GoEditLoops(ctx, &wg, docs, collab.TimeSeeded, editPause, errs)
	collab.WaitEditLoops(t, &wg, errs)

	text, v := collab.Converge(t, docs, 30*time.Second)
	if v < clients*5 {
		t.Fatalf("only %d ops committed by %d clients in 3 s", v, clients)
	}
	ops := collab.CheckStore(t, s.st, docID, initial, text, v)

	// Every client saw every other client's ops as changes, and its own seqs
	// are 1..LastSeq, each once.
	perSID := map[string][]int64{}
	for _, r := range ops {
		perSID[r.SID] = append(perSID[r.SID], r.Seq)
	}
	if len(perSID) != clients {
		t.Fatalf("%d authors in the log, want %d", len(perSID), clients)
	}
	chMu.Lock()
	defer chMu.Unlock()
	for i, d := range docs {
		if changes[i] == 0 {
			t.Errorf("client %d was never told of a remote change", i)
		}
		if d.LastSeq() == 0 {
			t.Errorf("client %d sent nothing", i)
		}
	}
	t.Logf("20 clients: %d ops committed, final text %d code points", v, len([]rune(text)))
}

// TestE2EPresence: a selection set while idle reaches the peers, moved by the
// edits that followed.
func TestE2EPresence(t *testing.T) {
	schema := testkit.Schema(t)
	s := startServer(t, schema)
	createDoc(t, s.st, "pres", "0123456789")
	aConn := dial(t, s.wsURL, 0, nil)
	a := collab.Open(t, aConn, "pres")
	seen := make(chan struct{}, 16)
	b := collab.Open(t, dial(t, s.wsURL, 1, nil), "pres", client.OnPresence(func() {
		select {
		case seen <- struct{}{}:
		default:
		}
	}))
	if err := a.SetSelection(ot.Selection{{Anchor: 5, Head: 7}}, map[string]any{"status": "typing"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitPeer := func(want ot.Range) {
		t.Helper()
		for {
			for _, p := range b.Peers() {
				if p.SID == aConn.SID() && len(p.Sel) == 1 && p.Sel[0] == want {
					if p.User.Name != "user 0" {
						t.Fatalf("peer user %+v, want the name a proposed", p.User)
					}
					return
				}
			}
			select {
			case <-seen:
			case <-ctx.Done():
				t.Fatalf("b never saw a's selection %v; peers %+v", want, b.Peers())
			}
		}
	}
	waitPeer(ot.Range{Anchor: 5, Head: 7})
	// b inserts before a's selection: a's range moves right by 3.
	if err := b.Insert(0, "abc"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	waitPeer(ot.Range{Anchor: 8, Head: 10})
}
