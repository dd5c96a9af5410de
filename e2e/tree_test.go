//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/tree"
)

// TestTreeNodeKilledMidEdit: clients on three nodes edit one tree document
// at once (random creates, sets, text edits, moves and deletes) and one node
// is SIGKILLed mid-stream. Its clients reconnect to the other nodes and
// resend what was in flight; everyone converges on the store's content
// (no cycle, orphan or duplicate id), and every acknowledged op is stored
// exactly once, at the version it was acknowledged as.
func TestTreeNodeKilledMidEdit(t *testing.T) {
	c := newCluster(t, testkit.RedisURL(), 2*time.Second)
	ns := c.start(3)
	collab.CreateTreeDoc(t, c.st, "board", collab.TreeStart)
	urls := []string{ns[0].wsURL(), ns[1].wsURL(), ns[2].wsURL()}
	var acks collab.Acks
	var docs []*client.TreeDoc
	var conns []*client.Conn
	for i := range 6 {
		// Clients of node 0 know the other nodes; the others are pinned.
		var fallbacks []string
		if i%3 == 0 {
			fallbacks = urls[1:]
		}
		conn := dial(t, i, urls[i%3], fallbacks...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := conn.OpenTree(ctx, "board", acks.Hook(conn.SID()))
		cancel()
		if err != nil {
			t.Fatalf("client %d: open the board: %v", i, err)
		}
		conns, docs = append(conns, conn), append(docs, d)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, len(docs))
	for i, d := range docs {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := 0
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(2+r.IntN(10)) * time.Millisecond):
				}
				if _, err := d.Edit(func(view *tree.Content) tree.Op {
					return collab.RandomTreeOp(r, view, fmt.Sprintf("c%d", i), &next)
				}); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	ns[0].kill()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	content := collab.ConvergeTrees(t, c.st, "board", docs, 45*time.Second)
	acked, logged := acks.CheckStoredOnce(t, c.st, "board")
	for _, i := range []int{0, 3} {
		if conns[i].URL() == urls[0] || conns[i].Sessions() < 2 {
			t.Fatalf("client %d of the dead node is on %s after %d sessions: it did not move", i, conns[i].URL(), conns[i].Sessions())
		}
	}
	if acked < 100 {
		t.Fatalf("only %d ops acknowledged in 3 s from 6 clients", acked)
	}
	t.Logf("node 0 killed: %d ops in the log, %d acks checked, %d objects at the end; clients 0 and 3 moved", logged, acked, content.Len())
}
