// Package gcdefaults gives a Tandem server process its collector settings
// unless the operator chose their own: GOGC=400 instead of Go's 100, and a
// soft memory limit (GOMEMLIMIT) of nine tenths of the memory the process may
// use (the cgroup's limit, else the machine's RAM).
//
// Why: a server with thousands of sockets and open documents keeps a large
// live heap (about 120 MB for the fleet scenario's 5,000 clients on 2,500
// documents), and each collection marks all of it while the mutators that
// allocate meanwhile are made to help (assists). At GOGC=100 that happened
// every 5 s and each cycle was a slow second for every client (ack p99
// 70-300 ms in it against 6-25 ms between cycles); at 400 a cycle comes
// about every 20 s, for about twice the memory (docs/benchmarks.md, fleet).
// The memory limit is what makes the higher GOGC safe: the collector works
// harder as the heap nears it, so the memory the larger GOGC lets garbage
// take is never more than the process has.
package gcdefaults

import (
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// GOGC is the collector's target applied when the environment sets no GOGC.
const GOGC = 400

// LimitPercent is the share of the memory available to the process (the
// cgroup's limit, else the machine's RAM) given as the soft memory limit when
// the environment sets no GOMEMLIMIT; the rest is for what the limit does not
// count (the binary's pages, thread stacks of the OS) and for headroom.
const LimitPercent = 90

// Applied says what Apply set, for the start-up log.
type Applied struct {
	// GOGC is the collector target Apply set, 0 when the environment's
	// GOGC was kept.
	GOGC int
	// Limit is the soft memory limit Apply set, 0 when it set none: the
	// environment's GOMEMLIMIT was kept, or the memory available could not
	// be read.
	Limit int64
}

// Apply sets GOGC and the soft memory limit to this package's defaults,
// each only when its environment variable is unset. Call it at the start of
// the process, before anything reads the memory limit (the server's default
// outbox budget is a share of it).
func Apply() Applied {
	return apply(os.LookupEnv, available)
}

func apply(lookup func(string) (string, bool), avail func() int64) Applied {
	var a Applied
	if v, ok := lookup("GOGC"); !ok || v == "" {
		debug.SetGCPercent(GOGC)
		a.GOGC = GOGC
	}
	if v, ok := lookup("GOMEMLIMIT"); !ok || v == "" {
		if n := avail(); n > 0 {
			a.Limit = n / 100 * LimitPercent
			debug.SetMemoryLimit(a.Limit)
		}
	}
	return a
}

// available is the memory the process may use: the cgroup's limit when there
// is one, the machine's RAM when that is less; 0 when neither can be read.
func available() int64 {
	limit := int64(math.MaxInt64)
	if n, err := memlimit.FromCgroup(); err == nil && n > 0 && n < math.MaxInt64 {
		limit = int64(n)
	}
	if n, err := memlimit.FromSystem(); err == nil && n > 0 && n < math.MaxInt64 {
		limit = min(limit, int64(n))
	}
	if limit == math.MaxInt64 {
		return 0
	}
	return limit
}
