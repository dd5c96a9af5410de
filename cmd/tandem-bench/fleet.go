package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The fleet scenario is the load a real deployment sees (issue 17): many
// small documents with a few people each, editing now and then and moving
// their carets. Its defaults are the target: 5,000 clients on 2,500
// documents (two per document), 1 op per 2 s and a caret move per second
// each, on one node over Postgres, with every op committed, ack p99 <= 20 ms
// and presence p99 <= 100 ms, and the server's CPU and RSS per client.
func init() {
	scenarios["fleet"] = runFleet
	scenarioDefaults["fleet"] = map[string]string{"clients": "5000", "docs": "2500", "rate": "0.5", "hz": "1", "duration": "60s"}
}

// fleetLoadGenGOGC is the load generator's GC target in the fleet scenario
// unless GOGC is set. Its 5,000 clients keep about 120 MiB live in this one
// process; at loadGenGOGC (400) it collected about once a minute, each cycle
// with 150-200 ms of assists that stall every client's reader at once, which
// the timeline shows as a slow second no server caused (docs/benchmarks.md,
// fleet). Real clients are 5,000 processes whose collections are not
// simultaneous, so the one process that stands in for them collects as
// seldom as memory allows: about 2.5 GiB of heap at this target, on a
// machine that has ten times that. The goal follows from the heap marked by
// the last collection, so runOpenLoop collects once with every client
// connected (collectBeforeWindow); without it the goal came from the heap
// before they connected (about 650 MiB) and one collection fell in the
// window after all.
const fleetLoadGenGOGC = 2000

// Fleet targets (issue 17).
const (
	fleetAckP99Ms      = 20
	fleetPresenceP99Ms = 100
)

// runFleet spreads the clients over the documents (client i on document
// i mod docs), each submitting -rate ops/s and moving its caret at -hz on
// open-loop schedules (runOpenLoop), and reports against the targets. The
// server's RSS is read before the clients connect, so that the memory per
// client is what they added.
func runFleet(ctx context.Context, cfg config) (*result, error) {
	if cfg.Rate <= 0 || cfg.PresenceHz <= 0 {
		return nil, fmt.Errorf("fleet: -rate and -hz must be > 0")
	}
	if limit, err := raiseFileLimit(); err != nil {
		return nil, err
	} else if limit < uint64(cfg.Clients)+64 {
		return nil, fmt.Errorf("fleet: the open-file limit %d is below %d clients (raise ulimit -n)", limit, cfg.Clients)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(fleetLoadGenGOGC)
	}
	var before procSample
	if cfg.ServerPID > 0 {
		var err error
		if before, err = readProc(cfg.ServerPID); err != nil {
			return nil, err
		}
	}
	res, err := runOpenLoop(ctx, cfg, max(1, cfg.Docs), cfg.PresenceHz)
	if err != nil {
		return nil, err
	}
	if res.serverUsage != nil {
		res.RSSBeforeBytes = before.RSS
		res.RSSPerConnBytes = float64(res.RSSBytes-before.RSS) / float64(cfg.Clients)
		res.MillicoresPerClient = res.CPUCores * 1000 / float64(cfg.Clients)
	}
	res.Targets = fleetVerdict(res, cfg)
	return res, nil
}

// fleetVerdict says which of the targets the run met.
func fleetVerdict(r *result, cfg config) string {
	var missed []string
	if r.MissingAcks > 0 || r.Errors > 0 {
		missed = append(missed, fmt.Sprintf("%d ops unacknowledged, %d errors", r.MissingAcks, r.Errors))
	}
	if r.AckP99Ms > fleetAckP99Ms {
		missed = append(missed, fmt.Sprintf("ack p99 %.1f ms > %d ms", r.AckP99Ms, fleetAckP99Ms))
	}
	if r.PresenceP99Ms > fleetPresenceP99Ms {
		missed = append(missed, fmt.Sprintf("presence p99 %.1f ms > %d ms", r.PresenceP99Ms, fleetPresenceP99Ms))
	}
	if want := cfg.Rate * float64(cfg.Clients) * r.DurationSec; float64(r.CommittedOps) < 0.99*want {
		missed = append(missed, fmt.Sprintf("%d ops committed in the window, %.0f offered", r.CommittedOps, want))
	}
	if len(missed) == 0 {
		return "met"
	}
	return "missed: " + strings.Join(missed, "; ")
}

// forEachParallel runs fn(0..n-1) on at most par goroutines and returns the
// first error (the others still finish their current call).
func forEachParallel(ctx context.Context, n, par int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range max(1, min(par, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range n {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// pgWatch measures the CPU of every process named postgres over the load
// window: on one machine, Postgres competes with the server and the load
// generator for the same cores. It counts the whole machine's Postgres
// (other databases' work too) and misses processes that exited within the
// window; processes that started within it count whole.
type pgWatch struct {
	at    time.Time
	ticks map[int]time.Duration
}

func watchPostgres() *pgWatch { return &pgWatch{at: time.Now(), ticks: postgresCPU()} }

// cores is the Postgres CPU since the watch started, in cores; 0 when no
// postgres process is visible.
func (w *pgWatch) cores() float64 {
	now := postgresCPU()
	var used time.Duration
	for pid, cpu := range now {
		used += cpu - w.ticks[pid]
	}
	if wall := time.Since(w.at).Seconds(); wall > 0 && len(now) > 0 {
		return used.Seconds() / wall
	}
	return 0
}

// postgresCPU reads utime+stime of every postgres process, by pid.
func postgresCPU() map[int]time.Duration {
	out := make(map[int]time.Duration)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		if cpu, err := parseStatCPU(stat); err == nil {
			out[pid] = cpu
		}
	}
	return out
}
