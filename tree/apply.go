package tree

import (
	"github.com/tandem-collab/tandem/ot"
)

// Apply applies op to c and returns the op as applied: the actions that took
// effect, in order, with the ones that did not removed. It drops, without
// error, an action on an object that does not exist (deleted since the op
// was made, or never created), a new under a parent that does not exist, and
// a move that would make an object its own ancestor; the rest commits.
//
// An action that would take the document past a limit of c.Limits() that
// depends on the document (objects, properties per object, nesting, the size
// of a string edited by a text action) fails the op with KindLimit, unless
// Transform rebased it past concurrent ops: then the concurrent changes may
// be what breaks the limit, and the action is dropped like a cycle-making
// move.
//
// An error leaves c unchanged; it is an *OpError: KindInvalid for a new of an
// id that exists, a text action on a property that is not a string or whose
// text op does not fit the string; KindLimit as above; KindTooLarge when the
// content would grow past its size limit. op must have passed Validate (the
// decoders validate).
//
// The result may be empty; the server still commits it (it takes a version).
func (c *Content) Apply(op Op) (Op, error) {
	applied, _, err := c.applyOp(op, false)
	return applied, err
}

// ApplyRemoved is Apply that also returns the ids of every object the op
// deleted, the objects under the deleted ones included (a del action names
// only the top of what it removes). The server moves selections with it:
// a selected object inside a deleted frame drops out of the selection.
func (c *Content) ApplyRemoved(op Op) (applied Op, removed []string, err error) {
	return c.applyOp(op, true)
}

func (c *Content) applyOp(op Op, report bool) (Op, []string, error) {
	if len(op) > 1 {
		// Nodes change in place only when this content made them since
		// its last clone. An op of several actions may have to be undone
		// (a later action fails), so it works in a new generation: it
		// copies what it touches and saved stays intact. A single action
		// checks everything before it changes anything, so it needs no
		// undo and may change its own nodes in place.
		c.gen = newGen()
	}
	saved := *c
	c.removed, c.report = nil, report
	defer func() { c.removed, c.report = nil, false }()
	// applied stays op itself (no copy) while every action applies as it is.
	applied := op
	same := true
	for i := range op {
		ok, err := c.apply(&op[i])
		if err != nil {
			if KindOf(err) == KindLimit && op[i].rebased {
				ok = false // the limit was reached by concurrent changes: drop
			} else {
				*c = saved
				return nil, nil, at(err, i)
			}
		}
		if same && ok && !op[i].rebased {
			continue
		}
		if same {
			applied, same = append(make(Op, 0, len(op)), op[:i]...), false
		}
		if ok {
			a := op[i]
			a.rebased = false // committed as it stands now
			applied = append(applied, a)
		}
	}
	if applied == nil {
		applied = Op{}
	}
	if size := c.Size(); size > c.lim.MaxBytes && size > saved.Size() {
		*c = saved
		return nil, nil, errTooLarge(-1, "document would be %d bytes encoded, over the limit of %d", size, c.lim.MaxBytes)
	}
	return applied, c.removed, nil
}

// applyEach applies op action by action, as a client's view does with its
// pending actions: an action that fails is left out like a dropped one, and
// the others still apply. kept says which actions took effect. The content
// size limit is not checked (the server will).
func (c *Content) applyEach(op Op) (kept []bool) {
	kept = make([]bool, len(op))
	for i := range op {
		saved := *c
		ok, err := c.apply(&op[i])
		if err != nil {
			*c = saved
			continue
		}
		kept[i] = ok
	}
	return kept
}

// apply performs one action; ok is false when the action is dropped.
func (c *Content) apply(a *Action) (ok bool, err error) {
	switch a.Kind {
	case New:
		return c.applyNew(a)
	case Set:
		return c.applySet(a)
	case Text:
		return c.applyText(a)
	case Move:
		return c.applyMove(a)
	case Del:
		return c.applyDel(a)
	}
	return false, errInvalid(-1, "unknown action kind %d", a.Kind)
}

func (c *Content) applyNew(a *Action) (bool, error) {
	if c.Has(a.ID) {
		return false, errInvalid(-1, "new: object %q exists", a.ID)
	}
	if a.Parent != "" && !c.Has(a.Parent) {
		return false, nil
	}
	if d := c.Depth(a.Parent) + 1; d > c.lim.MaxDepth {
		return false, errLimit(-1, "new: object %q would be at depth %d, over the limit of %d", a.ID, d, c.lim.MaxDepth)
	}
	if n := c.objs.Len() + 1; n > c.lim.MaxObjects {
		return false, errLimit(-1, "new: the document would have %d objects, over the limit of %d", n, c.lim.MaxObjects)
	}
	if len(a.Props) > c.lim.MaxProps {
		return false, errLimit(-1, "new: %d properties, over the limit of %d", len(a.Props), c.lim.MaxProps)
	}
	for _, p := range a.Props {
		if len(p.Value) > c.lim.MaxValueBytes {
			return false, errLimit(-1, "new: property %q is %d bytes encoded, over the limit of %d", p.Name, len(p.Value), c.lim.MaxValueBytes)
		}
	}
	o := &object{parent: a.Parent, key: a.Key, props: makeBlob(a.Props)}
	n := c.objs.Len()
	if err := c.fits(objectSize(a.ID, o) + containerHeaderSize(n+1) - containerHeaderSize(n)); err != nil {
		return false, err
	}
	c.put(a.ID, o, nil)
	c.relink(a.Parent, nil, 0, &sibling{a.Key, a.ID}, 1)
	return true, nil
}

func (c *Content) applySet(a *Action) (bool, error) {
	o, ok := c.objs.Get(a.ID)
	if !ok {
		return false, nil
	}
	var props propBlob
	_, _, _, found := o.props.find(a.Prop)
	switch {
	case a.Value.IsNil() && !found:
		return true, nil // removing what is not there: a no-op that still commits
	case a.Value.IsNil():
		props = o.props.without(a.Prop)
	default:
		if !found && o.props.count()+1 > c.lim.MaxProps {
			return false, errLimit(-1, "set: object %q would have %d properties, over the limit of %d", a.ID, o.props.count()+1, c.lim.MaxProps)
		}
		if len(a.Value) > c.lim.MaxValueBytes {
			return false, errLimit(-1, "set: value is %d bytes encoded, over the limit of %d", len(a.Value), c.lim.MaxValueBytes)
		}
		props = o.props.with(a.Prop, a.Value)
	}
	n := *o
	n.props = props
	if err := c.fits(objectSize(a.ID, &n) - o.size); err != nil {
		return false, err
	}
	c.put(a.ID, &n, o)
	return true, nil
}

func (c *Content) applyText(a *Action) (bool, error) {
	o, ok := c.objs.Get(a.ID)
	if !ok {
		return false, nil
	}
	v, found := o.props.get(a.Prop)
	if !found {
		return false, errInvalid(-1, "text: object %q has no property %q", a.ID, a.Prop)
	}
	s, isStr := v.Str()
	if !isStr {
		return false, errInvalid(-1, "text: property %q of %q is not a string", a.Prop, a.ID)
	}
	out, err := ot.Apply(s, a.Text)
	if err != nil {
		return false, errCause(-1, "text: "+a.Prop+" of "+a.ID, err)
	}
	if size := strSize(len(out)); size > c.lim.MaxValueBytes {
		return false, errLimit(-1, "text: property %q of %q would be %d bytes encoded, over the limit of %d", a.Prop, a.ID, size, c.lim.MaxValueBytes)
	}
	n := *o
	n.props = o.props.with(a.Prop, StringValue(out))
	if err := c.fits(objectSize(a.ID, &n) - o.size); err != nil {
		return false, err
	}
	c.put(a.ID, &n, o)
	return true, nil
}

func (c *Content) applyMove(a *Action) (bool, error) {
	o, ok := c.objs.Get(a.ID)
	if !ok {
		return false, nil
	}
	if a.Parent != "" && !c.Has(a.Parent) {
		return false, nil
	}
	if c.isAncestorOrSelf(a.ID, a.Parent) {
		return false, nil // would make a cycle
	}
	h := o.height()
	if a.Parent != o.parent {
		if d := c.Depth(a.Parent) + h; d > c.lim.MaxDepth {
			return false, errLimit(-1, "move: the subtree of %q would reach depth %d, over the limit of %d", a.ID, d, c.lim.MaxDepth)
		}
	}
	if err := c.fits(len(a.Parent) + len(a.Key) - len(o.parent) - len(o.key) + 2); err != nil {
		return false, err // (+2: a longer string may need a longer header)
	}
	from, to := sibling{o.key, a.ID}, sibling{a.Key, a.ID}
	if a.Parent == o.parent {
		c.relink(o.parent, &from, h, &to, h)
	} else {
		c.relink(o.parent, &from, h, nil, 0)
		c.relink(a.Parent, nil, 0, &to, h)
	}
	o, _ = c.objs.Get(a.ID) // relink does not touch it, but read it fresh
	n := *o
	n.parent, n.key = a.Parent, a.Key
	c.put(a.ID, &n, o)
	return true, nil
}

// fits reports a too_large error when growing the content by delta bytes
// would take it past its size limit (growing by nothing always fits).
func (c *Content) fits(delta int) error {
	if size := c.Size() + delta; delta > 0 && size > c.lim.MaxBytes {
		return errTooLarge(-1, "document would be %d bytes encoded, over the limit of %d", size, c.lim.MaxBytes)
	}
	return nil
}

// isAncestorOrSelf reports whether x is p or one of p's ancestors. The walk
// is bounded by the depth limit, which the content never exceeds.
func (c *Content) isAncestorOrSelf(x, p string) bool {
	for steps := 0; p != "" && steps <= c.lim.MaxDepth; steps++ {
		if p == x {
			return true
		}
		o, ok := c.objs.Get(p)
		if !ok {
			return false
		}
		p = o.parent
	}
	return false
}

func (c *Content) applyDel(a *Action) (bool, error) {
	o, ok := c.objs.Get(a.ID)
	if !ok {
		return false, nil
	}
	c.relink(o.parent, &sibling{o.key, a.ID}, o.height(), nil, 0)
	// Remove the subtree; every object is removed once, so a delete costs
	// what creating its objects cost.
	stack := []string{a.ID}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, _ := c.objs.Get(id)
		if x.kids != nil {
			for it := x.kids.order.Iterator(); !it.Done(); {
				s, _, _ := it.Next()
				stack = append(stack, s.id)
			}
		}
		c.bytes -= x.size
		c.objs.Delete(id, c.gen)
		if c.report {
			c.removed = append(c.removed, id)
		}
	}
	return true, nil
}
