package wire

import (
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
)

// ProtoVersion is the protocol version of this package, sent in Hello.Proto and
// Welcome.Proto.
const ProtoVersion = 1

// Message type discriminators: the value of the "t" key. TypeOp and
// TypePresence are used in both directions.
const (
	TypeHello    = "hello"
	TypeJoin     = "join"
	TypeLeave    = "leave"
	TypeOp       = "op"
	TypePresence = "presence"
	TypeWelcome  = "welcome"
	TypeJoined   = "joined"
	TypeAck      = "ack"
	TypeError    = "error"
)

// Join modes sent in Joined.Mode.
const (
	// ModeReadWrite lets the client submit ops.
	ModeReadWrite = "rw"
	// ModeRead makes the client a viewer: its ops get CodeForbidden.
	ModeRead = "r"
)

// Message is any protocol message, in either direction. Type returns the value of
// its "t" key; note that the client Op and the server OpBroadcast share "op", and
// Presence and PresenceMsg share "presence": the direction tells them apart.
type Message interface {
	Type() string
}

// ---- client to server ----

// Hello is the client's first message.
type Hello struct {
	// Proto is the protocol version the client speaks (1).
	Proto int `msgpack:"proto"`
	// SID identifies the client (one editor tab) across reconnects.
	SID string `msgpack:"sid"`
	// User is the display identity the client proposes; nil when absent. The
	// server may override it with the token's.
	User *UserInfo `msgpack:"user,omitempty"`
}

// UserInfo is the display identity a client proposes in Hello.
type UserInfo struct {
	// Name is the display name; bounded so presence stays small.
	Name string `msgpack:"name"`
	// Color is a CSS color string such as "#e91e63".
	Color string `msgpack:"color"`
}

// Join subscribes the connection to a document.
type Join struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
	// V, when set, is the version the client already holds; the server then
	// sends only the ops it missed if it still has them.
	V *int64 `msgpack:"v,omitempty"`
}

// Leave unsubscribes the connection from a document.
type Leave struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
}

// Op submits an edit made against version V.
type Op struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
	// V is the version the op was made against.
	V int64 `msgpack:"v"`
	// Seq is positive and strictly increasing per sid and document; it makes
	// resubmission after a reconnect idempotent.
	Seq int64 `msgpack:"seq"`
	// Op is the edit as sent, already checked by its document type's decoder
	// (shape and UTF-8, not yet against the document). The decoder does not
	// normalise it, so a trailing retain still counts when the server checks
	// it against the document at V.
	Op doctype.Op `msgpack:"op"`
	// Sel is the author's selection after the op, in its own coordinates. Nil
	// when the key was absent or nil: the server then keeps (and transforms) the
	// author's previous selection.
	Sel doctype.Selection `msgpack:"sel,omitempty"`
	// Raw is set, and Op and Sel are nil, when the decoder did not know the
	// document's type yet (Limits.TypeOf answered nil: the join is on its
	// way). It is not encoded.
	Raw *Raw `msgpack:"-"`
}

// Raw holds the values of an op or presence message that its decoder could
// not decode because it did not know the document's type yet: as sent,
// copied, checked structurally and against the size limits, for the
// document's owner to decode with its type. A pointer in the message, so
// that a message decoded the usual way is no larger for it (DecodeClient
// allocates one per frame).
type Raw struct {
	// Op is the "op" value (nil for a presence).
	Op msgpack.RawMessage
	// Sel is the "sel" value; nil when it was absent or nil.
	Sel msgpack.RawMessage
}

// Presence is the author's selection at version V, without an edit.
type Presence struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
	// V is the version Sel refers to.
	V int64 `msgpack:"v"`
	// Sel is the selection; nil hides the caret (the key itself is required).
	Sel doctype.Selection `msgpack:"sel"`
	// Raw is set, with its Sel, instead of Sel when the document's type was
	// not known yet, as in Op. It is not encoded.
	Raw *Raw `msgpack:"-"`
	// Data is the encoded "data" map, kept raw so the server forwards it without
	// re-encoding. It is nil when the key was absent (keep the previous data),
	// and the one-byte MessagePack nil when the client sent nil (clear it). It is
	// a copy: it does not alias the frame.
	Data msgpack.RawMessage `msgpack:"data,omitempty"`
}

// ---- server to client ----

// User is a peer's identity as the server states it: the one user type of
// the server, presence and the Go client, which the event streams render as
// JSON with the same keys.
type User struct {
	// ID is the user id (the token's sub, or made up in open mode).
	ID string `msgpack:"id" json:"id"`
	// Name is the display name.
	Name string `msgpack:"name" json:"name"`
	// Color is a CSS color string.
	Color string `msgpack:"color" json:"color"`
}

// Welcome answers Hello.
type Welcome struct {
	// Proto is the protocol version the server speaks with this client.
	Proto int `msgpack:"proto"`
	// SID echoes the client's session id.
	SID string `msgpack:"sid"`
	// User is the identity the server settled on (from the token when there is
	// one); peers see this one.
	User User `msgpack:"user"`
}

// OpEntry is one committed op in Joined.Ops.
type OpEntry struct {
	// V is the version the op applies to.
	V int64 `msgpack:"v"`
	// Op is the committed (canonical) op.
	Op doctype.Op `msgpack:"op"`
	// SID is the author's session id; a client recognises its own ops by it.
	SID string `msgpack:"sid"`
	// Seq is the author's seq for the op.
	Seq int64 `msgpack:"seq"`
}

// PeerInfo is one peer in Joined.Peers and PresenceMsg.Peers.
type PeerInfo struct {
	// SID is the peer's session id.
	SID string `msgpack:"sid"`
	// User is the peer's identity.
	User User `msgpack:"user"`
	// Sel is the peer's selection at the message's version; nil is hidden and is
	// encoded as nil.
	Sel doctype.Selection `msgpack:"sel"`
	// Data is the peer's raw data map; nil is encoded as MessagePack nil.
	Data msgpack.RawMessage `msgpack:"data"`
}

// Joined answers Join with the current state of the document.
type Joined struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
	// V is the document's current version.
	V int64 `msgpack:"v"`
	// DocType is the document's type ("text", "rich", "tree"), sent as
	// "type"; "" encodes as "text", and a decoder that gets no "type" takes
	// "text" (servers before types existed).
	DocType string `msgpack:"type"`
	// Content is the whole document at V, sent under its type's ContentKey
	// ("text" for text); nil when Ops is sent instead.
	Content doctype.Content `msgpack:"-"`
	// Ops are the ops the client missed since the version it joined with, used
	// when Content is nil.
	Ops []OpEntry `msgpack:"ops,omitempty"`
	// Peers is the whole presence list, selections at V.
	Peers []PeerInfo `msgpack:"peers"`
	// Mode is ModeReadWrite or ModeRead.
	Mode string `msgpack:"mode"`
}

// Ack tells the author that its op Seq was committed as version V.
type Ack struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
	// Seq is the acknowledged op's seq.
	Seq int64 `msgpack:"seq"`
	// V is the version the op was committed as (it applies to V); for a
	// resubmitted (sid, seq) it is the original version.
	V int64 `msgpack:"v"`
}

// OpBroadcast is another client's op, transformed, applying to version V.
type OpBroadcast struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
	// V is the version the op applies to.
	V int64 `msgpack:"v"`
	// Op is the committed op, transformed to V.
	Op doctype.Op `msgpack:"op"`
	// SID is the author's session id.
	SID string `msgpack:"sid"`
	// Seq is the author's seq for the op.
	Seq int64 `msgpack:"seq"`
	// Sel is the author's selection after the op, or nil when it sent none
	// (the key is then omitted).
	Sel doctype.Selection `msgpack:"sel,omitempty"`
}

// PresenceMsg carries changed peers (selections at version V) and departed sids.
type PresenceMsg struct {
	// Doc is the document id.
	Doc string `msgpack:"doc"`
	// V is the version the selections refer to.
	V int64 `msgpack:"v"`
	// Peers are the peers that joined or changed, in their latest state.
	Peers []PeerInfo `msgpack:"peers"`
	// Gone lists the sids that left; omitted when empty.
	Gone []string `msgpack:"gone,omitempty"`
}

// Error reports a failure; Doc and Seq say what it is about when known. It is
// also the Go error of such failures (errors.go).
type Error struct {
	// Code is one of the Code constants.
	Code string `msgpack:"code"`
	// Msg is a human-readable detail.
	Msg string `msgpack:"msg"`
	// Doc is omitted when empty.
	Doc string `msgpack:"doc,omitempty"`
	// Seq is omitted when zero (seqs are positive).
	Seq int64 `msgpack:"seq,omitempty"`
	// Err is the cause, on this side only: it is not sent.
	Err error `msgpack:"-"`
}

// Type implements Message.
func (*Hello) Type() string { return TypeHello }

// Type implements Message.
func (*Join) Type() string { return TypeJoin }

// Type implements Message.
func (*Leave) Type() string { return TypeLeave }

// Type implements Message.
func (*Op) Type() string { return TypeOp }

// Type implements Message.
func (*Presence) Type() string { return TypePresence }

// Type implements Message.
func (*Welcome) Type() string { return TypeWelcome }

// Type implements Message.
func (*Joined) Type() string { return TypeJoined }

// Type implements Message.
func (*Ack) Type() string { return TypeAck }

// Type implements Message.
func (*OpBroadcast) Type() string { return TypeOp }

// Type implements Message.
func (*PresenceMsg) Type() string { return TypePresence }

// Type implements Message.
func (*Error) Type() string { return TypeError }
