package server

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

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
		if used := srv.budget.used.Load(); used > 4*cfg.OutboxBudget {
			t.Fatalf("claims at %d bytes, far past the budget of %d", used, cfg.OutboxBudget)
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
