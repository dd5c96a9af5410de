// This file adapts the tree type to the document type interface (package
// doctype): the type registers itself at init, like text, and cmd/tandem
// links it with a blank import.

package tree

import (
	"fmt"

	"github.com/tandem-collab/tandem/doctype"
)

// Name is the type's name in the protocol and the store.
const Name = "tree"

func init() { doctype.Register(Type{}) }

// Type is the tree document type for package doctype. Its Limits apply to
// everything it decodes and every content it makes; the zero value has the
// defaults.
type Type struct {
	Limits Limits
}

var (
	_ doctype.Type      = Type{}
	_ doctype.Content   = (*docContent)(nil)
	_ doctype.Op        = (*docOp)(nil)
	_ doctype.Selection = docSel(nil)
)

// Name implements doctype.Type.
func (Type) Name() string { return Name }

// ContentKey implements doctype.Type: joined carries the content under "tree".
func (Type) ContentKey() string { return "tree" }

// NewContent implements doctype.Type: the empty tree, {}.
func (t Type) NewContent() doctype.Content { return &docContent{NewContent(t.Limits)} }

// DecodeContent implements doctype.Type.
func (t Type) DecodeContent(b []byte) (doctype.Content, error) {
	c, err := DecodeContent(b, t.Limits)
	if err != nil {
		return nil, err
	}
	return &docContent{c}, nil
}

// ParseContentJSON implements doctype.Type.
func (t Type) ParseContentJSON(b []byte) (doctype.Content, error) {
	c, err := ParseContentJSON(b, t.Limits)
	if err != nil {
		return nil, err
	}
	return &docContent{c}, nil
}

// DecodeOp implements doctype.Type.
func (t Type) DecodeOp(b []byte) (doctype.Op, error) {
	op, err := DecodeOp(b, t.Limits)
	if err != nil {
		return nil, err
	}
	return &docOp{op: op}, nil
}

// ParseOpJSON implements doctype.Type.
func (t Type) ParseOpJSON(b []byte) (doctype.Op, error) {
	op, err := ParseOpJSON(b, t.Limits)
	if err != nil {
		return nil, err
	}
	return &docOp{op: op}, nil
}

// DecodeSelection implements doctype.Type: nil or an array of ids; an empty
// array is hidden too.
func (t Type) DecodeSelection(b []byte) (doctype.Selection, error) {
	sel, err := DecodeSelection(b, t.Limits)
	if err != nil {
		return nil, err
	}
	if sel == nil {
		return nil, nil
	}
	return docSel(sel), nil
}

// ---- Content ----

type docContent struct{ c *Content }

// Tree returns the tree content of a doctype.Content of this type.
func Tree(c doctype.Content) (*Content, bool) {
	d, ok := c.(*docContent)
	if !ok {
		return nil, false
	}
	return d.c, true
}

func (d *docContent) Clone() doctype.Content { return &docContent{d.c.Clone()} }

func (d *docContent) Apply(op doctype.Op) (doctype.Op, error) {
	o, ok := op.(*docOp)
	if !ok {
		return nil, fmt.Errorf("tree: apply of a %T", op)
	}
	applied, removed, err := d.c.ApplyRemoved(o.op)
	if err != nil {
		return nil, err
	}
	return &docOp{op: applied, removed: removed}, nil
}

func (d *docContent) Size() int { return d.c.Size() }

func (d *docContent) FitSelection(sel doctype.Selection) (doctype.Selection, error) {
	if sel == nil {
		return nil, nil
	}
	s, ok := sel.(docSel)
	if !ok {
		return nil, fmt.Errorf("tree: selection of a %T", sel)
	}
	out := d.c.FilterSelection(Selection(s))
	if out == nil {
		return nil, nil
	}
	return docSel(out), nil
}

func (d *docContent) AppendMsgpack(b []byte) []byte { return d.c.AppendMsgpack(b) }
func (d *docContent) MarshalJSON() ([]byte, error)  { return d.c.MarshalJSON() }

// ---- Op ----

// docOp is an op; removed, set on the op Apply returns, lists every object
// its dels removed, so that selections can drop them without the content.
type docOp struct {
	op      Op
	removed []string
}

// AsOp wraps a tree op as a doctype.Op of this type, as a client sends it
// (wire.Op's Op). The op is not copied.
func AsOp(op Op) doctype.Op { return &docOp{op: op} }

// TreeOp returns the tree op of a doctype.Op of this type.
func TreeOp(op doctype.Op) (Op, bool) {
	o, ok := op.(*docOp)
	if !ok {
		return nil, false
	}
	return o.op, true
}

func (o *docOp) Transform(sid string, committed doctype.Op, committedSID string) (doctype.Op, error) {
	c, ok := committed.(*docOp)
	if !ok {
		return nil, fmt.Errorf("tree: transform past a %T", committed)
	}
	out, err := Transform(o.op, c.op, sid, committedSID)
	if err != nil {
		return nil, err
	}
	return &docOp{op: out}, nil
}

// CheckBase implements doctype.Op: a new of an id that existed at the op's
// version is invalid_op. since are the ops committed after it, as Apply
// returned them (with the ids their dels removed) or as the store gave them.
func (o *docOp) CheckBase(cur doctype.Content, since []doctype.Op) error {
	c, ok := cur.(*docContent)
	if !ok {
		return fmt.Errorf("tree: check against a %T", cur)
	}
	if !hasNew(o.op) {
		return nil // only a new is checked against the op's version
	}
	ss := make([]Since, 0, len(since))
	for _, s := range since {
		if d, ok := s.(*docOp); ok {
			ss = append(ss, Since{Op: d.op, Removed: d.removed})
		}
	}
	return CheckBase(o.op, c.c, ss)
}

func (o *docOp) Size() int                     { return o.op.Size() }
func (o *docOp) AppendMsgpack(b []byte) []byte { return o.op.AppendMsgpack(b) }
func (o *docOp) MarshalJSON() ([]byte, error)  { return o.op.MarshalJSON() }

// ---- Selection ----

type docSel Selection

// Transform drops the ids committed deleted: all of them when committed is
// an op as Apply returned it, only those its del actions name otherwise (the
// next FitSelection drops the rest).
func (s docSel) Transform(committed doctype.Op, own bool) doctype.Selection {
	c, ok := committed.(*docOp)
	if !ok {
		return s
	}
	gone := map[string]bool{}
	for _, id := range c.removed {
		gone[id] = true
	}
	for _, a := range c.op {
		if a.Kind == Del {
			gone[a.ID] = true
		}
	}
	if len(gone) == 0 {
		return s
	}
	out := make(docSel, 0, len(s))
	for _, id := range s {
		if !gone[id] {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (s docSel) AppendMsgpack(b []byte) []byte { return Selection(s).AppendMsgpack(b) }

func (s docSel) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("null"), nil
	}
	return mustMarshalIDs(s), nil
}

func mustMarshalIDs(ids []string) []byte {
	b := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, []byte(id)) // ids are ASCII
	}
	return append(b, ']')
}

var _ doctype.AllTransformer = (*docOp)(nil)

// TransformAll implements doctype.AllTransformer with what the loop of
// doctype.TransformAll returns, at a cost that does not grow with the
// history for the ops a canvas sends most: an op of only sets, moves and
// deletes passes every committed op unchanged (Transform), so it is only
// marked rebased once, and the author's selection meets only the committed
// ops that delete something. A server moves every incoming op past all the
// ops committed since its version; under pipelined load that is hundreds of
// ops per op, and a cost per (op, committed op) made the actor fall further
// behind the more it was behind.
func (o *docOp) TransformAll(sid string, committed []doctype.Op, committedSIDs []string, sel doctype.Selection) (doctype.Op, doctype.Selection, error) {
	cur := o.op
	simple := !hasNewOrText(cur)
	moved := false
	for i, c := range committed {
		d, ok := c.(*docOp)
		if !ok {
			return nil, nil, fmt.Errorf("tree: transform past a %T", c)
		}
		if len(d.op) == 0 {
			continue // Transform and docSel.Transform pass an empty op
		}
		if simple {
			moved = true
			// committed moved past an op without new and text keeps its
			// dels (Transform), which are all the selection looks at.
			if sel != nil && hasDel(d.op) {
				sel = sel.Transform(&docOp{op: d.op}, sid == committedSIDs[i])
			}
			continue
		}
		var past Op
		if sel != nil {
			// The selection moves by committed as it looks past the
			// author's op (doctype.TransformPair).
			var err error
			if past, err = Transform(d.op, cur, committedSIDs[i], sid); err != nil {
				return nil, nil, err
			}
		}
		var err error
		if cur, err = Transform(cur, d.op, sid, committedSIDs[i]); err != nil {
			return nil, nil, err
		}
		if sel != nil {
			sel = sel.Transform(&docOp{op: past}, sid == committedSIDs[i])
		}
	}
	if simple {
		if !moved {
			return o, sel, nil
		}
		out := make(Op, len(cur))
		for i := range cur {
			out[i] = cur[i]
			out[i].rebased = true
		}
		cur = out
	}
	return &docOp{op: cur}, sel, nil
}

func hasNewOrText(op Op) bool {
	for i := range op {
		if op[i].Kind == New || op[i].Kind == Text {
			return true
		}
	}
	return false
}

func hasDel(op Op) bool {
	for i := range op {
		if op[i].Kind == Del {
			return true
		}
	}
	return false
}

func hasNew(op Op) bool {
	for i := range op {
		if op[i].Kind == New {
			return true
		}
	}
	return false
}
