package ot

import (
	"strconv"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/internal/mpack"
	"github.com/tandem-collab/tandem/internal/seqtransform"
)

// Op and Selection are the text type's op and selection (package
// doctype/text registers the type; its content wraps a Doc). They implement
// the doctype interfaces here, where their methods can be, the way package
// rich and package tree implement theirs.
var (
	_ doctype.Op              = Op(nil)
	_ doctype.PairTransformer = Op(nil)
	_ doctype.AllTransformer  = Op(nil)
	_ doctype.Selection       = Selection(nil)
)

// lengther is what CheckBase needs of a text content (doctype/text.Content).
type lengther interface{ Len() int }

// textLoops are the transform loops of package seqtransform on text
// values, which the doctype.Op methods below are.
var textLoops = seqtransform.Type[Op, Selection]{
	Name: "text",
	Past: TransformPast,
	Pair: TransformPair,
	Move: func(s Selection, op Op, own bool) Selection { return moveSelection(s, op.Normalize(), own) },
	Unbox: func(sel doctype.Selection) (Selection, bool, bool) {
		s, ok := sel.(Selection)
		return s, s != nil, ok
	},
	Box: selOrNil,
}

// Transform implements doctype.Op: TransformPast.
func (op Op) Transform(sid string, committed doctype.Op, committedSID string) (doctype.Op, error) {
	return textLoops.Transform(op, sid, committed, committedSID)
}

// TransformPair implements doctype.PairTransformer: TransformPair.
func (op Op) TransformPair(sid string, committed doctype.Op, committedSID string) (past, committedPast doctype.Op, err error) {
	return textLoops.TransformPair(op, sid, committed, committedSID)
}

// TransformAll implements doctype.AllTransformer: the loop of TransformPast
// (TransformPair and TransformSelectionPast with a selection) on ot values,
// boxed once at the end.
func (op Op) TransformAll(sid string, committed []doctype.Op, committedSIDs []string, sel doctype.Selection) (doctype.Op, doctype.Selection, error) {
	return textLoops.TransformAll(op, sid, committed, committedSIDs, sel)
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
	b = mpack.AppendArrayHeader(b, len(op))
	for _, c := range op {
		switch {
		case c.Insert != "":
			b = mpack.AppendString(b, c.Insert)
		case c.Delete > 0:
			b = mpack.AppendInt(b, -int64(c.Delete))
		default:
			b = mpack.AppendInt(b, int64(c.Retain))
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
	b = mpack.AppendArrayHeader(b, len(s))
	for _, r := range s {
		b = append(b, 0x92)
		b = mpack.AppendInt(b, int64(r.Anchor))
		b = mpack.AppendInt(b, int64(r.Head))
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
	n, i, ok := mpack.ReadArrayHeader(v, 0)
	if !ok || n > len(v)-i {
		return nil, false
	}
	op := make(Op, 0, n)
	for range n {
		if slen, next, ok := mpack.ReadStringHeader(v, i); ok {
			if slen == 0 {
				return nil, false
			}
			// Validate below checks the UTF-8.
			op = append(op, Component{Insert: string(v[next : next+slen])})
			i = next + slen
			continue
		}
		x, next, ok := mpack.ReadInt(v, i)
		switch {
		case !ok || x == 0 || x > MaxCount || x < -MaxCount:
			return nil, false
		case x > 0:
			op = append(op, Component{Retain: int(x)})
		default:
			op = append(op, Component{Delete: int(-x)})
		}
		i = next
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
