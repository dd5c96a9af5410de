package wire

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

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
	if msg == nil || !isClient(msg) {
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

// Append appends the encoding of msg (of either direction) to dst, walking
// its schema. The message is not validated: server messages are built by the
// server itself.
func Append(dst []byte, msg Message) ([]byte, error) {
	s := schemaOf(msg)
	if s == nil {
		if msg == nil {
			return dst, fmt.Errorf("wire: encode: nil message")
		}
		return dst, fmt.Errorf("wire: encode: unknown message type %T", msg)
	}
	b, err := appendMap(dst, s, msg)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// appendMap writes m, a pointer to s's Go type, as the map s describes: "t"
// first for a message, then every row that is not left out, in order. A
// schema has at most maxFields rows, so the map is a fixmap whose header
// byte is written first and its count filled in at the end: one pass.
func appendMap(b []byte, s *schema, m any) ([]byte, error) {
	at := len(b)
	b = append(b, 0x80)
	n := 0
	if s.t != "" {
		b = append(b, s.tEnc...)
		n++
	}
	var typ doctype.Type // set by a valDocType row
	for i := range s.fields {
		f := &s.fields[i]
		if f.omitIf != nil && f.omitIf(m) {
			continue
		}
		p := f.at(m)
		if f.omitEmpty && isEmpty(f.val, p) {
			continue
		}
		n++
		switch f.val {
		case valDocType:
			t, err := joinedType(*p.(*string))
			if err != nil {
				return b, err
			}
			typ = t
			b = appendKV(b, f.key, t.Name())
		case valContent:
			if typ == nil {
				return b, fmt.Errorf("wire: encode %s: content before its type", s.t)
			}
			b = (*p.(*doctype.Content)).AppendMsgpack(mpack.AppendString(b, typ.ContentKey()))
		case valString: // the most common row, without a call
			b = mpack.AppendString(append(b, f.keyEnc...), *p.(*string))
		default:
			b = appendValue(append(b, f.keyEnc...), f.val, p)
		}
	}
	b[at] = 0x80 | byte(n)
	return b, nil
}

// appendValue writes the value p points to, of kind val (not valDocType or
// valContent, which need their map's type).
func appendValue(b []byte, val valKind, p any) []byte {
	switch val {
	case valString:
		return mpack.AppendString(b, *p.(*string))
	case valInt:
		if n, ok := p.(*int); ok {
			return mpack.AppendInt(b, int64(*n))
		}
		return mpack.AppendInt(b, *p.(*int64))
	case valOptInt:
		if n := *p.(**int64); n != nil {
			return mpack.AppendInt(b, *n)
		}
		return append(b, mpack.Nil)
	case valOp:
		return appendOp(b, *p.(*doctype.Op))
	case valSel:
		return appendSel(b, *p.(*doctype.Selection))
	case valData:
		if d := *p.(*msgpack.RawMessage); d != nil {
			return append(b, d...)
		}
		return append(b, mpack.Nil)
	case valUser:
		b, _ = appendMap(b, userSchema, p.(*User))
		return b
	case valUserInfo:
		if u := *p.(**UserInfo); u != nil {
			b, _ = appendMap(b, userInfoSchema, u)
			return b
		}
		return append(b, mpack.Nil)
	case valPeers:
		return appendMaps(b, peerSchema, *p.(*[]PeerInfo))
	case valOpEntries:
		return appendMaps(b, opEntrySchema, *p.(*[]OpEntry))
	case valStrings:
		ss := *p.(*[]string)
		b = mpack.AppendArrayHeader(b, len(ss))
		for _, s := range ss {
			b = mpack.AppendString(b, s)
		}
		return b
	case valModes:
		modes := *p.(*map[string]string)
		// Sorted, so that one message always encodes to the same bytes.
		b = mpack.AppendMapHeader(b, len(modes))
		for _, k := range slices.Sorted(maps.Keys(modes)) {
			b = appendKV(b, k, modes[k])
		}
		return b
	}
	panic(fmt.Sprintf("wire: encode: value kind %d", val))
}

func appendKV(b []byte, k, v string) []byte { return mpack.AppendString(mpack.AppendString(b, k), v) }

// appendMaps writes list as an array of the maps s describes.
func appendMaps[T any](b []byte, s *schema, list []T) []byte {
	b = mpack.AppendArrayHeader(b, len(list))
	for i := range list {
		b, _ = appendMap(b, s, &list[i])
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
