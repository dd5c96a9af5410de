package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tandem-collab/tandem/tree"
	"github.com/tandem-collab/tandem/wire"
)

// TreeOption configures OpenTree.
type TreeOption func(*treeOptions)

type treeOptions struct {
	onChange func(TreeChange)
	onAck    func(AckInfo)
	onError  func(error)
}

// OnTreeChange registers fn to be called after each remote op applied to the
// local tree, and after a re-join that replaced it (Reset). Callbacks run on
// the connection's reader, in order, without any lock held.
func OnTreeChange(fn func(TreeChange)) TreeOption {
	return func(o *treeOptions) { o.onChange = fn }
}

// OnTreeAck registers fn to be called when one of this client's ops is
// committed.
func OnTreeAck(fn func(AckInfo)) TreeOption { return func(o *treeOptions) { o.onAck = fn } }

// OnTreeError registers fn to be called with errors the server reports about
// the document (*TreeRejectedError for a refused op, *ServerError otherwise).
func OnTreeError(fn func(error)) TreeOption { return func(o *treeOptions) { o.onError = fn } }

// TreeChange is a change of the local tree made by someone else.
type TreeChange struct {
	// V is the version the op was committed at (the local state is then at
	// V+1); for a Reset, the version of the content received.
	V int64
	// SID is the author's session id ("" for a Reset).
	SID string
	// Op is the op as the server committed it (nil for a Reset).
	Op tree.Op
	// Reset is set when a re-join replaced the whole content.
	Reset bool
}

// TreeRejectedError is an op of this client that the server refused for
// good; it is no longer in the local tree.
type TreeRejectedError struct {
	ServerError
	Op tree.Op
}

func (e *TreeRejectedError) Unwrap() error { return &e.ServerError }

// TreeDoc is one open tree document (docs/protocol.md, "Tree documents"): a
// tree.Replica kept in step with the server. Local ops apply to the view at
// once and are sent one op at a time (the ops made meanwhile are joined into
// the next one); remote ops rebase what is pending, as the server will. After
// a reconnection it re-joins with its version and resends the op in flight
// with the same seq, so that every op is committed once. Its methods are safe
// for concurrent use.
type TreeDoc struct {
	c    *Conn
	id   string
	opts treeOptions

	joined     chan struct{}
	joinedOnce sync.Once

	mu      sync.Mutex
	sess    *session
	rep     *tree.Replica // nil until the first joined
	lastSeq int64
	seq     int64 // seq of the op in flight (0: none)
	mode    string
	// isJoined: joined on the current session, and no re-join under way.
	isJoined bool
	// probe: a re-join brought the whole content while an op was in flight;
	// that op was resent at its own version to learn whether the server has
	// it, and the content is asked for again once it is answered.
	probe bool
	dead  error
	watch // waiters and the rate-limit back-off, guarded by mu
}

// treeEffects are the callbacks a transition produced, run after the lock is
// released.
type treeEffects struct {
	changes []TreeChange
	acks    []AckInfo
	errs    []error
}

// OpenTree joins a tree document and waits for its content. The returned
// TreeDoc follows the document until Close, across reconnections.
func (c *Conn) OpenTree(ctx context.Context, docID string, opts ...TreeOption) (*TreeDoc, error) {
	if !wire.ValidDocID(docID) {
		return nil, fmt.Errorf("client: document id %q: want 1-128 of [A-Za-z0-9_-]", docID)
	}
	d := &TreeDoc{c: c, id: docID, joined: make(chan struct{}), watch: newWatch()}
	for _, o := range opts {
		o(&d.opts)
	}
	if err := c.register(docID, d, func(lastSeq int64) { d.lastSeq = lastSeq }); err != nil {
		return nil, err
	}
	select {
	case <-d.joined:
		d.mu.Lock()
		err := d.dead
		d.mu.Unlock()
		if err != nil {
			c.forget(d)
			return nil, err
		}
		return d, nil
	case <-ctx.Done():
		c.forget(d)
		return nil, fmt.Errorf("client: open %q: %w", docID, ctx.Err())
	}
}

// ID is the document id.
func (d *TreeDoc) ID() string { return d.id }

func (d *TreeDoc) lastSeqOf() (string, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.id, d.lastSeq
}

func (d *TreeDoc) setMode(mode string) {
	d.mu.Lock()
	d.mode = mode
	d.mu.Unlock()
}

// send queues m on the current session; called with d.mu held.
func (d *TreeDoc) send(m wire.Message) { d.c.sendOn(d.sess, d.id, m) }

func (d *TreeDoc) wakeLocked() { d.watch.wakeLocked(d.rep == nil || !d.rep.Pending()) }

func (d *TreeDoc) emit(fx *treeEffects) {
	deliver(d.opts.onChange, fx.changes)
	deliver(d.opts.onAck, fx.acks)
	deliver(d.opts.onError, fx.errs)
}

// step runs one transition with d.mu held, then its callbacks.
func (d *TreeDoc) step(f func(fx *treeEffects)) {
	var fx treeEffects
	d.mu.Lock()
	f(&fx)
	d.wakeLocked()
	d.mu.Unlock()
	d.emit(&fx)
}

// join asks for the document: with the replica's version when there is one,
// so that only the ops missed come back.
func (d *TreeDoc) joinLocked(withVersion bool) {
	d.isJoined = false
	j := &wire.Join{Doc: d.id}
	if withVersion && d.rep != nil {
		v := d.rep.V()
		j.V = &v
	}
	d.send(j)
}

func (d *TreeDoc) attach(sess *session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sess = sess
	d.probe = false
	if d.dead == nil {
		d.joinLocked(true)
	}
	d.wakeLocked()
}

func (d *TreeDoc) detach() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sess = nil
	d.isJoined = false
	d.wakeLocked()
}

func (d *TreeDoc) kill(err error) {
	d.mu.Lock()
	if d.dead == nil {
		d.dead = err
	}
	d.stopLocked()
	d.wakeLocked()
	d.mu.Unlock()
	d.joinedOnce.Do(func() { close(d.joined) })
}

func (d *TreeDoc) handle(m wire.Message) {
	switch m := m.(type) {
	case *wire.Joined:
		d.step(func(fx *treeEffects) { d.onJoined(m, fx) })
		d.joinedOnce.Do(func() { close(d.joined) })
	case *wire.Ack:
		d.step(func(fx *treeEffects) { d.onAck(m.Seq, m.V, fx) })
	case *wire.OpBroadcast:
		d.step(func(fx *treeEffects) { d.onOp(m, fx) })
	case *wire.Error:
		d.serverError(m)
	}
}

func (d *TreeDoc) onJoined(j *wire.Joined, fx *treeEffects) {
	if d.dead != nil {
		return
	}
	if j.DocType != tree.Name {
		d.dead = &ServerError{Code: CodeWrongType, Msg: fmt.Sprintf("document %q is of type %q, not a tree", d.id, j.DocType), Doc: d.id}
		fx.errs = append(fx.errs, d.dead)
		return
	}
	d.mode = j.Mode
	if j.Content != nil {
		c, ok := tree.Tree(j.Content)
		if !ok {
			d.failLocked(fmt.Errorf("client: joined %q without tree content", d.id), fx)
			return
		}
		d.joinedContent(c, j.V, fx)
		return
	}
	if d.rep == nil {
		d.failLocked(fmt.Errorf("client: joined %q with ops but no content", d.id), fx)
		return
	}
	for i := range j.Ops {
		e := &j.Ops[i]
		if e.V < d.rep.V() {
			continue
		}
		op, ok := tree.TreeOp(e.Op)
		if !ok {
			d.failLocked(fmt.Errorf("client: joined %q with an op that is not a tree op", d.id), fx)
			return
		}
		if !d.serverOp(e.V, op, e.SID, e.Seq, fx) {
			return
		}
	}
	d.isJoined = true
	d.resendLocked()
	d.flushLocked()
}

// joinedContent takes the whole content at v: the first join, a re-join
// after more ops than the server sends, or the second join of a probe.
func (d *TreeDoc) joinedContent(c *tree.Content, v int64, fx *treeEffects) {
	if d.rep != nil && d.seq != 0 {
		// An op is in flight and the ops since it are not coming: resend it
		// at its own version, same seq (the server acknowledges it as the
		// original if it has it, else commits it), then ask again.
		op, at, _ := d.rep.InFlight()
		d.probe = true
		d.isJoined = true
		d.send(&wire.Op{Doc: d.id, V: at, Seq: d.seq, Op: tree.AsOp(op)})
		return
	}
	var buffered []tree.Op
	if d.rep != nil {
		buffered = d.rep.Buffered()
	}
	d.rep = tree.NewReplica(d.c.opts.SID, c, v)
	for _, op := range buffered {
		// Made on a view the server never had; what no longer applies is
		// dropped, as the server would.
		_, _ = d.rep.Local(op)
	}
	d.isJoined = true
	fx.changes = append(fx.changes, TreeChange{V: v, Reset: true})
	d.flushLocked()
}

// serverOp applies the committed op at v: ours (an ack) or someone else's.
// false means the replica fell out of step and a re-join was asked for.
func (d *TreeDoc) serverOp(v int64, op tree.Op, sid string, seq int64, fx *treeEffects) bool {
	if sid == d.c.opts.SID && d.seq != 0 && seq == d.seq {
		return d.ackLocked(v, fx)
	}
	if err := d.rep.Remote(op, sid, v); err != nil {
		d.c.log.Info("tandem: tree op out of step; re-joining", "doc", d.id, "v", v, "err", err)
		// A gap: ask for the ops missed. An op that does not apply: the
		// replica is out of step, start again from the content.
		d.joinLocked(errors.Is(err, tree.ErrVersion))
		return false
	}
	fx.changes = append(fx.changes, TreeChange{V: v, SID: sid, Op: op})
	return true
}

func (d *TreeDoc) ackLocked(v int64, fx *treeEffects) bool {
	if _, err := d.rep.Ack(v); err != nil {
		d.c.log.Info("tandem: tree ack out of step; re-joining", "doc", d.id, "v", v, "err", err)
		d.joinLocked(true)
		return false
	}
	fx.acks = append(fx.acks, AckInfo{Seq: d.seq, V: v})
	d.seq, d.delay = 0, 0
	return true
}

func (d *TreeDoc) onAck(seq, v int64, fx *treeEffects) {
	if d.dead != nil || d.rep == nil || d.seq == 0 || seq != d.seq {
		return
	}
	if d.probe {
		// The op in flight is committed (now, or before the content we
		// were sent): the content asked for next holds it.
		d.probe = false
		d.rep.DropInFlight()
		fx.acks = append(fx.acks, AckInfo{Seq: d.seq, V: v})
		d.seq, d.delay = 0, 0
		d.joinLocked(false)
		return
	}
	if !d.isJoined {
		return // a re-join is under way; its ops carry this op too
	}
	if v != d.rep.V() {
		d.joinLocked(true) // an op of someone else is missing
		return
	}
	if d.ackLocked(v, fx) {
		d.flushLocked()
	}
}

func (d *TreeDoc) onOp(m *wire.OpBroadcast, fx *treeEffects) {
	if d.dead != nil || d.rep == nil || !d.isJoined || d.probe {
		return
	}
	if m.V < d.rep.V() {
		return // already had it (from a joined)
	}
	op, ok := tree.TreeOp(m.Op)
	if !ok {
		d.failLocked(fmt.Errorf("client: op %d of %q is not a tree op", m.V, d.id), fx)
		return
	}
	if d.serverOp(m.V, op, m.SID, m.Seq, fx) {
		d.flushLocked()
	}
}

// resendLocked sends the op in flight again, same seq, rebased to now.
func (d *TreeDoc) resendLocked() {
	if d.seq == 0 || !d.isJoined {
		return
	}
	// During a probe too: InFlight's version is then the op's own.
	op, v, ok := d.rep.InFlight()
	if !ok {
		return
	}
	d.send(&wire.Op{Doc: d.id, V: v, Seq: d.seq, Op: tree.AsOp(op)})
}

// flushLocked sends the next op when nothing is in flight.
func (d *TreeDoc) flushLocked() {
	if d.seq != 0 || !d.isJoined || d.probe || d.dead != nil || d.rep == nil {
		return
	}
	op, v, ok := d.rep.Flush()
	if !ok {
		return
	}
	d.lastSeq++
	d.seq = d.lastSeq
	d.send(&wire.Op{Doc: d.id, V: v, Seq: d.seq, Op: tree.AsOp(op)})
}

func (d *TreeDoc) failLocked(err error, fx *treeEffects) {
	d.dead = err
	fx.errs = append(fx.errs, err)
}

func (d *TreeDoc) serverError(e *wire.Error) {
	var fx treeEffects
	d.mu.Lock()
	if d.rep == nil && e.Seq == 0 && e.Code != wire.CodeRateLimited {
		// The join itself failed: OpenTree reports it.
		d.dead = &ServerError{Code: e.Code, Msg: e.Msg, Doc: d.id}
		d.wakeLocked()
		d.mu.Unlock()
		d.joinedOnce.Do(func() { close(d.joined) })
		return
	}
	ours := e.Seq != 0 && e.Seq == d.seq
	switch {
	case e.Code == wire.CodeDeleted || e.Code == wire.CodeNotFound && e.Seq == 0:
		d.dead = &ServerError{Code: e.Code, Msg: e.Msg, Doc: d.id}
		fx.errs = append(fx.errs, d.dead)
	case e.Code == wire.CodeRateLimited && ours:
		d.scheduleRetryLocked()
	case ours && (e.Code == wire.CodeInvalidOp || e.Code == wire.CodeTooLarge || e.Code == wire.CodeForbidden || e.Code == wire.CodeBadRequest):
		// Refused for good: forget it and start again from the server's
		// content (what was made on it is re-applied where it still fits).
		op, _, _ := d.rep.InFlight()
		d.rep.DropInFlight()
		d.seq, d.probe = 0, false
		fx.errs = append(fx.errs, &TreeRejectedError{ServerError: ServerError{Code: e.Code, Msg: e.Msg, Doc: d.id, Seq: e.Seq}, Op: op})
		d.joinLocked(false)
	case e.Code == wire.CodeInternal:
		fx.errs = append(fx.errs, &ServerError{Code: e.Code, Msg: e.Msg, Doc: d.id, Seq: e.Seq})
		d.probe = false
		d.joinLocked(true)
	default:
		fx.errs = append(fx.errs, &ServerError{Code: e.Code, Msg: e.Msg, Doc: d.id, Seq: e.Seq})
	}
	dead := d.dead
	d.wakeLocked()
	d.mu.Unlock()
	if dead != nil {
		d.c.forget(d)
	}
	d.emit(&fx)
}

func (d *TreeDoc) scheduleRetryLocked() {
	d.retryLocked(func() { d.step(func(*treeEffects) { d.resendLocked() }) })
}

// Submit applies op, made against the current local tree, and sends it. It
// returns the op as applied locally (actions on missing objects and moves
// that would make a cycle are dropped, as the server would).
func (d *TreeDoc) Submit(op tree.Op) (tree.Op, error) {
	return d.Edit(func(*tree.Content) tree.Op { return op })
}

// Edit makes an op from the current local tree and applies and sends it
// atomically: no remote op lands between reading the view and applying the
// op. make runs with the document locked: it must not call the TreeDoc.
func (d *TreeDoc) Edit(make func(view *tree.Content) tree.Op) (tree.Op, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead != nil {
		return nil, d.dead
	}
	if d.mode == wire.ModeRead {
		return nil, &ServerError{Code: wire.CodeForbidden, Msg: "the document is open read-only", Doc: d.id}
	}
	applied, err := d.rep.Local(make(d.rep.View()))
	if err != nil {
		return nil, fmt.Errorf("client: tree op: %w", err)
	}
	d.flushLocked()
	d.wakeLocked()
	return applied, nil
}

// Content returns the tree as this client sees it (the server's content
// with the local ops not yet acknowledged on top): a clone, O(1).
func (d *TreeDoc) Content() *tree.Content {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rep.View()
}

// Version is the last server version the local tree includes.
func (d *TreeDoc) Version() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rep.V()
}

// Pending reports whether local ops await acknowledgement.
func (d *TreeDoc) Pending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rep.Pending()
}

// Mode is the join mode the server granted.
func (d *TreeDoc) Mode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode
}

// Err is why the document was detached (deleted, closed), or nil.
func (d *TreeDoc) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

// WaitSynced waits until every local op is acknowledged and the document is
// joined, or returns why it cannot be.
func (d *TreeDoc) WaitSynced(ctx context.Context) error {
	return d.waitFor(ctx, "sync", func() bool { return d.isJoined && !d.probe && !d.rep.Pending() })
}

// WaitVersion waits until the local tree includes version v.
func (d *TreeDoc) WaitVersion(ctx context.Context, v int64) error {
	return d.waitFor(ctx, fmt.Sprintf("reach v%d", v), func() bool { return d.isJoined && d.rep.V() >= v })
}

// waitFor waits until done (asked only once the content has come) or the
// document is detached.
func (d *TreeDoc) waitFor(ctx context.Context, what string, done func() bool) error {
	return d.wait(ctx, &d.mu, d.id, what, func() (bool, error) {
		if d.dead != nil {
			return false, d.dead
		}
		return d.rep != nil && done(), nil
	})
}

// Close leaves the document. Unacknowledged ops are abandoned: call
// WaitSynced first to keep them.
func (d *TreeDoc) Close() error {
	d.mu.Lock()
	if d.dead == nil {
		d.send(&wire.Leave{Doc: d.id})
	}
	d.mu.Unlock()
	d.c.forget(d)
	d.kill(ErrClosed)
	return nil
}
