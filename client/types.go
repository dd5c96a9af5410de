package client

import (
	"errors"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// User is a display identity: what the client proposes in hello, and what the
// server states for every peer (ID is set by the server). It is the wire's
// one User type.
type User = wire.User

// Peer is another client joined to the same document.
type Peer struct {
	SID  string
	User User
	// Sel is the peer's selection in the coordinates of the local text (moved
	// through this client's unacknowledged ops); nil when hidden or unknown.
	Sel ot.Selection
	// Data is the peer's raw MessagePack "data" map (nil when none); decode it
	// with msgpack.Unmarshal.
	Data msgpack.RawMessage
}

// Change is one modification of a document's local text that did not come
// from a local edit: Op applies to the text as it was just before, and after
// it the text is what Text returns.
type Change struct {
	// Op is the change in local coordinates.
	Op ot.Op
	// V is the server version the change corresponds to.
	V int64
	// SID and Seq name the author's op; empty for a Reset.
	SID string
	Seq int64
	// Reset marks a change computed as a difference after a jump the client
	// could not follow op by op (a re-join answered with the whole text, or a
	// rejected op rolled back).
	Reset bool
}

// AckInfo is the acknowledgement of one of this client's ops: op Seq was
// committed as version V.
type AckInfo struct {
	Seq int64
	V   int64
}

// Errors callers branch on.
var (
	// ErrClosed is returned by calls on a closed Conn or Doc.
	ErrClosed = errors.New("client: closed")
	// ErrReadOnly is returned by Submit on a document joined read-only.
	ErrReadOnly = errors.New("client: document is read-only")
)

// ServerError is an error message the server sent (or, with CodeWrongType,
// one this client makes up): the protocol's one error type, wire.Error. Code
// is one of the wire error codes (wire.CodeNotFound, wire.CodeDeleted, ...).
type ServerError = wire.Error

// CodeWrongType is the ServerError code of a document this client cannot
// edit: it is not of type text (the same code as the TypeScript SDK's).
const CodeWrongType = "wrong_type"

// IsCode reports whether err is (or wraps) a ServerError with the given code.
func IsCode(err error, code string) bool {
	var se *ServerError
	return errors.As(err, &se) && se.Code == code
}

// RejectedError reports a local op the server refused for good (invalid_op,
// too_large, forbidden, bad_request). The op, and any edits buffered after it, were rolled
// back from the local text.
type RejectedError struct {
	ServerError
	// Op is the rejected op as it was last sent.
	Op ot.Op
}

// Unwrap exposes the ServerError so that IsCode and errors.As work.
func (e *RejectedError) Unwrap() error { return &e.ServerError }

func peerFromWire(p wire.PeerInfo) Peer {
	data := p.Data
	if len(data) == 1 && data[0] == 0xc0 {
		data = nil
	}
	return Peer{SID: p.SID, User: p.User, Sel: textdoc.OfSelection(p.Sel), Data: data}
}

// transformSel moves sel, the selection of owner, through op, written by
// author: an insert exactly at a caret leaves it before the inserted text,
// unless the caret is the author's own (ot.TransformSelectionPast).
func transformSel(sel ot.Selection, owner string, op ot.Op, author string) ot.Selection {
	if sel == nil || op == nil {
		return sel
	}
	return ot.TransformSelectionPast(sel, owner, op, author)
}

// diffOp is an op turning a into b: keep the common prefix and suffix, replace
// the middle. It is what the client falls back to when it knows two states but
// not the ops between them.
func diffOp(a, b string) ot.Op {
	ra, rb := []rune(a), []rune(b)
	p := 0
	for p < len(ra) && p < len(rb) && ra[p] == rb[p] {
		p++
	}
	sfx := 0
	for sfx < len(ra)-p && sfx < len(rb)-p && ra[len(ra)-1-sfx] == rb[len(rb)-1-sfx] {
		sfx++
	}
	var op ot.Op
	if p > 0 {
		op = append(op, ot.Component{Retain: p})
	}
	if ins := rb[p : len(rb)-sfx]; len(ins) > 0 {
		op = append(op, ot.Component{Insert: string(ins)})
	}
	if del := len(ra) - sfx - p; del > 0 {
		op = append(op, ot.Component{Delete: del})
	}
	return op.Normalize()
}

// rebaseOnto moves op, made against from, onto to, treating the difference
// between the two texts as a concurrent op committed first. The difference
// has no author to order ties by, so its inserts go left, as a committed op
// of the same author's would.
func rebaseOnto(op ot.Op, from, to string) ot.Op {
	d := diffOp(from, to)
	if d.IsNoop() {
		return op
	}
	out, err := ot.Transform(op, d, ot.Right)
	if err != nil || out.IsNoop() {
		return nil
	}
	return out
}

// runeLen counts code points, the unit of every position.
func runeLen(s string) int { return utf8.RuneCountInString(s) }
