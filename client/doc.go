// Package client is the Go client of the Tandem real-time collaboration
// server (wire protocol: docs/protocol.md).
//
// Dial opens a Conn, which keeps one WebSocket session up, reconnecting with
// exponential back-off and jitter. Conn.Open joins a document and returns a
// Doc, the operational-transform client of that document: local edits apply at
// once and are sent one op at a time (later edits are composed into a buffer
// while one is in flight), remote ops are transformed against what is pending,
// and after a reconnection the Doc re-joins with its version and resubmits its
// unacknowledged op with the same seq, so every edit is committed exactly once.
//
// Positions and lengths count Unicode code points, as everywhere in Tandem.
package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// DocOption configures Open.
type DocOption func(*docOptions)

type docOptions struct {
	onChange   func(Change)
	onAck      func(AckInfo)
	onError    func(error)
	onPresence func()
}

// OnChange registers fn to be called after each remote change of the local
// text. Callbacks run on the connection's reader, in order, without any lock
// held: they may call the Doc's methods but must not block for long.
func OnChange(fn func(Change)) DocOption { return func(o *docOptions) { o.onChange = fn } }

// OnAck registers fn to be called when one of this client's ops is committed.
func OnAck(fn func(AckInfo)) DocOption { return func(o *docOptions) { o.onAck = fn } }

// OnError registers fn to be called with errors the server reports about the
// document (*RejectedError for a refused op, *ServerError otherwise).
func OnError(fn func(error)) DocOption { return func(o *docOptions) { o.onError = fn } }

// OnPresence registers fn to be called when the peer list or a peer's
// selection changed; read them with Peers.
func OnPresence(fn func()) DocOption { return func(o *docOptions) { o.onPresence = fn } }

// Doc is one open document. Its methods are safe for concurrent use.
type Doc struct {
	c    *Conn
	id   string
	opts docOptions

	joined     chan struct{}
	joinedOnce sync.Once

	mu    sync.Mutex
	st    *docState
	sess  *session
	watch // waiters and the rate-limit back-off, guarded by mu
}

// ID is the document id.
func (d *Doc) ID() string { return d.id }

// handle takes a server message about this document (openDoc).
func (d *Doc) handle(m wire.Message) {
	switch m := m.(type) {
	case *wire.Joined:
		d.step(func(s *docState, fx *effects) { s.onJoined(m, fx) })
		d.joinedOnce.Do(func() { close(d.joined) })
	case *wire.Ack:
		d.step(func(s *docState, fx *effects) { s.onAck(m.Seq, m.V, fx) })
	case *wire.OpBroadcast:
		d.step(func(s *docState, fx *effects) { s.onOp(m, fx) })
	case *wire.PresenceMsg:
		d.step(func(s *docState, fx *effects) { s.onPresence(m, fx) })
	case *wire.Error:
		d.serverError(m)
	}
}

func (d *Doc) lastSeqOf() (string, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.id, d.st.lastSeq
}

func (d *Doc) setMode(mode string) {
	d.mu.Lock()
	d.st.mode = mode
	d.mu.Unlock()
}

// send is the state machine's outlet; called with d.mu held, so messages are
// queued in the order the state machine produced them.
func (d *Doc) send(m wire.Message) { d.c.sendOn(d.sess, d.id, m) }

// step runs one state-machine transition and then the callbacks it produced.
func (d *Doc) step(f func(*docState, *effects)) {
	fx := effects{noChanges: d.opts.onChange == nil}
	d.mu.Lock()
	wasDead := d.st.dead
	f(d.st, &fx)
	if wasDead == nil && d.st.dead != nil && !isOurs(d.st.dead, fx.errs) {
		fx.errs = append(fx.errs, d.st.dead)
	}
	d.wakeLocked()
	d.mu.Unlock()
	d.emit(&fx)
}

func isOurs(err error, errs []error) bool {
	for _, e := range errs {
		if e == err {
			return true
		}
	}
	return false
}

func (d *Doc) emit(fx *effects) {
	deliver(d.opts.onChange, fx.changes)
	deliver(d.opts.onAck, fx.acks)
	deliver(d.opts.onError, fx.errs)
	if fn := d.opts.onPresence; fn != nil && fx.presence {
		fn()
	}
}

func (d *Doc) wakeLocked() { d.watch.wakeLocked(d.st.inflight == nil) }

// attach binds the document to a new session and joins; called with c.mu held.
func (d *Doc) attach(sess *session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sess = sess
	d.st.onSession()
	d.wakeLocked()
}

// detach is called when the session ends; called with c.mu held.
func (d *Doc) detach() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sess = nil
	d.st.onDisconnect()
	d.wakeLocked()
}

// kill detaches the document for good.
func (d *Doc) kill(err error) {
	d.mu.Lock()
	if d.st.dead == nil {
		d.st.dead = err
	}
	d.stopLocked()
	d.wakeLocked()
	d.mu.Unlock()
	d.joinedOnce.Do(func() { close(d.joined) })
}

// serverError handles an error message about this document.
func (d *Doc) serverError(e *wire.Error) {
	fx := effects{noChanges: d.opts.onChange == nil}
	d.mu.Lock()
	if !d.st.synced && e.Seq == 0 && e.Code != wire.CodeRateLimited {
		// The join itself failed: Open reports it.
		d.st.dead = &ServerError{Code: e.Code, Msg: e.Msg, Doc: d.id}
		d.wakeLocked()
		d.mu.Unlock()
		d.joinedOnce.Do(func() { close(d.joined) })
		return
	}
	retry := d.st.onError(e, &fx)
	if retry && d.st.dead == nil {
		d.scheduleRetryLocked()
	}
	dead := d.st.dead
	d.wakeLocked()
	d.mu.Unlock()
	if dead != nil {
		d.c.forget(d)
	}
	d.emit(&fx)
}

// scheduleRetryLocked resends what a rate limit dropped after a growing delay.
func (d *Doc) scheduleRetryLocked() {
	d.retryLocked(func() { d.step(func(s *docState, _ *effects) { s.retry() }) })
}

// Submit applies op, made against the current local text, and sends it.
func (d *Doc) Submit(op ot.Op) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.st.local(op)
	d.wakeLocked()
	return err
}

// Edit makes an op from the current local text and applies and sends it
// atomically: no remote op can land between reading the text and applying the
// op, as it can between Text and Submit. It is how an editor that computes an
// op from what it shows should submit it. make runs with the document locked:
// it must not call d's methods.
func (d *Doc) Edit(make func(text string) ot.Op) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.st.local(make(d.st.textString()))
	d.wakeLocked()
	return err
}

// Type types text at the user's caret, as a key press does: it replaces the
// first range of Selection (inserts at its head when it is a caret), or
// appends to the text when the selection is hidden, and the caret ends after
// the text. Like Edit it is atomic: no remote op lands between finding the
// caret and applying the edit.
func (d *Doc) Type(text string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	from, to := d.st.text.Len(), d.st.text.Len()
	if len(d.st.sel) > 0 {
		r := d.st.sel[0]
		from, to = min(r.Anchor, r.Head), max(r.Anchor, r.Head)
	}
	var op ot.Op
	if from > 0 {
		op = append(op, ot.Component{Retain: from})
	}
	if text != "" {
		op = append(op, ot.Component{Insert: text})
	}
	if to > from {
		op = append(op, ot.Component{Delete: to - from})
	}
	err := d.st.local(op)
	d.wakeLocked()
	return err
}

// Insert inserts text at code point pos.
func (d *Doc) Insert(pos int, text string) error {
	if pos < 0 {
		return fmt.Errorf("client: insert at negative position %d", pos)
	}
	if text == "" {
		return nil
	}
	op := ot.Op{}
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	return d.Submit(append(op, ot.Component{Insert: text}))
}

// Delete deletes n code points at pos.
func (d *Doc) Delete(pos, n int) error {
	if pos < 0 || n < 0 {
		return fmt.Errorf("client: delete %d at %d: negative", n, pos)
	}
	if n == 0 {
		return nil
	}
	op := ot.Op{}
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	return d.Submit(append(op, ot.Component{Delete: n}))
}

// Text is the local text: the server's version with the local pending edits.
func (d *Doc) Text() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.textString()
}

// Len is the length of Text in code points.
func (d *Doc) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.text.Len()
}

// Version is the server version the local text is based on.
func (d *Doc) Version() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.version
}

// Snapshot returns Text and Version read together.
func (d *Doc) Snapshot() (text string, v int64, pending int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.textString(), d.st.version, d.st.pending()
}

// Pending counts unacknowledged local ops: 0 (synchronised), 1 (one in flight)
// or 2 (one in flight and later edits buffered).
func (d *Doc) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.pending()
}

// Gaps counts the times the server's stream on this document was not what
// the protocol promises (an op past the next version, an ack out of turn,
// a joined answer whose ops fall short) and the document re-joined to
// recover. Tests of the server assert it stays 0.
func (d *Doc) Gaps() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.gaps
}

// LastSeq is the seq of the last op this client sent on the document.
func (d *Doc) LastSeq() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.lastSeq
}

// EditSeq is the seq of the op that carries the newest local edit: the next
// one when edits wait in the buffer behind an op in flight (or for the join),
// else the last one sent, in flight or already acknowledged. It is read in
// one look at the state, so that a caller that edits and then asks which ack
// to wait for gets the right answer however the acks race the two calls;
// LastSeq and Pending read one after the other can straddle an ack that
// sends the buffer and be one op off.
func (d *Doc) EditSeq() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.editSeq()
}

// Mode is the join mode the server granted: wire.ModeReadWrite or
// wire.ModeRead.
func (d *Doc) Mode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.mode
}

// Err is why the document was detached (deleted, closed), or nil.
func (d *Doc) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.dead
}

// WaitSynced waits until every local edit is acknowledged and the document is
// joined, or returns why it cannot be (ctx done, document detached).
func (d *Doc) WaitSynced(ctx context.Context) error {
	return d.wait(ctx, &d.mu, d.id, "sync", func() (bool, error) { return d.st.isSynced(), d.st.dead })
}

// WaitVersion waits until the local state is based on at least version v.
func (d *Doc) WaitVersion(ctx context.Context, v int64) error {
	return d.wait(ctx, &d.mu, d.id, fmt.Sprintf("reach v%d", v), func() (bool, error) {
		return d.st.version >= v && d.st.joined && !d.st.rejoining, d.st.dead
	})
}

// SetSelection publishes the user's selection (in local text coordinates)
// and presence data (any value MessagePack encodes as a map, or nil). It is
// sent at once when nothing is in flight, else with the next op or after the
// ack, as the protocol requires.
func (d *Doc) SetSelection(sel ot.Selection, data any) error {
	var raw []byte
	if data != nil {
		b, err := msgpack.Marshal(data)
		if err != nil {
			return fmt.Errorf("client: encode presence data: %w", err)
		}
		raw = b
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.dead != nil {
		return d.st.dead
	}
	if err := sel.Validate(d.st.text.Len()); err != nil {
		return fmt.Errorf("client: selection: %w", err)
	}
	d.st.setSelection(sel, raw)
	d.wakeLocked()
	return nil
}

// Selection is the user's own selection, moved through remote edits.
func (d *Doc) Selection() ot.Selection {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.sel
}

// Peers lists the other clients joined to the document, their selections in
// local text coordinates.
func (d *Doc) Peers() []Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.peersView()
}

// Close leaves the document. Unacknowledged edits are abandoned: call
// WaitSynced first to keep them.
func (d *Doc) Close() error {
	d.mu.Lock()
	if d.st.dead != nil && !errors.Is(d.st.dead, ErrClosed) {
		d.mu.Unlock()
		d.c.forget(d)
		return nil
	}
	d.send(&wire.Leave{Doc: d.id})
	d.mu.Unlock()
	d.c.forget(d)
	d.kill(ErrClosed)
	return nil
}
