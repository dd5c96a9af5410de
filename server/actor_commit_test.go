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
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// pipelineFixture is a server whose store holds the next append until the
// test releases it, so that the test can act while an append is in flight.
type pipelineFixture struct {
	ts *testServer
	st *readCountingStore
}

// newPipelineFixture serves "doc" ("abc") from base behind a store whose
// appends a test can hold in flight, with presence flushed every 5 ms.
func newPipelineFixture(t *testing.T, base store.Store) pipelineFixture {
	t.Helper()
	st := newHeldStore(base)
	createDoc(t, st, "doc", "abc")
	return pipelineFixture{ts: newTestServer(t, st, func(c *Config) { c.PresenceInterval = 5 * time.Millisecond }), st: st}
}

// join subscribes c to "doc" as a read-write peer of sid.
func (f pipelineFixture) join(t *testing.T, c *collector, sid string) {
	t.Helper()
	if err := f.ts.srv.Subscribe(context.Background(), "doc", c, SubscribeOptions{Mode: auth.ModeReadWrite, Peer: &wire.PeerInfo{SID: sid}}); err != nil {
		t.Fatal(err)
	}
}

func (f pipelineFixture) send(t *testing.T, m actorMsg) {
	t.Helper()
	if _, err := f.ts.srv.hub.send(context.Background(), "doc", m); err != nil {
		t.Fatal(err)
	}
}

// waitEvent waits until c has an event that ok accepts and returns it with
// its index among c's events.
func waitEvent(t *testing.T, c *collector, what string, ok func(*Event) bool) (*Event, int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for i, ev := range c.snapshot() {
			if ok(ev) {
				return ev, i
			}
		}
		select {
		case <-c.notify:
		case <-deadline:
			for _, ev := range c.snapshot() {
				t.Logf("event kind %v v%d peers %+v", ev.Kind, ev.V, ev.Peers)
			}
			t.Fatalf("no %s among %d events", what, len(c.snapshot()))
		}
	}
}

// presenceOf accepts a presence event that lists sid.
func presenceOf(sid string) func(*Event) bool {
	return func(ev *Event) bool {
		if ev.Kind != EventPresence {
			return false
		}
		for _, p := range ev.Peers {
			if p.SID == sid {
				return true
			}
		}
		return false
	}
}

// showsCaretOf accepts a presence event that shows sid's selection.
func showsCaretOf(sid string) func(*Event) bool {
	return func(ev *Event) bool { return presenceOf(sid)(ev) && selOf(ev, sid) != nil }
}

func selOf(ev *Event, sid string) ot.Selection {
	for _, p := range ev.Peers {
		if p.SID == sid {
			return textdoc.OfSelection(p.Sel)
		}
	}
	return nil
}

func opAt(v int64) func(*Event) bool {
	return func(ev *Event) bool { return ev.Kind == EventOp && ev.V == v }
}

const (
	sidWatcher = "sid-watcher-0000000000"
	sidMover   = "sid-mover-000000000000"
	sidAuthor  = "sid-author-00000000000"
	sidOther   = "sid-other-000000000000"
)

// A caret move of another client is served, and flushed to the peers, while
// an append is in flight; the in-flight op then reaches everyone after the
// presence stamped with the version before it, and moves the caret.
func TestActorPresenceDuringAppend(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			f := newPipelineFixture(t, sc.open(t))
			ts, st := f.ts, f.st
			ctx := context.Background()
			watcher, mover := newCollector(), newCollector()
			f.join(t, watcher, sidWatcher)
			f.join(t, mover, sidMover)
			st.holding.Store(true)
			res := make(chan error, 1)
			go func() {
				_, err := ts.srv.SubmitOp(ctx, "doc", 0, ins(0, "xy"), sidAuthor, 1, "u")
				res <- err
			}()
			<-st.held // the append is in flight
			f.send(t, &presenceMsg{sub: mover, v: 0, sel: ot.Selection{{Anchor: 3, Head: 3}}})
			ev, pi := waitEvent(t, watcher, "presence of the mover", showsCaretOf(sidMover))
			if ev.V != 0 || !slices.Equal(selOf(ev, sidMover), ot.Selection{{Anchor: 3, Head: 3}}) {
				t.Fatalf("presence during the append: v%d sel %v, want v0 [3,3]", ev.V, selOf(ev, sidMover))
			}
			select {
			case err := <-res:
				t.Fatalf("the op was answered (%v) before its append was released", err)
			default:
			}
			st.release <- struct{}{}
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			_, oi := waitEvent(t, watcher, "the op", opAt(0))
			if oi < pi {
				t.Fatalf("op v0 (event %d) reached the watcher before the presence at v0 (event %d)", oi, pi)
			}
			// The caret moved through the op: a newcomer sees it after "xy".
			late := newCollector()
			if err := ts.srv.Subscribe(ctx, "doc", late, SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			joined, _ := waitEvent(t, late, "joined", func(ev *Event) bool { return ev.Kind == EventJoined })
			if joined.V != 1 || !slices.Equal(selOf(joined, sidMover), ot.Selection{{Anchor: 5, Head: 5}}) {
				t.Fatalf("joined at v%d with the mover at %v, want v1 [5,5]", joined.V, selOf(joined, sidMover))
			}
		})
	}
}

// Messages of an op's own sender wait for the op: its presence is applied
// after the op (moved through it as the author's), a tab of the same sid
// that joins meanwhile gets the op in its joined state rather than as
// someone else's op, and a leave comes after the ack. Other senders' joins
// are answered at once, at the version before the append, and get the op
// when it lands.
func TestActorOwnSenderWaitsForItsOp(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			f := newPipelineFixture(t, sc.open(t))
			st := f.st
			watcher, author := newCollector(), newCollector()
			f.join(t, watcher, sidWatcher)
			f.join(t, author, sidAuthor)
			waitEvent(t, watcher, "the author's arrival", presenceOf(sidAuthor))
			st.holding.Store(true)
			f.send(t, &opMsg{sub: author, v: 0, seq: 1, sid: sidAuthor, userID: "u", op: ins(0, "xy")})
			<-st.held
			tab := newCollector()
			f.send(t, &joinMsg{sub: tab, mode: auth.ModeReadWrite, peer: &wire.PeerInfo{SID: sidAuthor}})
			f.send(t, &presenceMsg{sub: author, v: 0, sel: ot.Selection{{Anchor: 1, Head: 1}}})
			f.send(t, &leaveMsg{sub: author})
			other := newCollector()
			f.send(t, &joinMsg{sub: other, mode: auth.ModeReadWrite, peer: &wire.PeerInfo{SID: sidOther}})
			joined, _ := waitEvent(t, other, "the other's joined", func(ev *Event) bool { return ev.Kind == EventJoined })
			if joined.V != 0 || textdoc.String(joined.joinState().Content) != "abc" {
				t.Fatalf("another sender's join during the append: v%d %q, want v0 \"abc\"", joined.V, textdoc.String(joined.joinState().Content))
			}
			// The other's join was served after the author's presence was
			// received; give the presence flush a chance to show it went
			// early.
			time.Sleep(30 * time.Millisecond)
			if n := len(tab.snapshot()); n != 0 {
				t.Fatalf("the author's second tab got %d events while its sid's op was in flight", n)
			}
			for _, ev := range watcher.snapshot() {
				if ev.Kind == EventPresence && selOf(ev, sidAuthor) != nil {
					t.Fatalf("the author's presence was served before its op landed: %+v", ev)
				}
			}
			st.release <- struct{}{}

			ack, ai := waitEvent(t, author, "the ack", func(ev *Event) bool { return ev.Kind == EventAck })
			if ack.V != 0 {
				t.Fatalf("ack at v%d, want v0", ack.V)
			}
			for _, ev := range author.snapshot()[ai+1:] {
				if ev.Kind == EventOp {
					t.Fatalf("the author got an op after its leave: %+v", ev)
				}
			}
			tj, _ := waitEvent(t, tab, "the tab's joined", func(ev *Event) bool { return ev.Kind == EventJoined })
			if tj.V != 1 || textdoc.String(tj.joinState().Content) != "xyabc" {
				t.Fatalf("the second tab joined at v%d %q, want v1 \"xyabc\"", tj.V, textdoc.String(tj.joinState().Content))
			}
			for _, ev := range tab.snapshot() {
				if ev.Kind == EventOp {
					t.Fatalf("the second tab got its own sid's op as someone else's: %+v", ev)
				}
			}
			waitEvent(t, other, "the op", opAt(0))
			pres, _ := waitEvent(t, watcher, "the author's caret", showsCaretOf(sidAuthor))
			if pres.V != 1 || !slices.Equal(selOf(pres, sidAuthor), ot.Selection{{Anchor: 3, Head: 3}}) {
				t.Fatalf("the author's caret: v%d %v, want v1 [3,3] (moved through its own insert)", pres.V, selOf(pres, sidAuthor))
			}
		})
	}
}

// A shutdown that comes while an append is in flight waits for it: the op is
// committed and answered, and the actor exits only then.
func TestActorShutdownWaitsForAppend(t *testing.T) {
	st := &readCountingStore{Store: memStore(t), held: make(chan struct{}), release: make(chan struct{})}
	createDoc(t, st, "doc", "abc")
	ts := newTestServer(t, st, nil)
	ctx := context.Background()
	st.holding.Store(true)
	res := make(chan error, 1)
	go func() {
		_, err := ts.srv.SubmitOp(ctx, "doc", 0, ins(0, "x"), sidAuthor, 1, "u")
		res <- err
	}()
	<-st.held
	down := make(chan error, 1)
	go func() { down <- ts.srv.Shutdown(ctx) }()
	select {
	case err := <-down:
		t.Fatalf("shutdown returned (%v) with an append in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	st.release <- struct{}{}
	if err := <-res; err != nil {
		t.Fatalf("the op in flight at shutdown: %v", err)
	}
	if err := <-down; err != nil {
		t.Fatal(err)
	}
	if text, v := docText(t, st, "doc"); text != "xabc" || v != 1 {
		t.Fatalf("the store has %q at %d", text, v)
	}
}

// Which stores an actor calls itself (inlineAppender): only those that
// say their appends never wait on I/O.
func TestInlineAppendsChosen(t *testing.T) {
	cases := []struct {
		name string
		open func(testing.TB) store.Store
		want bool
	}{
		{"memory store", memStore, true},
		{"memory store behind a wrapper that may hold appends", func(t testing.TB) store.Store { return newHeldStore(memStore(t)) }, false},
		{"Postgres store", pgStore, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, c.open(t), nil)
			if got := ts.srv.inlineAppends; got != c.want {
				t.Fatalf("inlineAppends = %v, want %v", got, c.want)
			}
		})
	}
}

// stackMarkStore is the memory store (appends inline) recording the newest
// version it has stored and whether any append ran on an append worker
// goroutine rather than on the actor's own.
type stackMarkStore struct {
	*store.MemStore
	stored     atomic.Int64 // the document's version after the last append
	onAppender atomic.Int64 // appends whose stack shows an append worker (appender)
}

func (s *stackMarkStore) AppendOps(ctx context.Context, id string, base int64, ops []store.OpRecord) error {
	buf := make([]byte, 64<<10)
	if strings.Contains(string(buf[:runtime.Stack(buf, false)]), "server.appender(") {
		s.onAppender.Add(1)
	}
	err := s.MemStore.AppendOps(ctx, id, base, ops)
	if err == nil {
		s.stored.Store(base + int64(len(ops)))
	}
	return err
}

// pipelinedMarkStore is stackMarkStore saying its appends may wait: the
// actor hands them to the append pool.
type pipelinedMarkStore struct{ *stackMarkStore }

func (pipelinedMarkStore) AppendsInline() bool { return false }

// With the memory store the actor appends on its own goroutine (no append
// worker), and still acknowledges and broadcasts an op only once the store
// holds it, in version order, under concurrent authors whose ops batch and
// transform past each other; the same store saying it may wait goes through
// the append pool's workers, with the same order.
func TestActorAppendsInline(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) {
			st := &stackMarkStore{MemStore: store.NewMem(store.MemOptions{})}
			t.Cleanup(st.Close)
			createDoc(t, st, "doc", "")
			var served store.Store = st
			if !inline {
				served = pipelinedMarkStore{st}
			}
			ts := newTestServer(t, served, nil)
			if ts.srv.inlineAppends != inline {
				t.Fatalf("inlineAppends = %v, want %v", ts.srv.inlineAppends, inline)
			}
			ctx := context.Background()
			check := &orderCheck{stored: st.stored.Load}
			if err := ts.srv.Subscribe(ctx, "doc", check, SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			const authors, each = 6, 40
			var wg sync.WaitGroup
			errs := make(chan error, authors*each)
			for i := range authors {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sid := fmt.Sprintf("sid-inline-author-%05d", i)
					known := int64(0)
					for seq := int64(1); seq <= each; seq++ {
						v, err := ts.srv.SubmitOp(ctx, "doc", known, ins(0, "x"), sid, seq, "u")
						if err != nil {
							errs <- err
							return
						}
						if s := st.stored.Load(); v >= s {
							errs <- fmt.Errorf("%s seq %d acked at v%d with the store at v%d", sid, seq, v, s)
						}
						known = v + 1
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				next, bad := check.got()
				for _, e := range bad {
					t.Error(e)
				}
				if next == authors*each || len(bad) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the subscriber got ops up to v%d, want v%d", next, authors*each)
				}
				time.Sleep(time.Millisecond)
			}
			n := st.onAppender.Load()
			if inline && n != 0 {
				t.Fatalf("%d appends ran on an appender goroutine, want none", n)
			}
			if !inline && n == 0 {
				t.Fatal("no append ran on the appender goroutine")
			}
		})
	}
}
