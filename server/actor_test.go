package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// collector is a non-WebSocket subscriber (as an SSE stream would be) that
// records every event.
type collector struct {
	mu     sync.Mutex
	events []*Event
	notify chan struct{}
}

func newCollector() *collector { return &collector{notify: make(chan struct{}, 1)} }

func (c *collector) Deliver(ev *Event) bool {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return true
}

func (c *collector) snapshot() []*Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Event(nil), c.events...)
}

// waitOps waits until the collector has seen ops up to version n-1 and
// returns the joined event and the ops.
func (c *collector) waitOps(t *testing.T, n int64) (*Event, []*Event) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		evs := c.snapshot()
		var ops []*Event
		for _, ev := range evs {
			if ev.Kind == EventOp {
				ops = append(ops, ev)
			}
		}
		if len(evs) > 0 && int64(len(ops))+evs[0].V >= n {
			return evs[0], ops
		}
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("collector saw %d events, waiting for version %d", len(evs), n)
		}
	}
}

// checkReplay checks that the collector's joined text plus its ops, in strictly
// increasing versions without a gap, give the store's text.
func checkReplay(t *testing.T, st store.Store, id string, joined *Event, ops []*Event) {
	t.Helper()
	if joined.Kind != EventJoined || joined.joinState().Content == nil {
		t.Fatalf("first event %+v is not a joined with text", joined)
	}
	doc, err := ot.NewDoc(textdoc.String(joined.joinState().Content))
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range ops {
		if want := joined.V + int64(i); ev.V != want || ev.Op.Version != want {
			t.Fatalf("op %d has version %d, want %d (gap or reorder)", i, ev.V, want)
		}
		if err := doc.Apply(textdoc.Op(ev.Op.Op)); err != nil {
			t.Fatalf("broadcast op %d does not apply: %v", ev.V, err)
		}
	}
	text, v := docText(t, st, id)
	if doc.String() != text || v != joined.V+int64(len(ops)) {
		t.Fatalf("replayed %q at %d, store has %q at %d", doc.String(), joined.V+int64(len(ops)), text, v)
	}
}

func TestActorConcurrentSubmit(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			createDoc(t, st, "doc", "")
			ts := newTestServer(t, st, nil)
			col := newCollector()
			if err := ts.srv.Subscribe(context.Background(), "doc", col, SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			const writers, each = 6, 25
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			versions := make(chan int64, writers*each)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sid := fmt.Sprintf("writer-%d-aaaaaaaaaaaa", w)
					for i := range each {
						// Every op is made against version 0: the actor must
						// transform it past everything committed since.
						v, err := ts.srv.SubmitOp(context.Background(), "doc", 0, ins(0, string(rune('a'+w))), sid, int64(i+1), "u")
						if err != nil {
							errs <- err
							return
						}
						versions <- v
					}
				}()
			}
			wg.Wait()
			close(errs)
			close(versions)
			for err := range errs {
				t.Fatalf("SubmitOp: %v", err)
			}
			seen := map[int64]bool{}
			for v := range versions {
				if seen[v] {
					t.Fatalf("version %d committed twice", v)
				}
				seen[v] = true
			}
			text, v := docText(t, st, "doc")
			if v != writers*each || len(text) != writers*each {
				t.Fatalf("store has %d chars at %d", len(text), v)
			}
			for w := range writers {
				if n := strings.Count(text, string(rune('a'+w))); n != each {
					t.Fatalf("writer %d has %d chars in %q", w, n, text)
				}
			}
			joined, ops := col.waitOps(t, writers*each)
			checkReplay(t, st, "doc", joined, ops)
		})
	}
}

func TestActorDedupAcrossReload(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			createDoc(t, st, "doc", "")
			// A tiny window forces FindOp in the store after the reload.
			ts := newTestServer(t, st, func(c *Config) { c.OpWindow = 2; c.IdleUnload = 20 * time.Millisecond })
			ctx := context.Background()
			const sid = "dedup-sid-000000000"
			for i := int64(1); i <= 6; i++ {
				v, err := ts.srv.SubmitOp(ctx, "doc", i-1, ins(int(i-1), "x"), sid, i, "u")
				if err != nil || v != i-1 {
					t.Fatalf("op %d: v=%d err=%v", i, v, err)
				}
			}
			testkit.WaitFor(t, 5*time.Second, "the idle actor to unload", func() bool {
				return !ts.srv.hub.isLoaded("doc")
			})
			for _, seq := range []int64{1, 3, 6} {
				v, err := ts.srv.SubmitOp(ctx, "doc", 0, ins(0, "DUP"), sid, seq, "u")
				if err != nil || v != seq-1 {
					t.Fatalf("resubmitted seq %d: v=%d err=%v, want the original version %d", seq, v, err, seq-1)
				}
			}
			if text, v := docText(t, st, "doc"); text != "xxxxxx" || v != 6 {
				t.Fatalf("after resubmissions the store has %q at %d", text, v)
			}
			v, err := ts.srv.SubmitOp(ctx, "doc", 6, ins(6, "y"), sid, 7, "u")
			if err != nil || v != 6 {
				t.Fatalf("new op after dedup: v=%d err=%v", v, err)
			}
		})
	}
}

// Two servers on one store stand for two nodes: each loses version races to
// the other, catches up from the store and retries, and nothing is lost.
func TestActorConflictsBetweenNodes(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			createDoc(t, st, "doc", "")
			nodes := []*testServer{newTestServer(t, st, nil), newTestServer(t, st, nil)}
			col := newCollector()
			if err := nodes[0].srv.Subscribe(context.Background(), "doc", col, SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			const each = 30
			var wg sync.WaitGroup
			for n, node := range nodes {
				for w := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sid := fmt.Sprintf("node%d-writer%d-aaaaaaa", n, w)
						for i := range each {
							if _, err := node.srv.SubmitOp(context.Background(), "doc", 0, ins(0, "x"), sid, int64(i+1), "u"); err != nil {
								t.Errorf("node %d: %v", n, err)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			// One more op on node 0 makes it catch up with everything node 1 did.
			v, err := nodes[0].srv.SubmitOp(context.Background(), "doc", 0, ins(0, "!"), "final-sid-000000000", 1, "u")
			if err != nil || v != 4*each {
				t.Fatalf("final op: v=%d err=%v", v, err)
			}
			text, sv := docText(t, st, "doc")
			if sv != 4*each+1 || len(text) != 4*each+1 {
				t.Fatalf("store has %d chars at %d", len(text), sv)
			}
			joined, ops := col.waitOps(t, 4*each+1)
			checkReplay(t, st, "doc", joined, ops)
		})
	}
}

func TestJoinWithVersion(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			createDoc(t, st, "doc", "")
			ts := newTestServer(t, st, func(c *Config) { c.OpWindow = 4; c.MaxJoinOps = 12 })
			for i := int64(0); i < 20; i++ {
				if _, err := ts.srv.SubmitOp(context.Background(), "doc", i, ins(int(i), "ab"), "", 0, "u"); err != nil {
					t.Fatal(err)
				}
			}
			c := ts.connect(t, sidA)
			// Beyond the window, within MaxJoinOps: ops from the store.
			j := c.join("doc", i64(10))
			ops, _ := j["ops"].([]any)
			if j["text"] != nil || len(ops) != 10 || num(t, j["v"]) != 20 {
				t.Fatalf("join v=10: %v", j)
			}
			for i, o := range ops {
				if num(t, o.(map[string]any)["v"]) != int64(10+i) {
					t.Fatalf("join ops out of order: %v", ops)
				}
			}
			// Beyond MaxJoinOps: the text.
			j = c.join("doc", i64(2))
			if text, _ := docText(t, st, "doc"); j["text"] != text {
				t.Fatalf("join v=2: %v", j)
			}
			// Current: no ops.
			j = c.join("doc", i64(20))
			if ops, ok := j["ops"].([]any); !ok || len(ops) != 0 {
				t.Fatalf("join at the current version: %v", j)
			}
		})
	}
}

func TestSubmitOpErrors(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "doc", "abc")
	ts := newTestServer(t, st, func(c *Config) { c.MaxDocBytes = 10 })
	ctx := context.Background()
	cases := []struct {
		name string
		doc  string
		v    int64
		op   ot.Op
		code string
	}{
		{"unknown document", "nope", 0, ins(0, "x"), wire.CodeNotFound},
		{"bad id", "no/pe", 0, ins(0, "x"), wire.CodeBadRequest},
		{"does not fit", "doc", 0, ot.Op{{Retain: 9}, {Insert: "x"}}, wire.CodeInvalidOp},
		{"future version", "doc", 5, ins(0, "x"), wire.CodeInvalidOp},
		{"malformed", "doc", 0, ot.Op{{Retain: 0}}, wire.CodeInvalidOp},
		{"document too large", "doc", 0, ins(0, "0123456789"), wire.CodeTooLarge},
	}
	for _, tc := range cases {
		_, err := ts.srv.SubmitOp(ctx, tc.doc, tc.v, tc.op, "", 0, "u")
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%s: err %v, want code %s", tc.name, err, tc.code)
		}
	}
	if text, v := docText(t, st, "doc"); text != "abc" || v != 0 {
		t.Fatalf("rejected ops changed the document: %q at %d", text, v)
	}
}

// Shutdown commits and answers everything the actors accepted; after it,
// submissions fail with ErrShuttingDown.
func TestShutdownDrains(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			createDoc(t, st, "doc", "")
			srv, err := New(DefaultConfig(), st, testLogger())
			if err != nil {
				t.Fatal(err)
			}
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				acked   = map[int64]bool{}
				refused int
			)
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sid := fmt.Sprintf("drain-%d-aaaaaaaaaaaa", w)
					for i := int64(1); ; i++ {
						v, err := srv.SubmitOp(context.Background(), "doc", 0, ins(0, "x"), sid, i, "u")
						mu.Lock()
						if err != nil {
							if !errors.Is(err, ErrShuttingDown) {
								t.Errorf("SubmitOp: %v", err)
							}
							refused++
							mu.Unlock()
							return
						}
						acked[v] = true
						mu.Unlock()
					}
				}()
			}
			time.Sleep(100 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			wg.Wait()
			_, v := docText(t, st, "doc")
			for av := range acked {
				if av >= v {
					t.Fatalf("version %d was acknowledged but the store ends at %d", av, v)
				}
			}
			if len(acked) == 0 || refused != 4 {
				t.Fatalf("acked %d, refused %d", len(acked), refused)
			}
		})
	}
}
