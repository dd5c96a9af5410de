// Package text is the text document type (docs/protocol.md, sections 1-2):
// a sequence of code points edited with the ops of package ot. It registers
// itself as "text" with package doctype; its ops and selections are ot.Op and
// ot.Selection, which implement the doctype interfaces in package ot, and its
// content is an ot.Doc (a rope: Clone is O(1), a small op O(log n)).
package text

import (
	"encoding/json"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/internal/mpack"
	"github.com/tandem-collab/tandem/ot"
)

// Name is the type's name in the protocol and the store.
const Name = "text"

// MaxRanges bounds the ranges of one selection: every committed op moves
// every range of every peer, so this bounds the actor's work per op.
const MaxRanges = 1024

// maxPosition bounds a selection endpoint: positions count code points of a
// document far smaller than this, and the bound keeps sums inside int32.
const maxPosition = ot.MaxCount

func init() { doctype.Register(Type{}) }

// Type is the text type as a doctype.Type.
type Type struct{}

var (
	_ doctype.Type    = Type{}
	_ doctype.Content = (*Content)(nil)
)

// Name implements doctype.Type.
func (Type) Name() string { return Name }

// ContentKey implements doctype.Type: joined carries the text under "text".
func (Type) ContentKey() string { return "text" }

// NewContent implements doctype.Type: the empty text.
func (Type) NewContent() doctype.Content { return &Content{} }

// DecodeContent implements doctype.Type: a MessagePack string of valid UTF-8.
func (Type) DecodeContent(b []byte) (doctype.Content, error) {
	var s string
	if err := msgpack.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("text: decode content: %w", err)
	}
	return FromString(s)
}

// ParseContentJSON implements doctype.Type: a JSON string; null is the empty
// text.
func (Type) ParseContentJSON(b []byte) (doctype.Content, error) {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("text: content must be a string: %w", err)
	}
	if s == nil {
		return Type{}.NewContent(), nil
	}
	return FromString(*s)
}

// DecodeOp implements doctype.Type: ot.DecodeMsgpackAsSent (an ot.Op,
// validated, as sent). ot's errors over a limit match doctype.ErrTooLarge
// themselves (ot.OpError.Is).
func (Type) DecodeOp(b []byte) (doctype.Op, error) {
	op, err := ot.DecodeMsgpackAsSent(b)
	if err != nil {
		return nil, err
	}
	return op, nil
}

// ParseOpJSON implements doctype.Type: ot.ParseJSONRaw (validated, as sent).
func (Type) ParseOpJSON(b []byte) (doctype.Op, error) {
	op, err := ot.ParseJSONRaw(b)
	if err != nil {
		return nil, err
	}
	return op, nil
}

// DecodeSelection implements doctype.Type with DecodeSelection.
func (Type) DecodeSelection(b []byte) (doctype.Selection, error) {
	sel, err := DecodeSelection(b)
	if err != nil || sel == nil {
		return nil, err
	}
	return sel, nil
}

// Content is a text document as a doctype.Content. It holds the rope by
// value, so that Clone is one allocation.
type Content struct {
	doc ot.Doc
}

// FromString returns s as a Content; an error for text that is not UTF-8.
func FromString(s string) (*Content, error) {
	d, err := ot.NewDoc(s)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	return &Content{doc: *d}, nil
}

// MustString is FromString for text known to be valid (tests, constants); it
// panics otherwise.
func MustString(s string) *Content {
	c, err := FromString(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns c's text, or "" for a content of another type.
func String(c doctype.Content) string {
	if t, ok := c.(*Content); ok {
		return t.String()
	}
	return ""
}

// String is the whole text.
func (c *Content) String() string { return c.doc.String() }

// Len is the length in code points.
func (c *Content) Len() int { return c.doc.Len() }

// Clone implements doctype.Content in O(1).
func (c *Content) Clone() doctype.Content { return &Content{doc: *c.doc.Clone()} }

// Apply implements doctype.Content: the op must fit; the op as applied is its
// canonical form.
func (c *Content) Apply(op doctype.Op) (doctype.Op, error) {
	o, ok := op.(ot.Op)
	if !ok {
		return nil, doctype.WrongType(Name, op)
	}
	if o.IsCanonical() {
		// The op as given is the op as applied: hand back the same
		// interface value rather than box it again (every committed op
		// passes here twice).
		if err := c.doc.Apply(o); err != nil {
			return nil, err
		}
		return op, nil
	}
	n := o.Normalize()
	if err := c.doc.Apply(n); err != nil {
		return nil, err
	}
	return n, nil
}

// Size implements doctype.Content: bytes of UTF-8.
func (c *Content) Size() int { return c.doc.Bytes() }

// FitSelection implements doctype.Content: every position within the text.
func (c *Content) FitSelection(sel doctype.Selection) (doctype.Selection, error) {
	if sel == nil {
		return nil, nil
	}
	s, ok := sel.(ot.Selection)
	if !ok {
		return nil, doctype.WrongType(Name, sel)
	}
	if err := s.Validate(c.doc.Len()); err != nil {
		return nil, err
	}
	return sel, nil
}

// AppendMsgpack implements doctype.Content: a MessagePack string.
func (c *Content) AppendMsgpack(b []byte) []byte {
	return mpack.AppendString(b, c.doc.String())
}

// MarshalJSON implements doctype.Content: a JSON string (HTML characters
// as they are).
func (c *Content) MarshalJSON() ([]byte, error) {
	s := c.doc.String()
	return ot.AppendJSONString(make([]byte, 0, len(s)+2), s), nil
}

// Selection returns sel as a doctype.Selection: nil when sel is nil.
func Selection(sel ot.Selection) doctype.Selection {
	if sel == nil {
		return nil
	}
	return sel
}

// NewSelection returns sel as a value with the doctype.Selection methods
// (nil is encoded as nil).
func NewSelection(sel ot.Selection) ot.Selection { return sel }

// AppendSelection appends sel's MessagePack form: nil, or [[anchor, head], ...].
func AppendSelection(b []byte, sel ot.Selection) []byte { return sel.AppendMsgpack(b) }

// OfSelection returns the ranges of a text (or rich) selection held in a
// doctype.Selection; nil for nil.
func OfSelection(sel doctype.Selection) ot.Selection {
	s, _ := sel.(ot.Selection)
	return s
}

// Op returns the ot.Op held in a doctype.Op (nil for another type).
func Op(op doctype.Op) ot.Op {
	o, _ := op.(ot.Op)
	return o
}

// tooLarge marks an error of this package over a limit.
type tooLarge struct{ error }

func (e tooLarge) Unwrap() error        { return e.error }
func (e tooLarge) Is(target error) bool { return target == doctype.ErrTooLarge }
