package wire

import (
	"fmt"

	"github.com/tandem-collab/tandem/doctype"
)

// maxTableTexts bounds a ServerDecoder's table: when full it starts over.
// maxTableText is the longest text it keeps.
const (
	maxTableTexts = 4096
	maxTableText  = 64
)

// ServerDecoder is DecodeServer for one connection's stream of frames: it
// keeps the short texts it has seen (message types, document and session
// ids, user names; at most a few thousand) and hands out the same string
// again instead of allocating one per occurrence. A batch of broadcasts
// repeats the document id and a few session ids in every message, and a
// presence update lists every peer's user again. A ServerDecoder is not safe
// for concurrent use.
//
// It also remembers the type of every document a joined message named, and
// decodes that document's ops and selections with it; DecodeServer, which
// remembers nothing, decodes those of every other message as text.
type ServerDecoder struct {
	texts map[string]string
	types map[string]doctype.Type
}

// NewServerDecoder returns a decoder with an empty table.
func NewServerDecoder() *ServerDecoder {
	return &ServerDecoder{texts: map[string]string{}, types: map[string]doctype.Type{}}
}

// Decode is DecodeServer(frame), with the decoder's tables.
func (sd *ServerDecoder) Decode(frame []byte) ([]Message, error) {
	return decodeServer(frame, sd.texts, sd.types)
}

// DecodeServer decodes a server frame for a client: one message map, or an
// array of them to be handled in order. Messages of an unknown type are skipped,
// so a newer server can add types; unknown keys are ignored. Errors are
// *Error. Like DecodeClient it checks the whole frame structurally first,
// so a hostile server cannot make it allocate by claimed lengths.
func DecodeServer(frame []byte) ([]Message, error) {
	return decodeServer(frame, nil, nil)
}

// decodeServer is DecodeServer with a ServerDecoder's tables (or nil).
func decodeServer(frame []byte, texts map[string]string, types map[string]doctype.Type) ([]Message, error) {
	k := kindOf(frame)
	if k != kindMap && k != kindArray {
		return nil, &Error{Code: CodeBadRequest, Msg: "frame: want a map or an array of maps, got " + kindName(k)}
	}
	if err := checkFrame(frame); err != nil {
		return nil, err
	}
	if k == kindMap {
		m, err := decodeServerMap(frame, texts, types)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, nil
		}
		return []Message{m}, nil
	}
	_, _, n, _ := header(frame, 0)
	out := make([]Message, 0, n)
	var derr error
	_, _ = elems(frame, func(i int, e []byte) error {
		m, err := decodeServerMap(e, texts, types)
		if err != nil {
			err.Msg = fmt.Sprintf("frame[%d]: %s", i, err.Msg)
			derr = err
			return errStop
		}
		if m != nil {
			out = append(out, m)
		}
		return nil
	})
	if derr != nil {
		return nil, derr
	}
	return out, nil
}

// decodeServerMap decodes one message; nil, nil for an unknown type.
func decodeServerMap(v []byte, texts map[string]string, types map[string]doctype.Type) (Message, *Error) {
	if kindOf(v) != kindMap {
		return nil, &Error{Code: CodeBadRequest, Msg: "want a map, got " + kindName(kindOf(v))}
	}
	// The first "t" names the message; our encoder writes it first, so the
	// walk usually stops at the first key.
	var tv []byte
	_, _ = pairs(v, func(k, val []byte) error {
		if key, ok := readStr(k); ok && string(key) == "t" {
			tv = val
			return errStop
		}
		return nil
	})
	if tv == nil {
		return nil, &Error{Code: CodeBadRequest, Msg: "missing key \"t\""}
	}
	t, ok := tableText(texts, tv)
	if !ok {
		return nil, &Error{Code: CodeBadRequest, Msg: "t: want a string"}
	}
	s := serverSchemas[t]
	if s == nil {
		return nil, nil // a newer server's message
	}
	d := decoder{t: t, texts: texts, types: types}
	msg := s.alloc().(Message)
	d.fields(s, v, msg, "")
	if d.err != nil {
		return nil, d.err
	}
	return msg, nil
}
