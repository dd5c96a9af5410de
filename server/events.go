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
// An Event is shared by all receivers: treat every field as read-only.
type Event struct {
	Doc string
	// V is the version: of the joined state, of the committed op (it applies
	// to V), of the acknowledged op, or of the presence selections.
	V int64

	// Joined. Content is the subscriber's own clone.
	DocType string
	Content doctype.Content
	Ops     []store.OpRecord
	Mode    auth.Mode

	// Op and Ack: the committed record (Op.SID, Op.Seq, Op.UserID) and the
	// author's selection after it, transformed to V+1.
	Op  *store.OpRecord
	Sel doctype.Selection
	Seq int64

	// Joined and Presence.
	Peers []wire.PeerInfo
	Gone  []string

	// Error.
	Code string
	Msg  string

	// Kind and JoinFailed (Error) sit together, next to once: the fields
	// are ordered so that an Event fits a 256-byte allocation.
	Kind       EventKind
	JoinFailed bool

	once  sync.Once
	frame []byte
	err   error
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
		j := &wire.Joined{Doc: ev.Doc, V: ev.V, DocType: ev.DocType, Content: ev.Content, Peers: ev.Peers, Mode: ev.Mode.String()}
		if ev.Content == nil {
			j.Ops = make([]wire.OpEntry, len(ev.Ops))
			for i, r := range ev.Ops {
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
		return &wire.Error{Code: ev.Code, Msg: ev.Msg, Doc: ev.Doc, Seq: ev.Seq}
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
	ev.once.Do(func() { ev.frame, ev.err = ev.encode() })
	return ev.frame, ev.err
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
