package wire

import (
	"fmt"
	"maps"
	"reflect"
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

// Append appends the encoding of msg (of either direction) to dst, with the
// encoder generated from its schema (schema_gen.go). The message is not
// validated: server messages are built by the server itself.
func Append(dst []byte, msg Message) ([]byte, error) {
	b, ok, err := appendMessage(dst, msg)
	switch {
	case !ok && msg == nil:
		return dst, fmt.Errorf("wire: encode: nil message")
	case !ok:
		// The type's name, not msg itself, goes to Errorf: a message handed
		// to fmt would escape to the heap on every call, and the server
		// encodes its acks, ops and presence from values on its stack.
		return dst, fmt.Errorf("wire: encode: unknown message type %s", reflect.TypeOf(msg))
	case err != nil:
		return dst, err
	}
	return b, nil
}

// appendOptInt writes n, or nil.
func appendOptInt(b []byte, n *int64) []byte {
	if n == nil {
		return append(b, mpack.Nil)
	}
	return mpack.AppendInt(b, *n)
}

// appendData writes a raw map as is, or nil.
func appendData(b []byte, d msgpack.RawMessage) []byte {
	if d == nil {
		return append(b, mpack.Nil)
	}
	return append(b, d...)
}

// appendStrings writes an array of strs.
func appendStrings(b []byte, ss []string) []byte {
	b = mpack.AppendArrayHeader(b, len(ss))
	for _, s := range ss {
		b = mpack.AppendString(b, s)
	}
	return b
}

// appendModes writes a map of str to str, sorted by key so that one message
// always encodes to the same bytes.
func appendModes(b []byte, modes map[string]string) []byte {
	b = mpack.AppendMapHeader(b, len(modes))
	for _, k := range slices.Sorted(maps.Keys(modes)) {
		b = appendKV(b, k, modes[k])
	}
	return b
}

func appendKV(b []byte, k, v string) []byte { return mpack.AppendString(mpack.AppendString(b, k), v) }

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
