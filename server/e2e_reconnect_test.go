package server_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
)

// TestE2EReconnectExactlyOnce: a client whose socket is cut (the raw TCP
// connection closed under it) while it has unacknowledged ops re-joins with its
// version and resubmits them with the same seq; every op is committed exactly
// once, whether or not the server had committed it before the cut.
func TestE2EReconnectExactlyOnce(t *testing.T) {
	const (
		docID   = "reconnect"
		initial = "reconnect 🔌 test\n"
		cuts    = 8
	)
	schema := testkit.Schema(t)
	s := startServer(t, schema)
	createDoc(t, s.st, docID, initial)

	var cd cutDialer
	victimConn := dial(t, s.wsURL, 0, cd.dialer())
	victim := collab.Open(t, victimConn, docID)
	others := []*client.Doc{
		collab.Open(t, dial(t, s.wsURL, 1, nil), docID),
		collab.Open(t, dial(t, s.wsURL, 2, nil), docID),
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	collab.GoEditLoops(ctx, &wg, others, func(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 99)) }, editPause, errs)

	// The victim types in bursts and loses its socket while ops are pending.
	r := rand.New(rand.NewPCG(7, 7))
	cutWithPending := 0
	for range cuts {
		for k := 0; k < 5; k++ {
			if err := victim.Submit(collab.RandomEdit(r, victim.Text())); err != nil {
				t.Fatalf("victim submit: %v", err)
			}
			time.Sleep(time.Duration(r.IntN(3)) * time.Millisecond)
		}
		if victim.Pending() > 0 {
			cutWithPending++
		}
		cd.cut()
		// Keep typing while disconnected: these edits are buffered.
		for k := 0; k < 3; k++ {
			if err := victim.Submit(collab.RandomEdit(r, victim.Text())); err != nil {
				t.Fatalf("victim submit while offline: %v", err)
			}
		}
		wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
		if err := victim.WaitSynced(wctx); err != nil {
			t.Fatalf("victim did not resync after a cut: %v", err)
		}
		wcancel()
	}
	cancel()
	collab.WaitEditLoops(t, &wg, errs)
	if cutWithPending == 0 {
		t.Fatal("no cut happened with ops in flight; the test proved nothing")
	}
	if n := victimConn.Sessions(); n < cuts+1 {
		t.Fatalf("victim had %d sessions, want at least %d (one per cut)", n, cuts+1)
	}

	docs := append([]*client.Doc{victim}, others...)
	text, v := collab.Converge(t, docs, 30*time.Second)
	ops := collab.CheckStore(t, s.st, docID, initial, text, v)

	// Exactly once: the victim's seqs in the log are exactly 1..LastSeq.
	var seqs []int64
	for _, o := range ops {
		if o.SID == victimConn.SID() {
			seqs = append(seqs, o.Seq)
		}
	}
	last := victim.LastSeq()
	if int64(len(seqs)) != last {
		t.Fatalf("victim sent seqs 1..%d, the log holds %d of them: %v", last, len(seqs), seqs)
	}
	for i, q := range seqs {
		if q != int64(i+1) {
			t.Fatalf("victim's seqs in log order: %v, want 1..%d each once", seqs, last)
		}
	}
	t.Logf("%d cuts (%d with ops pending), %d victim ops, %d ops in total", cuts, cutWithPending, last, v)
}
