package wire

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/doctype/text"
)

// serverDec reads one server message map. The first error wins; later reads
// are no-ops, which keeps the per-type code linear.
type serverDec struct {
	t     string
	err   *DecodeError
	texts map[string]string // a ServerDecoder's table, or nil
	types map[string]doctype.Type
	typ   doctype.Type // of the message's document
}

// maxTableTexts bounds a ServerDecoder's table: when full it starts over.
// maxTableText is the longest text it keeps.
const (
	maxTableTexts = 4096
	maxTableText  = 64
)

// tableText is readText through a ServerDecoder's table of texts (none when
// texts is nil): a text seen before comes back as the same string, without
// an allocation.
func tableText(texts map[string]string, v []byte) (string, bool) {
	b, ok := readStr(v)
	if !ok {
		return "", false
	}
	if texts == nil || len(b) > maxTableText {
		return validText(b)
	}
	if s, ok := texts[string(b)]; ok { // looked up without allocating
		return s, true
	}
	s, ok := validText(b)
	if ok {
		if len(texts) >= maxTableTexts {
			clear(texts)
		}
		texts[s] = s
	}
	return s, ok
}

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

// knownKey returns key as a constant string, and its bit in a keySet, when it
// is one of the map keys this package reads: walking a map then allocates no
// string per key. Unknown keys come back copied, with no bit.
func knownKey(key []byte) (string, keySet) {
	switch string(key) { // compiled without allocating
	case "t":
		return "t", 1 << 0
	case "doc":
		return "doc", 1 << 1
	case "v":
		return "v", 1 << 2
	case "op":
		return "op", 1 << 3
	case "sid":
		return "sid", 1 << 4
	case "seq":
		return "seq", 1 << 5
	case "sel":
		return "sel", 1 << 6
	case "peers":
		return "peers", 1 << 7
	case "user":
		return "user", 1 << 8
	case "id":
		return "id", 1 << 9
	case "name":
		return "name", 1 << 10
	case "color":
		return "color", 1 << 11
	case "data":
		return "data", 1 << 12
	case "gone":
		return "gone", 1 << 13
	case "ops":
		return "ops", 1 << 14
	case "text":
		return "text", 1 << 15
	case "mode":
		return "mode", 1 << 16
	case "proto":
		return "proto", 1 << 17
	case "code":
		return "code", 1 << 18
	case "msg":
		return "msg", 1 << 19
	case "type":
		return "type", 1 << 20
	case "tree":
		return "tree", 1 << 21
	case "exp":
		return "exp", 1 << 22
	case "docs":
		return "docs", 1 << 23
	}
	return string(key), 0
}

// keySet records which known keys a map had: a bit per key, instead of a map
// allocated per message. Unknown keys are not recorded (no message requires
// one).
type keySet uint32

// has reports whether the set holds key, one of the keys knownKey knows.
func (s keySet) has(key string) bool {
	_, bit := knownKey([]byte(key))
	return bit != 0 && s&bit != 0
}

func (d *serverDec) failf(format string, args ...any) {
	if d.err == nil {
		d.err = &DecodeError{Code: CodeBadRequest, Msg: d.t + ": " + fmt.Sprintf(format, args...)}
	}
}

func (d *serverDec) str(key string, v []byte) string {
	s, ok := tableText(d.texts, v)
	if !ok {
		d.failf("%s: want a UTF-8 string, got %s", key, kindName(kindOf(v)))
	}
	return s
}

func (d *serverDec) int(key string, v []byte) int64 {
	n, ok := readInt(v)
	if !ok {
		d.failf("%s: want an integer, got %s", key, kindName(kindOf(v)))
	}
	return n
}

// docType is the type of document doc: remembered from its joined message,
// else text.
func (d *serverDec) docType(doc string) doctype.Type {
	if t := d.types[doc]; t != nil {
		return t
	}
	return text.Type{}
}

// op decodes an op of d.typ.
func (d *serverDec) op(key string, v []byte) doctype.Op {
	if v == nil || d.err != nil {
		return nil
	}
	if kindOf(v) != kindArray {
		d.failf("%s: want an array, got %s", key, kindName(kindOf(v)))
		return nil
	}
	op, err := d.typ.DecodeOp(v)
	if err != nil {
		if d.err == nil {
			d.err = &DecodeError{Code: CodeInvalidOp, Msg: d.t + ": " + key + ": " + err.Error(), Err: err}
		}
		return nil
	}
	return op
}

// sel decodes a selection of d.typ.
func (d *serverDec) sel(key string, v []byte) doctype.Selection {
	if v == nil || isNil(v) || d.err != nil {
		return nil
	}
	sel, err := d.typ.DecodeSelection(v)
	if err != nil {
		d.failf("%s: %v", key, err)
		return nil
	}
	return sel
}

func (d *serverDec) raw(v []byte) msgpack.RawMessage {
	return append(msgpack.RawMessage(nil), v...)
}

// each calls fn for every key of map v, failing when v is not a map, and
// returns the known keys it saw.
func (d *serverDec) each(what string, v []byte, fn func(key string, val []byte)) keySet {
	var seen keySet
	ok, _ := pairs(v, func(k, val []byte) error {
		if b, ok := readStr(k); ok && d.err == nil {
			key, bit := knownKey(b)
			seen |= bit
			fn(key, val)
		}
		return nil
	})
	if !ok {
		d.failf("%s: want a map, got %s", what, kindName(kindOf(v)))
	}
	return seen
}

// list calls fn for every element of array v, failing when v is not an array.
func (d *serverDec) list(what string, v []byte, fn func(e []byte)) {
	ok, _ := elems(v, func(_ int, e []byte) error {
		if d.err == nil {
			fn(e)
		}
		return nil
	})
	if !ok {
		d.failf("%s: want an array, got %s", what, kindName(kindOf(v)))
	}
}

func (d *serverDec) user(v []byte) User {
	var u User
	d.each("user", v, func(k string, val []byte) {
		switch k {
		case "id":
			u.ID = d.str("user.id", val)
		case "name":
			u.Name = d.str("user.name", val)
		case "color":
			u.Color = d.str("user.color", val)
		}
	})
	return u
}

// peers decodes a peer list; the selections are of d.typ, which must be
// known (the map's "doc" read first).
func (d *serverDec) peers(v []byte) []PeerInfo {
	peers := []PeerInfo{}
	d.list("peers", v, func(e []byte) {
		var p PeerInfo
		d.each("peers[]", e, func(k string, val []byte) {
			switch k {
			case "sid":
				p.SID = d.str("peers[].sid", val)
			case "user":
				p.User = d.user(val)
			case "sel":
				p.Sel = d.sel("peers[].sel", val)
			case "data":
				if !isNil(val) {
					p.Data = d.raw(val)
				}
			}
		})
		peers = append(peers, p)
	})
	return peers
}

// DecodeServer decodes a server frame for a client: one message map, or an
// array of them to be handled in order. Messages of an unknown type are skipped,
// so a newer server can add types; unknown keys are ignored. Errors are
// *DecodeError. Like DecodeClient it checks the whole frame structurally first,
// so a hostile server cannot make it allocate by claimed lengths.
func DecodeServer(frame []byte) ([]Message, error) {
	return decodeServer(frame, nil, nil)
}

// decodeServer is DecodeServer with a ServerDecoder's tables (or nil).
func decodeServer(frame []byte, texts map[string]string, types map[string]doctype.Type) ([]Message, error) {
	k := kindOf(frame)
	if k != kindMap && k != kindArray {
		return nil, &DecodeError{Code: CodeBadRequest, Msg: "frame: want a map or an array of maps, got " + kindName(k)}
	}
	end, err := skip(frame, 0, 1)
	if err != nil {
		return nil, &DecodeError{Code: CodeBadRequest, Msg: "frame: malformed MessagePack: " + err.Error()}
	}
	if end != len(frame) {
		return nil, &DecodeError{Code: CodeBadRequest, Msg: fmt.Sprintf("frame: %v (%d)", errTrailing, len(frame)-end)}
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
//
// The values that need the document's type (ops, selections, the joined
// content) are decoded after the map's other keys, whatever their order.
func decodeServerMap(v []byte, texts map[string]string, types map[string]doctype.Type) (Message, *DecodeError) {
	if kindOf(v) != kindMap {
		return nil, &DecodeError{Code: CodeBadRequest, Msg: "want a map, got " + kindName(kindOf(v))}
	}
	var tv []byte
	_, _ = pairs(v, func(k, val []byte) error {
		if key, ok := readStr(k); ok && string(key) == "t" {
			tv = val
		}
		return nil
	})
	if tv == nil {
		return nil, &DecodeError{Code: CodeBadRequest, Msg: "missing key \"t\""}
	}
	t, ok := tableText(texts, tv)
	if !ok {
		return nil, &DecodeError{Code: CodeBadRequest, Msg: "t: want a string"}
	}
	d := &serverDec{t: t, texts: texts, types: types}
	var msg Message
	switch t {
	case TypeWelcome:
		m := &Welcome{}
		seen := d.each(t, v, func(k string, val []byte) {
			switch k {
			case "proto":
				m.Proto = int(d.int(k, val))
			case "sid":
				m.SID = d.str(k, val)
			case "user":
				m.User = d.user(val)
			}
		})
		d.require(seen, "proto", "sid", "user")
		msg = m
	case TypeJoined:
		m := &Joined{DocType: text.Name}
		var (
			content []byte
			ops     [][]byte
			peers   []byte
			raw     = map[string][]byte{}
		)
		seen := d.each(t, v, func(k string, val []byte) {
			switch k {
			case "doc":
				m.Doc = d.str(k, val)
			case "v":
				m.V = d.int(k, val)
			case "type":
				m.DocType = d.str(k, val)
			case "ops":
				ops = [][]byte{}
				d.list(k, val, func(e []byte) { ops = append(ops, e) })
			case "peers":
				peers = val
			case "mode":
				m.Mode = d.str(k, val)
			default:
				raw[k] = val // the content, under its type's key
			}
		})
		d.require(seen, "doc", "v", "peers", "mode")
		if d.err != nil {
			break
		}
		typ, err := doctype.Lookup(m.DocType)
		if err != nil {
			d.failf("type: %v", err)
			break
		}
		d.typ = typ
		if types != nil && m.Doc != "" {
			if len(types) >= maxTableTexts {
				clear(types)
			}
			types[m.Doc] = typ
		}
		if content = raw[typ.ContentKey()]; content != nil && !isNil(content) {
			if m.Content, err = typ.DecodeContent(content); err != nil {
				d.failf("%s: %v", typ.ContentKey(), err)
			}
		}
		if ops != nil {
			m.Ops = make([]OpEntry, 0, len(ops))
			for _, e := range ops {
				var o OpEntry
				var opv []byte
				d.each("ops[]", e, func(k string, val []byte) {
					switch k {
					case "v":
						o.V = d.int("ops[].v", val)
					case "op":
						opv = val
					case "sid":
						o.SID = d.str("ops[].sid", val)
					case "seq":
						o.Seq = d.int("ops[].seq", val)
					}
				})
				o.Op = d.op("ops[].op", opv)
				m.Ops = append(m.Ops, o)
			}
		}
		m.Peers = d.peers(peers)
		msg = m
	case TypeAck:
		m := &Ack{}
		seen := d.each(t, v, func(k string, val []byte) {
			switch k {
			case "doc":
				m.Doc = d.str(k, val)
			case "seq":
				m.Seq = d.int(k, val)
			case "v":
				m.V = d.int(k, val)
			}
		})
		d.require(seen, "doc", "seq", "v")
		msg = m
	case TypeOp:
		m := &OpBroadcast{}
		var opv, selv []byte
		seen := d.each(t, v, func(k string, val []byte) {
			switch k {
			case "doc":
				m.Doc = d.str(k, val)
			case "v":
				m.V = d.int(k, val)
			case "op":
				opv = val
			case "sid":
				m.SID = d.str(k, val)
			case "seq":
				m.Seq = d.int(k, val)
			case "sel":
				selv = val
			}
		})
		d.require(seen, "doc", "v", "op", "sid", "seq")
		d.typ = d.docType(m.Doc)
		m.Op = d.op("op", opv)
		m.Sel = d.sel("sel", selv)
		msg = m
	case TypePresence:
		m := &PresenceMsg{}
		var peers []byte
		seen := d.each(t, v, func(k string, val []byte) {
			switch k {
			case "doc":
				m.Doc = d.str(k, val)
			case "v":
				m.V = d.int(k, val)
			case "peers":
				peers = val
			case "gone":
				if isNil(val) {
					return
				}
				d.list(k, val, func(e []byte) { m.Gone = append(m.Gone, d.str("gone[]", e)) })
			}
		})
		d.require(seen, "doc", "v", "peers")
		d.typ = d.docType(m.Doc)
		m.Peers = d.peers(peers)
		msg = m
	case TypeError:
		m := &Error{}
		seen := d.each(t, v, func(k string, val []byte) {
			switch k {
			case "code":
				m.Code = d.str(k, val)
			case "msg":
				m.Msg = d.str(k, val)
			case "doc":
				if !isNil(val) {
					m.Doc = d.str(k, val)
				}
			case "seq":
				if !isNil(val) {
					m.Seq = d.int(k, val)
				}
			}
		})
		d.require(seen, "code")
		msg = m
	case TypeAuthed:
		msg = d.authed(v)
	default:
		return nil, nil
	}
	if d.err != nil {
		return nil, d.err
	}
	return msg, nil
}

func (d *serverDec) require(seen keySet, keys ...string) {
	for _, k := range keys {
		if !seen.has(k) {
			d.failf("missing key %q", k)
		}
	}
}
