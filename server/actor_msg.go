package server

import (
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/wire"
)

// actorMsg is anything a document actor's mailbox carries.
type actorMsg interface{ actorMsg() }

// joinMsg subscribes sub. peer is the presence identity of a WebSocket session
// (nil for a subscriber that is not a peer, such as an SSE stream).
type joinMsg struct {
	sub  Subscriber
	v    *int64
	mode auth.Mode
	peer *wire.PeerInfo
}

// leaveMsg unsubscribes sub; its peers see it gone.
type leaveMsg struct{ sub Subscriber }

// opMsg submits an op made against version v. A WebSocket op carries its
// session's subscriber (acks and errors are delivered to it); SubmitOp carries a
// reply channel instead.
type opMsg struct {
	sub    Subscriber
	reply  chan opResult
	v      int64
	seq    int64
	sid    string
	userID string
	op     doctype.Op
	sel    doctype.Selection
	// rawOp and rawSel are the op and selection as sent, when the connection
	// did not know the document's type yet (its joined was on the way): the
	// actor decodes them with its type (decodeRaw) before anything else.
	rawOp, rawSel msgpack.RawMessage
	// from is the node that forwarded the op to this one, its owner
	// (actor_owner.go); "" for an op of this node's own clients.
	from string
}

type opResult struct {
	v   int64
	err error
}

// presenceMsg is a selection (and optional data) at version v.
type presenceMsg struct {
	sub  Subscriber
	v    int64
	sel  doctype.Selection
	data msgpack.RawMessage
	// rawSel is the selection as sent when the connection did not know the
	// document's type yet, as in opMsg.
	rawSel msgpack.RawMessage
}

// deleteMsg tells the actor its document was deleted.
type deleteMsg struct{}

func (*joinMsg) actorMsg()     {}
func (*leaveMsg) actorMsg()    {}
func (*opMsg) actorMsg()       {}
func (*presenceMsg) actorMsg() {}
func (*deleteMsg) actorMsg()   {}
