package server

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/internal/testkit"
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
		writer.send(&wire.Op{Doc: "doc", V: int64(i - 1), Seq: int64(i), Op: blockOp(i)})
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
	testkit.WaitFor(t, 10*time.Second, "every claim to be released", func() bool { return srv.budget.used.Load() == 0 && srv.budget.closing.Load() == 0 })
	t.Logf("budget closes %v, slow closes %v", counterValue(t, srv.metrics.budgetCloses), counterValue(t, srv.metrics.slowCloses))
}

// TestOutboxBudgetRefusesPastTheLimit: the budget is enforced when a claim
// is charged. A charge that would pass it closes the connections whose claims
// are larger than the asker's, largest first, and is charged once that made
// room; when nothing larger is left to close, the asker itself is closed and
// the total never passes the budget. (Connections without a socket, and a
// budget whose reclaimer does not run, so that only the charge path acts.)
func TestOutboxBudgetRefusesPastTheLimit(t *testing.T) {
	const kib = 1 << 10
	srv, cs := budgetTestServer(t, 100*kib, 100*kib, 4)
	conns := map[string]*conn{}
	for i, name := range []string{"large", "medium", "small", "asker"} {
		cs[i].sid = name
		conns[name] = cs[i]
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

// budgetTestServer is a server whose budget is limit bytes with its high-water
// mark at high and no reclaimer running, so that only the charge path acts,
// and n connections without sockets registered with it.
func budgetTestServer(t *testing.T, limit, high int64, n int) (*Server, []*conn) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.OutboxMaxBytes = 1 << 20
	srv, err := New(cfg, memStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	reclaimer := srv.budget
	t.Cleanup(reclaimer.close)
	srv.budget = &outboxBudget{srv: srv, limit: limit, high: high, low: high, wake: make(chan struct{}, 1)}
	conns := make([]*conn, n)
	for i := range conns {
		c := newConn(srv, auth.Principal{}, nil)
		c.sid = "conn-" + string(rune('a'+i))
		srv.conns[c] = struct{}{}
		conns[i] = c
	}
	return srv, conns
}

// TestOutboxBudgetMakesRoomInOnePass: twenty connections claim the whole
// budget in equal parts (a broadcast to clients that all stopped reading);
// the first refused charge closes, in one pass, as many of them as bring the
// claims back to the high-water mark, so that the charges of the same
// broadcast to the others fit without listing and sorting every connection
// again for each of them, and closing one at a time.
func TestOutboxBudgetMakesRoomInOnePass(t *testing.T) {
	const kib = 1 << 10
	srv, conns := budgetTestServer(t, 100*kib, 75*kib, 21)
	stalled, asker := conns[:20], conns[20]
	for _, c := range stalled {
		if !c.sendAll([][]byte{make([]byte, 5*kib)}, nil) {
			t.Fatal("refused under the budget")
		}
	}
	if !asker.sendAll([][]byte{make([]byte, kib)}, nil) {
		t.Fatal("the asker was refused although larger claims could be closed")
	}
	closed := 0
	for _, c := range stalled {
		if c.closing() {
			closed++
		}
	}
	// 100 KiB + 1 KiB must come down to 75 KiB: six 5 KiB claims go.
	if closed != 6 {
		t.Fatalf("%d connections closed, want 6 (back to the high-water mark in one pass)", closed)
	}
	if got := srv.budget.used.Load(); got != 71*kib {
		t.Fatalf("claimed %d, want %d", got, 71*kib)
	}
	if asker.closing() {
		t.Fatal("the asker was closed")
	}
	// The next charges of the same broadcast fit without closing anyone.
	for _, c := range stalled {
		if !c.closing() && !c.sendAll([][]byte{make([]byte, 256)}, nil) {
			t.Fatal("a charge under the budget was refused")
		}
	}
	if n := counterValue(t, srv.metrics.budgetCloses); n != 6 {
		t.Fatalf("budget closes = %v, want 6", n)
	}
}

// TestOutboxBudgetClosingClaimsDoNotWakeTheReclaimer: the claims of
// connections that take no more frames are freed without closing anyone
// else, so they do not count towards the reclaimer's trigger: while a
// thousand closed connections' writers still held their frames, every charge
// woke the reclaimer for another pass over every connection.
func TestOutboxBudgetClosingClaimsDoNotWakeTheReclaimer(t *testing.T) {
	const kib = 1 << 10
	srv, conns := budgetTestServer(t, 100*kib, 75*kib, 5)
	b := srv.budget
	for i, c := range conns {
		n := 20 * kib
		if i >= 3 {
			n = 10 * kib
		}
		if !c.sendAll([][]byte{make([]byte, n)}, nil) {
			t.Fatal("refused under the budget")
		}
	}
	// Three close normally: their queues wait for their writers (none here).
	for _, c := range conns[:3] {
		c.closeWith(1000, "bye")
	}
	if got := b.closing.Load(); got != 60*kib {
		t.Fatalf("closing claims %d, want %d", got, 60*kib)
	}
	select {
	case <-b.wake:
	default:
	}
	// 81 KiB claimed, past the high-water mark, but only 21 KiB live.
	if !conns[3].sendAll([][]byte{make([]byte, kib)}, nil) {
		t.Fatal("refused under the budget")
	}
	if len(b.wake) != 0 {
		t.Fatalf("the reclaimer was woken with %d KiB live of %d KiB claimed", b.live()/kib, b.used.Load()/kib)
	}
	// A closing connection that goes away takes its claim out of both.
	conns[0].onClose()
	if got, want := b.closing.Load(), int64(40*kib); got != want {
		t.Fatalf("closing claims %d after a release, want %d", got, want)
	}
	if got, want := b.used.Load(), int64(61*kib); got != want {
		t.Fatalf("claimed %d after a release, want %d", got, want)
	}
	// Live claims past the mark wake it.
	conns[1].onClose()
	conns[2].onClose()
	if b.closing.Load() != 0 || b.used.Load() != 21*kib {
		t.Fatalf("closing %d, claimed %d: want 0 and %d", b.closing.Load(), b.used.Load(), 21*kib)
	}
	if !conns[4].sendAll([][]byte{make([]byte, 55*kib)}, nil) {
		t.Fatal("refused under the budget")
	}
	if len(b.wake) != 1 {
		t.Fatalf("the reclaimer was not woken with %d KiB live", b.live()/kib)
	}
}
