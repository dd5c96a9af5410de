package wire

import (
	"errors"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/doctype/text"
)

// Default limits (docs/protocol.md, section 9).
const (
	// DefaultMaxOpBytes bounds an op's encoded size.
	DefaultMaxOpBytes = 1 << 20
	// DefaultMaxDataBytes bounds the encoded presence "data" map.
	DefaultMaxDataBytes = 1 << 10
	// DefaultMaxRanges bounds the ranges of one selection; every committed op
	// moves every range of every peer, so this bounds the actor's work per op.
	// The text type enforces it too (text.MaxRanges).
	DefaultMaxRanges = text.MaxRanges
)

// Limits bounds what DecodeClient accepts; past a limit it returns CodeTooLarge.
// A zero field means its default.
type Limits struct {
	// MaxOpBytes bounds the encoded "op" value.
	MaxOpBytes int
	// MaxDataBytes bounds the encoded "data" value of presence.
	MaxDataBytes int
	// MaxRanges bounds the elements of a "sel" array (text: ranges; tree:
	// object ids), checked before the document's type decodes it.
	MaxRanges int
	// TypeOf returns the type of a document the connection joined, by which
	// an op's "op" and "sel" and a presence's "sel" are decoded; nil (or a nil
	// answer, for a document not joined) means text.
	TypeOf func(doc string) doctype.Type
}

func (l Limits) withDefaults() Limits {
	if l.MaxOpBytes <= 0 {
		l.MaxOpBytes = DefaultMaxOpBytes
	}
	if l.MaxDataBytes <= 0 {
		l.MaxDataBytes = DefaultMaxDataBytes
	}
	if l.MaxRanges <= 0 {
		l.MaxRanges = DefaultMaxRanges
	}
	return l
}

// Keys of the client message map that any message type reads.
const (
	fT = iota
	fProto
	fSID
	fUser
	fDoc
	fV
	fSeq
	fOp
	fSel
	fData
	fToken
	nFields
)

var fieldNames = [nFields]string{"t", "proto", "sid", "user", "doc", "v", "seq", "op", "sel", "data", "token"}

func fieldOf(key []byte) int {
	switch string(key) { // compiled without allocating
	case "t":
		return fT
	case "proto":
		return fProto
	case "sid":
		return fSID
	case "user":
		return fUser
	case "doc":
		return fDoc
	case "v":
		return fV
	case "seq":
		return fSeq
	case "op":
		return fOp
	case "sel":
		return fSel
	case "data":
		return fData
	case "token":
		return fToken
	}
	return -1
}

// clientDec holds the values of the known keys of one message map, each a
// complete encoded value aliasing the frame (nil when absent), and the doc and
// seq to echo in errors.
type clientDec struct {
	f   [nFields][]byte
	lim Limits
	doc string
	seq int64
}

func (d *clientDec) fail(code, format string, args ...any) *DecodeError {
	return &DecodeError{Code: code, Msg: fmt.Sprintf(format, args...), Doc: d.doc, Seq: d.seq}
}

// DecodeClient decodes one client frame: untrusted bytes that must hold exactly
// one MessagePack map. Unknown keys are ignored. Every error is a *DecodeError:
// CodeBadRequest for malformed MessagePack, a missing required key, a wrong type
// or an invalid value; CodeTooLarge for an op, data or selection over lim;
// CodeInvalidOp for an op that the document's type rejects (its cause is then
// the type's error, an *ot.OpError for text).
// The returned message does not alias frame.
//
// Memory is bounded by the frame, never by what its headers claim: see the
// package doc.
func DecodeClient(frame []byte, lim Limits) (Message, error) {
	d := clientDec{lim: lim.withDefaults()}
	if err := d.scan(frame); err != nil {
		return nil, err
	}
	if v := d.f[fDoc]; v != nil {
		if s, ok := readStr(v); ok && ValidDocID(string(s)) {
			d.doc = string(s)
		}
	}
	if v := d.f[fSeq]; v != nil {
		if n, ok := readInt(v); ok && n > 0 {
			d.seq = n
		}
	}
	v := d.f[fT]
	if v == nil {
		return nil, d.fail(CodeBadRequest, "missing key \"t\"")
	}
	t, ok := readStr(v)
	if !ok {
		return nil, d.fail(CodeBadRequest, "t: want a string")
	}
	var (
		msg Message
		err *DecodeError
	)
	switch string(t) {
	case TypeHello:
		msg, err = d.hello()
	case TypeJoin:
		msg, err = d.join()
	case TypeLeave:
		msg, err = d.leave()
	case TypeOp:
		msg, err = d.op()
	case TypePresence:
		msg, err = d.presence()
	case TypeAuth:
		msg, err = d.auth()
	default:
		return nil, d.fail(CodeBadRequest, "t: unknown message type %q", truncate(t, 32))
	}
	if err != nil {
		return nil, err
	}
	if verr := checkStruct(msg); verr != nil {
		return nil, d.fail(CodeBadRequest, "%s: %v", t, verr)
	}
	return msg, nil
}

// scan checks the whole frame structurally and records the known keys.
func (d *clientDec) scan(frame []byte) *DecodeError {
	if k := kindOf(frame); k != kindMap {
		return d.fail(CodeBadRequest, "frame: want one MessagePack map, got %s", kindName(k))
	}
	end, err := skip(frame, 0, 1)
	if err != nil {
		return d.fail(CodeBadRequest, "frame: malformed MessagePack: %v", err)
	}
	if end != len(frame) {
		return d.fail(CodeBadRequest, "frame: %v (%d)", errTrailing, len(frame)-end)
	}
	var dup *DecodeError
	_, _ = pairs(frame, func(k, v []byte) error {
		key, ok := readStr(k)
		if !ok {
			return nil // not a string key: unknown, ignored
		}
		id := fieldOf(key)
		if id < 0 {
			return nil
		}
		if d.f[id] != nil && dup == nil {
			dup = d.fail(CodeBadRequest, "%s: duplicate key", fieldNames[id])
		}
		d.f[id] = v
		return nil
	})
	return dup
}

func (d *clientDec) need(id int) ([]byte, *DecodeError) {
	v := d.f[id]
	if v == nil {
		return nil, d.fail(CodeBadRequest, "missing key %q", fieldNames[id])
	}
	return v, nil
}

func (d *clientDec) int(id int) (int64, *DecodeError) {
	v, err := d.need(id)
	if err != nil {
		return 0, err
	}
	n, ok := readInt(v)
	if !ok {
		return 0, d.fail(CodeBadRequest, "%s: want an integer, got %s", fieldNames[id], kindName(kindOf(v)))
	}
	return n, nil
}

func (d *clientDec) str(id int) (string, *DecodeError) {
	v, err := d.need(id)
	if err != nil {
		return "", err
	}
	s, ok := readText(v)
	if !ok {
		return "", d.fail(CodeBadRequest, "%s: want a UTF-8 string, got %s", fieldNames[id], kindName(kindOf(v)))
	}
	return s, nil
}

func (d *clientDec) hello() (Message, *DecodeError) {
	proto, err := d.int(fProto)
	if err != nil {
		return nil, err
	}
	sid, err := d.str(fSID)
	if err != nil {
		return nil, err
	}
	if proto > math.MaxInt32 {
		return nil, d.fail(CodeBadRequest, "proto: unsupported version %d", proto)
	}
	m := &Hello{Proto: int(proto), SID: sid}
	if v := d.f[fUser]; v != nil && !isNil(v) {
		u := &UserInfo{}
		var ferr *DecodeError
		ok, _ := pairs(v, func(k, val []byte) error {
			key, _ := readStr(k)
			var dst *string
			switch string(key) {
			case "name":
				dst = &u.Name
			case "color":
				dst = &u.Color
			default:
				return nil
			}
			s, ok := readText(val)
			if !ok && ferr == nil {
				ferr = d.fail(CodeBadRequest, "user.%s: want a UTF-8 string, got %s", key, kindName(kindOf(val)))
			}
			*dst = s
			return nil
		})
		if !ok {
			return nil, d.fail(CodeBadRequest, "user: want a map, got %s", kindName(kindOf(v)))
		}
		if ferr != nil {
			return nil, ferr
		}
		m.User = u
	}
	return m, nil
}

func (d *clientDec) join() (Message, *DecodeError) {
	doc, err := d.str(fDoc)
	if err != nil {
		return nil, err
	}
	m := &Join{Doc: doc}
	if v := d.f[fV]; v != nil && !isNil(v) {
		n, err := d.int(fV)
		if err != nil {
			return nil, err
		}
		m.V = &n
	}
	return m, nil
}

func (d *clientDec) leave() (Message, *DecodeError) {
	doc, err := d.str(fDoc)
	if err != nil {
		return nil, err
	}
	return &Leave{Doc: doc}, nil
}

func (d *clientDec) op() (Message, *DecodeError) {
	m := &Op{}
	var err *DecodeError
	if m.Doc, err = d.str(fDoc); err != nil {
		return nil, err
	}
	if m.V, err = d.int(fV); err != nil {
		return nil, err
	}
	if m.Seq, err = d.int(fSeq); err != nil {
		return nil, err
	}
	v, err := d.need(fOp)
	if err != nil {
		return nil, err
	}
	if m.Op, err = d.readOp(v); err != nil {
		return nil, err
	}
	if v := d.f[fSel]; v != nil {
		if m.Sel, err = d.readSel(v); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (d *clientDec) presence() (Message, *DecodeError) {
	m := &Presence{}
	var err *DecodeError
	if m.Doc, err = d.str(fDoc); err != nil {
		return nil, err
	}
	if m.V, err = d.int(fV); err != nil {
		return nil, err
	}
	v, err := d.need(fSel)
	if err != nil {
		return nil, err
	}
	if m.Sel, err = d.readSel(v); err != nil {
		return nil, err
	}
	if v := d.f[fData]; v != nil {
		if k := kindOf(v); k != kindMap && k != kindNil {
			return nil, d.fail(CodeBadRequest, "data: want a map or nil, got %s", kindName(k))
		}
		if len(v) > d.lim.MaxDataBytes {
			return nil, d.fail(CodeTooLarge, "data: %d bytes encoded, over the limit of %d", len(v), d.lim.MaxDataBytes)
		}
		m.Data = append(msgpack.RawMessage(nil), v...)
	}
	return m, nil
}

// readOp decodes an op value with the document's type, which enforces the
// op rules; the op is kept as sent.
func (d *clientDec) readOp(v []byte) (doctype.Op, *DecodeError) {
	if k := kindOf(v); k != kindArray {
		return nil, d.fail(CodeBadRequest, "op: want an array, got %s", kindName(k))
	}
	if len(v) > d.lim.MaxOpBytes {
		return nil, d.fail(CodeTooLarge, "op: %d bytes encoded, over the limit of %d", len(v), d.lim.MaxOpBytes)
	}
	op, err := d.typ().DecodeOp(v)
	if err != nil {
		code := CodeInvalidOp
		if errors.Is(err, doctype.ErrTooLarge) {
			code = CodeTooLarge
		}
		de := d.fail(code, "op: %v", err)
		de.Err = err
		return nil, de
	}
	return op, nil
}

// readSel decodes a selection with the document's type: nil (hidden), or
// what the type takes (text: an array of [anchor, head] ranges, an empty
// array being hidden too).
func (d *clientDec) readSel(v []byte) (doctype.Selection, *DecodeError) {
	if isNil(v) {
		return nil, nil
	}
	if k, _, n, err := header(v, 0); err == nil && k == kindArray && n > uint64(d.lim.MaxRanges) {
		return nil, d.fail(CodeTooLarge, "sel: %d ranges, over the limit of %d", n, d.lim.MaxRanges)
	}
	sel, err := d.typ().DecodeSelection(v)
	if err != nil {
		code := CodeBadRequest
		if errors.Is(err, doctype.ErrTooLarge) {
			code = CodeTooLarge
		}
		de := d.fail(code, "sel: %v", err)
		de.Err = err
		return nil, de
	}
	return sel, nil
}

// typ is the type of the message's document: Limits.TypeOf's answer, or text.
func (d *clientDec) typ() doctype.Type {
	if d.lim.TypeOf != nil && d.doc != "" {
		if t := d.lim.TypeOf(d.doc); t != nil {
			return t
		}
	}
	return text.Type{}
}

var errStop = errors.New("stop")

func kindName(k kind) string {
	switch k {
	case kindNil:
		return "nil"
	case kindBool:
		return "a boolean"
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a float"
	case kindStr:
		return "a string"
	case kindBin:
		return "binary"
	case kindArray:
		return "an array"
	case kindMap:
		return "a map"
	case kindExt:
		return "an extension"
	}
	return "nothing valid"
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
