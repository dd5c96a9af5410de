package ot

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/tandem-collab/tandem/doctype"
)

// Op and Selection are the text type's op and selection (package
// doctype/text registers the type; its content wraps a Doc). They implement
// the doctype interfaces here, where their methods can be, the way package
// rich and package tree implement theirs.
var (
	_ doctype.Op              = Op(nil)
	_ doctype.PairTransformer = Op(nil)
	_ doctype.Selection       = Selection(nil)
)

// lengther is what CheckBase needs of a text content (doctype/text.Content).
type lengther interface{ Len() int }

// Transform implements doctype.Op: TransformPast.
func (op Op) Transform(sid string, committed doctype.Op, committedSID string) (doctype.Op, error) {
	c, ok := committed.(Op)
	if !ok {
		return nil, doctype.WrongType("text", committed)
	}
	return TransformPast(op, sid, c, committedSID)
}

// TransformPair implements doctype.PairTransformer: TransformPair.
func (op Op) TransformPair(sid string, committed doctype.Op, committedSID string) (past, committedPast doctype.Op, err error) {
	c, ok := committed.(Op)
	if !ok {
		return nil, nil, doctype.WrongType("text", committed)
	}
	p, cp, err := TransformPair(op, sid, c, committedSID)
	if err != nil {
		return nil, nil, err
	}
	return p, cp, nil
}

// CheckBase implements doctype.Op: op, as sent (a trailing retain
// included), must fit the document at its version, whose length is cur's
// minus what the ops since added (CheckFit).
func (op Op) CheckBase(cur doctype.Content, since []doctype.Op) error {
	l, ok := cur.(lengther)
	if !ok {
		return doctype.WrongType("text", cur)
	}
	n := l.Len()
	for _, s := range since {
		p, ok := s.(Op)
		if !ok {
			return doctype.WrongType("text", s)
		}
		n -= p.TargetLen() - p.BaseLen()
	}
	return op.CheckFit(n)
}

// AppendMsgpack implements doctype.Op: the wire form of op (retain n as n,
// insert s as s, delete n as -n). The op is assumed valid.
func (op Op) AppendMsgpack(b []byte) []byte {
	b = appendArrayHeader(b, len(op))
	for _, c := range op {
		switch {
		case c.Insert != "":
			b = AppendMsgpackString(b, c.Insert)
		case c.Delete > 0:
			b = appendMsgpackInt(b, -int64(c.Delete))
		default:
			b = appendMsgpackInt(b, int64(c.Retain))
		}
	}
	return b
}

// Transform implements doctype.Selection: TransformSelectionPast, with own
// saying whether the selection's owner wrote committed. The receiver itself
// is returned when committed changes nothing; nil stays nil.
func (s Selection) Transform(committed doctype.Op, own bool) doctype.Selection {
	c, ok := committed.(Op)
	if s == nil || !ok {
		return selOrNil(s)
	}
	c = c.Normalize()
	var out Selection
	for i, r := range s {
		m := r
		if r.Anchor >= 0 {
			m.Anchor = transformPosition(r.Anchor, c, own)
		}
		if r.Head >= 0 {
			m.Head = transformPosition(r.Head, c, own)
		}
		if out == nil {
			if m == r {
				continue
			}
			out = make(Selection, len(s))
			copy(out, s[:i])
		}
		out[i] = m
	}
	if out == nil {
		return s
	}
	return out
}

// selOrNil keeps a nil Selection a nil interface.
func selOrNil(s Selection) doctype.Selection {
	if s == nil {
		return nil
	}
	return s
}

// AppendMsgpack implements doctype.Selection: nil, or an array of [anchor,
// head].
func (s Selection) AppendMsgpack(b []byte) []byte {
	if s == nil {
		return append(b, 0xc0)
	}
	b = appendArrayHeader(b, len(s))
	for _, r := range s {
		b = append(b, 0x92)
		b = appendMsgpackInt(b, int64(r.Anchor))
		b = appendMsgpackInt(b, int64(r.Head))
	}
	return b
}

// MarshalJSON implements doctype.Selection: null, or [[anchor, head], ...].
func (s Selection) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(s)*8)
	b = append(b, '[')
	for i, r := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendDecimal(b, r.Anchor)
		b = append(b, ',')
		b = appendDecimal(b, r.Head)
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

func appendDecimal(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// AppendMsgpackString appends s as a MessagePack str.
func AppendMsgpackString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// appendMsgpackInt writes n in its shortest form, unsigned families for n >=
// 0 as msgpack/v5 and @msgpack/msgpack do.
func appendMsgpackInt(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 0x7f:
		return append(b, byte(n))
	case n < 0 && n >= -32:
		return append(b, byte(int8(n)))
	case n >= 0 && n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n >= 0 && n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n >= 0 && n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	case n >= 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(int8(n)))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(n)))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// DecodeMsgpackAsSent decodes one op from its MessagePack wire form,
// validated but not normalised (see ParseMsgpackRaw), taking a fast path for
// the ops clients and servers actually send (an array of integers and
// strings) straight from the bytes, without msgpack's reflection and reader:
// every op a server or client receives passes through here. Anything else
// (floats, invalid ops) takes ParseMsgpackRaw, which decides and explains.
func DecodeMsgpackAsSent(v []byte) (Op, error) {
	if op, ok := decodeOpFast(v); ok {
		return op, nil
	}
	return ParseMsgpackRaw(v)
}

// decodeOpFast is DecodeMsgpackAsSent's fast path; ok is false for anything
// it does not take. It never allocates by a header's claim beyond the bytes
// present.
func decodeOpFast(v []byte) (Op, bool) {
	if len(v) == 0 {
		return nil, false
	}
	var n, i int
	switch c := v[0]; {
	case c >= 0x90 && c <= 0x9f:
		n, i = int(c&0x0f), 1
	case c == 0xdc && len(v) >= 3:
		n, i = int(binary.BigEndian.Uint16(v[1:])), 3
	case c == 0xdd && len(v) >= 5:
		n, i = int(binary.BigEndian.Uint32(v[1:])), 5
	default:
		return nil, false
	}
	if n > len(v)-i {
		return nil, false
	}
	op := make(Op, 0, n)
	for range n {
		if i >= len(v) {
			return nil, false
		}
		c := v[i]
		var (
			x    int64
			slen int
			isS  bool
		)
		switch {
		case c <= 0x7f:
			x, i = int64(c), i+1
		case c >= 0xe0:
			x, i = int64(int8(c)), i+1
		case c >= 0xa0 && c <= 0xbf:
			slen, isS, i = int(c&0x1f), true, i+1
		case c == 0xd9 && i+2 <= len(v):
			slen, isS, i = int(v[i+1]), true, i+2
		case c == 0xda && i+3 <= len(v):
			slen, isS, i = int(binary.BigEndian.Uint16(v[i+1:])), true, i+3
		case c == 0xdb && i+5 <= len(v):
			slen, isS, i = int(binary.BigEndian.Uint32(v[i+1:])), true, i+5
		case c == 0xcc && i+2 <= len(v):
			x, i = int64(v[i+1]), i+2
		case c == 0xcd && i+3 <= len(v):
			x, i = int64(binary.BigEndian.Uint16(v[i+1:])), i+3
		case c == 0xce && i+5 <= len(v):
			x, i = int64(binary.BigEndian.Uint32(v[i+1:])), i+5
		case c == 0xd0 && i+2 <= len(v):
			x, i = int64(int8(v[i+1])), i+2
		case c == 0xd1 && i+3 <= len(v):
			x, i = int64(int16(binary.BigEndian.Uint16(v[i+1:]))), i+3
		case c == 0xd2 && i+5 <= len(v):
			x, i = int64(int32(binary.BigEndian.Uint32(v[i+1:]))), i+5
		default:
			return nil, false
		}
		switch {
		case isS:
			if slen == 0 || slen > len(v)-i {
				return nil, false
			}
			// Validate below checks the UTF-8.
			op = append(op, Component{Insert: string(v[i : i+slen])})
			i += slen
		case x == 0 || x > MaxCount || x < -MaxCount:
			return nil, false
		case x > 0:
			op = append(op, Component{Retain: int(x)})
		default:
			op = append(op, Component{Delete: int(-x)})
		}
	}
	if i != len(v) || op.Validate() != nil {
		return nil, false
	}
	return op, true
}

// AppendJSONString appends s, valid UTF-8, as a JSON string the way op JSON
// is written: only what JSON requires is escaped (plus U+2028 and U+2029),
// never HTML characters.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }
