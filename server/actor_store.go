package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/store"
)

// The actor's reads of the store: the document at load, the ops a rule of
// the state needs beyond its window, and what other writers committed. The
// appends are in actor_commit.go.

// load reads the document and the latest window of ops.
func (a *actor) load() {
	ctx, cancel := a.storeCtx()
	defer cancel()
	st, err := a.read(ctx)
	if err != nil {
		a.loadErr = fmt.Errorf("load document %q: %w", a.id, err)
		if !errors.Is(err, store.ErrNotFound) {
			a.log.Error("loading document failed", "err", err)
		}
		a.srv.hub.retire(a)
		return
	}
	a.docState = st
}

// read builds the document's state from the store: the latest content and
// the window of ops before it (from the oldest version kept, when the log
// was compacted).
func (a *actor) read(ctx context.Context) (*docState, error) {
	d, snap, err := a.srv.store.Load(ctx, a.id)
	if err != nil {
		return nil, err
	}
	if snap.Version != d.Version {
		return nil, fmt.Errorf("store returned a snapshot at %d for version %d", snap.Version, d.Version)
	}
	typ, err := doctype.Lookup(d.Type)
	if err != nil {
		return nil, err
	}
	var ops []store.OpRecord
	if v := d.Version; v > 0 {
		from := max(0, v-int64(a.cfg().OpWindow))
		ops, err = a.srv.store.ReadOps(ctx, a.id, from, int(v-from))
		if ce := (*store.CompactedError)(nil); errors.As(err, &ce) {
			// The log was compacted (store.Retention): the window starts at
			// the oldest version kept.
			from = ce.Oldest
			ops, err = a.srv.store.ReadOps(ctx, a.id, from, int(v-from))
		}
		if err != nil {
			return nil, err
		}
		if len(ops) != int(v-from) || (len(ops) > 0 && ops[0].Version != from) {
			return nil, fmt.Errorf("store returned %d ops from %d, want %d", len(ops), from, v-from)
		}
	}
	st, err := newDocState(typ, snap.Content, d.Version, ops, a.cfg().OpWindow)
	if err != nil {
		return nil, err
	}
	st.windowAge, st.windowMax, st.windowMaxBytes = a.cfg().OpWindowAge, a.cfg().OpWindowMax, a.cfg().OpWindowMaxBytes
	st.limits = prepLimits{maxBatch: a.cfg().MaxBatch, maxOpBytes: a.cfg().MaxOpBytes, maxDocBytes: a.cfg().MaxDocBytes}
	return st, nil
}

// opsSince returns the committed ops [from, a.v): from the window when it
// reaches back far enough, else from the store. The records are shared and
// must not be modified.
func (a *actor) opsSince(from int64) ([]store.OpRecord, error) {
	if ops, ok := a.windowSince(from); ok {
		return ops, nil
	}
	return a.readOps(from)
}

// readOps reads the committed ops [from, a.v) from the store.
func (a *actor) readOps(from int64) ([]store.OpRecord, error) {
	ctx, cancel := a.storeCtx()
	defer cancel()
	ops, err := a.srv.store.ReadOps(ctx, a.id, from, int(a.v-from))
	if err != nil {
		return nil, fmt.Errorf("read ops %d..%d of %q: %w", from, a.v, a.id, err)
	}
	if len(ops) != int(a.v-from) || ops[0].Version != from {
		return nil, fmt.Errorf("read ops %d..%d of %q: store returned %d ops", from, a.v, a.id, len(ops))
	}
	return ops, nil
}

// readForPrepare answers from the store what planPrepare could not: the
// (sid, seq)s older than the state's marks, and the batch's history when it
// starts before the window. When the history cannot be read whole, it reads
// what the store still has (after a compaction) or takes the window, and the
// ops older than that are refused with the error.
func (a *actor) readForPrepare(msgs []*opMsg, r *prepReads) {
	for i := range r.checks {
		c := &r.checks[i]
		if c.res != seqAsk {
			continue
		}
		m := msgs[i]
		ctx, cancel := a.storeCtx()
		v, found, err := a.srv.store.FindOp(ctx, a.id, m.sid, m.seq)
		cancel()
		switch {
		case err != nil:
			c.err = fmt.Errorf("find op (%s, %d) in %q: %w", m.sid, m.seq, a.id, err)
		case found:
			c.res, c.v = seqCommitted, v
		case c.known:
			c.err = errSeqNotIncreasing
		default:
			c.res = seqNew
		}
	}
	if r.histOK {
		return
	}
	ops, err := a.readOps(r.histFrom)
	if ce := (*store.CompactedError)(nil); errors.As(err, &ce) && ce.Oldest > r.histFrom && ce.Oldest < a.v {
		r.histErr, r.histFrom = err, ce.Oldest
		if ops, err = a.opsSince(ce.Oldest); err != nil {
			r.histErr = err
		}
	} else if err != nil {
		r.histErr = err
	}
	if err != nil {
		var ok bool
		r.histFrom = a.windowStart()
		if ops, ok = a.windowSince(r.histFrom); !ok { // an op of cold did not decode
			r.histFrom, ops = a.v-int64(len(a.window)), a.window
		}
	}
	r.hist = ops
}

// catchUp applies and broadcasts the ops another writer committed after a.v.
func (a *actor) catchUp() error {
	ctx, cancel := a.storeCtx()
	defer cancel()
	ops, err := a.srv.store.ReadOps(ctx, a.id, a.v, 0)
	if err != nil {
		return fmt.Errorf("catch up %q from %d: %w", a.id, a.v, err)
	}
	a.holdOnce()
	defer a.releaseHeld()
	for _, r := range ops {
		rec, _, err := a.applyCommitted(r, nil, false)
		if err != nil {
			return fmt.Errorf("catch up %q: %w", a.id, err)
		}
		a.deliverCommitted(&Event{Kind: EventOp, Doc: a.id, V: rec.Version, Op: &rec})
	}
	return nil
}
