package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/store"
)

// readCountingStore counts ReadOps and can hold AppendOps until released.
type readCountingStore struct {
	store.Store
	reads   atomic.Int64
	holding atomic.Bool
	held    chan struct{} // receives when an append is held
	release chan struct{}
}

// newHeldStore wraps st; appends are held only once holding is set.
func newHeldStore(st store.Store) *readCountingStore {
	return &readCountingStore{Store: st, held: make(chan struct{}), release: make(chan struct{})}
}

func (s *readCountingStore) ReadOps(ctx context.Context, id string, from int64, limit int) ([]store.OpRecord, error) {
	s.reads.Add(1)
	return s.Store.ReadOps(ctx, id, from, limit)
}

func (s *readCountingStore) AppendOps(ctx context.Context, id string, base int64, ops []store.OpRecord) error {
	if s.holding.CompareAndSwap(true, false) {
		s.held <- struct{}{}
		<-s.release
	}
	return s.Store.AppendOps(ctx, id, base, ops)
}

// Ops that lag the head by more than the actor's window are moved past
// their history with one store read per batch, not one per op: per op, a
// pipelined load that fell behind the window paid a read of the whole lag
// for every op and fell further behind (the canvas collapse, issue 14).
func TestActorLaggingBatchReadsHistoryOnce(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := newHeldStore(sc.open(t))
			createDoc(t, st, "doc", "")
			ts := newTestServer(t, st, func(c *Config) { c.OpWindow = 2; c.OpWindowAge = 0; c.OpRate = 1e6 })
			ctx := context.Background()
			const head = 20
			for i := range int64(head) {
				if _, err := ts.srv.SubmitOp(ctx, "doc", i, ins(int(i), "x"), "writer-sid-00000000", i+1, "u"); err != nil {
					t.Fatal(err)
				}
			}
			// Hold the next commit, queue lagging ops behind it, release.
			st.holding.Store(true)
			var wg sync.WaitGroup
			errs := make(chan error, 101)
			submit := func(v int64, sid string) {
				defer wg.Done()
				if _, err := ts.srv.SubmitOp(ctx, "doc", v, ins(0, "y"), sid, 1, "u"); err != nil {
					errs <- err
				}
			}
			wg.Add(1)
			go submit(head, "first-sid-000000000")
			<-st.held
			const lagging = 100
			for i := range lagging {
				wg.Add(1)
				go submit(int64(i%5), fmt.Sprintf("lag-sid-%011d", i))
			}
			// Every lagging op is in the mailbox before the release.
			waitMailbox(t, ts, "doc", lagging)
			before := st.reads.Load()
			close(st.release)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n := st.reads.Load() - before; n > 1 {
				t.Fatalf("%d lagging ops in one batch made %d store reads, want 1", lagging, n)
			}
			if text, v := docText(t, st, "doc"); v != head+1+lagging || len(text) != head+1+lagging {
				t.Fatalf("the store has %d chars at %d", len(text), v)
			}
		})
	}
}

// waitMailbox waits until n messages wait in doc's actor mailbox, or have
// been taken from it into the queue of ops waiting for the append in flight
// (actor_commit.go).
func waitMailbox(t *testing.T, ts *testServer, doc string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if a := ts.srv.hub.acquireLoaded(doc); a != nil {
			queued := len(a.inbox) + int(a.cm.queued.Load())
			ts.srv.hub.release(a)
			if queued >= n {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("fewer than %d messages reached the mailbox of %q", n, doc)
}
