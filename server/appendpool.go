package server

import (
	"context"
	"sync"
	"time"

	"github.com/tandem-collab/tandem/store"
)

// appendPool makes the store calls of every actor's appends on a bounded set
// of goroutines that the server shares, instead of one appender goroutine per
// loaded document. Under many open documents (the fleet: 2,500) those
// goroutines were idle nearly all the time, but every garbage collection
// scanned each one's stack; now there are only as many as appends have ever
// been in flight at once, at most Config.AppendWorkers.
//
// Ordering needs nothing from the pool: an actor has at most one append in
// flight (actor_commit.go) and sends the next only after it took the outcome
// of the last, so a document's appends reach the store one at a time, in
// order, whichever worker makes them. Each outcome goes back on the actor's
// own buffered done channel, which is empty while the append is in flight, so
// a worker never waits on an actor.
//
// The queue has no bound of its own: it holds at most one job per loaded
// document, and an actor never waits to hand one over (it goes on serving
// presence, joins and leaves while the store is slow, as with its own
// appender). A job waits in the queue only while every worker is in a store
// call; the store's own queue (the Postgres group committer's) is where
// appends meet, so workers are sized to keep it fed.
//
// Goroutines: the workers are started on demand, up to max, and live until
// close; close lets them finish the queue and end. A job handed over after
// close (an actor still finishing when Shutdown gave up waiting) runs on a
// goroutine of its own, so no append is dropped.
type appendPool struct {
	st  store.Store
	max int

	mu      sync.Mutex
	wait    sync.Cond   // a worker waits on it for a job (L is mu)
	queue   []appendJob // jobs no worker has taken yet, from head on, oldest first
	head    int
	workers int // workers started and not ended
	idle    int // workers waiting on wait that no submit has woken yet
	closed  bool

	wg sync.WaitGroup // one per worker or post-close job
}

// keptAppendQueue is the largest queue array the pool keeps once drained.
const keptAppendQueue = 256

// appendJob is one store call: the actor's batch, and where its outcome goes.
type appendJob struct {
	ctx    context.Context
	cancel context.CancelFunc
	doc    string
	base   int64
	recs   []store.OpRecord
	t0     time.Time
	done   chan<- appendDone // the actor's, buffered 1 and empty
}

func newAppendPool(st store.Store, max int) *appendPool {
	p := &appendPool{st: st, max: max}
	p.wait.L = &p.mu
	return p
}

// submit hands j to a worker; it never waits for one.
func (p *appendPool) submit(j appendJob) {
	p.mu.Lock()
	if p.closed {
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			p.run(j)
		}()
		return
	}
	if p.head > 0 && len(p.queue) == cap(p.queue) {
		// A backlog that never drains: move it to the front rather than
		// grow the array past the jobs already taken.
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue, p.head = p.queue[:n], 0
	}
	p.queue = append(p.queue, j)
	switch {
	case p.idle > 0:
		// Counted off here rather than by the worker once it runs, so
		// that the next submit before it does wakes another worker (or
		// starts one) instead of leaving its job to wait behind this one.
		p.idle--
		p.wait.Signal()
	case p.workers < p.max:
		p.workers++
		p.wg.Add(1)
		go appender(p)
	}
	p.mu.Unlock()
}

// appender is a worker of the pool: it makes one store call at a time, oldest
// job first, until the pool is closed and its queue empty.
func appender(p *appendPool) {
	defer p.wg.Done()
	p.mu.Lock()
	for {
		for p.head == len(p.queue) && !p.closed {
			p.idle++
			p.wait.Wait()
		}
		if p.head == len(p.queue) { // closed
			p.workers--
			p.mu.Unlock()
			return
		}
		j := p.queue[p.head]
		p.queue[p.head] = appendJob{}
		p.head++
		if p.head == len(p.queue) {
			// Start again at the front of the same array (no allocation
			// per append); a large one, left by a backlog, is let go.
			p.head = 0
			p.queue = p.queue[:0]
			if cap(p.queue) > keptAppendQueue {
				p.queue = nil
			}
		}
		p.mu.Unlock()
		p.run(j)
		p.mu.Lock()
	}
}

// run makes j's store call and hands its outcome to the actor.
func (p *appendPool) run(j appendJob) {
	err := p.st.AppendOps(j.ctx, j.doc, j.base, j.recs)
	j.cancel()
	j.done <- appendDone{err: err, took: time.Since(j.t0)}
}

// close lets the workers end once the queue is empty; later jobs run on
// goroutines of their own (submit).
func (p *appendPool) close() {
	p.mu.Lock()
	p.closed = true
	p.idle = 0
	p.wait.Broadcast()
	p.mu.Unlock()
}

// waitClosed waits, after close, for the workers and for the jobs handed over
// since, or for ctx.
func (p *appendPool) waitClosed(ctx context.Context) error {
	return waitGroup(ctx, &p.wg, "the store appends in flight")
}
