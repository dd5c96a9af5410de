package server

import (
	"context"
	"fmt"
	"sync"
)

// hub is the registry of loaded document actors. It loads an actor on demand
// (the actor loads its document itself, in its own goroutine) and forgets it when
// the actor retires (idle, deleted, failed to load) or at shutdown.
//
// Mailbox safety: a message may only be sent to an actor between acquire and
// release. An actor exits only when, under hub.mu, it has no references and an
// empty mailbox, so no message can be sent to an actor that is gone.
//
// hub.mu is a leaf lock: nothing else is locked while it is held.
type hub struct {
	srv *Server

	mu     sync.Mutex
	actors map[string]*actor // guarded by mu
	closed bool              // guarded by mu; set by shutdown

	wg sync.WaitGroup // one per actor goroutine
}

func newHub(srv *Server) *hub {
	return &hub{srv: srv, actors: make(map[string]*actor)}
}

// acquire returns the actor of docID, starting it if needed, with one more
// reference that the caller must release.
func (h *hub) acquire(docID string) (*actor, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("document %q: %w", docID, ErrShuttingDown)
	}
	a := h.actors[docID]
	if a == nil {
		a = newActor(h.srv, docID)
		h.actors[docID] = a
		h.wg.Add(1)
		h.srv.metrics.actors.Inc()
		go func() {
			defer h.wg.Done()
			defer h.srv.metrics.actors.Dec()
			a.run()
		}()
	}
	a.refs++
	return a, nil
}

// acquireLoaded is acquire without starting an actor: nil when none is loaded.
func (h *hub) acquireLoaded(docID string) *actor {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.actors[docID]
	if a != nil {
		a.refs++
	}
	return a
}

// isLoaded reports whether docID has an actor.
func (h *hub) isLoaded(docID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.actors[docID] != nil
}

func (h *hub) release(a *actor) {
	h.mu.Lock()
	a.refs--
	h.mu.Unlock()
}

// send posts m to docID's actor, waiting while its mailbox is full (this is
// the back-pressure on a session's read goroutine). It returns the actor so
// that a caller expecting an answer can watch it exit.
func (h *hub) send(ctx context.Context, docID string, m actorMsg) (*actor, error) {
	a, err := h.acquire(docID)
	if err != nil {
		return nil, err
	}
	defer h.release(a)
	if err := a.post(ctx, m); err != nil {
		return nil, err
	}
	return a, nil
}

// sendLoaded posts m only if docID's actor is loaded; it reports whether it did.
func (h *hub) sendLoaded(ctx context.Context, docID string, m actorMsg) (bool, error) {
	a := h.acquireLoaded(docID)
	if a == nil {
		return false, nil
	}
	defer h.release(a)
	if err := a.post(ctx, m); err != nil {
		return false, err
	}
	return true, nil
}

// retire removes a from the registry so that the next acquire starts a fresh
// actor (after a deletion or a failed load); a keeps answering what it is sent
// until it may exit.
func (h *hub) retire(a *actor) {
	h.mu.Lock()
	if h.actors[a.id] == a {
		delete(h.actors, a.id)
	}
	h.mu.Unlock()
}

// tryExit reports whether a may stop now: no references and an empty mailbox.
// If so, a is removed from the registry in the same critical section, so that
// no new message can reach it.
func (h *hub) tryExit(a *actor) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a.refs > 0 || len(a.inbox) > 0 {
		return false
	}
	if h.actors[a.id] == a {
		delete(h.actors, a.id)
	}
	return true
}

// shutdown refuses new acquires, asks every actor to commit what it holds and
// stop, and waits for them (or ctx).
func (h *hub) shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	actors := make([]*actor, 0, len(h.actors))
	for _, a := range h.actors {
		actors = append(actors, a)
	}
	h.mu.Unlock()
	for _, a := range actors {
		a.requestStop()
	}
	return waitGroup(ctx, &h.wg, "document actors to stop")
}

// waitGroup waits for wg, or for ctx; then the error says what was waited
// for. The goroutine that waits on wg ends with it, not with ctx: shutdowns
// that give up still let what they waited for finish.
func waitGroup(ctx context.Context, wg *sync.WaitGroup, what string) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
}
