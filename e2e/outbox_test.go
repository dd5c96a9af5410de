//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// The slow-reader load of the outbox budget (docs/benchmarks.md, "outbox"):
// 1,000 joined sockets that never read, on a document taking 500 ops/s of
// 1 KiB inserts for 30 s, on the real binary with Postgres.
const (
	stalledSockets = 1000
	loadWriters    = 5
	opsPerWriter   = 100 // per second: 500 ops/s in all
	loadFor        = 30 * time.Second
	baselineFor    = 5 * time.Second
	outboxBudget   = 64 << 20
	// outboxMemLimit is the server's GOMEMLIMIT, as the README advises next
	// to TANDEM_OUTBOX_BUDGET: the Go runtime's memory at idle plus the
	// budget. GOMEMLIMIT bounds the runtime's memory, not the RSS, which also
	// holds the binary's own pages (18-20 MiB in every run: RSS 86 MiB and
	// runtime 67 MiB at idle in one), so a limit of the idle RSS plus the
	// budget let the peak pass the bound by about that (178 MiB against
	// 101 + 64 in one CI run, with a limit of 160 MiB). The runtime's idle
	// memory here was 49-67 MiB in 8 runs (the idle RSS 68-86 MiB): 112 MiB
	// is at most the smallest of them plus the budget. Without a limit the
	// collector lets the heap grow to twice what is live, and the full budget
	// would cost twice itself.
	outboxMemLimit = 112 << 20
	opBytes        = 1024
	docCap         = 64 << 10 // writers trim the document back to about this
	// ackWindowLen is the window of the load whose ack p99 is checked
	// against the baseline's: each one, the first included (from fillFor).
	ackWindowLen = 5 * time.Second
	// fillFor is the start of the load while the stalled sockets still take
	// data, and fillP99Limit the bound of the readers' ack p99 then (see the
	// test).
	fillFor      = time.Second
	fillP99Limit = time.Second
	// windowP99Factor and windowP99Slack bound each window's ack p99
	// against the baseline's (see the test).
	windowP99Factor = 4
	windowP99Slack  = 50 * time.Millisecond
	// loadP99Factor and loadP99Slack bound the whole load's ack p99 against
	// the baseline's (see the test).
	loadP99Factor = 3
	loadP99Slack  = 30 * time.Millisecond
)

// TestOutboxBudgetUnderStalledReaders checks what the outbox budget promises:
// the server's peak RSS stays under its idle RSS plus the budget, the clients
// that read keep their ack latency, nothing committed is lost, and the
// stalled clients, once they read again, re-join and catch up.
func TestOutboxBudgetUnderStalledReaders(t *testing.T) {
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	c.env = []string{"TANDEM_OUTBOX_BUDGET=" + strconv.Itoa(outboxBudget), "GOMEMLIMIT=" + strconv.Itoa(outboxMemLimit)}
	nd := c.start(1)[0]
	c.createDoc("hot", "")
	pid := nd.p.Cmd.Process.Pid

	// The clients that read: writers (whose acks are measured) and readers.
	writers := make([]*loadWriter, loadWriters)
	for i := range writers {
		writers[i] = newLoadWriter(t, i, nd)
	}
	var readers []*client.Doc
	// The writers read each other's ops; one more client only reads.
	readers = append(readers, collab.Open(t, dial(t, 50, nd.wsURL()), "hot"))

	start := time.Now()
	phase := func(what string) { t.Logf("%s at %v", what, time.Since(start).Round(100*time.Millisecond)) }
	base := runLoad(t, writers, baselineFor)
	t.Logf("baseline without stalled sockets: %d acks, p50 %v, p99 %v", len(base), pct(base, 0.5), pct(base, 0.99))

	// The stalled sockets: hello, join and its answer, then never read. The
	// kernel buffers (some hundred KiB a socket) fill within a second of load,
	// then the server's queues for them grow.
	stalled := dialStalled(t, nd, stalledSockets)
	phase("stalled sockets joined")
	time.Sleep(2 * time.Second) // let the joins settle
	idle := procMem(t, pid)
	goIdle := int64(-1)
	if ms, err := metricValues(nd); err == nil {
		goIdle = int64(ms["go_memstats_sys_bytes"] - ms["go_memstats_heap_released_bytes"])
	}
	t.Logf("idle with %d stalled and %d reading sockets: RSS %d MiB (peak so far %d MiB), of which the Go runtime's memory %d MiB",
		stalledSockets, loadWriters+len(readers), idle.rss>>20, idle.hwm>>20, goIdle>>20)

	// Where the memory goes: sampled every 250 ms, the server's RSS beside
	// its outbox claims and the Go runtime's own account of its memory; the
	// sample at the highest RSS is logged.
	mem := newMemWatch(t, nd, pid)
	cpu0, self0 := procCPU(t, pid), selfCPU()
	loadStart := time.Now()
	load := runLoad(t, writers, loadFor)
	cpu1, self1 := procCPU(t, pid), selfCPU()
	t.Logf("CPU during the load: server %v, this test process %v", cpu1-cpu0, self1-self0)
	mw := mem.stop()
	peak := procMem(t, pid)
	closes, _ := metricValue(nd, "tandem_outbox_budget_closes_total")
	paced, _ := metricValue(nd, "tandem_outbox_paced_total")
	committed := int64(0)
	for _, w := range writers {
		committed += w.acked.Load()
	}
	t.Logf("under load: %d acks in %v (%.0f ops/s), p50 %v, p99 %v", len(load), loadFor, float64(len(load))/loadFor.Seconds(), pct(load, 0.5), pct(load, 0.99))
	wins := ackWindows(writers, loadStart, 0, loadFor, ackWindowLen)
	t.Logf("ack p99 by 5 s of the load: %s", windowsP99(wins))
	t.Logf("ack p99 by second of the load: %s", windowsP99(ackWindows(writers, loadStart, 0, loadFor, time.Second)))
	t.Logf("ack p99 by 100 ms of its first second: %s", windowsP99(ackWindows(writers, loadStart, 0, loadFor, 100*time.Millisecond)[:int(fillFor/(100*time.Millisecond))]))
	fill, settled := acksIn(writers, loadStart, 0, fillFor), acksIn(writers, loadStart, fillFor, math.MaxInt64)
	t.Logf("ack p99 while the kernel buffers fill (first %v): %v (%d acks); after: %v (%d acks)", fillFor, pct(fill, 0.99), len(fill), pct(settled, 0.99), len(settled))
	t.Logf("server RSS: idle %d MiB, peak %d MiB (budget %d MiB); outbox claims peaked at %d MiB; %v budget closes; %v times a connection was paced",
		idle.rss>>20, peak.hwm>>20, outboxBudget>>20, mw.maxClaimed>>20, closes, paced)
	p := mw.atPeak
	t.Logf("at the highest sampled RSS (%d MiB): outbox claims %d MiB, Go heap in use %d MiB (allocated objects %d MiB, next GC at %d MiB), stacks %d MiB, Go runtime memory (obtained minus released: what GOMEMLIMIT bounds) %d MiB, %d goroutines",
		p.rss>>20, p.claimed>>20, p.heapInuse>>20, p.heapAlloc>>20, p.nextGC>>20, p.stackInuse>>20, (p.sys-p.heapReleased)>>20, p.goroutines)
	if out := os.Getenv("TANDEM_OUTBOX_REPORT"); out != "" {
		// The figures for docs/benchmarks.md, as one line.
		var winP99 []string
		for _, w := range wins {
			winP99 = append(winP99, pct(w.lat, 0.99).String())
		}
		line := fmt.Sprintf("idle_rss_mib=%d peak_rss_mib=%d budget_mib=%d max_claimed_mib=%d budget_closes=%v ops_per_s=%.0f base_p50=%v base_p99=%v load_p50=%v load_p99=%v fill_p99=%v settled_p99=%v window_p99=%s server_cpu=%v\n",
			idle.rss>>20, peak.hwm>>20, outboxBudget>>20, mw.maxClaimed>>20, closes, float64(len(load))/loadFor.Seconds(),
			pct(base, 0.5), pct(base, 0.99), pct(load, 0.5), pct(load, 0.99), pct(fill, 0.99), pct(settled, 0.99), strings.Join(winP99, ","), cpu1-cpu0)
		_ = os.WriteFile(out, []byte(line), 0o644)
	}
	if peak.hwm > idle.rss+outboxBudget {
		t.Errorf("peak RSS %d MiB is over idle %d MiB plus the budget %d MiB", peak.hwm>>20, idle.rss>>20, outboxBudget>>20)
	}
	if closes < 1 {
		t.Errorf("no connection was closed for the budget: the test did not load it")
	}
	// The bound is loose on purpose: CI shares its two cores with other jobs,
	// and Postgres' commit time alone moves by several times between two runs
	// there. What it catches is readers held up by the stalled sockets for
	// seconds (the writer waiting on them); docs/benchmarks.md has the figures.
	if p99, limit := pct(load, 0.99), 3*pct(base, 0.99)+time.Second; p99 > limit {
		t.Errorf("ack p99 under load %v, over 3x the baseline's plus 1s (%v)", p99, limit)
	}
	// The readers keep their ack p99 over the whole load, its first second
	// included: within loadP99Factor times the baseline's plus loadP99Slack,
	// and in every 5 s window after the first second within windowP99Factor
	// times the baseline's plus windowP99Slack (the first window with the
	// first second in it passed that bound in 8 of 9 runs of the branch
	// that paced the stalled sockets; it failed once, 127 ms against 106,
	// while the box's load rose from 2 to 4.5). It fails when the stalled
	// sockets hold the
	// readers up: before pacing (pacing.go), while their kernel buffers
	// filled (the first ~0.7 s: 60-220 ms acks, the whole load's p99 4-30
	// times the baseline's), or when closing them did, as the reclaimer's
	// pass over every connection for each charge did while the closed ones'
	// frames were still held (324 ms against a bound of 65 ms in one run at
	// load average 8.5; docs/benchmarks.md, issue 18).
	if p99, limit := pct(load, 0.99), loadP99Factor*pct(base, 0.99)+loadP99Slack; p99 > limit {
		t.Errorf("ack p99 under load %v, over %dx the baseline's plus %v (%v)", p99, loadP99Factor, loadP99Slack, limit)
	}
	for _, w := range ackWindows(writers, loadStart, fillFor, loadFor, ackWindowLen) {
		if p99, limit := pct(w.lat, 0.99), windowP99Factor*pct(base, 0.99)+windowP99Slack; p99 > limit {
			t.Errorf("ack p99 in %v-%v of the load %v, over %dx the baseline's plus %v (%v)", w.from, w.to, p99, windowP99Factor, windowP99Slack, limit)
		}
	}
	// While the stalled sockets still take data (the first ~0.2 s, until
	// each is paced at some 40 KiB; before pacing ~0.7 s and ~250 KiB each),
	// the server writes every commit to 1,000 sockets and the readers' acks
	// wait behind those writers in the Go run queues: 20-40 ms at p99 in
	// the first 100 ms (docs/benchmarks.md, issue 18, "Pacing"). What this
	// catches on its own is readers held up for a second or more.
	if p99 := pct(fill, 0.99); p99 > fillP99Limit {
		t.Errorf("ack p99 in the first %v of the load %v, over %v", fillFor, p99, fillP99Limit)
	}

	// Nothing committed is lost: every client that reads and the store agree,
	// and the store holds every acknowledged op.
	docs := append(slices.Clone(readers), writerDocs(writers)...)
	text, v := collab.Converge(t, docs, 30*time.Second)
	t.Logf("the document: %d bytes at v%d", len(text), v)
	ops := c.checkStore("hot", "", text, v)
	if int64(len(ops)) < committed {
		t.Fatalf("the store holds %d ops, %d were acknowledged", len(ops), committed)
	}

	// The stalled clients read again: what they got, then the close; they
	// re-join with their version and catch up.
	phase("load done and checked")
	caughtUp := wakeStalled(t, nd, stalled, text, v)
	phase("stalled clients caught up")
	t.Logf("%d stalled clients woke up (%d found a 1013 close, %d had been cut off, %d were still open), re-joined and caught up to v%d (%d with ops, %d with the text)",
		len(stalled), caughtUp.closed1013, caughtUp.cutOff, caughtUp.open, v, caughtUp.ops, caughtUp.text)
}

// ---- the writers ----

// loadWriter submits 1 KiB inserts at a fixed rate (an open loop: an edit
// made while one is in flight is buffered, as an editor does) and measures
// the ack latency of each: from the edit to the ack of the op carrying it.
type loadWriter struct {
	d     *client.Doc
	mu    sync.Mutex
	sent  []sentEdit // edits not yet acknowledged, in seq order
	lat   []time.Duration
	latAt []time.Time // when each of lat was measured
	acked atomic.Int64
}

type sentEdit struct {
	seq int64
	at  time.Time
}

func newLoadWriter(t *testing.T, i int, nd *node) *loadWriter {
	w := &loadWriter{}
	w.d = collab.Open(t, dial(t, i, nd.wsURL()), "hot", client.OnAck(w.onAck))
	return w
}

func (w *loadWriter) onAck(a client.AckInfo) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for n < len(w.sent) && w.sent[n].seq <= a.Seq {
		w.lat = append(w.lat, now.Sub(w.sent[n].at))
		w.latAt = append(w.latAt, now)
		n++
	}
	w.sent = w.sent[n:]
	w.acked.Add(1)
}

// edit inserts 1 KiB at the start and, past docCap, deletes everything past
// docCap at the end, so the document stays small while every op carries
// 1 KiB. Deleting only 1 KiB, as this did first, let the document grow to
// megabytes: writers that trim at the same time delete the same tail, and
// the transformed deletes collapse into one, so the server's own memory
// under the load was the copies of a growing text, not its outboxes. The
// text is ASCII, so its length in bytes is its length in code points:
// counting them (and reading the text back with Snapshot) cost the
// generator more CPU than the server spent on the load.
func (w *loadWriter) edit(k int) error {
	block := strings.Repeat(string(rune('a'+k%26)), opBytes)
	err := w.d.Edit(func(text string) ot.Op {
		n := len(text)
		if n <= docCap-opBytes {
			return ot.Op{{Insert: block}}
		}
		keep := docCap - opBytes
		return ot.Op{{Insert: block}, {Retain: keep}, {Delete: n - keep}}
	})
	if err != nil {
		return err
	}
	// The seq that carries this edit: the one in flight if it went at once,
	// else the next one (the buffer goes out after the in-flight op).
	pending := w.d.Pending()
	seq := w.d.LastSeq()
	if pending == 2 {
		seq++
	}
	w.mu.Lock()
	if n := len(w.sent); n > 0 && w.sent[n-1].seq > seq {
		seq = w.sent[n-1].seq
	}
	w.sent = append(w.sent, sentEdit{seq: seq, at: time.Now()})
	w.mu.Unlock()
	return nil
}

func writerDocs(ws []*loadWriter) []*client.Doc {
	out := make([]*client.Doc, len(ws))
	for i, w := range ws {
		out[i] = w.d
	}
	return out
}

// runLoad runs every writer at opsPerWriter for d, waits for the acks, and
// returns the ack latencies of that run.
func runLoad(t *testing.T, ws []*loadWriter, d time.Duration) []time.Duration {
	t.Helper()
	for _, w := range ws {
		w.mu.Lock()
		w.lat, w.latAt = nil, nil
		w.mu.Unlock()
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ws))
	for _, w := range ws {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / opsPerWriter)
			defer tick.Stop()
			end := time.Now().Add(d)
			for k := 0; time.Now().Before(end); k++ {
				<-tick.C
				if err := w.edit(k); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var all []time.Duration
	for i, w := range ws {
		if err := w.d.WaitSynced(ctx); err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		w.mu.Lock()
		all = append(all, w.lat...)
		w.mu.Unlock()
	}
	slices.Sort(all)
	return all
}

// ackWindow is the ack latencies of the last run measured in [from, to)
// after its start, sorted.
type ackWindow struct {
	from, to time.Duration
	lat      []time.Duration
}

// ackWindows splits the ack latencies of the last run, which began at start
// and offered edits for total, into windows of d by when each ack came,
// leaving out the acks of its first skip. The acks of the edits still in
// flight when it ended, which come after total, count in the last window.
func ackWindows(ws []*loadWriter, start time.Time, skip, total, d time.Duration) []ackWindow {
	var wins []ackWindow
	for from := time.Duration(0); from < total; from += d {
		w := ackWindow{from: max(from, skip), to: min(from+d, total)}
		if w.from >= w.to {
			continue
		}
		to := w.to
		if to == total {
			to = math.MaxInt64
		}
		w.lat = acksIn(ws, start, w.from, to)
		wins = append(wins, w)
	}
	return wins
}

// acksIn is the ack latencies of the last run, which began at start, that
// were measured between from and to into it, sorted.
func acksIn(ws []*loadWriter, start time.Time, from, to time.Duration) []time.Duration {
	var lat []time.Duration
	for _, w := range ws {
		w.mu.Lock()
		for i, at := range w.latAt {
			if d := at.Sub(start); d >= from && d < to {
				lat = append(lat, w.lat[i])
			}
		}
		w.mu.Unlock()
	}
	slices.Sort(lat)
	return lat
}

// windowsP99 lists each window's ack p99 and its number of acks.
func windowsP99(wins []ackWindow) string {
	var b strings.Builder
	for _, w := range wins {
		fmt.Fprintf(&b, "%v-%v: %v (%d); ", w.from, w.to, pct(w.lat, 0.99), len(w.lat))
	}
	return b.String()
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))].Round(100 * time.Microsecond)
}

// ---- the stalled sockets ----

type stalledConn struct {
	sid string
	ws  *websocket.Conn
	v   int64 // the version of the joined answer, then of the last op read
}

// dialStalled opens n raw sockets that say hello, join "hot", read the
// answer, and read nothing more.
func dialStalled(t *testing.T, nd *node, n int) []*stalledConn {
	t.Helper()
	// A 64 KiB receive buffer: with the default one the kernel's autotuning
	// lets each stalled socket swallow megabytes before the server's queues
	// see anything. Not smaller: below the loopback MSS (64 KiB) the kernel
	// holds back window updates and even the joined answer crawls in.
	d := websocket.Dialer{Subprotocols: []string{"tandem.v1"}, HandshakeTimeout: 60 * time.Second,
		NetDial: func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(64 << 10)
			}
			return c, err
		}}
	out := make([]*stalledConn, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range out {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sc := &stalledConn{sid: fmt.Sprintf("stalled-%04d-0123456789", i)}
			ws, resp, err := d.Dial(nd.wsURL(), nil)
			if err != nil {
				errs <- fmt.Errorf("dial %d: %w", i, err)
				return
			}
			resp.Body.Close()
			sc.ws = ws
			for _, m := range []wire.Message{&wire.Hello{Proto: 1, SID: sc.sid}, &wire.Join{Doc: "hot"}} {
				b, _ := wire.Encode(m)
				if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
					errs <- fmt.Errorf("socket %d: %w", i, err)
					return
				}
			}
			for sc.v = -1; sc.v < 0; {
				_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
				_, b, err := ws.ReadMessage()
				if err != nil {
					errs <- fmt.Errorf("socket %d: waiting for joined: %w", i, err)
					return
				}
				msgs, err := frameMsgs(b)
				if err != nil {
					errs <- fmt.Errorf("socket %d: %w", i, err)
					return
				}
				for _, m := range msgs {
					if m["t"] == "joined" {
						sc.v = toInt(m["v"])
					}
				}
			}
			out[i] = sc
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, sc := range out {
			_ = sc.ws.Close()
		}
	})
	return out
}

// frameMsgs decodes a server frame: one map, or an array of maps.
func frameMsgs(b []byte) ([]map[string]any, error) {
	var v any
	if err := msgpack.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case map[string]any:
		return []map[string]any{m}, nil
	case []any:
		out := make([]map[string]any, 0, len(m))
		for _, x := range m {
			mm, ok := x.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("array frame holds a %T", x)
			}
			out = append(out, mm)
		}
		return out, nil
	}
	return nil, fmt.Errorf("frame holds a %T", v)
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	}
	return -1
}

type catchUp struct{ ops, text, closed1013, cutOff, open int64 }

// wakeStalled makes every stalled socket read what the server sent it (ops
// in order with no gap) up to the close, then re-join with the version it
// reached on a new socket: the answer must bring it to version v (the ops it
// missed, or the whole text, equal to text). The end of a stalled session is
// the close frame (1013), or, for a socket cut off because it did not take
// even that within a second, a reset, an end of file or 1 s of silence (the
// kernel may drop a closed socket's unsent data for a peer that advertises
// no room): what a client's read timeout is for. The load is over by then,
// so a second without data means the socket holds nothing more.
func wakeStalled(t *testing.T, nd *node, stalled []*stalledConn, text string, v int64) catchUp {
	t.Helper()
	var res catchUp
	var mu sync.Mutex
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	errs := make(chan error, len(stalled))
	for _, sc := range stalled {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			have := sc.v
			for {
				_ = sc.ws.SetReadDeadline(time.Now().Add(time.Second))
				_, b, err := sc.ws.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) && ce.Code != websocket.CloseTryAgainLater && ce.Code != websocket.CloseAbnormalClosure {
						errs <- fmt.Errorf("%s: closed with %d", sc.sid, ce.Code)
						return
					}
					var ne net.Error
					mu.Lock()
					switch {
					case errors.As(err, &ce) && ce.Code == websocket.CloseTryAgainLater:
						res.closed1013++
					case errors.As(err, &ne) && ne.Timeout():
						res.open++ // never closed: it read everything sent
					default:
						res.cutOff++
					}
					mu.Unlock()
					break
				}
				msgs, err := frameMsgs(b)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", sc.sid, err)
					return
				}
				for _, m := range msgs {
					switch m["t"] {
					case "op":
						if ov := toInt(m["v"]); ov != have {
							errs <- fmt.Errorf("%s: op v%d after v%d: a gap", sc.sid, ov, have)
							return
						}
						have++
					}
				}
			}
			// Re-join from the version reached, as a client does: a
			// connection lost before the answer (the budget may close it
			// while the whole herd catches up at once) is tried again.
			var err error
			for attempt := 0; attempt < 10; attempt++ {
				var retry bool
				retry, err = rejoin(nd, sc.sid, have, text, v, &mu, &res)
				if !retry {
					break
				}
				time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", sc.sid, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return res
}

// ---- the server process ----

type memSample struct{ rss, hwm int64 }

// procMem reads VmRSS and VmHWM (peak RSS) of pid from /proc.
func procMem(t *testing.T, pid int) memSample {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the server's memory: %v", err)
	}
	var s memSample
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			s.rss = n << 10
		case "VmHWM:":
			s.hwm = n << 10
		}
	}
	return s
}

// metricValue reads one unlabelled sample from the node's /metrics.
func metricValue(nd *node, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+nd.addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// procCPU is the CPU time (user + system) pid has used, from /proc.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read the server's CPU time: %v", err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// selfCPU is this process's CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rejoin opens a socket for sid, joins "hot" from version have and checks
// that the answer brings it to version v (the ops it missed, or the whole
// text, equal to text). retry reports a connection lost before the answer.
func rejoin(nd *node, sid string, have int64, text string, v int64, mu *sync.Mutex, res *catchUp) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rd := websocket.Dialer{Subprotocols: []string{"tandem.v1"}}
	ws, resp, err := rd.DialContext(ctx, nd.wsURL(), nil)
	if err != nil {
		return true, fmt.Errorf("re-dial: %w", err)
	}
	resp.Body.Close()
	defer ws.Close()
	for _, m := range []wire.Message{&wire.Hello{Proto: 1, SID: sid}, &wire.Join{Doc: "hot", V: &have}} {
		b, _ := wire.Encode(m)
		_ = ws.WriteMessage(websocket.BinaryMessage, b)
	}
	for {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			return true, fmt.Errorf("re-join: %w", err)
		}
		msgs, err := frameMsgs(b)
		if err != nil {
			return false, err
		}
		for _, m := range msgs {
			if m["t"] != "joined" {
				continue
			}
			if jv := toInt(m["v"]); jv != v {
				return false, fmt.Errorf("re-joined at v%d, the store is at v%d", jv, v)
			}
			mu.Lock()
			defer mu.Unlock()
			if jt, ok := m["text"].(string); ok {
				if jt != text {
					return false, fmt.Errorf("re-join text differs from the store's")
				}
				res.text++
				return false, nil
			}
			ops, _ := m["ops"].([]any)
			if int64(len(ops)) != v-have {
				return false, fmt.Errorf("re-join from v%d got %d ops, want %d", have, len(ops), v-have)
			}
			res.ops++
			return false, nil
		}
	}
}

// ---- where the server's memory goes ----

// memSampleFull is one sample of the server's memory: RSS from /proc, the
// rest from its /metrics (tandem_outbox_bytes and the Go collector's).
type memSampleFull struct {
	rss, claimed, heapInuse, heapAlloc, nextGC, stackInuse, heapReleased, sys int64
	goroutines                                                                int64
}

type memWatchResult struct {
	maxClaimed int64
	atPeak     memSampleFull // the sample with the highest RSS
}

// memWatch samples the server's memory every 250 ms until stop.
type memWatch struct {
	stopCh chan struct{}
	done   chan struct{}
	res    memWatchResult
}

func newMemWatch(t *testing.T, nd *node, pid int) *memWatch {
	w := &memWatch{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stopCh:
				return
			case <-time.After(250 * time.Millisecond):
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue
			}
			var s memSampleFull
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					f := strings.Fields(rest)
					n, _ := strconv.ParseInt(f[0], 10, 64)
					s.rss = n << 10
				}
			}
			ms, err := metricValues(nd)
			if err != nil {
				continue
			}
			s.claimed = int64(ms["tandem_outbox_bytes"])
			s.heapInuse = int64(ms["go_memstats_heap_inuse_bytes"])
			s.heapAlloc = int64(ms["go_memstats_heap_alloc_bytes"])
			s.nextGC = int64(ms["go_memstats_next_gc_bytes"])
			s.stackInuse = int64(ms["go_memstats_stack_inuse_bytes"])
			s.heapReleased = int64(ms["go_memstats_heap_released_bytes"])
			s.goroutines = int64(ms["go_goroutines"])
			s.sys = int64(ms["go_memstats_sys_bytes"])
			w.res.maxClaimed = max(w.res.maxClaimed, s.claimed)
			if s.rss > w.res.atPeak.rss {
				w.res.atPeak = s
			}
		}
	}()
	return w
}

func (w *memWatch) stop() memWatchResult {
	close(w.stopCh)
	<-w.done
	return w.res
}

// metricValues reads every unlabelled sample of the node's /metrics.
func metricValues(nd *node) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+nd.addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, nil
}
