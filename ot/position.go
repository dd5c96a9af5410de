package ot

import (
	"encoding/json"
	"math"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// TransformPosition moves the caret of someone other than op's author from
// code point pos across op (the caret rule of docs/protocol.md, "Carets and
// selections"):
//   - an insert strictly before the caret moves it right by the inserted length;
//   - an insert exactly at the caret leaves it where it was, before the
//     inserted text;
//   - deleted text before the caret moves it left, and a deletion containing
//     it moves it to the deletion's start.
//
// Leaving a caret before an insert at its position is what keeps two people
// typing at one spot from splitting each other's words: the other person's
// caret stays left of what this author types, so its next letters land left
// of this author's too. A negative pos is returned unchanged. Like Transform,
// it works on op's canonical form: a caret inside a replaced stretch ends
// after the new text whether the op was sent as [1, -2, "x"] or [1, "x", -2].
func TransformPosition(pos int, op Op) int {
	return TransformPositionPast(pos, "", op, "")
}

// TransformPositionPast moves the caret of owner across op, written by
// author. When owner is author (and not empty) the caret is the author's own
// after the author's own insert: an insert exactly at it puts it after the
// inserted text, as in the editor that typed it. Every other caret follows
// TransformPosition.
func TransformPositionPast(pos int, owner string, op Op, author string) int {
	if pos < 0 {
		return pos
	}
	return transformPosition(pos, op.Normalize(), owner != "" && owner == author)
}

func transformPosition(pos int, op Op, own bool) int {
	out := pos
	i := 0 // position in the document before op
	for _, c := range op {
		if i > pos || (i == pos && !own && c.Delete == 0 && c.Insert == "") {
			break
		}
		switch {
		case c.Insert != "":
			if i == pos && !own {
				continue // an insert exactly at someone else's caret stays after it
			}
			out += utf8.RuneCountInString(c.Insert)
		case c.Delete > 0:
			out -= min(c.Delete, pos-i)
			i += c.Delete
		case c.Retain > 0:
			i += c.Retain
		}
	}
	return out
}

// Range is one selection range in code points; a caret is Anchor == Head. On
// the wire it is a two-element array [anchor, head].
type Range struct {
	Anchor int
	Head   int
}

// Selection is a user's selection: one or more ranges. A nil Selection hides
// the caret.
type Selection []Range

// TransformSelection moves every range of sel, the selection of someone other
// than op's author, across op: each end moves as TransformPosition moves a
// caret. nil stays nil.
func TransformSelection(sel Selection, op Op) Selection {
	return TransformSelectionPast(sel, "", op, "")
}

// TransformSelectionPast moves sel, the selection of owner, across op, written
// by author: the author's own selection when owner is author (an insert at a
// caret puts it after the text), anyone else's otherwise (see
// TransformPositionPast). nil stays nil.
func TransformSelectionPast(sel Selection, owner string, op Op, author string) Selection {
	return moveSelection(sel, op.Normalize(), owner != "" && owner == author)
}

// moveSelection moves every range of sel across op, which is canonical; own
// is true for the selection of op's author. nil stays nil.
func moveSelection(sel Selection, op Op, own bool) Selection {
	if sel == nil {
		return nil
	}
	out := make(Selection, len(sel))
	for i, r := range sel {
		out[i] = Range{Anchor: r.Anchor, Head: r.Head}
		if r.Anchor >= 0 {
			out[i].Anchor = transformPosition(r.Anchor, op, own)
		}
		if r.Head >= 0 {
			out[i].Head = transformPosition(r.Head, op, own)
		}
	}
	return out
}

// Validate checks every position is within [0, docLen].
func (s Selection) Validate(docLen int) error {
	for i, r := range s {
		if r.Anchor < 0 || r.Head < 0 {
			return errInvalid(i, "negative position in range [%d, %d]", r.Anchor, r.Head)
		}
		if r.Anchor > docLen || r.Head > docLen {
			return errNoFit(i, "range [%d, %d] past the document end %d", r.Anchor, r.Head, docLen)
		}
	}
	return nil
}

var (
	_ msgpack.CustomEncoder = Range{}
	_ msgpack.CustomDecoder = (*Range)(nil)
	_ msgpack.CustomEncoder = Selection(nil)
	_ msgpack.CustomDecoder = (*Selection)(nil)
)

// EncodeMsgpack writes [anchor, head].
func (r Range) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := enc.EncodeInt(int64(r.Anchor)); err != nil {
		return err
	}
	return enc.EncodeInt(int64(r.Head))
}

// DecodeMsgpack reads [anchor, head] of non-negative integers.
func (r *Range) DecodeMsgpack(dec *msgpack.Decoder) error {
	return r.decode(dec, -1)
}

func (r *Range) decode(dec *msgpack.Decoder, index int) error {
	code, err := dec.PeekCode()
	if err != nil {
		return errInvalid(index, "read range: %v", err)
	}
	if !msgpcode.IsFixedArray(code) && code != msgpcode.Array16 && code != msgpcode.Array32 {
		_ = dec.Skip()
		return errInvalid(index, "range must be a 2-element array (msgpack code 0x%02x)", code)
	}
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return errInvalid(index, "read range: %v", err)
	}
	if n != 2 {
		return errInvalid(index, "range has %d elements, want 2", n)
	}
	a, err := decodePosition(dec, index)
	if err != nil {
		return err
	}
	h, err := decodePosition(dec, index)
	if err != nil {
		return err
	}
	*r = Range{Anchor: a, Head: h}
	return nil
}

func decodePosition(dec *msgpack.Decoder, index int) (int, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return 0, errInvalid(index, "read position: %v", err)
	}
	var v float64
	switch {
	case msgpcode.IsFixedNum(code), code == msgpcode.Int8, code == msgpcode.Int16,
		code == msgpcode.Int32, code == msgpcode.Int64:
		n, err := dec.DecodeInt64()
		if err != nil {
			return 0, errInvalid(index, "read position: %v", err)
		}
		if n < 0 || n > MaxCount {
			return 0, errInvalid(index, "position %d out of range", n)
		}
		return int(n), nil
	case code == msgpcode.Uint8, code == msgpcode.Uint16, code == msgpcode.Uint32, code == msgpcode.Uint64:
		n, err := dec.DecodeUint64()
		if err != nil {
			return 0, errInvalid(index, "read position: %v", err)
		}
		if n > MaxCount {
			return 0, errInvalid(index, "position %d out of range", n)
		}
		return int(n), nil
	case code == msgpcode.Float, code == msgpcode.Double:
		if v, err = dec.DecodeFloat64(); err != nil {
			return 0, errInvalid(index, "read position: %v", err)
		}
		return positionFromFloat(v, index)
	}
	_ = dec.Skip()
	return 0, errInvalid(index, "position has msgpack code 0x%02x, want an integer", code)
}

func positionFromFloat(v float64, index int) (int, error) {
	if math.IsNaN(v) || v != math.Trunc(v) || v < 0 || v > MaxCount {
		return 0, errInvalid(index, "position %v is not a non-negative integer", v)
	}
	return int(v), nil
}

// EncodeMsgpack writes the ranges as an array, or nil for a nil Selection.
func (s Selection) EncodeMsgpack(enc *msgpack.Encoder) error {
	if s == nil {
		return enc.EncodeNil()
	}
	if err := enc.EncodeArrayLen(len(s)); err != nil {
		return err
	}
	for _, r := range s {
		if err := r.EncodeMsgpack(enc); err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack reads nil (hidden caret) or an array of ranges, reserving
// memory by what it reads rather than by the array header.
func (s *Selection) DecodeMsgpack(dec *msgpack.Decoder) error {
	code, err := dec.PeekCode()
	if err != nil {
		return errInvalid(-1, "read selection: %v", err)
	}
	if code == msgpcode.Nil {
		*s = nil
		return dec.DecodeNil()
	}
	if !msgpcode.IsFixedArray(code) && code != msgpcode.Array16 && code != msgpcode.Array32 {
		_ = dec.Skip()
		return errInvalid(-1, "selection must be an array or nil (msgpack code 0x%02x)", code)
	}
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return errInvalid(-1, "read selection: %v", err)
	}
	out := make(Selection, 0, min(n, maxPrealloc))
	for i := 0; i < n; i++ {
		var r Range
		if err := r.decode(dec, i); err != nil {
			return err
		}
		out = append(out, r)
	}
	*s = out
	return nil
}

// MarshalJSON writes [anchor, head].
func (r Range) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]int{r.Anchor, r.Head})
}

// UnmarshalJSON reads [anchor, head] of non-negative integers.
func (r *Range) UnmarshalJSON(data []byte) error {
	var raw []json.Number
	if err := json.Unmarshal(data, &raw); err != nil {
		return errInvalid(-1, "range must be an array of 2 integers: %v", err)
	}
	if len(raw) != 2 {
		return errInvalid(-1, "range has %d elements, want 2", len(raw))
	}
	var pos [2]int
	for i, num := range raw {
		f, err := num.Float64()
		if err != nil {
			return errInvalid(-1, "position %q: %v", string(num), err)
		}
		if pos[i], err = positionFromFloat(f, -1); err != nil {
			return err
		}
	}
	*r = Range{Anchor: pos[0], Head: pos[1]}
	return nil
}
