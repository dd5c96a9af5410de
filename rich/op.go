package rich

import (
	"strings"
	"unicode/utf8"
)

// Component is one step of an Op. Exactly one of Retain, Delete, Insert and
// Embed is set:
//
//   - Retain > 0 skips that many code points; with Attrs it also sets those
//     attributes on them (a null value removes one): a "format".
//   - Delete > 0 deletes that many code points (Attrs must be empty).
//   - Insert != "" inserts text carrying Attrs.
//   - Embed.Type != "" inserts one embed carrying Attrs.
//
// On the wire a component is n, -n, "text", {"r": n, "a": {...}},
// {"i": "text", "a": {...}} or {"e": {type: value}, "a": {...}}.
type Component struct {
	Retain int
	Delete int
	Insert string
	Embed  Embed
	Attrs  Attrs
}

// Op is an operation on a rich document: its components walked left to
// right. A trailing plain retain may be omitted.
type Op []Component

const (
	kRetain byte = 'r'
	kDelete byte = 'd'
	kInsert byte = 'i'
	kEmbed  byte = 'e'
)

// kind is the component's kind, or 0 when it sets none or several of its
// fields (or a delete carries attributes).
func (c Component) kind() byte {
	set := 0
	var k byte
	if c.Retain != 0 {
		set++
		k = kRetain
	}
	if c.Delete != 0 {
		set++
		k = kDelete
	}
	if c.Insert != "" {
		set++
		k = kInsert
	}
	if c.Embed != (Embed{}) {
		set++
		k = kEmbed
	}
	if set != 1 || c.Retain < 0 || c.Delete < 0 || (k == kDelete && len(c.Attrs) > 0) {
		return 0
	}
	return k
}

// isInsert reports whether c inserts (text or an embed).
func (c Component) isInsert() bool { return c.Insert != "" || c.Embed.Type != "" }

// Len is the number of code points the component covers: the count of a
// retain or delete, the code points of an insert, 1 for an embed.
func (c Component) Len() int {
	switch {
	case c.Insert != "":
		return utf8.RuneCountInString(c.Insert)
	case c.Embed.Type != "":
		return 1
	}
	return c.Retain + c.Delete
}

// Validate checks the rules that do not depend on a document: every component
// sets exactly one of Retain, Delete, Insert and Embed; counts are positive
// and at most MaxCount, and so is the base length; inserts are valid UTF-8;
// deletes carry no attributes; attribute maps hold at most MaxAttrs valid
// names with valid values; embeds have a valid type and a non-null value.
// Errors are KindInvalid, KindBadUTF8, KindDoesNotFit (a count out of range)
// or KindTooLarge (over a limit). A valid op need not be canonical.
func (op Op) Validate() error {
	base := 0
	for i, c := range op {
		switch c.kind() {
		case kInsert:
			if !utf8.ValidString(c.Insert) {
				return errUTF8(i, "insert")
			}
		case kEmbed:
			if err := c.Embed.check(); err != nil {
				return withIndex(err, i)
			}
		case kRetain, kDelete:
			n := c.Retain + c.Delete
			if n > MaxCount {
				return errNoFit(i, "count %d over %d", n, MaxCount)
			}
			base += n
			if base > MaxCount {
				return errNoFit(i, "op reads more than %d code points", MaxCount)
			}
		default:
			return errInvalid(i, "component must set exactly one of a positive Retain, a positive Delete (without attributes), a non-empty Insert or an Embed")
		}
		if len(c.Attrs) > 0 {
			if err := checkAttrs(c.Attrs); err != nil {
				return withIndex(err, i)
			}
		}
	}
	return nil
}

// checkBaseLen reports an op whose counts add up to more than MaxCount.
func (op Op) checkBaseLen() error {
	base := 0
	for i, c := range op {
		base += c.Retain + c.Delete
		if base > MaxCount {
			return errNoFit(i, "op reads more than %d code points", MaxCount)
		}
	}
	return nil
}

// BaseLen is the number of code points op reads (retains plus deletes): the
// minimum length of a document it applies to.
func (op Op) BaseLen() int {
	n := 0
	for _, c := range op {
		n += c.Retain + c.Delete
	}
	return n
}

// TargetLen is the length op produces from a document of exactly BaseLen
// code points.
func (op Op) TargetLen() int {
	n := 0
	for _, c := range op {
		if c.Delete == 0 {
			n += c.Len()
		}
	}
	return n
}

// IsNoop reports whether op changes no document: it only retains, without
// attributes.
func (op Op) IsNoop() bool {
	for _, c := range op {
		if c.Retain == 0 || len(c.Attrs) > 0 {
			return false
		}
	}
	return true
}

// mergeable reports whether b can be appended to a as one component: both
// plain or both formatting retains with equal settings, both deletes, or
// both text inserts with equal attributes. Embeds never merge.
func mergeable(a, b Component, ka, kb byte) bool {
	if ka != kb {
		return false
	}
	switch ka {
	case kDelete:
		return true
	case kRetain, kInsert:
		return attrsEqual(a.Attrs, b.Attrs)
	}
	return false
}

// IsCanonical reports whether op is in canonical form (see Normalize). It
// assumes op is valid.
func (op Op) IsCanonical() bool {
	var prev byte
	for i, c := range op {
		k := c.kind()
		switch {
		case k == 0,
			c.Attrs != nil && len(c.Attrs) == 0,
			k != kRetain && hasNull(c.Attrs),
			i > 0 && mergeable(op[i-1], c, prev, k),
			prev == kDelete && (k == kInsert || k == kEmbed):
			return false
		}
		prev = k
	}
	if n := len(op); n > 0 && prev == kRetain && len(op[n-1].Attrs) == 0 {
		return false
	}
	return true
}

func hasNull(a Attrs) bool {
	for _, v := range a {
		if v.IsNull() {
			return true
		}
	}
	return false
}

// Normalize returns the canonical form of op, the form the server stores and
// sends:
//
//   - an empty attribute map is no attribute map; null values are dropped from
//     inserts' attributes (they mean "not set" there);
//   - adjacent components are merged when they are of one kind and their
//     attributes are equal: plain retains, formatting retains with equal
//     settings, deletes, text inserts with equal attributes (never embeds);
//   - where inserts and deletes touch, with no retain between them, the inserts
//     come first (in their order) and the deletes follow as one delete;
//   - a trailing plain retain is dropped (a trailing formatting retain stays).
//
// Components that are not valid are dropped, so Normalize never panics, but
// callers should Validate first. An op that is already canonical is returned
// as is, without allocating.
func (op Op) Normalize() Op {
	if op.IsCanonical() {
		return op
	}
	b := builder{out: make(Op, 0, len(op))}
	for _, c := range op {
		switch c.kind() {
		case kInsert, kEmbed:
			c.Attrs = withoutNulls(c.Attrs)
		case kRetain:
			c.Attrs = nonEmpty(c.Attrs)
		case kDelete:
		default:
			continue
		}
		b.push(c)
	}
	return b.finish()
}

// builder appends components to a canonical op, keeping it canonical. Text
// inserts are merged through a strings.Builder so that many small pieces do
// not cost quadratic copying.
type builder struct {
	out     Op
	pending strings.Builder // text merged into out[ins].Insert, not yet flushed
	ins     int             // the text insert that pending extends, when has
	has     bool
}

// flushText writes the pending merged text into its component.
func (b *builder) flushText() {
	if b.has {
		b.out[b.ins].Insert = b.pending.String()
		b.pending.Reset()
		b.has = false
	}
}

// appendText merges s into the text insert at index i.
func (b *builder) appendText(i int, s string) {
	if !b.has || b.ins != i {
		b.flushText()
		b.pending.WriteString(b.out[i].Insert)
		b.ins, b.has = i, true
	}
	b.pending.WriteString(s)
}

// push appends c, which must be valid with its attributes already in
// canonical shape (no nulls in an insert's, nil rather than empty).
func (b *builder) push(c Component) {
	k := c.kind()
	if k == 0 {
		return
	}
	n := len(b.out)
	if n == 0 {
		b.out = append(b.out, c)
		return
	}
	last := b.out[n-1]
	lk := last.kind()
	switch {
	case mergeable(last, c, lk, k) && k == kInsert:
		b.appendText(n-1, c.Insert)
	case mergeable(last, c, lk, k):
		b.out[n-1].Retain += c.Retain
		b.out[n-1].Delete += c.Delete
	case lk == kDelete && (k == kInsert || k == kEmbed):
		// An insert next to a delete goes before it: same effect, one form.
		if n >= 2 {
			prev := b.out[n-2]
			if k == kInsert && prev.kind() == kInsert && attrsEqual(prev.Attrs, c.Attrs) {
				b.appendText(n-2, c.Insert)
				return
			}
		}
		b.flushTextAt(n - 1)
		b.out = append(b.out, last)
		b.out[n-1] = c
	default:
		b.out = append(b.out, c)
	}
}

// flushTextAt flushes pending text if it belongs to the component at i, which
// is about to move.
func (b *builder) flushTextAt(i int) {
	if b.has && b.ins == i {
		b.flushText()
	}
}

// finish flushes pending text and drops a trailing plain retain.
func (b *builder) finish() Op {
	b.flushText()
	if n := len(b.out); n > 0 && b.out[n-1].kind() == kRetain && len(b.out[n-1].Attrs) == 0 {
		b.out = b.out[:n-1]
	}
	return b.out
}

// Equal reports whether op and other are the same sequence of components
// (compare canonical forms to compare effects).
func (op Op) Equal(other Op) bool {
	if len(op) != len(other) {
		return false
	}
	for i, c := range op {
		d := other[i]
		if c.Retain != d.Retain || c.Delete != d.Delete || c.Insert != d.Insert || c.Embed != d.Embed || !attrsEqual(c.Attrs, d.Attrs) {
			return false
		}
	}
	return true
}

// checkLimits reports an op whose attribute maps exceed MaxAttrs (what
// Compose can produce from two valid ops).
func (op Op) checkLimits() error {
	for i, c := range op {
		if len(c.Attrs) > MaxAttrs {
			return errTooLarge(i, "%d attributes, over the limit of %d", len(c.Attrs), MaxAttrs)
		}
	}
	return nil
}
