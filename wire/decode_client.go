package wire

import (
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/textutil"
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
	// an op's "op" and "sel" and a presence's "sel" are decoded. A nil
	// answer means the type is not known yet (the join is on its way, or
	// there is none): those values are then checked structurally and against
	// the limits only, and kept raw (Op.Raw, Presence.Raw)
	// for the document's owner to decode. A nil TypeOf means text.
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

// DecodeClient decodes one client frame: untrusted bytes that must hold exactly
// one MessagePack map. Unknown keys are ignored. Every error is a *Error:
// CodeBadRequest for malformed MessagePack, a missing required key, a wrong type
// or an invalid value; CodeTooLarge for an op, data or selection over lim;
// CodeInvalidOp for an op that the document's type rejects (its cause is then
// the type's error, an *ot.OpError for text).
// The returned message does not alias frame.
//
// Memory is bounded by the frame, never by what its headers claim: see the
// package doc.
func DecodeClient(frame []byte, lim Limits) (Message, error) {
	d := decoder{client: true, lim: lim.withDefaults()}
	if k := kindOf(frame); k != kindMap {
		return nil, &Error{Code: CodeBadRequest, Msg: "frame: want one MessagePack map, got " + kindName(k)}
	}
	if err := checkFrame(frame); err != nil {
		return nil, err
	}
	// One walk records the value of every key a client message has (any
	// other key is ignored), and which came twice. The type, and the doc
	// and seq that errors echo, are read first; a doc or seq sent twice is
	// not echoed (it is refused below).
	var (
		vals [numClientKeys][]byte
		dup  uint64
	)
	_, _ = pairs(frame, func(k, v []byte) error {
		if key, ok := readStr(k); ok {
			if i := keyOf(key); i >= 0 && i < numClientKeys {
				if vals[i] != nil {
					dup |= 1 << i
				}
				vals[i] = v
			}
		}
		return nil
	})
	if dup&(1<<keyDoc) == 0 {
		if s, ok := readStr(vals[keyDoc]); ok && ValidDocID(string(s)) {
			d.doc = string(s)
		}
	}
	if dup&(1<<keySeq) == 0 {
		if n, ok := readInt(vals[keySeq]); ok && n > 0 {
			d.seq = n
		}
	}
	if dup&(1<<keyT) != 0 {
		return nil, d.errorf(CodeBadRequest, "t: duplicate key")
	}
	tv := vals[keyT]
	if tv == nil {
		return nil, d.errorf(CodeBadRequest, "missing key \"t\"")
	}
	t, ok := readStr(tv)
	if !ok {
		return nil, d.errorf(CodeBadRequest, "t: want a string")
	}
	msg, ok := decodeClientMessage(&d, t, &vals, dup, frame)
	if !ok {
		return nil, d.errorf(CodeBadRequest, "t: unknown message type %q", textutil.Truncate(string(t), 32))
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.deferred {
		switch m := msg.(type) {
		case *Op:
			m.Raw = &Raw{Op: d.rawOp, Sel: d.rawSel}
		case *Presence:
			m.Raw = &Raw{Sel: d.rawSel}
		}
	}
	ok, verr := checkClientRules(msg)
	if !ok {
		verr = checkStruct(msg)
	}
	if verr != nil {
		return nil, d.errorf(CodeBadRequest, "%s: %v", t, verr)
	}
	return msg, nil
}

// duplicate reports the first row of s, in order, whose key dup marks as
// sent twice.
func (d *decoder) duplicate(s *schema, dup uint64) {
	for i := range s.fields {
		if f := &s.fields[i]; f.keyNum >= 0 && dup&(1<<f.keyNum) != 0 {
			d.fail(CodeBadRequest, "%s: duplicate key", f.key)
			return
		}
	}
}

// errorf is fail's error.
func (d *decoder) errorf(code, format string, args ...any) *Error {
	d.fail(code, format, args...)
	return d.err
}
