package server

import (
	"context"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// smallBufListener shrinks the kernel send buffer of the first n accepted
// sockets (the slow clients': they connect first), so that a client that
// stops reading backs the server up after kilobytes rather than megabytes.
// Only those: on loopback a 16 KiB send buffer also throttles a client that
// does read, since the sender then waits for delayed ACKs (tens of
// milliseconds) with its buffer full, and the fast client would be closed as
// slow.
type smallBufListener struct {
	net.Listener
	n        int32
	accepted atomic.Int32
}

func (l *smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && l.accepted.Add(1) <= l.n {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// serveSlow serves a Server built with cfg on st whose first n accepted
// sockets have small send buffers (smallBufListener).
func serveSlow(t *testing.T, st store.Store, cfg Config, n int32) *testServer {
	t.Helper()
	srv, err := New(cfg, st, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener = &smallBufListener{Listener: hs.Listener, n: n}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &testServer{srv: srv, ts: hs, st: st}
}

// dialSlow connects a client with a small receive buffer, which reads only
// when told to.
func (ts *testServer) dialSlow(t *testing.T) *wsClient {
	t.Helper()
	return ts.dialReadBuffer(t, 16<<10)
}

// dialReadBuffer connects a client whose socket has a receive buffer of
// size bytes (the kernel may round it), which reads only when told to.
func (ts *testServer) dialReadBuffer(t *testing.T, size int) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(size)
		}
		return c, err
	}}
	c, resp, err := d.Dial(ts.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, c: c}
}

// blockOp is the i-th op (from 1) of a writer that replaces one 4 KiB block
// per op, so that every broadcast is ~4 KiB while the document stays small.
func blockOp(i int) ot.Op {
	op := ot.Op{{Insert: strings.Repeat(string(rune('a'+i%26)), 4096)}}
	if i > 1 {
		op = append(op, ot.Component{Delete: 4096})
	}
	return op
}

func TestSlowConsumerIsClosedAndCatchesUp(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "doc", "")
	cfg := DefaultConfig()
	cfg.OutboxMaxBytes = 256 << 10
	cfg.OpRate, cfg.OpBurst = 10000, 10000
	ts := serveSlow(t, st, cfg, 1)
	srv := ts.srv

	// The slow client never reads until told to.
	slow := ts.dialSlow(t)
	slow.send(&wire.Hello{Proto: 1, SID: "slow-client-0000000"})
	slow.expect("welcome")
	slow.join("doc", nil)

	fast := ts.connect(t, "fast-client-0000000")
	fast.join("doc", nil)
	writer := ts.connect(t, "writer-client-00000")
	writer.join("doc", nil)

	// The writer replaces a 4 KiB block per op (blockOp).
	var (
		mu      sync.Mutex
		sentAt  = map[int64]time.Time{}
		latency []time.Duration
	)
	fastDone := make(chan error, 1)
	const total = 400
	go func() {
		for {
			m, err := fast.read(10 * time.Second)
			if err != nil {
				fastDone <- err
				return
			}
			if m["t"] != "op" {
				continue
			}
			seq := num(t, m["seq"])
			mu.Lock()
			latency = append(latency, time.Since(sentAt[seq]))
			mu.Unlock()
			if seq == total {
				fastDone <- nil
				return
			}
		}
	}()
	for i := 1; i <= total; i++ {
		op := blockOp(i)
		mu.Lock()
		sentAt[int64(i)] = time.Now()
		mu.Unlock()
		writer.send(&wire.Op{Doc: "doc", V: int64(i - 1), Seq: int64(i), Op: op})
		writer.expectSkipping("ack", "presence")
	}
	if err := <-fastDone; err != nil {
		t.Fatalf("the fast client stopped: %v", err)
	}
	if n := counterValue(t, srv.metrics.slowCloses); n != 1 {
		t.Fatalf("slow closes = %v, want 1", n)
	}
	mu.Lock()
	slices.Sort(latency)
	p50, p99, worst := latency[len(latency)/2], latency[len(latency)*99/100], latency[len(latency)-1]
	mu.Unlock()
	t.Logf("fast client latency while the slow one stalled: p50 %v, p99 %v, max %v over %d ops", p50, p99, worst, total)
	if p99 > time.Second {
		t.Fatalf("the fast client's p99 latency %v: the slow client held it up", p99)
	}

	// The slow client wakes up: it gets what was in flight, then 1013.
	lastV := int64(0)
	var code int
	for {
		m, err := slow.read(10 * time.Second)
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok {
				t.Fatalf("slow client: %v", err)
			}
			code = ce.Code
			break
		}
		if m["t"] == "op" {
			v := num(t, m["v"])
			if v != lastV {
				t.Fatalf("slow client got v%d after v%d: a gap", v, lastV-1)
			}
			lastV = v + 1
		}
	}
	if code != websocket.CloseTryAgainLater && code != websocket.ClosePolicyViolation {
		t.Fatalf("slow client closed with %d, want 1013 or 1008", code)
	}
	if lastV >= total {
		t.Fatalf("the slow client received everything (%d ops) before the close: it was not slow", lastV)
	}

	// It re-joins with its version and catches up.
	again := ts.connect(t, "slow-client-0000000")
	j := again.join("doc", &lastV)
	text, v := docText(t, st, "doc")
	if num(t, j["v"]) != v {
		t.Fatalf("re-join at v%d, store at v%d", num(t, j["v"]), v)
	}
	if j["text"] != nil {
		if j["text"] != text {
			t.Fatal("re-join text differs from the store")
		}
		return
	}
	ops := j["ops"].([]any)
	if int64(len(ops)) != v-lastV {
		t.Fatalf("re-join from v%d got %d ops, want %d", lastV, len(ops), v-lastV)
	}
	t.Logf("slow client received %d of %d ops, closed with %d, caught up with %d ops on re-join", lastV, total, code, len(ops))
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
