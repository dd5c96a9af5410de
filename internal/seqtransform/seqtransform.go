// Package seqtransform holds the transform code that the sequence document
// types (ot for text, rich) share, written once over each type's own values:
// moving an uncommitted op and a committed one past each other (Pair), and
// moving an op and its author's selection past every op committed since the
// op's version (Type.All), which the server does for every op that arrives
// behind the head; and the doctype.Op methods that box and unbox around
// them. The loops take the type's values unboxed, so that TransformAll boxes
// once per op, not once per committed op.
package seqtransform

import "github.com/tandem-collab/tandem/doctype"

// Pair returns op moved past committed and committed moved past op, both
// made against one document: transform(op, committed, order) and
// transform(committed, op, flipped), where order places op's inserts
// relative to committed's (ot.Side, rich.Order) and flipped is the same
// order seen from committed.
func Pair[O, R any](transform func(a, b O, order R) (O, error), op, committed O, order, flipped R) (opPast, committedPast O, err error) {
	var zero O
	if opPast, err = transform(op, committed, order); err != nil {
		return zero, zero, err
	}
	if committedPast, err = transform(committed, op, flipped); err != nil {
		return zero, zero, err
	}
	return opPast, committedPast, nil
}

// Type is what the loops need of a sequence type whose ops are O and whose
// selections are S (unboxed: ot.Selection for both types).
type Type[O doctype.Op, S any] struct {
	// Name is the type's name, for the error about a value of another type.
	Name string
	// Past moves op, written by sid, past committed, written by
	// committedSID and committed first.
	Past func(op O, sid string, committed O, committedSID string) (O, error)
	// Pair is Past that also returns committed moved past op.
	Pair func(op O, sid string, committed O, committedSID string) (opPast, committedPast O, err error)
	// Move moves sel by op; own is true when the selection's owner wrote op.
	Move func(sel S, op O, own bool) S
	// Unbox returns the type's selection in sel; has is false for a hidden
	// one, ok false for a selection of another type.
	Unbox func(sel doctype.Selection) (s S, has, ok bool)
	// Box returns s as a doctype.Selection: a nil interface for a nil s.
	Box func(s S) doctype.Selection
}

// All moves op, written by sid, past committed (in commit order;
// committedSIDs[i] wrote committed[i]) and, when hasSel, sel, the author's
// selection after op, along with it: by each committed op as it looks past
// the author's op (Pair), as the author's own when the sids are equal. It is
// doctype.TransformAll's loop on unboxed values. An element of committed
// that is not an O is an error matching doctype.ErrWrongType.
func (t *Type[O, S]) All(op O, sid string, committed []doctype.Op, committedSIDs []string, sel S, hasSel bool) (O, S, error) {
	for i, c := range committed {
		co, ok := c.(O)
		if !ok {
			return op, sel, doctype.WrongType(t.Name, c)
		}
		var err error
		if !hasSel {
			if op, err = t.Past(op, sid, co, committedSIDs[i]); err != nil {
				return op, sel, err
			}
			continue
		}
		var cPast O
		if op, cPast, err = t.Pair(op, sid, co, committedSIDs[i]); err != nil {
			return op, sel, err
		}
		sel = t.Move(sel, cPast, sid == committedSIDs[i])
	}
	return op, sel, nil
}

// Transform is the doctype.Op method Transform of op: Past on unboxed
// values.
func (t *Type[O, S]) Transform(op O, sid string, committed doctype.Op, committedSID string) (doctype.Op, error) {
	c, ok := committed.(O)
	if !ok {
		return nil, doctype.WrongType(t.Name, committed)
	}
	out, err := t.Past(op, sid, c, committedSID)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TransformPair is the doctype.PairTransformer method of op: Pair on
// unboxed values.
func (t *Type[O, S]) TransformPair(op O, sid string, committed doctype.Op, committedSID string) (past, committedPast doctype.Op, err error) {
	c, ok := committed.(O)
	if !ok {
		return nil, nil, doctype.WrongType(t.Name, committed)
	}
	p, cp, err := t.Pair(op, sid, c, committedSID)
	if err != nil {
		return nil, nil, err
	}
	return p, cp, nil
}

// TransformAll is the doctype.AllTransformer method of op: All on unboxed
// values, boxed once at the end.
func (t *Type[O, S]) TransformAll(op O, sid string, committed []doctype.Op, committedSIDs []string, sel doctype.Selection) (doctype.Op, doctype.Selection, error) {
	var (
		s   S
		has bool
	)
	if sel != nil {
		var ok bool
		if s, has, ok = t.Unbox(sel); !ok {
			return nil, nil, doctype.WrongType(t.Name, sel)
		}
	}
	if len(committed) == 0 {
		return op, sel, nil // nothing to box again
	}
	cur, s, err := t.All(op, sid, committed, committedSIDs, s, has)
	if err != nil {
		return nil, nil, err
	}
	if !has {
		return cur, nil, nil
	}
	return cur, t.Box(s), nil
}
