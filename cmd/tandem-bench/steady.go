package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"
)

// steadyMaxLen is the document length (code points) above which the steady
// and presence workloads start deleting, so long runs keep documents small
// and the measurement is about the server, not about ever longer texts. It is
// also what keeps the load generator affordable: the Go client applies every
// remote op to its text as a string (twice: base and local view), which costs
// time proportional to the document on every receiver.
const steadyMaxLen = 1000

// runSteady spreads C clients over D documents (client i on document i mod D);
// each submits R ops/s on a fixed schedule whatever the server does (open
// loop: an op made while the previous one is in flight is buffered by the
// client, as an editor would). It measures ack latency (submit to the ack of
// the op that carried it) and remote-apply latency (submit on one client to
// the op being applied on each other client of the document).
func runSteady(ctx context.Context, cfg config) (*result, error) {
	if cfg.Rate <= 0 {
		return nil, fmt.Errorf("-rate must be > 0")
	}
	return runOpenLoop(ctx, cfg, max(1, cfg.Docs), 0)
}

// runPresence puts C clients on one document, each moving its caret at P Hz
// (the move carries its time in the presence data) and submitting R ops/s.
func runPresence(ctx context.Context, cfg config) (*result, error) {
	if cfg.PresenceHz <= 0 {
		return nil, fmt.Errorf("-hz must be > 0")
	}
	return runOpenLoop(ctx, cfg, 1, cfg.PresenceHz)
}

// docID is the id of document k of a multi-document run.
func docID(base string, k, n int) string {
	if n == 1 {
		return base
	}
	return fmt.Sprintf("%s-%d", base, k)
}

// clientStats is what one client measures; its callbacks run on the client's
// reader goroutine, its schedule on its own goroutine.
type clientStats struct {
	mu        sync.Mutex
	inflight  []submitted // ops submitted and not yet acknowledged, in seq order
	ack       latencies
	remote    latencies
	presence  latencies
	lastSeen  map[string]int64 // newest presence stamp seen per peer sid
	committed int64            // acknowledged ops, counted until end
	start     time.Time        // start of the load window
	end       time.Time        // end of the load window
	// ackSec and presSec are the second of the load window each ack and
	// presence sample was made in (the op submitted, the caret moved), for
	// the per-second timeline (timeline.go).
	ackSec  []int32
	presSec []int32
	// acked and ackedAt are the newest ack seen and when it came: an op's
	// ack can come in before submitAt records the op (the ack travels on
	// the client's reader while the scheduling goroutine is between Edit
	// and submitAt), and such an op is measured to that ack, not left in
	// inflight for the next op's ack one period later.
	acked   int64
	ackedAt time.Time
	// early counts those ops (the race is rare; the figure says how rare).
	early int64
}

type submitted struct {
	seq int64
	at  time.Time
}

func (s *clientStats) onAck(a client.AckInfo) {
	t := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.inflight) && s.inflight[n].seq <= a.Seq {
		s.ack = append(s.ack, t.Sub(s.inflight[n].at))
		s.ackSec = append(s.ackSec, int32(s.inflight[n].at.Sub(s.start)/time.Second))
		n++
	}
	s.inflight = s.inflight[n:]
	if a.Seq > s.acked {
		s.acked, s.ackedAt = a.Seq, t
	}
	if !t.After(s.end) {
		// Acks that come in while the run settles are latencies, not throughput.
		s.committed += int64(n)
	}
}

func (s *clientStats) onChange(ch client.Change) {
	if ch.Reset {
		return
	}
	t := now()
	s.mu.Lock()
	opStamps(ch.Op, func(at int64) { s.remote = append(s.remote, time.Duration(t-at)) })
	s.mu.Unlock()
}

func (s *clientStats) onPresence(d *client.Doc) {
	t := now()
	peers := d.Peers()
	s.mu.Lock()
	for _, p := range peers {
		at, ok := presenceStamp(p.Data)
		if !ok || at <= s.lastSeen[p.SID] {
			continue
		}
		s.lastSeen[p.SID] = at
		s.presence = append(s.presence, time.Duration(t-at))
		s.presSec = append(s.presSec, int32((at-int64(s.start.Sub(clockBase)))/int64(time.Second)))
	}
	s.mu.Unlock()
}

// submitAt records the op just submitted (at) under the seq that carries
// it (client.Doc.EditSeq: the op in flight, or the next one when the edit was
// buffered behind it). When that ack has already come in, the op is measured
// to it at once; otherwise onAck measures it.
func (s *clientStats) submitAt(d *client.Doc, at time.Time) {
	seq := d.EditSeq()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.inflight); n > 0 && s.inflight[n-1].seq > seq {
		seq = s.inflight[n-1].seq // never go backwards
	}
	if seq <= s.acked {
		if s.ackedAt.Before(at) {
			return // an edit that changed nothing: no op carries it
		}
		s.early++
		s.ack = append(s.ack, s.ackedAt.Sub(at))
		s.ackSec = append(s.ackSec, int32(at.Sub(s.start)/time.Second))
		if !s.ackedAt.After(s.end) {
			s.committed++
		}
		return
	}
	s.inflight = append(s.inflight, submitted{seq: seq, at: at})
}

func runOpenLoop(ctx context.Context, cfg config, nDocs int, hz float64) (*result, error) {
	base := cfg.Doc
	par := max(1, cfg.Parallel)
	if err := forEachParallel(ctx, nDocs, par, func(k int) error {
		c := cfg
		c.Doc = docID(base, k, nDocs)
		return ensureDoc(ctx, c)
	}); err != nil {
		return nil, err
	}
	stats := make([]*clientStats, cfg.Clients)
	for i := range stats {
		stats[i] = &clientStats{lastSeen: map[string]int64{}}
	}
	conns := make([]*client.Conn, cfg.Clients)
	docs := make([]*client.Doc, cfg.Clients)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	var errCount atomic.Int64
	// Clients connect -parallel at a time (thousands one by one would take
	// minutes); each keeps its index, so client i is on document i mod D.
	if err := forEachParallel(ctx, cfg.Clients, par, func(i int) error {
		st := stats[i]
		opts := []client.DocOption{
			client.OnAck(st.onAck),
			client.OnChange(st.onChange),
			client.OnError(func(err error) {
				errCount.Add(1)
				cfg.Log.Warn("server error", "client", i, "err", err)
			}),
		}
		// OnPresence may fire while Open is still returning (the joined
		// answer lists the peers), before d is known here.
		var dp atomic.Pointer[client.Doc]
		if hz > 0 {
			opts = append(opts, client.OnPresence(func() {
				if d := dp.Load(); d != nil {
					st.onPresence(d)
				}
			}))
		}
		c, d, err := openOne(ctx, cfg, i, docID(base, i%nDocs, nDocs), opts...)
		conns[i] = c
		if err != nil {
			return err
		}
		dp.Store(d)
		docs[i] = d
		return nil
	}); err != nil {
		return nil, err
	}

	var (
		wg      sync.WaitGroup
		sent    atomic.Int64
		lagMax  atomic.Int64
		skipped atomic.Int64
	)
	// The heap goal is set by the last collection; the last one ran while
	// the clients were still connecting, on a fraction of the heap they
	// keep, so the goal was a fraction of what the GC target means (about
	// 650 MiB in the fleet scenario instead of 2.5 GiB) and a collection came
	// about 40 s into the window, its assists stalling every client at once
	// for 0.5-1 s (docs/benchmarks.md, fleet). One collection now, with
	// every client in place, sets the goal from the heap they keep.
	collectBeforeWindow()
	watch, self, pg := watchServer(cfg.ServerPID), watchServer(os.Getpid()), watchPostgres()
	profs, err := startLoadProfiles(ctx, cfg, cfg.Duration)
	if err != nil {
		return nil, err
	}
	defer func() { _ = profs.wait() }()
	start := time.Now()
	end := start.Add(cfg.Duration)
	var serverAge time.Duration
	if cfg.ServerPID > 0 {
		serverAge, _ = processAge(cfg.ServerPID) // only for lining up its GC trace
	}
	for _, s := range stats {
		s.mu.Lock()
		s.start, s.end = start, end
		s.mu.Unlock()
	}
	for i, d := range docs {
		// One goroutine and one timer per client for both of its schedules
		// (5,000 clients of the fleet would otherwise keep 10,000 of each).
		var streams []stream
		if cfg.Rate > 0 {
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			streams = append(streams, stream{rate: cfg.Rate, phase: r.Float64(), fn: func() {
				at := time.Now()
				err := d.Edit(func(text string) ot.Op { return stampOp(r.IntN, text, now(), steadyMaxLen) })
				if err != nil {
					errCount.Add(1)
					cfg.Log.Warn("submit failed", "client", i, "err", err)
					return
				}
				stats[i].submitAt(d, at)
			}})
		}
		if hz > 0 {
			r2 := rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, uint64(i)))
			streams = append(streams, stream{rate: hz, phase: r2.Float64(), fn: func() {
				pos := r2.IntN(d.Len() + 1)
				err := d.SetSelection(ot.Selection{{Anchor: pos, Head: pos}}, msgpack.RawMessage(presenceData(now())))
				if err != nil {
					// The text may have shrunk between Len and SetSelection.
					skipped.Add(1)
					return
				}
				sent.Add(1)
			}})
		}
		if len(streams) > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				scheduleStreams(ctx, start, end, &lagMax, streams)
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := profs.stopSelf(); err != nil {
		cfg.Log.Warn("load generator profile", "err", err)
	}
	// Let what is in flight land, so the last ops count and convergence holds.
	if cfg.Verify || cfg.Rate > 0 {
		for _, d := range docs {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := d.WaitSynced(wctx); err != nil {
				cfg.Log.Warn("waiting for the last acks failed", "err", err)
			}
			cancel()
		}
	}
	usage, err := watch.stop()
	if err != nil {
		return nil, err
	}
	selfUsage, _ := self.stop()
	if err := profs.wait(); err != nil {
		cfg.Log.Warn("profiles of the load window", "err", err)
	}
	pgCores := pg.cores()
	res := &result{
		URL: cfg.URL, Clients: cfg.Clients, Rate: cfg.Rate, PresenceHz: hz,
		DurationSec: elapsed.Seconds(), Offered: cfg.Rate * float64(cfg.Clients),
		Errors: errCount.Load(), serverUsage: usage, PresenceSent: sent.Load(),
		ClientLagSec: time.Duration(lagMax.Load()).Seconds(),
	}
	if selfUsage != nil {
		res.LoadGenCPUCores = selfUsage.CPUCores
	}
	if cfg.ServerPID > 0 {
		res.PostgresCPUCores = pgCores
	}
	if nDocs == 1 {
		res.Doc = base
	} else {
		res.Docs = nDocs
	}
	var ack, remote, pres latencies
	var tl timeline
	for _, s := range stats {
		s.mu.Lock()
		if cfg.Timeline {
			tl.add(s)
		}
		ack = append(ack, s.ack...)
		remote = append(remote, s.remote...)
		pres = append(pres, s.presence...)
		res.CommittedOps += s.committed
		res.EarlyAcks += s.early
		s.mu.Unlock()
	}
	if cfg.Timeline {
		res.Timeline = tl.seconds()
		res.LoadStartSec = start.Sub(processStart).Seconds()
		res.ServerLoadStartSec = serverAge.Seconds()
	}
	res.OpsPerSec = float64(res.CommittedOps) / elapsed.Seconds()
	res.setLatencies(ack)
	res.setRemote(remote)
	if hz > 0 {
		res.setPresence(pres)
	}
	for _, c := range conns {
		res.Reconnects += c.Sessions() - 1
	}
	if cfg.Verify {
		for k := range nDocs {
			var group []*client.Doc
			for i := k; i < len(docs); i += nDocs {
				group = append(group, docs[i])
			}
			sub := &result{}
			if err := verifyConverged(ctx, group, sub); err != nil {
				return nil, err
			}
			if sub.Diverged {
				res.Diverged = true
			}
			res.FinalVersion += sub.FinalVersion
			res.FinalLen += sub.FinalLen
		}
		res.Converged = !res.Diverged
	}
	return res, nil
}

// schedule calls fn at rate per second from start (plus phase of one period)
// until end. It keeps to the schedule rather than to the previous call: a
// late call is followed by the next one at once (open loop), and the worst
// lateness is recorded in lag, so a load generator that cannot keep up says
// so instead of quietly offering less.
func schedule(ctx context.Context, start, end time.Time, rate, phase float64, lag *atomic.Int64, fn func()) {
	scheduleStreams(ctx, start, end, lag, []stream{{rate: rate, phase: phase, fn: fn}})
}

// stream is one open-loop schedule: fn at rate per second, first at phase
// (a fraction of one period) after the start.
type stream struct {
	rate, phase float64
	fn          func()
	period      time.Duration
	next        time.Time
}

// scheduleStreams runs several schedules (see schedule) on the calling
// goroutine with one timer: each call is made at its own time, the earliest
// due first.
func scheduleStreams(ctx context.Context, start, end time.Time, lag *atomic.Int64, streams []stream) {
	for k := range streams {
		s := &streams[k]
		s.period = time.Duration(float64(time.Second) / s.rate)
		s.next = start.Add(time.Duration(s.phase * float64(s.period)))
	}
	earliest := func() *stream {
		var e *stream
		for k := range streams {
			if s := &streams[k]; s.next.Before(end) && (e == nil || s.next.Before(e.next)) {
				e = s
			}
		}
		return e
	}
	s := earliest()
	if s == nil {
		return
	}
	t := time.NewTimer(time.Until(s.next))
	defer t.Stop()
	for s != nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if late := int64(time.Since(s.next)); late > lag.Load() {
			lag.Store(late) // racy max, good enough for a warning figure
		}
		s.fn()
		s.next = s.next.Add(s.period)
		if s = earliest(); s != nil {
			t.Reset(time.Until(s.next))
		}
	}
}

// openOne dials client i and opens doc on it.
func openOne(ctx context.Context, cfg config, i int, doc string, opts ...client.DocOption) (*client.Conn, *client.Doc, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, client.Options{
		URL:    cfg.nodeURL(i),
		Token:  cfg.Token,
		User:   client.User{Name: fmt.Sprintf("bench-%d", i), Color: "#3f51b5"},
		Logger: cfg.Log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dial client %d: %w", i, err)
	}
	d, err := c.Open(dctx, doc, opts...)
	if err != nil {
		return c, nil, fmt.Errorf("client %d: open %q: %w", i, doc, err)
	}
	return c, d, nil
}

// textLen is the length of s in code points.
func textLen(s string) int { return utf8.RuneCountInString(s) }

// collectBeforeWindow runs a full collection and returns the heap goal it
// set (bytes), for runOpenLoop to call once every client is connected.
func collectBeforeWindow() uint64 {
	runtime.GC()
	m := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}
