package server

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

func TestDefaultOutboxBudget(t *testing.T) {
	b := DefaultOutboxBudget()
	if b < minOutboxBudget || b != DefaultConfig().OutboxBudget {
		t.Fatalf("DefaultOutboxBudget = %d: want at least %d and the DefaultConfig value", b, minOutboxBudget)
	}
	t.Logf("default outbox budget on this machine: %d MiB", b>>20)
}

// TestOutboxBudget: three clients that stop reading on a busy document, a
// budget far below what their own bounds allow: the server closes the
// largest queues with 1013 while a reader that reads keeps everything, and
// once everyone is gone every byte charged has been released.
func TestOutboxBudget(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "doc", "")
	const stalled = 3
	cfg := DefaultConfig()
	cfg.OutboxMaxBytes = 8 << 20 // the budget, not each connection's bound, must act
	cfg.OutboxBudget = 512 << 10
	cfg.OpRate, cfg.OpBurst = 10000, 10000
	ts := serveSlow(t, st, cfg, stalled)
	srv := ts.srv
	var slow []*wsClient
	for i := range stalled {
		w := ts.dialSlow(t)
		w.send(&wire.Hello{Proto: 1, SID: "stalled-client-000" + string(rune('0'+i))})
		w.expect("welcome")
		w.join("doc", nil)
		slow = append(slow, w)
	}
	reader := ts.connect(t, "reader-client-00000")
	reader.join("doc", nil)
	writer := ts.connect(t, "writer-client-00000")
	writer.join("doc", nil)

	block := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 4096) }
	const total = 300
	readerDone := make(chan error, 1)
	go func() {
		for {
			m, err := reader.read(10 * time.Second)
			if err != nil {
				readerDone <- err
				return
			}
			if m["t"] == "op" && num(t, m["seq"]) == total {
				readerDone <- nil
				return
			}
		}
	}()
	for i := 1; i <= total; i++ {
		op := ot.Op{{Insert: block(i)}}
		if i > 1 {
			op = append(op, ot.Component{Delete: 4096})
		}
		writer.send(&wire.Op{Doc: "doc", V: int64(i - 1), Seq: int64(i), Op: op})
		writer.expectSkipping("ack", "presence")
		if used := srv.budget.used.Load(); used > cfg.OutboxBudget {
			t.Fatalf("claims at %d bytes, past the budget of %d", used, cfg.OutboxBudget)
		}
	}
	if err := <-readerDone; err != nil {
		t.Fatalf("the reader was cut off: %v", err)
	}
	if n := counterValue(t, srv.metrics.budgetCloses); n < 1 {
		t.Fatalf("budget closes = %v, want at least 1", n)
	}
	// The stalled clients wake up: each was closed (1013, or cut off when it
	// did not take even its close frame within the grace).
	for i, s := range slow {
		for {
			_, err := s.read(10 * time.Second)
			if err == nil {
				continue
			}
			if ce, ok := err.(*websocket.CloseError); ok && ce.Code != websocket.CloseTryAgainLater && ce.Code != websocket.CloseAbnormalClosure {
				t.Fatalf("stalled client %d closed with %d", i, ce.Code)
			}
			break
		}
	}
	reader.c.Close()
	writer.c.Close()
	testkit.WaitFor(t, 10*time.Second, "every claim to be released", func() bool { return srv.budget.used.Load() == 0 })
	t.Logf("budget closes %v, slow closes %v", counterValue(t, srv.metrics.budgetCloses), counterValue(t, srv.metrics.slowCloses))
}

// TestOutboxBudgetRefusesPastTheLimit: the budget is enforced when a claim
// is charged. A charge that would pass it closes the connections whose claims
// are larger than the asker's, largest first, and is charged once that made
// room; when nothing larger is left to close, the asker itself is closed and
// the total never passes the budget. (Connections without a socket, and a
// budget whose reclaimer does not run, so that only the charge path acts.)
func TestOutboxBudgetRefusesPastTheLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OutboxMaxBytes = 1 << 20
	srv, err := New(cfg, memStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	reclaimer := srv.budget
	t.Cleanup(reclaimer.close)
	const kib = 1 << 10
	srv.budget = &outboxBudget{srv: srv, limit: 100 * kib, high: 100 * kib, wake: make(chan struct{}, 1)}
	conns := map[string]*conn{}
	for _, name := range []string{"large", "medium", "small", "asker"} {
		c := newConn(srv, auth.Principal{}, nil)
		c.sid = name
		srv.conns[c] = struct{}{}
		conns[name] = c
	}
	queue := func(name string, n int) bool { return conns[name].sendAll([][]byte{make([]byte, n)}, nil) }
	for _, q := range []struct {
		name string
		n    int
	}{{"large", 50 * kib}, {"medium", 30 * kib}, {"small", 10 * kib}} {
		if !queue(q.name, q.n) {
			t.Fatalf("%s refused under the budget", q.name)
		}
	}
	if got := srv.budget.used.Load(); got != 90*kib {
		t.Fatalf("claimed %d, want %d", got, 90*kib)
	}
	// 20 KiB more would pass 100: the largest claim (50 KiB) goes, not the
	// medium one, and the asker is charged.
	if !queue("asker", 20*kib) {
		t.Fatal("the asker was refused although a larger claim could be closed")
	}
	if !conns["large"].closing() || conns["medium"].closing() || conns["small"].closing() {
		t.Fatalf("closing: large %v, medium %v, small %v; want the large one only",
			conns["large"].closing(), conns["medium"].closing(), conns["small"].closing())
	}
	if got := srv.budget.used.Load(); got != 60*kib {
		t.Fatalf("claimed %d after making room, want %d", got, 60*kib)
	}
	// The asker grows past everyone else: 45 KiB more would make 105 KiB, and
	// no claim is larger than its own, so it is the one closed.
	if queue("asker", 45*kib) {
		t.Fatal("a charge past the budget was accepted")
	}
	if !conns["asker"].closing() || conns["medium"].closing() {
		t.Fatalf("closing: asker %v, medium %v; want the asker only", conns["asker"].closing(), conns["medium"].closing())
	}
	if got, max := srv.budget.used.Load(), srv.budget.limit; got > max {
		t.Fatalf("claimed %d, past the budget %d", got, max)
	}
	if got := srv.budget.used.Load(); got != 40*kib {
		t.Fatalf("claimed %d, want the medium and small queues (%d)", got, 40*kib)
	}
	if n := counterValue(t, srv.metrics.budgetCloses); n != 2 {
		t.Fatalf("budget closes = %v, want 2", n)
	}
}

func TestOutboxBudgetReserve(t *testing.T) {
	for _, tc := range []struct {
		used, n int64
		ok      bool
	}{
		{0, 100, true},
		{50, 50, true},
		{50, 51, false},
		{100, 1, false},
		{0, 101, false},
	} {
		b := &outboxBudget{limit: 100, high: 75, wake: make(chan struct{}, 1)}
		b.used.Store(tc.used)
		if got := b.reserve(tc.n); got != tc.ok {
			t.Errorf("used %d, reserve %d: %v, want %v", tc.used, tc.n, got, tc.ok)
		}
		want := tc.used
		if tc.ok {
			want += tc.n
		}
		if got := b.used.Load(); got != want {
			t.Errorf("used %d, reserve %d: total %d, want %d", tc.used, tc.n, got, want)
		}
		if woke := len(b.wake) == 1; woke != (tc.used+tc.n > b.high) {
			t.Errorf("used %d, reserve %d: reclaimer woken %v", tc.used, tc.n, woke)
		}
	}
}
