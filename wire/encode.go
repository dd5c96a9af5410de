package wire

import (
	"fmt"
	"sync"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/mpack"
)

// maxPooledBuffer keeps one huge message (a joined with a large document) from
// pinning its buffer in the pool forever.
const maxPooledBuffer = 64 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// Encode encodes msg (of either direction) as one MessagePack map and returns an
// exact-size frame that the caller owns: encode a broadcast once and queue the
// same slice to every receiver. The work happens in a pooled scratch buffer, so
// the only allocation is the returned frame.
func Encode(msg Message) ([]byte, error) {
	bp := bufPool.Get().(*[]byte)
	b, err := Append((*bp)[:0], msg)
	var out []byte
	if err == nil {
		out = make([]byte, len(b))
		copy(out, b)
	}
	if cap(b) <= maxPooledBuffer {
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return out, err
}

// EncodeClient encodes a client message (Hello, Join, Leave, Op, Presence, Auth) after
// checking it against the same rules DecodeClient applies, so a Go client learns
// of a bad message before the server answers bad_request.
func EncodeClient(msg Message) ([]byte, error) {
	switch msg.(type) {
	case *Hello, *Join, *Leave, *Op, *Presence, *Auth:
	default:
		return nil, fmt.Errorf("wire: encode client: %T is not a client message", msg)
	}
	if err := checkStruct(msg); err != nil {
		return nil, fmt.Errorf("wire: encode client %s: %w", msg.Type(), err)
	}
	return Encode(msg)
}

// EncodeBatch joins already encoded messages into one frame holding an array of
// them, which the receiver handles in order. The maps are copied, not
// re-encoded. One frame is returned as is (no copy); none gives nil.
func EncodeBatch(frames [][]byte) []byte {
	switch len(frames) {
	case 0:
		return nil
	case 1:
		return frames[0]
	}
	n := 5
	for _, f := range frames {
		n += len(f)
	}
	b := mpack.AppendArrayHeader(make([]byte, 0, n), len(frames))
	for _, f := range frames {
		b = append(b, f...)
	}
	return b
}

// Append appends the encoding of msg (of either direction) to dst. The message
// is not validated: server messages are built by the server itself.
func Append(dst []byte, msg Message) ([]byte, error) {
	b := dst
	switch m := msg.(type) {
	case *Hello:
		n := 3
		if m.User != nil {
			n++
		}
		b = mpack.AppendMapHeader(b, n)
		b = appendKV(b, "t", TypeHello)
		b = mpack.AppendInt(mpack.AppendString(b, "proto"), int64(m.Proto))
		b = appendKV(b, "sid", m.SID)
		if m.User != nil {
			b = mpack.AppendMapHeader(mpack.AppendString(b, "user"), 2)
			b = appendKV(b, "name", m.User.Name)
			b = appendKV(b, "color", m.User.Color)
		}
	case *Join:
		n := 2
		if m.V != nil {
			n++
		}
		b = mpack.AppendMapHeader(b, n)
		b = appendKV(b, "t", TypeJoin)
		b = appendKV(b, "doc", m.Doc)
		if m.V != nil {
			b = mpack.AppendInt(mpack.AppendString(b, "v"), *m.V)
		}
	case *Leave:
		b = mpack.AppendMapHeader(b, 2)
		b = appendKV(b, "t", TypeLeave)
		b = appendKV(b, "doc", m.Doc)
	case *Op:
		n := 5
		if m.Sel != nil {
			n++
		}
		b = mpack.AppendMapHeader(b, n)
		b = appendKV(b, "t", TypeOp)
		b = appendKV(b, "doc", m.Doc)
		b = mpack.AppendInt(mpack.AppendString(b, "v"), m.V)
		b = mpack.AppendInt(mpack.AppendString(b, "seq"), m.Seq)
		b = appendOp(mpack.AppendString(b, "op"), m.Op)
		if m.Sel != nil {
			b = appendSel(mpack.AppendString(b, "sel"), m.Sel)
		}
	case *Presence:
		n := 4
		if m.Data != nil {
			n++
		}
		b = mpack.AppendMapHeader(b, n)
		b = appendKV(b, "t", TypePresence)
		b = appendKV(b, "doc", m.Doc)
		b = mpack.AppendInt(mpack.AppendString(b, "v"), m.V)
		b = appendSel(mpack.AppendString(b, "sel"), m.Sel)
		if m.Data != nil {
			b = append(mpack.AppendString(b, "data"), m.Data...)
		}
	case *Welcome:
		b = mpack.AppendMapHeader(b, 4)
		b = appendKV(b, "t", TypeWelcome)
		b = mpack.AppendInt(mpack.AppendString(b, "proto"), int64(m.Proto))
		b = appendKV(b, "sid", m.SID)
		b = appendUser(mpack.AppendString(b, "user"), &m.User)
	case *Joined:
		typ, err := joinedType(m.DocType)
		if err != nil {
			return dst, err
		}
		b = mpack.AppendMapHeader(b, 7)
		b = appendKV(b, "t", TypeJoined)
		b = appendKV(b, "doc", m.Doc)
		b = mpack.AppendInt(mpack.AppendString(b, "v"), m.V)
		b = appendKV(b, "type", typ.Name())
		if m.Content != nil {
			b = m.Content.AppendMsgpack(mpack.AppendString(b, typ.ContentKey()))
		} else {
			b = mpack.AppendArrayHeader(mpack.AppendString(b, "ops"), len(m.Ops))
			for i := range m.Ops {
				e := &m.Ops[i]
				b = mpack.AppendMapHeader(b, 4)
				b = mpack.AppendInt(mpack.AppendString(b, "v"), e.V)
				b = appendOp(mpack.AppendString(b, "op"), e.Op)
				b = appendKV(b, "sid", e.SID)
				b = mpack.AppendInt(mpack.AppendString(b, "seq"), e.Seq)
			}
		}
		b = appendPeers(mpack.AppendString(b, "peers"), m.Peers)
		b = appendKV(b, "mode", m.Mode)
	case *Ack:
		b = mpack.AppendMapHeader(b, 4)
		b = appendKV(b, "t", TypeAck)
		b = appendKV(b, "doc", m.Doc)
		b = mpack.AppendInt(mpack.AppendString(b, "seq"), m.Seq)
		b = mpack.AppendInt(mpack.AppendString(b, "v"), m.V)
	case *OpBroadcast:
		n := 6
		if m.Sel != nil {
			n++
		}
		b = mpack.AppendMapHeader(b, n)
		b = appendKV(b, "t", TypeOp)
		b = appendKV(b, "doc", m.Doc)
		b = mpack.AppendInt(mpack.AppendString(b, "v"), m.V)
		b = appendOp(mpack.AppendString(b, "op"), m.Op)
		b = appendKV(b, "sid", m.SID)
		b = mpack.AppendInt(mpack.AppendString(b, "seq"), m.Seq)
		if m.Sel != nil {
			b = appendSel(mpack.AppendString(b, "sel"), m.Sel)
		}
	case *PresenceMsg:
		n := 4
		if len(m.Gone) > 0 {
			n++
		}
		b = mpack.AppendMapHeader(b, n)
		b = appendKV(b, "t", TypePresence)
		b = appendKV(b, "doc", m.Doc)
		b = mpack.AppendInt(mpack.AppendString(b, "v"), m.V)
		b = appendPeers(mpack.AppendString(b, "peers"), m.Peers)
		if len(m.Gone) > 0 {
			b = mpack.AppendArrayHeader(mpack.AppendString(b, "gone"), len(m.Gone))
			for _, s := range m.Gone {
				b = mpack.AppendString(b, s)
			}
		}
	case *Error:
		n := 3
		if m.Doc != "" {
			n++
		}
		if m.Seq != 0 {
			n++
		}
		b = mpack.AppendMapHeader(b, n)
		b = appendKV(b, "t", TypeError)
		b = appendKV(b, "code", m.Code)
		b = appendKV(b, "msg", m.Msg)
		if m.Doc != "" {
			b = appendKV(b, "doc", m.Doc)
		}
		if m.Seq != 0 {
			b = mpack.AppendInt(mpack.AppendString(b, "seq"), m.Seq)
		}
	case *Auth:
		b = appendAuth(b, m)
	case *Authed:
		b = appendAuthed(b, m)
	case nil:
		return dst, fmt.Errorf("wire: encode: nil message")
	default:
		return dst, fmt.Errorf("wire: encode: unknown message type %T", msg)
	}
	return b, nil
}

func appendKV(b []byte, k, v string) []byte { return mpack.AppendString(mpack.AppendString(b, k), v) }

func appendUser(b []byte, u *User) []byte {
	b = mpack.AppendMapHeader(b, 3)
	b = appendKV(b, "id", u.ID)
	b = appendKV(b, "name", u.Name)
	return appendKV(b, "color", u.Color)
}

func appendPeers(b []byte, peers []PeerInfo) []byte {
	b = mpack.AppendArrayHeader(b, len(peers))
	for i := range peers {
		p := &peers[i]
		b = mpack.AppendMapHeader(b, 4)
		b = appendKV(b, "sid", p.SID)
		b = appendUser(mpack.AppendString(b, "user"), &p.User)
		b = appendSel(mpack.AppendString(b, "sel"), p.Sel)
		b = mpack.AppendString(b, "data")
		if p.Data == nil {
			b = append(b, 0xc0)
		} else {
			b = append(b, p.Data...)
		}
	}
	return b
}

// appendOp writes the wire form of op, as its type encodes it; a nil op as
// an empty array. The op is assumed valid (its type built or checked it).
func appendOp(b []byte, op doctype.Op) []byte {
	if op == nil {
		return append(b, 0x90)
	}
	return op.AppendMsgpack(b)
}

// appendSel writes nil for a nil selection, else the selection as its type
// encodes it.
func appendSel(b []byte, sel doctype.Selection) []byte {
	if sel == nil {
		return append(b, 0xc0)
	}
	return sel.AppendMsgpack(b)
}

// joinedType is the type of a Joined message: "" is text.
func joinedType(name string) (doctype.Type, error) {
	if name == "" {
		name = text.Name
	}
	t, err := doctype.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("wire: encode joined: %w", err)
	}
	return t, nil
}
