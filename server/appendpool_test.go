package server

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// poolWatchStore records, for the append pool's tests, how many appends are
// in the store at once and whether each document's appends arrive in order:
// every append made at the version the previous one of its document left.
type poolWatchStore struct {
	store.Store
	inflight, most atomic.Int64

	mu   sync.Mutex
	next map[string]int64 // a document's version after its last append
	errs []string
}

func (s *poolWatchStore) AppendOps(ctx context.Context, id string, base int64, ops []store.OpRecord) error {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	err := s.Store.AppendOps(ctx, id, base, ops)
	s.mu.Lock()
	defer s.mu.Unlock()
	if base != s.next[id] {
		s.errs = append(s.errs, fmt.Sprintf("%s: append at v%d after the document reached v%d", id, base, s.next[id]))
	}
	if err == nil {
		s.next[id] = base + int64(len(ops))
	}
	return err
}

// orderCheck is a subscriber that checks that the ops of its document reach
// it in version order without a gap and, when stored is set, only once the
// store holds them (stored gives the version the store has reached).
type orderCheck struct {
	stored func() int64
	mu     sync.Mutex
	next   int64
	errs   []string
}

func (c *orderCheck) Deliver(ev *Event) bool {
	if ev.Kind != EventOp {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.V != c.next {
		c.errs = append(c.errs, fmt.Sprintf("op v%d broadcast, want v%d", ev.V, c.next))
	}
	if c.stored != nil {
		if s := c.stored(); ev.V >= s {
			c.errs = append(c.errs, fmt.Sprintf("op v%d broadcast with the store at v%d", ev.V, s))
		}
	}
	c.next = ev.V + 1
	return true
}

// got returns the next version expected and the errors so far.
func (c *orderCheck) got() (int64, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next, slices.Clone(c.errs)
}

// appenderGoroutines counts the append pool's workers alive now.
func appenderGoroutines() int {
	buf := make([]byte, 4<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "server.appender(")
}

// Many documents' appends share a pool of two workers on Postgres: each
// document's appends still reach the store one at a time and in order, every
// op is acknowledged once, at the version the store holds it at, and every
// subscriber sees its document's ops in version order without a gap; never
// more than two appends are in the store at once, and two goroutines make
// them all (one appender per document before the pool).
func TestAppendPoolSharedByDocuments(t *testing.T) {
	st := &poolWatchStore{Store: pgStore(t), next: map[string]int64{}}
	const docs, authors, each, workers = 16, 3, 20, 2
	for d := range docs {
		createDoc(t, st, fmt.Sprintf("pool-%02d", d), "")
	}
	ts := newTestServer(t, st, func(c *Config) { c.AppendWorkers = workers; c.OpRate = 1e6 })
	ctx := context.Background()
	checks := make([]*orderCheck, docs)
	for d := range docs {
		checks[d] = &orderCheck{}
		if err := ts.srv.Subscribe(ctx, fmt.Sprintf("pool-%02d", d), checks[d], SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	type ack struct {
		sid string
		seq int64
	}
	var (
		mu    sync.Mutex
		acked = map[string]map[int64]ack{} // document -> version -> op
		wg    sync.WaitGroup
	)
	errs := make(chan error, docs*authors)
	// Every document's map exists before the first author starts: the
	// authors read acked (under mu) while the loop below still starts others.
	for d := range docs {
		acked[fmt.Sprintf("pool-%02d", d)] = map[int64]ack{}
	}
	for d := range docs {
		doc := fmt.Sprintf("pool-%02d", d)
		for a := range authors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sid := fmt.Sprintf("sid-pool-%02d-%02d-000000", d, a)
				known := int64(0)
				for seq := int64(1); seq <= each; seq++ {
					v, err := ts.srv.SubmitOp(ctx, doc, known, ins(0, "x"), sid, seq, "u")
					if err != nil {
						errs <- fmt.Errorf("%s %s seq %d: %w", doc, sid, seq, err)
						return
					}
					mu.Lock()
					if prev, dup := acked[doc][v]; dup {
						errs <- fmt.Errorf("%s v%d acked to %s seq %d and to %s seq %d", doc, v, prev.sid, prev.seq, sid, seq)
					}
					acked[doc][v] = ack{sid, seq}
					mu.Unlock()
					known = v + 1
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for d := range docs {
		doc := fmt.Sprintf("pool-%02d", d)
		recs, err := st.ReadOps(ctx, doc, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != authors*each {
			t.Errorf("%s holds %d ops, want %d", doc, len(recs), authors*each)
		}
		for i, r := range recs {
			if r.Version != int64(i) {
				t.Errorf("%s: record %d at v%d", doc, i, r.Version)
			}
			if a := acked[doc][r.Version]; a.sid != r.SID || a.seq != r.Seq {
				t.Errorf("%s v%d holds %s seq %d, acked to %s seq %d", doc, r.Version, r.SID, r.Seq, a.sid, a.seq)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for d, c := range checks {
		for {
			next, bad := c.got()
			if len(bad) > 0 {
				t.Fatalf("pool-%02d: %v", d, bad)
			}
			if next == authors*each {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pool-%02d: ops broadcast up to v%d, want v%d", d, next, authors*each)
			}
			time.Sleep(time.Millisecond)
		}
	}
	st.mu.Lock()
	for _, e := range st.errs {
		t.Error(e)
	}
	st.mu.Unlock()
	if m := st.most.Load(); m > workers {
		t.Errorf("%d appends in the store at once, want at most %d", m, workers)
	}
	if n := appenderGoroutines(); n == 0 || n > workers {
		t.Errorf("%d append workers, want 1 to %d", n, workers)
	}
}

// An actor whose append waits for a worker (the only one is held in the store
// by another document's append) is not blocked: it serves a join meanwhile,
// and acknowledges its op only once the store holds it.
func TestAppendPoolActorServesWhileWorkersBusy(t *testing.T) {
	st := newHeldStore(pgStore(t))
	createDoc(t, st, "busy-a", "")
	createDoc(t, st, "busy-b", "")
	ts := newTestServer(t, st, func(c *Config) { c.AppendWorkers = 1 })
	ctx := context.Background()
	st.holding.Store(true)
	type result struct {
		v   int64
		err error
	}
	resA, resB := make(chan result, 1), make(chan result, 1)
	go func() {
		v, err := ts.srv.SubmitOp(ctx, "busy-a", 0, ins(0, "a"), "sid-busy-a-0000000000", 1, "u")
		resA <- result{v, err}
	}()
	<-st.held // the one worker is in the store with busy-a's append
	go func() {
		v, err := ts.srv.SubmitOp(ctx, "busy-b", 0, ins(0, "b"), "sid-busy-b-0000000000", 1, "u")
		resB <- result{v, err}
	}()
	p := ts.srv.appends
	for deadline := time.Now().Add(10 * time.Second); ; {
		p.mu.Lock()
		queued := len(p.queue) - p.head
		p.mu.Unlock()
		if queued == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d appends queued in the pool, want busy-b's", queued)
		}
		time.Sleep(time.Millisecond)
	}
	c := newCollector()
	if err := ts.srv.Subscribe(ctx, "busy-b", c, SubscribeOptions{Mode: auth.ModeReadWrite, Peer: &wire.PeerInfo{SID: sidWatcher}}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, c, "joined while the append waits for a worker", func(ev *Event) bool { return ev.Kind == EventJoined })
	select {
	case r := <-resB:
		t.Fatalf("busy-b's op answered (v%d, %v) before any worker made its append", r.v, r.err)
	default:
	}
	close(st.release)
	for name, ch := range map[string]chan result{"busy-a": resA, "busy-b": resB} {
		r := <-ch
		if r.err != nil || r.v != 0 {
			t.Fatalf("%s: v%d, %v; want v0", name, r.v, r.err)
		}
		recs, err := st.ReadOps(ctx, name, 0, 0)
		if err != nil || len(recs) != 1 {
			t.Fatalf("%s holds %d ops (%v), want 1", name, len(recs), err)
		}
	}
	waitEvent(t, c, "busy-b's op", opAt(0))
}
