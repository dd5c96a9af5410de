package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/internal/mpack"
	"github.com/tandem-collab/tandem/wire"
)

// The bus message codec, written by hand (as the wire codecs are): a
// reflective msgpack pass of every commit on every other node, and of every
// forward, cost a non-owner a quarter of its CPU in a three-node hot run
// (docs/benchmarks.md).
//
// A message is a MessagePack array, positional, with the addressee first so
// that a node drops what is addressed to another one from its first bytes,
// on the bus goroutine, without waking the document's actor
// (busAddressedElsewhere):
//
//	message: [to str, kind int, v int, at int, tok int, ops [op...], peers [peer...], gone [str...]]
//	op:      [op bin|nil, sid str, seq int, user str, created int, sel bin|nil, f int, base int, code str, msg str, frame bin|nil]
//	peer:    [sid str, id str, name str, color str, sel bin|nil, data bin|nil]
//
// An op's op and sel and a peer's sel and data are their MessagePack forms
// inside a bin: the decoder reads their length and hands them to the
// document's type (op, sel), which checks them as it decodes, or checks them
// structurally (data, which is relayed to clients as is). frame is the
// owner's encoded WebSocket frame of the op's broadcast (busOps), which the
// other nodes send their own clients as is instead of encoding it again
// (wire owns that encoding; the bus only carries the bytes).
//
// The bytes come from another node: every length is checked against the
// bytes present before it is used, nothing is allocated by a header's claim,
// and strings must be UTF-8 (FuzzDecodeBusMsg).

const (
	busMsgFields  = 8
	busOpFields   = 11
	busPeerFields = 6
)

// busMsg is one bus payload.
type busMsg struct {
	Kind  uint8
	V     int64
	At    int64 // the publisher's clock (unix ns), for the latency metric
	Ops   []busOp
	Peers []busPeer
	Gone  []string
	To    string // busForward, busReply: the one node it is for
	Tok   int64  // busForward: the owner's token as the sender knows it; busOwner: the new token
}

// busOp is one op: committed (busOps), forwarded (busForward) or answered
// (busReply). Op and Sel are their type's MessagePack forms as received;
// decodeBusMsgFor decodes them with the document's type into op and sel. The
// encoder writes Op (Sel) when set, else encodes op (sel).
type busOp struct {
	Op      []byte
	SID     string
	Seq     int64
	UserID  string
	Created int64  // unix ns
	Sel     []byte // nil: no selection
	F       int64  // busForward: the sender's fseq
	Base    int64  // busForward: the version the op was made against
	Code    string // busReply: the error code of a refused op
	Msg     string // busReply: its message
	Frame   []byte // busOps: the owner's WebSocket frame of the op's broadcast

	op  doctype.Op
	sel doctype.Selection
}

// busPeer is one peer; Sel is encoded and decoded like busOp's.
type busPeer struct {
	SID   string
	ID    string
	Name  string
	Color string
	Sel   []byte
	Data  []byte // a MessagePack map, or nil

	sel doctype.Selection
}

// encodeSel is a selection's bus form: nil when hidden.
func encodeSel(sel doctype.Selection) []byte {
	if sel == nil {
		return nil
	}
	return sel.AppendMsgpack(nil)
}

// errBusMsg marks a payload that is not a valid bus message.
var errBusMsg = errors.New("malformed bus message")

// encodeBusMsg encodes m into a new slice of about the right size.
func encodeBusMsg(m *busMsg) []byte {
	n := 48 + 8*len(m.Gone)
	for i := range m.Ops {
		o := &m.Ops[i]
		n += 64 + len(o.Op) + len(o.Sel) + len(o.Frame) + len(o.SID) + len(o.UserID) + len(o.Code) + len(o.Msg)
	}
	for i := range m.Peers {
		p := &m.Peers[i]
		n += 48 + len(p.SID) + len(p.ID) + len(p.Name) + len(p.Color) + len(p.Sel) + len(p.Data)
	}
	for _, g := range m.Gone {
		n += len(g)
	}
	return appendBusMsg(make([]byte, 0, n), m)
}

// appendBusMsg appends m's encoding to b.
func appendBusMsg(b []byte, m *busMsg) []byte {
	b = mpack.AppendArrayHeader(b, busMsgFields)
	b = mpack.AppendString(b, m.To)
	b = mpack.AppendInt(b, int64(m.Kind))
	b = mpack.AppendInt(b, m.V)
	b = mpack.AppendInt(b, m.At)
	b = mpack.AppendInt(b, m.Tok)
	b = mpack.AppendArrayHeader(b, len(m.Ops))
	for i := range m.Ops {
		o := &m.Ops[i]
		b = mpack.AppendArrayHeader(b, busOpFields)
		switch {
		case o.Op != nil:
			b = mpack.AppendBin(b, o.Op)
		case o.op != nil:
			b = appendBinOf(b, o.op.AppendMsgpack)
		default:
			b = append(b, mpack.Nil)
		}
		b = mpack.AppendString(b, o.SID)
		b = mpack.AppendInt(b, o.Seq)
		b = mpack.AppendString(b, o.UserID)
		b = mpack.AppendInt(b, o.Created)
		b = appendBusSel(b, o.Sel, o.sel)
		b = mpack.AppendInt(b, o.F)
		b = mpack.AppendInt(b, o.Base)
		b = mpack.AppendString(b, o.Code)
		b = mpack.AppendString(b, o.Msg)
		b = appendNilBin(b, o.Frame)
	}
	b = mpack.AppendArrayHeader(b, len(m.Peers))
	for i := range m.Peers {
		p := &m.Peers[i]
		b = mpack.AppendArrayHeader(b, busPeerFields)
		b = mpack.AppendString(b, p.SID)
		b = mpack.AppendString(b, p.ID)
		b = mpack.AppendString(b, p.Name)
		b = mpack.AppendString(b, p.Color)
		b = appendBusSel(b, p.Sel, p.sel)
		b = appendNilBin(b, p.Data)
	}
	b = mpack.AppendArrayHeader(b, len(m.Gone))
	for _, g := range m.Gone {
		b = mpack.AppendString(b, g)
	}
	return b
}

// appendNilBin writes p as a bin, nil as MessagePack nil.
func appendNilBin(b, p []byte) []byte {
	if p == nil {
		return append(b, mpack.Nil)
	}
	return mpack.AppendBin(b, p)
}

// appendBusSel writes a selection's bus form: raw when set, else sel
// encoded, else nil.
func appendBusSel(b, raw []byte, sel doctype.Selection) []byte {
	switch {
	case raw != nil:
		return mpack.AppendBin(b, raw)
	case sel != nil:
		return appendBinOf(b, sel.AppendMsgpack)
	}
	return append(b, mpack.Nil)
}

// appendBinOf writes what enc appends as a bin, without encoding it apart
// first: the header is reserved at its largest and narrowed afterwards.
func appendBinOf(b []byte, enc func([]byte) []byte) []byte {
	start := len(b)
	b = enc(append(b, 0xc6, 0, 0, 0, 0))
	n := len(b) - start - 5
	if n <= 0xff {
		copy(b[start+2:], b[start+5:])
		b[start], b[start+1] = 0xc4, byte(n)
		return b[:start+2+n]
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(n))
	return b
}

// busAddressedElsewhere reports whether payload is addressed to a node other
// than self, from its first bytes; a malformed payload is not (the actor
// decodes it and reports it).
func busAddressedElsewhere(p []byte, self string) bool {
	_, i, ok := mpack.ReadArrayHeader(p, 0)
	if !ok {
		return false
	}
	n, i, ok := mpack.ReadStringHeader(p, i)
	return ok && n > 0 && string(p[i:i+n]) != self
}

// decodeBusMsg decodes and checks a payload; the ops and selections are
// decoded (so validated) by typ, the document's type, so nothing malformed
// reaches the document.
func decodeBusMsg(p []byte, typ doctype.Type) (*busMsg, error) { return decodeBusMsgFor(p, typ, "") }

// decodeBusMsgFor is decodeBusMsg for node self: a message addressed to
// another node is returned with its header only (To, Kind, V, At, Tok).
func decodeBusMsgFor(p []byte, typ doctype.Type, self string) (*busMsg, error) {
	r := busReader{b: p}
	if n := r.array("message", 1); r.err == nil && n != busMsgFields {
		r.fail(fmt.Sprintf("a message of %d fields", n))
	}
	m := &busMsg{To: r.str("to")}
	kind := r.int("kind")
	m.V, m.At, m.Tok = r.int("v"), r.int("at"), r.int("tok")
	if r.err != nil {
		return nil, r.err
	}
	if kind < busOps || kind > busOwner || m.V < 0 {
		return nil, fmt.Errorf("%w: kind %d at version %d", errBusMsg, kind, m.V)
	}
	m.Kind = uint8(kind)
	if m.To != "" && m.To != self {
		return m, nil // not for this node
	}
	if n := r.array("ops", 1+busOpFields); n > 0 {
		m.Ops = make([]busOp, 0, min(n, 64))
		for range n {
			m.Ops = append(m.Ops, r.op())
		}
	}
	if n := r.array("peers", 1+busPeerFields); n > 0 {
		m.Peers = make([]busPeer, 0, min(n, 64))
		for range n {
			m.Peers = append(m.Peers, r.peer())
		}
	}
	if n := r.array("gone", 1); n > 0 {
		m.Gone = make([]string, 0, min(n, 64))
		for range n {
			m.Gone = append(m.Gone, r.str("gone sid"))
		}
	}
	if r.err == nil && r.i != len(p) {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	if m.Kind != busReply {
		for i := range m.Ops {
			o := &m.Ops[i]
			if o.Op == nil {
				return nil, fmt.Errorf("%w: op %d is nil", errBusMsg, i)
			}
			var err error
			if o.op, err = typ.DecodeOp(o.Op); err != nil {
				return nil, fmt.Errorf("%w: op %d: %w", errBusMsg, i, err)
			}
			if o.Sel != nil {
				if o.sel, err = typ.DecodeSelection(o.Sel); err != nil {
					return nil, fmt.Errorf("%w: op %d: sel: %w", errBusMsg, i, err)
				}
			}
		}
	}
	for i := range m.Peers {
		bp := &m.Peers[i]
		if bp.Sel != nil {
			var err error
			if bp.sel, err = typ.DecodeSelection(bp.Sel); err != nil {
				return nil, fmt.Errorf("%w: peer %d: sel: %w", errBusMsg, i, err)
			}
		}
	}
	return m, nil
}

// busReader reads a bus message; the first error sticks, and every read
// after it returns a zero value.
type busReader struct {
	b   []byte
	i   int
	err error
}

func (r *busReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errBusMsg, what, r.i)
	}
}

// array reads an array header whose elements take at least least bytes
// each: a count the remaining bytes cannot hold is refused before anything
// is allocated for it.
func (r *busReader) array(what string, least int) int {
	if r.err != nil {
		return 0
	}
	n, next, ok := mpack.ReadArrayHeader(r.b, r.i)
	if !ok || n > (len(r.b)-next)/least {
		r.fail(what)
		return 0
	}
	r.i = next
	return n
}

func (r *busReader) int(what string) int64 {
	if r.err != nil {
		return 0
	}
	x, next, ok := mpack.ReadInt(r.b, r.i)
	if !ok {
		r.fail(what)
		return 0
	}
	r.i = next
	return x
}

func (r *busReader) str(what string) string {
	if r.err != nil {
		return ""
	}
	n, next, ok := mpack.ReadStringHeader(r.b, r.i)
	if !ok || !utf8.Valid(r.b[next:next+n]) {
		r.fail(what)
		return ""
	}
	r.i = next + n
	return string(r.b[next : next+n])
}

// bin reads a bin, or nil; the bytes are the payload's (which the
// subscriber owns), capped so that appending to them cannot write past them.
func (r *busReader) bin(what string) []byte {
	if r.err != nil {
		return nil
	}
	if r.i < len(r.b) && r.b[r.i] == mpack.Nil {
		r.i++
		return nil
	}
	n, next, ok := mpack.ReadBinHeader(r.b, r.i)
	if !ok {
		r.fail(what)
		return nil
	}
	r.i = next + n
	return r.b[next : next+n : next+n]
}

// mapValue reads a bin holding exactly one MessagePack map (a peer's data),
// or nil, checked structurally as wire checks a client's (it goes to clients
// as is).
func (r *busReader) mapValue(what string) []byte {
	d := r.bin(what)
	if d == nil || r.err != nil {
		return nil
	}
	if len(d) == 0 {
		r.fail(what)
		return nil
	}
	if c := d[0]; !(c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf) || wire.CheckClaims(d, 0) != nil {
		r.fail(what)
		return nil
	}
	return d
}

// frame reads an op's relayed WebSocket frame, or nil: exactly one
// well-formed MessagePack map, so that a bad one cannot break the array
// frame it is coalesced into.
func (r *busReader) frame(what string) []byte { return r.mapValue(what) }

func (r *busReader) op() busOp {
	if n := r.array("op", 1); r.err == nil && n != busOpFields {
		r.fail(fmt.Sprintf("an op of %d fields", n))
	}
	var o busOp
	o.Op = r.bin("op")
	o.SID = r.str("sid")
	o.Seq = r.int("seq")
	o.UserID = r.str("user")
	o.Created = r.int("created")
	o.Sel = r.bin("sel")
	o.F = r.int("fseq")
	o.Base = r.int("base")
	o.Code = r.str("code")
	o.Msg = r.str("msg")
	o.Frame = r.frame("frame")
	return o
}

func (r *busReader) peer() busPeer {
	if n := r.array("peer", 1); r.err == nil && n != busPeerFields {
		r.fail(fmt.Sprintf("a peer of %d fields", n))
	}
	var p busPeer
	p.SID = r.str("sid")
	p.ID = r.str("id")
	p.Name = r.str("name")
	p.Color = r.str("color")
	p.Sel = r.bin("sel")
	p.Data = r.mapValue("data")
	return p
}
