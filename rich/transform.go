package rich

import (
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/seqtransform"
	"github.com/tandem-collab/tandem/internal/textutil"
	"github.com/tandem-collab/tandem/ot"
)

// Order tells Transform how two concurrent ops a and b are ordered.
type Order struct {
	// Side is where a's inserts go relative to b's inserts at one position:
	// ot.Left puts them before.
	Side ot.Side
	// ALater is true when a commits after b. Where both set one attribute on
	// one character, the op committed last wins: with ALater, a's settings
	// stand; without, b's do and a' drops those names there.
	ALater bool
}

// Flip is the order seen from the other op: Transform(a, b, o) and
// Transform(b, a, o.Flip()) are the two halves of one transform.
func (o Order) Flip() Order {
	return Order{Side: 1 - o.Side, ALater: !o.ALater}
}

// OrderBySID is the contract's order for transforming a (by author aSID) past
// b (by author bSID): a's inserts go left when aSID sorts before bSID
// bytewise; between two ops of one sid, the one committed first goes left.
// aLater says whether a commits after b.
//
// The server transforms an incoming op past each op committed since its base
// with OrderBySID(incomingSID, committedSID, true). A client transforms its
// pending op past a server op with OrderBySID(ownSID, serverSID, true) and the
// server op past its pending op with OrderBySID(serverSID, ownSID, false).
func OrderBySID(aSID, bSID string, aLater bool) Order {
	if aSID == bSID && !aLater {
		return Order{Side: ot.Left} // of two ops of one sid, the committed one goes left
	}
	return Order{Side: ot.SideOf(aSID, bSID), ALater: aLater}
}

// TransformPast returns op, written by sid against some version, transformed
// past committed, written by committedSID against the same version and
// committed since: the result applies after committed. Inserts at one
// position are ordered by ot.SideOf(sid, committedSID); where both set one
// attribute on one character, op's value stands (it commits later). This is
// what the server does to an op submitted against an older version, once per
// op committed since.
func TransformPast(op Op, sid string, committed Op, committedSID string) (Op, error) {
	return Transform(op, committed, OrderBySID(sid, committedSID, true))
}

// TransformPair transforms op (written by sid, not committed yet) and
// committed (written by committedSID, committed first), made against the same
// document, past each other: opPast applies after committed, committedPast
// after op, and both orders give one document. A client holding op
// unacknowledged applies committedPast to its document (it has lost the
// attribute values op sets on the same characters, since op will commit
// later and overwrite them) and keeps opPast as its pending op; the server
// uses committedPast to move the author's selection.
func TransformPair(op Op, sid string, committed Op, committedSID string) (opPast, committedPast Op, err error) {
	o := OrderBySID(sid, committedSID, true)
	return seqtransform.Pair(Transform, op, committed, o, o.Flip())
}

// iter walks an op component by component, handing out pieces of a given
// length. Past the end it yields plain retains, which is what the omitted
// trailing retain means.
type iter struct {
	op  Op
	i   int
	off int // consumed part of op[i]: code points of a retain/delete, bytes of an insert
	rem int // code points left in op[i]; -1 until computed for an insert
}

func newIter(op Op) iter { return iter{op: op, rem: -1} }

func (it *iter) peekKind() byte {
	if it.i >= len(it.op) {
		return 0
	}
	return it.op[it.i].kind()
}

func (it *iter) remaining() int {
	if it.rem < 0 {
		c := it.op[it.i]
		switch {
		case c.Insert != "":
			it.rem = utf8.RuneCountInString(c.Insert[it.off:])
		case c.Embed.Type != "":
			it.rem = 1
		default:
			it.rem = c.Retain + c.Delete - it.off
		}
	}
	return it.rem
}

func (it *iter) next() {
	it.i++
	it.off = 0
	it.rem = -1
}

// take returns the next piece of at most n code points (n < 0: the rest of
// the current component) and its length. A component of kind whole is never
// split. ok is false only when n < 0 and the op is exhausted.
func (it *iter) take(n int, whole byte) (c Component, length int, ok bool) {
	if it.i >= len(it.op) {
		if n < 0 {
			return Component{}, 0, false
		}
		return Component{Retain: n}, n, true
	}
	cur := it.op[it.i]
	k := cur.kind()
	rem := it.remaining()
	if n < 0 || k == whole || n >= rem || k == kEmbed {
		c = cur
		switch k {
		case kInsert:
			c.Insert = cur.Insert[it.off:]
		case kRetain:
			c.Retain = rem
		case kDelete:
			c.Delete = rem
		}
		it.next()
		return c, rem, true
	}
	c = cur
	switch k {
	case kInsert:
		end := textutil.Advance(cur.Insert, it.off, n)
		c.Insert = cur.Insert[it.off:end]
		it.off = end
	case kRetain:
		c.Retain = n
		it.off += n
	default:
		c.Delete = n
		it.off += n
	}
	it.rem -= n
	return c, n, true
}

// Transform returns a', the version of a that applies after b, where a and b
// were made against the same document: apply(apply(d, b), a') equals
// apply(apply(d, a), b') with b' = Transform(b, a, o.Flip()).
//
// Inserts at one position are ordered by o.Side. A character formatted by
// both keeps, for each name both set, the value of the op committed last
// (o.ALater); names only one of them set are all applied. a's formatting
// never reaches text b inserted, and a's edits of text b deleted vanish
// (a's inserts inside b's deletion survive). Inputs are normalised first and
// the result is canonical.
func Transform(a, b Op, o Order) (Op, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if o.Side != ot.Left && o.Side != ot.Right {
		return nil, errInvalid(-1, "side %d is neither Left nor Right", int(o.Side))
	}
	// Equivalent forms of an op ([-1, "x"] and ["x", -1]) place the insert
	// differently relative to a concurrent insert inside the deleted range, so
	// transform the canonical forms to make the result depend only on effect.
	a, b = a.Normalize(), b.Normalize()
	out := builder{out: make(Op, 0, len(a)+2)}
	it := newIter(a)
	for _, c := range b {
		switch c.kind() {
		case kInsert, kEmbed:
			if o.Side == ot.Left {
				for k := it.peekKind(); k == kInsert || k == kEmbed; k = it.peekKind() {
					x, _, _ := it.take(-1, 0)
					out.push(x)
				}
			}
			out.push(Component{Retain: c.Len()})
		case kRetain:
			for n := c.Retain; n > 0; {
				x, l, _ := it.take(n, kInsert)
				switch x.kind() {
				case kInsert, kEmbed:
					out.push(x)
					continue
				case kRetain:
					x.Attrs = transformAttrs(x.Attrs, c.Attrs, o.ALater)
				}
				out.push(x)
				n -= l
			}
		case kDelete:
			for n := c.Delete; n > 0; {
				x, l, _ := it.take(n, kInsert)
				if x.isInsert() {
					out.push(x) // a's insert inside b's deletion survives
				} else {
					n -= l // a's retain or delete of text b already removed
				}
			}
		}
	}
	for {
		x, _, ok := it.take(-1, 0)
		if !ok {
			break
		}
		out.push(x)
	}
	return out.finish(), nil
}

// Compose returns one op with the effect of a followed by b (b made against
// the result of a): formatting composes (b's settings replace a's, b's
// nulls remove), b's deletes of what a inserted cancel both. The result is
// canonical. It is KindTooLarge when a resulting attribute map would hold
// more than MaxAttrs names (a client then keeps the two ops apart).
// Composing a document's content with an op gives the new content.
func Compose(a, b Op) (Op, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	a, b = a.Normalize(), b.Normalize()
	out := builder{out: make(Op, 0, len(a)+len(b))}
	it := newIter(a)
	for _, c := range b {
		switch c.kind() {
		case kInsert, kEmbed:
			out.push(c)
		case kRetain:
			for n := c.Retain; n > 0; {
				x, l, _ := it.take(n, kDelete)
				switch x.kind() {
				case kDelete:
					out.push(x) // a's delete stands; b's count is untouched
					continue
				case kRetain:
					x.Attrs = composeAttrs(x.Attrs, c.Attrs, true)
				default:
					x.Attrs = composeAttrs(x.Attrs, c.Attrs, false)
				}
				out.push(x)
				n -= l
			}
		case kDelete:
			for n := c.Delete; n > 0; {
				x, l, _ := it.take(n, kDelete)
				switch x.kind() {
				case kRetain:
					out.push(Component{Delete: l})
					n -= l
				case kInsert, kEmbed:
					n -= l // b deletes what a inserted: both vanish
				default:
					out.push(x)
				}
			}
		}
	}
	for {
		x, _, ok := it.take(-1, 0)
		if !ok {
			break
		}
		out.push(x)
	}
	res := out.finish()
	if err := res.checkLimits(); err != nil {
		return nil, err
	}
	return res, nil
}

// Invert returns the op that undoes op once op has been applied to before:
// apply(apply(before, op), Invert(op, before)) == before. It restores deleted
// text and embeds with their attributes, and undoes formatting: each name op
// set gets back its value in before (null where before did not have it).
// op must fit before (the final-newline rule is not checked: the inverse of an
// op that keeps it keeps it).
func Invert(op Op, before *Doc) (Op, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	if err := checkFit(op, before.Len()); err != nil {
		return nil, err
	}
	op = op.Normalize()
	out := builder{out: make(Op, 0, len(op))}
	pos := 0
	for _, c := range op {
		switch c.kind() {
		case kRetain:
			if len(c.Attrs) == 0 {
				out.push(c)
			} else {
				before.each(pos, c.Retain, func(p piece) {
					out.push(Component{Retain: p.runes, Attrs: invertAttrs(c.Attrs, p.attrs)})
				})
			}
			pos += c.Retain
		case kInsert, kEmbed:
			out.push(Component{Delete: c.Len()})
		case kDelete:
			before.each(pos, c.Delete, func(p piece) { out.push(p.component()) })
			pos += c.Delete
		}
	}
	return out.finish(), nil
}

// CheckFit checks op, as its author sent it, against the length of the
// document at the op's own version (docs/protocol.md, sections 2.4 and 13):
// its retains, formats and deletes must fit, a trailing retain included
// (KindDoesNotFit), and it must keep the final newline (KindFinalNewline).
// Normalising drops the trailing retain and transforming moves the op to
// another document, so check before either. Both properties survive
// transform, so the op still has them when it is applied.
func (op Op) CheckFit(docLen int) error {
	if err := checkFit(op, docLen); err != nil {
		return err
	}
	return checkNewline(op, docLen)
}

// checkFit reports KindDoesNotFit naming the first component that runs past
// a document of docLen code points.
func checkFit(op Op, docLen int) error {
	pos := 0
	for i, c := range op {
		pos += c.Retain + c.Delete
		if pos > docLen {
			return errNoFit(i, "op reads %d code points, document has %d", op.BaseLen(), docLen)
		}
	}
	return nil
}
