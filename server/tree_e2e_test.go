package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/tree"
)

// TestE2ETreeConverges is the property of docs/protocol.md, "Tree
// documents", through the real server (actor, Postgres store, sockets) and
// the Go client's TreeDoc: 2-5 clients make random actions at once (creates
// under each other's objects, sets of one property, text edits of one shared
// string, moves into each other's subtrees, deletes of ancestors), and their
// connections are cut at random so that ops in flight are resent. In the end
// every client holds exactly the store's content, which holds no cycle, no
// orphan and no duplicate id, and every acknowledged op is in the op log
// exactly once.
//
// With MaxJoinOps 0 every re-join is answered with the whole content, not the
// ops missed: an op in flight is then resent at its own version to learn
// whether the server has it (TreeDoc's probe).
func TestE2ETreeConverges(t *testing.T) {
	t.Run("rejoin-with-ops", func(t *testing.T) {
		testTreeConverges(t, startServer(t, testkit.Schema(t)))
	})
	t.Run("rejoin-with-content", func(t *testing.T) {
		cfg := server.DefaultConfig()
		cfg.MaxJoinOps = 0
		testTreeConverges(t, serve(t, openStore(t, testkit.Schema(t)), cfg, slog.LevelWarn))
	})
}

func testTreeConverges(t *testing.T, s *e2eServer) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 14))
	trials, steps := 4, 60
	if testing.Short() {
		trials, steps = 2, 30
	}
	for trial := range trials {
		docID := fmt.Sprintf("tree-conv-%d", trial)
		collab.CreateTreeDoc(t, s.st, docID, collab.TreeStart)
		n := 2 + r.IntN(4)
		docs := make([]*client.TreeDoc, n)
		cuts := make([]*cutDialer, n)
		var acks collab.Acks
		conns := make([]*client.Conn, n)
		serverErrs := make(chan error, 100)
		for i := range docs {
			cuts[i] = &cutDialer{}
			c := dial(t, s.wsURL, trial*10+i, cuts[i].dialer())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			conns[i] = c
			d, err := c.OpenTree(ctx, docID, acks.Hook(c.SID()), client.OnTreeError(func(err error) {
				select {
				case serverErrs <- fmt.Errorf("client %d: %w", i, err):
				default:
				}
			}))
			cancel()
			if err != nil {
				t.Fatalf("trial %d: open client %d: %v", trial, i, err)
			}
			docs[i] = d
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, d := range docs {
			cr := rand.New(rand.NewPCG(seed+uint64(trial*10+i), 1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := 0
				for range steps {
					if cr.IntN(30) == 0 {
						cuts[i].cut()
					}
					_, err := d.Edit(func(view *tree.Content) tree.Op {
						return collab.RandomTreeOp(cr, view, fmt.Sprintf("c%d", i), &next)
					})
					if err != nil {
						errs <- fmt.Errorf("client %d: %w", i, err)
						return
					}
					time.Sleep(time.Duration(cr.IntN(4)) * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("trial %d: %v", trial, err)
		}
		content := collab.ConvergeTrees(t, s.st, docID, docs, 30*time.Second)
		select {
		case err := <-serverErrs:
			t.Fatalf("trial %d: the server refused a valid op: %v", trial, err)
		default:
		}
		sessions := 0
		for _, c := range conns {
			sessions += c.Sessions()
		}
		acked, logged := acks.CheckStoredOnce(t, s.st, docID)
		// Local ops made while one is in flight are sent as one op, so
		// there are fewer acks than edits; every client must have had some.
		if acked < n {
			t.Fatalf("trial %d: only %d ops acknowledged for %d clients", trial, acked, n)
		}
		t.Logf("trial %d: %d clients, %d sessions, %d ops acknowledged, %d in the log, %d objects at the end", trial, n, sessions, acked, logged, content.Len())
	}
}

// TestE2ETreeRejectedOp: an op the server refuses for good (here: over the
// server's op size limit, which the client's own limits allow) comes back to
// the TreeDoc as a *TreeRejectedError; the TreeDoc drops it, keeps the ops
// made after it where they still apply, and ends with the store's content.
func TestE2ETreeRejectedOp(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.MaxOpBytes = 200
	s := serve(t, openStore(t, testkit.Schema(t)), cfg, slog.LevelWarn)
	collab.CreateTreeDoc(t, s.st, "reject", collab.TreeStart)
	rejected := make(chan error, 1)
	c := dial(t, s.wsURL, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.OpenTree(ctx, "reject", client.OnTreeError(func(err error) {
		select {
		case rejected <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	big := tree.Op{tree.SetProp("box", "text", tree.StringValue(strings.Repeat("x", 400)))}
	if _, err := d.Submit(big); err != nil {
		t.Fatalf("the client refused an op within its own limits: %v", err)
	}
	if _, err := d.Submit(tree.Op{tree.SetProp("box", "x", tree.MustValue(7))}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rejected:
		var rej *client.TreeRejectedError
		if !errors.As(err, &rej) || rej.Code != "too_large" || len(rej.Op) != 1 {
			t.Fatalf("got %v, want a too_large *TreeRejectedError with the op", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no rejection")
	}
	content := collab.ConvergeTrees(t, s.st, "reject", []*client.TreeDoc{d}, 10*time.Second)
	if v, _ := content.Prop("box", "x"); !v.Equal(tree.MustValue(7)) {
		t.Fatalf("the op made after the rejected one was lost: box.x = %v", v)
	}
	if v, _ := content.Prop("box", "text"); !v.IsNil() {
		t.Fatalf("the rejected op is in the store: box.text = %v", v)
	}
}
