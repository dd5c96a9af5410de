package server

import (
	"sync"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// EventKind says what an Event carries. It is a byte so that it packs
// beside JoinFailed: an Event is allocated per ack, op and presence flush,
// and a smaller one is less garbage (docs/benchmarks.md, fleet).
type EventKind uint8

const (
	// EventJoined is the first event of a subscription: the document's type
	// and its state at V, as Content or as the Ops since the version asked
	// for, the peers and the mode.
	// No other event of the document reaches the subscriber before it, and none
	// committed after V is missed.
	EventJoined EventKind = iota + 1
	// EventOp is a committed op (Op), authored by someone other than the
	// subscriber, with the author's selection after it (Sel) when it sent one.
	EventOp
	// EventAck tells the subscriber its own op Seq was committed as version V.
	EventAck
	// EventPresence carries the peers that changed (selections at V) and the
	// sids that left.
	EventPresence
	// EventError reports a failure about something this subscriber sent (Code,
	// Msg, Seq). A failed join (Code not_found, internal, ...) also ends the
	// subscription: JoinFailed is then true.
	EventError
	// EventDeleted: the document was deleted; the subscriber has been detached.
	EventDeleted
)

// Event is what a document actor hands its subscribers: structured values for
// any consumer (an SSE stream marshals them to JSON) plus the shared WebSocket
// frame, encoded once per event for every WebSocket receiver.
//
// An Event is allocated per ack, op and presence flush (ten thousand a
// second in the fleet scenario), so what only a joined or an error event
// carries sits behind a pointer (Join, Fail): that keeps an Event in a
// 160-byte allocation instead of 256 (docs/benchmarks.md, fleet).
//
// An Event is shared by all receivers: treat every field as read-only.
type Event struct {
	Doc string
	// V is the version: of the joined state, of the committed op (it applies
	// to V), of the acknowledged op, or of the presence selections.
	V int64

	// Op and Ack: the committed record (Op.SID, Op.Seq, Op.UserID) and the
	// author's selection after it, transformed to V+1.
	Op  *store.OpRecord
	Sel doctype.Selection
	// Seq is the acknowledged op's (Ack) or the refused one's (Error).
	Seq int64

	// Joined and Presence.
	Peers []wire.PeerInfo
	Gone  []string

	// Join is the joined state (Joined only; nil otherwise).
	Join *JoinState
	// Fail is the error (Error only; nil otherwise).
	Fail *Failure

	// Kind and JoinFailed (Error) sit together, next to once: the fields
	// are ordered so that an Event fits a 160-byte allocation.
	Kind       EventKind
	JoinFailed bool

	once  sync.Once
	frame []byte // nil when the encoding failed (Frame encodes again for the error)
}

// JoinState is what a joined event carries besides the peers.
type JoinState struct {
	// DocType is the document's type name.
	DocType string
	// Content is the subscriber's own clone of the document at V (nil when
	// Ops is set).
	Content doctype.Content
	// Ops are the ops since the version the subscriber asked for.
	Ops []store.OpRecord
	// Mode is the subscriber's access.
	Mode auth.Mode
}

// Failure is what an error event carries: the protocol error code and message.
type Failure struct {
	Code string
	Msg  string
}

// failure is ev's Fail, or the zero Failure.
func (ev *Event) failure() Failure {
	if ev.Fail == nil {
		return Failure{}
	}
	return *ev.Fail
}

// joinState is ev's Join, or the zero JoinState.
func (ev *Event) joinState() JoinState {
	if ev.Join == nil {
		return JoinState{}
	}
	return *ev.Join
}

// Subscriber receives a document's events. Deliver is called only from the
// document's actor goroutine, in order, and must never block: a subscriber that
// cannot take an event returns false, the actor then detaches it (its peers see
// it gone) and it is expected to close itself (a WebSocket closes with 1013).
type Subscriber interface {
	Deliver(ev *Event) bool
}

// WireMessage is the event as a protocol message (server to client).
func (ev *Event) WireMessage() wire.Message {
	switch ev.Kind {
	case EventJoined:
		js := ev.joinState()
		j := &wire.Joined{Doc: ev.Doc, V: ev.V, DocType: js.DocType, Content: js.Content, Peers: ev.Peers, Mode: js.Mode.String()}
		if js.Content == nil {
			j.Ops = make([]wire.OpEntry, len(js.Ops))
			for i, r := range js.Ops {
				j.Ops[i] = wire.OpEntry{V: r.Version, Op: r.Op, SID: r.SID, Seq: r.Seq}
			}
		}
		if j.Peers == nil {
			j.Peers = []wire.PeerInfo{}
		}
		return j
	case EventOp:
		m := ev.opMessage()
		return &m
	case EventAck:
		m := ev.ackMessage()
		return &m
	case EventPresence:
		m := ev.presenceMessage()
		return &m
	case EventDeleted:
		return &wire.Error{Code: wire.CodeDeleted, Msg: "the document was deleted", Doc: ev.Doc}
	default:
		f := ev.failure()
		return &wire.Error{Code: f.Code, Msg: f.Msg, Doc: ev.Doc, Seq: ev.Seq}
	}
}

// withFrame makes frame, the event already encoded (by the node that
// committed the op, for its own subscribers), the event's WebSocket frame,
// so that Frame does not encode it again; a nil frame changes nothing.
func (ev *Event) withFrame(frame []byte) *Event {
	if frame != nil {
		ev.once.Do(func() { ev.frame = frame })
	}
	return ev
}

func (ev *Event) opMessage() wire.OpBroadcast {
	return wire.OpBroadcast{Doc: ev.Doc, V: ev.Op.Version, Op: ev.Op.Op, SID: ev.Op.SID, Seq: ev.Op.Seq, Sel: ev.Sel}
}

func (ev *Event) ackMessage() wire.Ack { return wire.Ack{Doc: ev.Doc, Seq: ev.Seq, V: ev.V} }

func (ev *Event) presenceMessage() wire.PresenceMsg {
	p := wire.PresenceMsg{Doc: ev.Doc, V: ev.V, Peers: ev.Peers, Gone: ev.Gone}
	if p.Peers == nil {
		p.Peers = []wire.PeerInfo{}
	}
	return p
}

// Frame is the event's WebSocket frame, encoded on first use and shared by
// every receiver after that.
func (ev *Event) Frame() ([]byte, error) {
	ev.once.Do(func() { ev.frame, _ = ev.encode() })
	if ev.frame == nil {
		// The encoding failed (a bug: every event encodes): encode again for
		// the error rather than keep an error field in every Event.
		return ev.encode()
	}
	return ev.frame, nil
}

// encode encodes the event's frame. The kinds of every op and presence
// flush (ack, op, presence) encode their message from the stack:
// WireMessage's is a heap allocation per event that lived only for the
// encoding (docs/benchmarks.md, fleet).
func (ev *Event) encode() ([]byte, error) {
	switch ev.Kind {
	case EventOp:
		m := ev.opMessage()
		return wire.Encode(&m)
	case EventAck:
		m := ev.ackMessage()
		return wire.Encode(&m)
	case EventPresence:
		m := ev.presenceMessage()
		return wire.Encode(&m)
	}
	return wire.Encode(ev.WireMessage())
}
