package tree

import (
	"errors"
	"fmt"
)

// Replica is one client's copy of a tree document: the server's content at
// version V (the base), the local actions the server has not acknowledged
// yet (pending: first the op in flight, then the ones made since), and the
// view the user sees, the base with the pending actions applied. It is the
// client half of the protocol, with no connection: feed it local ops, the
// server's ops and acks, and send what Flush returns. One op is in flight at
// a time, as for text documents, so a Replica's ops always arrive at the
// server against a version that includes everything they were made on.
//
// Remote ops rebase the pending actions with Transform exactly as the server
// will when it receives them, so the view is what the document will be once
// the server has them, unless someone else's op intervenes. While one of our
// own sets of a property is pending, a remote value of it does not show:
// our set is re-applied on top (the server will commit it after).
//
// A Replica is not safe for concurrent use.
type Replica struct {
	sid      string
	base     *Content
	v        int64
	pending  Op    // in-flight actions first, then buffered ones
	ends     []int // where each local op ends in pending (ops commit whole)
	inflight int   // how many of pending are in flight
	sent     bool  // an op is in flight (it may have lost all its actions)
	view     *Content
}

// NewReplica starts a replica of content at version v for the client sid.
// content is cloned, not shared.
func NewReplica(sid string, content *Content, v int64) *Replica {
	return &Replica{sid: sid, base: content.Clone(), v: v, view: content.Clone()}
}

// V is the version of the base: the last server version the replica has.
func (r *Replica) V() int64 { return r.v }

// View returns the content as the user sees it: a clone, O(1).
func (r *Replica) View() *Content { return r.view.Clone() }

// Base returns the server's content at V: a clone, O(1).
func (r *Replica) Base() *Content { return r.base.Clone() }

// Pending reports whether local actions await acknowledgement or sending.
func (r *Replica) Pending() bool { return r.sent || len(r.pending) > 0 }

// Local applies an op made by the user to the view and queues it for the
// server. It returns the op as applied locally (actions on missing objects
// and cycle-making moves dropped, as the server would). On error nothing
// changes.
func (r *Replica) Local(op Op) (Op, error) {
	if err := op.Validate(r.view.Limits()); err != nil {
		return nil, err
	}
	view := r.view.Clone()
	applied, err := view.Apply(op)
	if err != nil {
		return nil, err
	}
	r.view = view
	r.pending = append(r.pending, applied...)
	r.ends = append(r.ends, len(r.pending))
	return applied, nil
}

// Flush returns the op to send and the version it is made against, when
// nothing is in flight and local actions are waiting; ok is false otherwise.
// The op joins the local ops made since the last flush, as many whole ones as
// fit the op size limit (at least one). It is in flight until Ack.
func (r *Replica) Flush() (op Op, v int64, ok bool) {
	if r.sent || len(r.ends) == 0 {
		return nil, 0, false
	}
	limit := r.view.Limits().MaxOpBytes
	n, size := r.ends[0], 0
	for k, end := range r.ends {
		start := 0
		if k > 0 {
			start = r.ends[k-1]
		}
		size += r.pending[start:end].Size()
		if k > 0 && size > limit {
			break
		}
		n = end
	}
	r.sent = true
	r.inflight = n
	return r.pending[:n].Clone(), r.v, true
}

// ErrVersion is returned when a server message does not follow the replica's
// version: the client must re-join.
var ErrVersion = errors.New("tree: server version out of order")

// Ack records that the op in flight was committed as version v. It returns
// the op as the server applied it (what it kept of ours).
func (r *Replica) Ack(v int64) (Op, error) {
	if !r.sent {
		return nil, errors.New("tree: ack with nothing in flight")
	}
	if v != r.v {
		return nil, fmt.Errorf("%w: ack for %d at %d", ErrVersion, v, r.v)
	}
	applied, err := r.base.Apply(r.pending[:r.inflight])
	if err != nil {
		return nil, fmt.Errorf("tree: apply our acknowledged op: %w", err)
	}
	r.v++
	r.pending = r.pending[r.inflight:].Clone()
	ends := r.ends[:0:0]
	for _, e := range r.ends {
		if e > r.inflight {
			ends = append(ends, e-r.inflight)
		}
	}
	r.ends, r.inflight, r.sent = ends, 0, false
	return applied, nil
}

// Remote applies someone else's op, committed as version v by the author
// sid (already transformed by the server), and rebases the pending actions
// over it. An error means the replica can no longer follow the server (a
// version gap, or an op that does not apply): re-join and start anew.
func (r *Replica) Remote(op Op, sid string, v int64) error {
	if v != r.v {
		return fmt.Errorf("%w: op for %d at %d", ErrVersion, v, r.v)
	}
	base := r.base.Clone()
	if _, err := base.Apply(op); err != nil {
		return fmt.Errorf("tree: apply remote op %d: %w", v, err)
	}
	pending, kept, err := transform(r.pending, op, r.sid, sid)
	if err != nil {
		return fmt.Errorf("tree: rebase over remote op %d: %w", v, err)
	}
	ends, inflight := regroup(r.ends, r.inflight, kept)
	// The view is the new base with what is pending on top, applied as the
	// server will: what no longer applies (its object was deleted, it now
	// breaks a limit) is left out. The op in flight is kept as it is, since
	// the server decides about it when it commits it, after whatever else
	// comes first; the actions not sent yet that no longer apply are
	// forgotten, because the server would judge them against a version
	// that includes this op.
	view := base.Clone()
	applied := view.applyEach(pending)
	for i := 0; i < inflight; i++ {
		applied[i] = true
	}
	ends, inflight = regroup(ends, inflight, applied)
	keep := pending[:0:0]
	for i, a := range pending {
		if applied[i] {
			keep = append(keep, a)
		}
	}
	r.base, r.v, r.pending, r.ends, r.inflight, r.view = base, r.v+1, keep, ends, inflight, view
	return nil
}

// regroup maps the local op boundaries ends and the in-flight count through
// a filter of the pending actions (keep[i] for action i). A local op that
// lost every action disappears.
func regroup(ends []int, inflight int, keep []bool) ([]int, int) {
	out := make([]int, 0, len(ends))
	done, start, newInflight := 0, 0, 0
	for _, end := range ends {
		for _, k := range keep[start:end] {
			if k {
				done++
			}
		}
		if end <= inflight {
			newInflight = done
		}
		if done > 0 && (len(out) == 0 || out[len(out)-1] != done) {
			out = append(out, done)
		}
		start = end
	}
	return out, newInflight
}

// InFlight returns the op in flight as it stands now, rebased over every
// remote op since it was sent, and the replica's version: what a client
// resends, with the same seq, after a reconnection (the server commits it
// once: a resubmission it already has is acknowledged as the original).
// ok is false when nothing is in flight.
func (r *Replica) InFlight() (op Op, v int64, ok bool) {
	if !r.sent {
		return nil, 0, false
	}
	return r.pending[:r.inflight].Clone(), r.v, true
}

// Buffered returns the local ops made since the op in flight (or all of
// them when nothing is in flight), one Op per local op, as they stand now.
func (r *Replica) Buffered() []Op {
	var out []Op
	start := 0
	if r.sent {
		start = r.inflight
	}
	prev := 0
	for _, end := range r.ends {
		if end > start {
			out = append(out, r.pending[max(prev, start):end].Clone())
		}
		prev = end
	}
	return out
}

// DropInFlight forgets the op in flight: the server refused it, or the
// base already holds it (it was committed before a re-join that carried
// the whole content). The view is rebuilt from the base and what is left.
func (r *Replica) DropInFlight() {
	if !r.sent {
		return
	}
	r.pending = r.pending[r.inflight:].Clone()
	ends := r.ends[:0:0]
	for _, e := range r.ends {
		if e > r.inflight {
			ends = append(ends, e-r.inflight)
		}
	}
	view := r.base.Clone()
	applied := view.applyEach(r.pending)
	ends, _ = regroup(ends, 0, applied)
	keep := r.pending[:0:0]
	for i, a := range r.pending {
		if applied[i] {
			keep = append(keep, a)
		}
	}
	r.pending, r.ends, r.inflight, r.sent, r.view = keep, ends, 0, false, view
}
