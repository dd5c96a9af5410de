// This file adapts the rich type to the document type interface of package
// doctype: cmd/tandem links the package with a blank import, and the server
// knows "rich".

package rich

import (
	"fmt"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/seqtransform"
	"github.com/tandem-collab/tandem/ot"
)

// TypeName is the type's name in the protocol and the store.
const TypeName = "rich"

func init() { doctype.Register(Type{}) }

// Type is the rich document type as a doctype.Type.
type Type struct{}

var (
	_ doctype.Type            = Type{}
	_ doctype.Content         = (*Content)(nil)
	_ doctype.Op              = Op(nil)
	_ doctype.PairTransformer = Op(nil)
	_ doctype.AllTransformer  = Op(nil)
	_ doctype.Selection       = (*Selection)(nil)
)

// Name implements doctype.Type.
func (Type) Name() string { return TypeName }

// ContentKey implements doctype.Type: joined carries a rich document's Delta
// under "text", as a text document's text (docs/protocol.md).
func (Type) ContentKey() string { return "text" }

// NewContent implements doctype.Type: the new document "\n".
func (Type) NewContent() doctype.Content { return &Content{doc: NewDoc()} }

// DecodeContent implements doctype.Type: the Delta in MessagePack.
func (Type) DecodeContent(b []byte) (doctype.Content, error) {
	d, err := DecodeContent(b, -1)
	if err != nil {
		return nil, err
	}
	return &Content{doc: d}, nil
}

// ParseContentJSON implements doctype.Type: the Delta in JSON; [] is the new
// document.
func (Type) ParseContentJSON(b []byte) (doctype.Content, error) {
	d, err := ParseContentJSON(b)
	if err != nil {
		return nil, err
	}
	return &Content{doc: d}, nil
}

// DecodeOp implements doctype.Type: validated and kept as sent (CheckBase
// needs its trailing retain; Transform and Apply normalise).
func (Type) DecodeOp(b []byte) (doctype.Op, error) {
	o, err := DecodeOp(b)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// ParseOpJSON implements doctype.Type: validated and kept as sent.
func (Type) ParseOpJSON(b []byte) (doctype.Op, error) {
	o, err := ParseJSON(b)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// DecodeSelection implements doctype.Type: code point ranges, exactly as for
// text (same codec and limits).
func (Type) DecodeSelection(b []byte) (doctype.Selection, error) {
	sel, err := text.DecodeSelection(b)
	if err != nil {
		return nil, err
	}
	return NewSelection(sel), nil
}

// CheckBase implements doctype.Op: o, as sent, must fit the document it was
// made on and keep its final newline (Op.CheckFit). That document's length is
// the current one minus what the ops committed since added.
func (o Op) CheckBase(cur doctype.Content, since []doctype.Op) error {
	c, ok := cur.(*Content)
	if !ok {
		return fmt.Errorf("rich: check against a %T", cur)
	}
	n := c.doc.Len()
	for _, s := range since {
		p, ok := s.(Op)
		if !ok {
			return fmt.Errorf("rich: a %T in the history", s)
		}
		n -= p.TargetLen() - p.BaseLen()
	}
	return o.CheckFit(n)
}

// richLoops are the transform loops of package seqtransform on rich values,
// which the doctype.Op methods below are.
var richLoops = seqtransform.Type[Op, ot.Selection]{
	Name: TypeName,
	Past: TransformPast,
	Pair: TransformPair,
	Move: TransformSelection,
	Unbox: func(sel doctype.Selection) (ot.Selection, bool, bool) {
		s, ok := sel.(*Selection)
		if !ok {
			return nil, false, false
		}
		return s.ranges, s.ranges != nil, true
	},
	Box: NewSelection,
}

// Transform implements doctype.Op: o, by sid, past committed, by
// committedSID, which committed before it (TransformPast): ties by sid
// (OrderBySID), and o's attribute values win where both set one (o commits
// later).
func (o Op) Transform(sid string, committed doctype.Op, committedSID string) (doctype.Op, error) {
	return richLoops.Transform(o, sid, committed, committedSID)
}

// TransformPair implements doctype.PairTransformer: TransformPair, which
// also gives committed past o, by which the server moves o's author's
// selection.
func (o Op) TransformPair(sid string, committed doctype.Op, committedSID string) (past, committedPast doctype.Op, err error) {
	return richLoops.TransformPair(o, sid, committed, committedSID)
}

// TransformAll implements doctype.AllTransformer: the loop of TransformPast
// (TransformPair and TransformSelection with a selection) on rich values,
// boxed once at the end.
func (o Op) TransformAll(sid string, committed []doctype.Op, committedSIDs []string, sel doctype.Selection) (doctype.Op, doctype.Selection, error) {
	return richLoops.TransformAll(o, sid, committed, committedSIDs, sel)
}

// Content is a rich document as a doctype.Content: a Doc, so that Clone is
// O(1) and a small op costs O(log n).
type Content struct {
	doc *Doc
}

// NewContent wraps d, which the Content then owns.
func NewContent(d *Doc) *Content {
	if d == nil {
		d = NewDoc()
	}
	return &Content{doc: d}
}

// Doc is the document; treat it as read-only (Clone it to change it).
func (c *Content) Doc() *Doc { return c.doc }

// Clone implements doctype.Content.
func (c *Content) Clone() doctype.Content { return &Content{doc: c.doc.Clone()} }

// Apply implements doctype.Content: the op must fit, keep the final newline
// and give no character more than MaxAttrs attributes; the op as applied is
// its canonical form.
func (c *Content) Apply(op doctype.Op) (doctype.Op, error) {
	o, ok := op.(Op)
	if !ok {
		return nil, fmt.Errorf("rich: apply a %T", op)
	}
	n := o.Normalize()
	if err := c.doc.Apply(n); err != nil {
		return nil, err
	}
	return n, nil
}

// Size implements doctype.Content (see Doc.Size).
func (c *Content) Size() int { return c.doc.Size() }

// FitSelection implements doctype.Content: every position within the
// document.
func (c *Content) FitSelection(sel doctype.Selection) (doctype.Selection, error) {
	if sel == nil {
		return nil, nil
	}
	s, ok := sel.(*Selection)
	if !ok {
		return nil, fmt.Errorf("rich: a %T is not a rich selection", sel)
	}
	if err := s.ranges.Validate(c.doc.Len()); err != nil {
		return nil, err
	}
	return sel, nil
}

// AppendMsgpack implements doctype.Content: the Delta.
func (c *Content) AppendMsgpack(b []byte) []byte { return c.doc.AppendMsgpack(b) }

// MarshalJSON implements doctype.Content: the Delta.
func (c *Content) MarshalJSON() ([]byte, error) { return c.doc.MarshalJSON() }

// Selection is a rich document's selection: code point ranges, as for text.
type Selection struct {
	ranges ot.Selection
}

// NewSelection returns sel as a doctype.Selection: nil when sel is nil. The
// Selection keeps sel, which must not be changed afterwards.
func NewSelection(sel ot.Selection) doctype.Selection {
	if sel == nil {
		return nil
	}
	return &Selection{ranges: sel}
}

// Ranges is the selection's ranges; treat them as read-only.
func (s *Selection) Ranges() ot.Selection { return s.ranges }

// Transform implements doctype.Selection with TransformSelection. The
// receiver itself is returned when nothing moves.
func (s *Selection) Transform(committed doctype.Op, own bool) doctype.Selection {
	o, ok := committed.(Op)
	if !ok || o.IsNoop() {
		return s
	}
	moved := TransformSelection(s.ranges, o, own)
	for i := range moved {
		if moved[i] != s.ranges[i] {
			return &Selection{ranges: moved}
		}
	}
	return s
}

// AppendMsgpack implements doctype.Selection.
func (s *Selection) AppendMsgpack(b []byte) []byte { return text.AppendSelection(b, s.ranges) }

// MarshalJSON implements doctype.Selection: [[anchor, head], ...].
func (s *Selection) MarshalJSON() ([]byte, error) { return text.NewSelection(s.ranges).MarshalJSON() }
