package server

import (
	"bytes"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"sync"
	"testing"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/wire"
)

// batchCollector records DeliverBatch calls separately from Deliver calls.
type batchCollector struct {
	*collector
	mu      sync.Mutex
	batches [][]*Event
	refuse  bool
}

func (b *batchCollector) DeliverBatch(evs []*Event, _ *SharedBatch) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuse {
		return false
	}
	b.batches = append(b.batches, append([]*Event(nil), evs...))
	return true
}

// TestCommittedBatchIsDeliveredTogether drives an actor synchronously (its
// goroutine is not running, so the test owns its state): one commit of three
// ops from three subscribers must reach each batch subscriber as one call
// holding its ack and the others' ops in version order, reach a plain
// subscriber as the same events one by one, and detach a subscriber that
// refuses its batch.
func TestCommittedBatchIsDeliveredTogether(t *testing.T) {
	st := memStore(t)
	ts := newTestServer(t, st, nil)
	createDoc(t, st, "batched", "abc")
	a := newActor(ts.srv, "batched")
	a.load()
	if a.loadErr != nil {
		t.Fatal(a.loadErr)
	}
	subs := []*batchCollector{{collector: newCollector()}, {collector: newCollector()}, {collector: newCollector()}}
	plain := newCollector()
	refusing := &batchCollector{collector: newCollector(), refuse: true}
	for i, s := range subs {
		a.join(&joinMsg{sub: s, mode: auth.ModeReadWrite, peer: &wire.PeerInfo{SID: fmt.Sprintf("sid-batch-%d-xxxxxxxxxx", i)}})
	}
	a.join(&joinMsg{sub: plain, mode: auth.ModeReadWrite})
	a.join(&joinMsg{sub: refusing, mode: auth.ModeReadWrite})

	var msgs []*opMsg
	for i, s := range subs {
		msgs = append(msgs, &opMsg{sub: s, v: 0, seq: 1, sid: fmt.Sprintf("sid-batch-%d-xxxxxxxxxx", i), userID: "u", op: ins(0, fmt.Sprint(i))})
	}
	a.commit(msgs)
	if a.v != 3 || textdoc.String(a.doc) != "012abc" {
		t.Fatalf("after the commit: v%d %q", a.v, textdoc.String(a.doc))
	}

	for i, s := range subs {
		if len(s.batches) != 1 {
			t.Fatalf("subscriber %d got %d batches, want 1", i, len(s.batches))
		}
		if evs := s.snapshot(); len(evs) != 1 || evs[0].Kind != EventJoined {
			t.Fatalf("subscriber %d got %d single events besides its batch, want only joined", i, len(evs))
		}
		b := s.batches[0]
		if len(b) != 3 {
			t.Fatalf("subscriber %d: batch of %d events, want 3", i, len(b))
		}
		for v, ev := range b {
			want := EventOp
			if v == i {
				want = EventAck
			}
			if ev.Kind != want || ev.V != int64(v) {
				t.Fatalf("subscriber %d event %d: kind %v v%d, want kind %v v%d", i, v, ev.Kind, ev.V, want, v)
			}
		}
	}
	evs := plain.snapshot()
	if len(evs) != 4 {
		t.Fatalf("plain subscriber got %d events, want joined + 3 ops", len(evs))
	}
	for v, ev := range evs[1:] {
		if ev.Kind != EventOp || ev.V != int64(v) {
			t.Fatalf("plain subscriber event %d: kind %v v%d", v, ev.Kind, ev.V)
		}
	}
	if _, still := a.subs[refusing]; still {
		t.Fatal("a subscriber that refused its batch is still attached")
	}
	if _, still := a.subs[plain]; !still {
		t.Fatal("the plain subscriber was detached")
	}
	if a.holding || len(a.held) != 0 || len(a.heldOrder) != 0 {
		t.Fatal("deliveries are still held after the commit")
	}
	// Outside a commit, deliveries go out one by one again.
	a.deliver(subs[0], &Event{Kind: EventError, Doc: "batched", Fail: &Failure{Code: wire.CodeBadRequest}})
	if n := len(subs[0].snapshot()); n != 2 {
		t.Fatalf("a delivery outside a commit was not handed over at once (%d single events)", n)
	}
}

// TestSharedBatchFrame: subscribers given the same events in one release
// share one encoded array frame; other events get their own, equal to what
// the connection's pump would have built.
func TestSharedBatchFrame(t *testing.T) {
	a, b, ack := &Event{Kind: EventPresence, Doc: "d", V: 1}, &Event{Kind: EventPresence, Doc: "d", V: 2}, &Event{Kind: EventPresence, Doc: "d", V: 3}
	frames := func(evs ...*Event) [][]byte {
		var out [][]byte
		for _, ev := range evs {
			f, err := ev.Frame()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
		return out
	}
	var sb SharedBatch
	first := sb.Frame([]*Event{a, b}, frames(a, b))
	again := sb.Frame([]*Event{a, b}, frames(a, b))
	if &first[0] != &again[0] {
		t.Fatal("the same events were encoded twice")
	}
	if !bytes.Equal(first, wire.EncodeBatch(frames(a, b))) {
		t.Fatal("the shared frame differs from the pump's")
	}
	other := sb.Frame([]*Event{a, ack}, frames(a, ack))
	if !bytes.Equal(other, wire.EncodeBatch(frames(a, ack))) || bytes.Equal(other, first) {
		t.Fatal("other events got the shared frame of the first ones")
	}
	sb.reset()
	if sb.frame != nil || len(sb.evs) != 0 {
		t.Fatal("reset kept the frame")
	}
}
