package ot

import (
	"strings"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/seqtransform"
	"github.com/tandem-collab/tandem/internal/textutil"
)

// Side breaks the tie when two concurrent ops insert at the same position. It
// is the low-level form of "who goes first"; callers that know the authors
// use SideOf, TransformPast or TransformPair, which derive it from the sids.
type Side int

const (
	// Left puts the transformed op's insert before the other op's insert.
	Left Side = iota
	// Right puts the transformed op's insert after the other op's insert.
	Right
)

// String names the side as the shared test vectors do.
func (s Side) String() string {
	if s == Left {
		return "left"
	}
	return "right"
}

// Opposite is the side the other op of a pair takes: Transform(a, b, s) and
// Transform(b, a, s.Opposite()) converge.
func (s Side) Opposite() Side {
	if s == Left {
		return Right
	}
	return Left
}

// SideOf is the side of an op written by sid when it meets, at the same
// position, an insert of a concurrent op written by committedSID that the
// server committed first: Left when sid sorts before committedSID bytewise,
// Right otherwise. Equal sids (two ops of one author) give Right: of two ops of
// one sid, the committed one goes left. The server's commit order never
// decides a tie between two authors, so two people typing at one spot keep
// their words whole (docs/protocol.md, "Concurrent inserts").
func SideOf(sid, committedSID string) Side {
	if strings.Compare(sid, committedSID) < 0 {
		return Left
	}
	return Right
}

// TransformPast returns op, written by sid against some version, transformed
// past committed, written by committedSID against the same version and
// committed since: the result applies after committed. Concurrent inserts at
// one position are ordered by SideOf(sid, committedSID). This is what the
// server does to every op submitted against an older version, once per op
// committed since that version.
func TransformPast(op Op, sid string, committed Op, committedSID string) (Op, error) {
	return Transform(op, committed, SideOf(sid, committedSID))
}

// TransformPair transforms op (written by sid, not committed yet) and
// committed (written by committedSID, committed first), made against the same
// document, past each other: opPast applies after committed, committedPast
// applies after op, and both orders give one text. A client holding op as an
// unacknowledged edit uses committedPast to bring a server op into its local
// text and opPast as its new pending op; the server uses committedPast to move
// the author's selection, which is in the coordinates after op.
func TransformPair(op Op, sid string, committed Op, committedSID string) (opPast, committedPast Op, err error) {
	side := SideOf(sid, committedSID)
	return seqtransform.Pair(Transform, op, committed, side, side.Opposite())
}

// iter walks an op component by component, handing out pieces of a given
// length. Past the end it yields retains, which is what the omitted trailing
// retain means.
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
		if c.Insert != "" {
			it.rem = utf8.RuneCountInString(c.Insert[it.off:])
		} else {
			it.rem = c.Retain + c.Delete - it.off
		}
	}
	return it.rem
}

func (it *iter) advanceComponent() {
	it.i++
	it.off = 0
	it.rem = -1
}

// take returns the next piece of at most n code points (n < 0: the rest of the
// current component) and its length in code points. A component of kind
// whole is never split. ok is false only when n < 0 and the op is exhausted.
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
	if n < 0 || k == whole || n >= rem {
		switch k {
		case 'i':
			c = Component{Insert: cur.Insert[it.off:]}
		case 'r':
			c = Component{Retain: rem}
		default:
			c = Component{Delete: rem}
		}
		it.advanceComponent()
		return c, rem, true
	}
	switch k {
	case 'i':
		end := textutil.Advance(cur.Insert, it.off, n)
		c = Component{Insert: cur.Insert[it.off:end]}
		it.off = end
	case 'r':
		c = Component{Retain: n}
		it.off += n
	default:
		c = Component{Delete: n}
		it.off += n
	}
	it.rem -= n
	return c, n, true
}

// push appends c to a canonical op and keeps it canonical: it merges with the
// last component of the same kind and puts an insert before a delete it
// follows. It mutates only op's own elements.
func push(op Op, c Component) Op {
	k := c.kind()
	if k == 0 {
		return op
	}
	n := len(op)
	if n == 0 {
		return append(op, c)
	}
	last := op[n-1].kind()
	switch {
	case k == last && k == 'r':
		op[n-1].Retain += c.Retain
		return op
	case k == last && k == 'd':
		op[n-1].Delete += c.Delete
		return op
	case k == last && k == 'i':
		op[n-1].Insert += c.Insert
		return op
	case k == 'i' && last == 'd':
		if n >= 2 && op[n-2].kind() == 'i' {
			op[n-2].Insert += c.Insert
			return op
		}
		del := op[n-1]
		op[n-1] = c
		return append(op, del)
	}
	return append(op, c)
}

func trimRetain(op Op) Op {
	if n := len(op); n > 0 && op[n-1].kind() == 'r' {
		return op[:n-1]
	}
	return op
}

// Transform returns a', the version of a that applies after b, where a and b
// were made against the same document: apply(apply(d, b), a') equals
// apply(apply(d, a), b') with b' = Transform(b, a, side.Opposite()). side says
// where a's insert goes relative to b's insert at the same position (Left:
// before). Non-canonical inputs are normalised first. The result is canonical.
//
// Transform is the low-level form: where two authors' ops meet, call
// TransformPast or TransformPair, which take the side from the authors' sids
// as the protocol requires.
func Transform(a, b Op, side Side) (Op, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if side != Left && side != Right {
		return nil, errInvalid(-1, "side %d is neither Left nor Right", int(side))
	}
	// Equivalent forms of an op ([-1, "x"] and ["x", -1]) place the insert
	// differently relative to a concurrent insert inside the deleted range, so
	// transform the canonical forms to make the result depend only on effect.
	a, b = a.Normalize(), b.Normalize()
	out := make(Op, 0, len(a)+2)
	it := newIter(a)
	for _, c := range b {
		switch c.kind() {
		case 'i':
			if side == Left {
				for it.peekKind() == 'i' {
					x, _, _ := it.take(-1, 0)
					out = push(out, x)
				}
			}
			out = push(out, Component{Retain: utf8.RuneCountInString(c.Insert)})
		case 'r':
			for n := c.Retain; n > 0; {
				x, l, _ := it.take(n, 'i')
				out = push(out, x)
				if x.Insert == "" {
					n -= l
				}
			}
		case 'd':
			for n := c.Delete; n > 0; {
				x, l, _ := it.take(n, 'i')
				if x.Insert != "" {
					out = push(out, x) // a's insert inside b's deletion survives
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
		out = push(out, x)
	}
	return trimRetain(out), nil
}

// Compose returns one op with the effect of a followed by b (b made against
// the result of a). The result is canonical.
func Compose(a, b Op) (Op, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(a)+len(b))
	it := newIter(a)
	for _, c := range b {
		switch c.kind() {
		case 'i':
			out = push(out, c)
		case 'r':
			for n := c.Retain; n > 0; {
				x, l, _ := it.take(n, 'd')
				out = push(out, x)
				if x.Delete == 0 {
					n -= l
				}
			}
		case 'd':
			for n := c.Delete; n > 0; {
				x, l, _ := it.take(n, 'd')
				switch x.kind() {
				case 'r':
					out = push(out, Component{Delete: l})
					n -= l
				case 'i':
					n -= l // b deletes what a inserted: both vanish
				default:
					out = push(out, x) // a's delete stands; b's count is untouched
				}
			}
		}
	}
	for {
		x, _, ok := it.take(-1, 0)
		if !ok {
			break
		}
		out = push(out, x)
	}
	return trimRetain(out), nil
}

// Invert returns the op that undoes op once op has been applied to before:
// apply(apply(before, op), Invert(op, before)) == before. op must fit before.
func Invert(op Op, before *Doc) (Op, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	if err := checkFit(op, before.Len()); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	pos := 0
	for _, c := range op {
		switch c.kind() {
		case 'r':
			out = push(out, c)
			pos += c.Retain
		case 'i':
			out = push(out, Component{Delete: utf8.RuneCountInString(c.Insert)})
		case 'd':
			out = push(out, Component{Insert: before.Slice(pos, c.Delete)})
			pos += c.Delete
		}
	}
	return trimRetain(out), nil
}
