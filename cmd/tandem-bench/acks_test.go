package main

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/store"
)

// TestAckBeforeRecord: an op whose ack comes in before the load generator
// records it (the client's reader handles the ack while the scheduling
// goroutine is between Edit and submitAt, which happened about once per
// fleet run) is measured to its own ack. It used to stay in inflight until
// the next op's ack, one period (2 s in the fleet scenario) later: the
// fleet's "2.0 s ack" (docs/benchmarks.md, fleet).
func TestAckBeforeRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := store.NewMem(store.MemOptions{})
	t.Cleanup(st.Close)
	if _, err := st.CreateDoc(ctx, store.NewDocument{ID: "d", Type: "text"}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.DefaultConfig(), st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hs := testkit.Serve(t, srv.Handler(), srv.Shutdown)
	c, err := client.Dial(ctx, client.Options{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws", User: client.User{Name: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s := &clientStats{lastSeen: map[string]int64{}}
	d, err := c.Open(ctx, "d", client.OnAck(s.onAck))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.start, s.end = time.Now(), time.Now().Add(time.Minute)
	s.mu.Unlock()
	insert := func(string) ot.Op { return ot.Op{{Insert: "x"}} }

	// The ack overtakes the record: wait for it between the two calls.
	at := time.Now()
	if err := d.Edit(insert); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	acked := time.Since(at)
	s.submitAt(d, at)
	s.mu.Lock()
	n, waiting := len(s.ack), len(s.inflight)
	s.mu.Unlock()
	if n != 1 || waiting != 0 {
		t.Fatalf("op acknowledged before it was recorded: %d ack samples and %d ops waiting for an ack, want 1 and 0", n, waiting)
	}
	if got := s.ack[0]; got < 0 || got > acked {
		t.Fatalf("its latency is %v, want between 0 and the %v it took", got, acked)
	}

	// The usual order: recorded first, then acknowledged; the first op's
	// figure is not touched by the second's ack.
	at = time.Now()
	if err := d.Edit(insert); err != nil {
		t.Fatal(err)
	}
	s.submitAt(d, at)
	if err := d.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n, waiting = len(s.ack), len(s.inflight)
		committed, early := s.committed, s.early
		s.mu.Unlock()
		if n == 2 && waiting == 0 {
			if committed != 2 || early != 1 {
				t.Fatalf("%d ops counted committed and %d early, want 2 and 1", committed, early)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ack samples and %d ops waiting, want 2 and 0", n, waiting)
		}
		time.Sleep(time.Millisecond)
	}

	// An edit that changes nothing sends no op: it is neither measured
	// against the last op's (older) ack nor left waiting for an ack.
	seqBefore := d.EditSeq()
	if err := d.Edit(func(string) ot.Op { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := d.EditSeq(); got != seqBefore {
		t.Fatalf("an empty edit moved EditSeq from %d to %d", seqBefore, got)
	}
	s.submitAt(d, time.Now())
	s.mu.Lock()
	n, waiting = len(s.ack), len(s.inflight)
	committed, early := s.committed, s.early
	s.mu.Unlock()
	if n != 2 || waiting != 0 || committed != 2 || early != 1 {
		t.Fatalf("after an empty edit: %d ack samples, %d waiting, %d committed, %d early; want 2, 0, 2, 1", n, waiting, committed, early)
	}
}

// TestCollectBeforeWindow: the collection runOpenLoop makes once the clients
// are connected sets the heap goal from the heap they keep (live x (1 +
// GOGC/100)), where it was set by a collection made while they connected.
func TestCollectBeforeWindow(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(fleetLoadGenGOGC))
	runtime.GC() // the last collection sees a small heap, as before the clients connect
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	goal := collectBeforeWindow()
	if want := uint64(len(live)<<20) * (1 + fleetLoadGenGOGC/100); goal < want {
		t.Fatalf("heap goal %d MiB after the collection, want at least %d MiB", goal>>20, want>>20)
	}
	runtime.KeepAlive(live)
}
