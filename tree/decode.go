package tree

import (
	"errors"
	"math"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/ot"
)

// DecodeOp decodes and validates an op from untrusted MessagePack (the whole
// of b): an array of actions, each an array of exactly the items its name
// calls for. It never allocates by what a header claims (every length is
// checked against the bytes present first) and bounds nesting by
// lim.MaxValueDepth, so hostile input costs what its bytes cost. Values are
// stored in canonical form and text ops normalised.
//
// Errors are *OpError: KindTooLarge for more than lim.MaxOpBytes, KindLimit
// for a value over its size or nesting limit or a new with too many
// properties, KindInvalid for everything else that is wrong.
func DecodeOp(b []byte, lim Limits) (Op, error) {
	lim = lim.WithDefaults()
	if len(b) > lim.MaxOpBytes {
		return nil, errTooLarge(-1, "op is %d bytes encoded, over the limit of %d", len(b), lim.MaxOpBytes)
	}
	// One structural pass first: after it, every claimed length is known to
	// fit and nesting is bounded (op, action, props map, then the value).
	end, err := skipValue(b, 0, 3+lim.MaxValueDepth)
	if err != nil {
		if errors.Is(err, errMPDepth) {
			return nil, errLimit(-1, "op nests deeper than values may (%d)", lim.MaxValueDepth)
		}
		return nil, errInvalid(-1, "malformed MessagePack: %v", err)
	}
	if end != len(b) {
		return nil, errInvalid(-1, "%d trailing bytes after the op", len(b)-end)
	}
	h, _ := readHead(b, 0)
	if h.kind != mArray {
		return nil, errInvalid(-1, "op must be an array of actions")
	}
	// The smallest action, ["del", "x"], takes 7 bytes: reserve no more
	// actions than the bytes can hold.
	op := make(Op, 0, min(h.n, uint64(len(b)/7)))
	i := h.hlen
	for k := range int(h.n) {
		var a Action
		if i, err = decodeAction(b, i, &a, lim); err != nil {
			return nil, at(err, k)
		}
		op = append(op, a)
	}
	if err := op.validate(lim, false); err != nil {
		return nil, err
	}
	return op, nil
}

// decodeAction reads the action at b[i] into a and returns where it ends.
func decodeAction(b []byte, i int, a *Action, lim Limits) (int, error) {
	h, _ := readHead(b, i)
	if h.kind != mArray || h.n == 0 {
		return 0, errInvalid(-1, "action must be a non-empty array")
	}
	i += h.hlen
	name, i, ok := readString(b, i)
	if !ok {
		return 0, errInvalid(-1, "action name must be a string")
	}
	a.Kind = kindOfName(name)
	if a.Kind == 0 {
		return 0, errInvalid(-1, "unknown action %q", truncate(string(name), 32))
	}
	if h.n != uint64(a.Kind.arity()) {
		return 0, errInvalid(-1, "%s: %d items, want %d", a.Kind, h.n, a.Kind.arity())
	}
	field := func(what string) (string, error) {
		s, end, ok := readString(b, i)
		if !ok {
			return "", errInvalid(-1, "%s: %s must be a UTF-8 string", a.Kind, what)
		}
		i = end
		return string(s), nil
	}
	var err error
	if a.ID, err = field("id"); err != nil {
		return 0, err
	}
	switch a.Kind {
	case New, Move:
		if a.Parent, err = field("parent"); err != nil {
			return 0, err
		}
		if a.Key, err = field("key"); err != nil {
			return 0, err
		}
		if a.Kind == New {
			if a.Props, i, err = decodeProps(b, i, lim); err != nil {
				return 0, err
			}
		}
	case Set:
		if a.Prop, err = field("property name"); err != nil {
			return 0, err
		}
		if b[i] == 0xc0 {
			i++
			break
		}
		var v []byte
		v, i, err = canonMsgpack(nil, b, i, lim.MaxValueDepth)
		if err != nil {
			return 0, valueErr(-1, err, lim)
		}
		a.Value = v
	case Text:
		if a.Prop, err = field("property name"); err != nil {
			return 0, err
		}
		if a.Text, i, err = decodeTextOp(b, i); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// readString reads a valid UTF-8 str at b[i]; the bytes alias b.
func readString(b []byte, i int) ([]byte, int, bool) {
	h, err := readHead(b, i)
	if err != nil || h.kind != mStr {
		return nil, 0, false
	}
	s := i + h.hlen
	if h.n > uint64(len(b)-s) {
		return nil, 0, false
	}
	v := b[s : s+int(h.n)]
	return v, s + len(v), utf8.Valid(v)
}

// decodeProps reads the props map of a new action: names to values. Nil
// values are left out (a property is nil by being absent); names must not
// repeat.
func decodeProps(b []byte, i int, lim Limits) ([]Prop, int, error) {
	h, _ := readHead(b, i)
	if h.kind != mMap {
		return nil, 0, errInvalid(-1, "new: props must be a map")
	}
	if h.n > uint64(lim.MaxProps) {
		return nil, 0, errLimit(-1, "new: %d properties, over the limit of %d", h.n, lim.MaxProps)
	}
	props := make([]Prop, 0, h.n) // bounded by MaxProps and by the bytes present
	i += h.hlen
	for range h.n {
		name, end, ok := readString(b, i)
		if !ok {
			return nil, 0, errInvalid(-1, "new: property names must be UTF-8 strings")
		}
		i = end
		if b[i] == 0xc0 {
			i++
			continue
		}
		v, end2, err := canonMsgpack(nil, b, i, lim.MaxValueDepth)
		if err != nil {
			return nil, 0, valueErr(-1, err, lim)
		}
		i = end2
		props = append(props, Prop{Name: string(name), Value: v})
	}
	if len(props) == 0 {
		return nil, i, nil
	}
	if err := sortUniqueProps(props); err != nil {
		return nil, 0, err
	}
	return props, i, nil
}

func sortUniqueProps(props []Prop) error {
	SortProps(props)
	for j := 1; j < len(props); j++ {
		if props[j].Name == props[j-1].Name {
			return errInvalid(-1, "new: property %q given twice", truncate(props[j].Name, 80))
		}
	}
	return nil
}

// decodeTextOp reads a text op (section 1 of the protocol): an array of
// non-zero integers and non-empty strings; integral floats are accepted as
// integers, as the text type's own decoder does. The result is canonical.
func decodeTextOp(b []byte, i int) (ot.Op, int, error) {
	h, _ := readHead(b, i)
	if h.kind != mArray {
		return nil, 0, errInvalid(-1, "text: the text op must be an array")
	}
	i += h.hlen
	t := make(ot.Op, 0, min(h.n, 16))
	for k := range int(h.n) {
		eh, _ := readHead(b, i)
		var n int64
		switch eh.kind {
		case mStr:
			s, end, ok := readString(b, i)
			if !ok || len(s) == 0 {
				return nil, 0, errInvalid(-1, "text: component %d: inserts must be non-empty UTF-8", k)
			}
			t = append(t, ot.Component{Insert: string(s)})
			i = end
			continue
		case mInt:
			x, _, ok := readInt(b, i)
			if !ok {
				return nil, 0, errInvalid(-1, "text: component %d: count out of range", k)
			}
			n = x
		case mFloat:
			f := readFloat(b, i)
			if f != math.Trunc(f) || math.Abs(f) > ot.MaxCount {
				return nil, 0, errInvalid(-1, "text: component %d: count %v is not an integer in range", k, f)
			}
			n = int64(f)
		default:
			return nil, 0, errInvalid(-1, "text: component %d must be an integer or a string", k)
		}
		i += eh.hlen
		switch {
		case n == 0 || n > ot.MaxCount || n < -ot.MaxCount:
			return nil, 0, errInvalid(-1, "text: component %d: count %d is zero or out of range", k, n)
		case n > 0:
			t = append(t, ot.Component{Retain: int(n)})
		default:
			t = append(t, ot.Component{Delete: int(-n)})
		}
	}
	if err := t.Validate(); err != nil {
		return nil, 0, errCause(-1, "text: bad text op", err)
	}
	return t.Normalize(), i, nil
}

// ParseOpJSON decodes and validates an op from untrusted JSON, the form REST
// takes (POST /v1/docs/{id}/ops): the same arrays as MessagePack. Text that is
// not valid UTF-8 or holds a lone surrogate escape is rejected. The limits and
// errors are those of DecodeOp; the op's size is measured in MessagePack.
func ParseOpJSON(b []byte, lim Limits) (Op, error) {
	lim = lim.WithDefaults()
	if err := checkJSON(b); err != nil {
		return nil, errInvalid(-1, "%v", err)
	}
	r := jreader{b: b}
	if r.peek() != '[' {
		return nil, errInvalid(-1, "op must be a JSON array of actions")
	}
	op := Op{}
	err := r.array(func(k int) error {
		var a Action
		if err := r.action(&a, lim); err != nil {
			return at(err, k)
		}
		op = append(op, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := op.validate(lim, false); err != nil {
		return nil, err
	}
	return op, nil
}

// UnmarshalJSON decodes an op with the default limits (see ParseOpJSON).
func (op *Op) UnmarshalJSON(b []byte) error {
	x, err := ParseOpJSON(b, Limits{})
	if err != nil {
		return err
	}
	*op = x
	return nil
}

// action reads one action array.
func (r *jreader) action(a *Action, lim Limits) error {
	if r.peek() != '[' {
		_ = r.skip()
		return errInvalid(-1, "action must be a non-empty array")
	}
	items := 0
	err := r.array(func(k int) error {
		items++
		if k == 0 {
			name, ok := r.stringField()
			if !ok {
				return errInvalid(-1, "action name must be a string")
			}
			if a.Kind = kindOfName([]byte(name)); a.Kind == 0 {
				return errInvalid(-1, "unknown action %q", truncate(name, 32))
			}
			return nil
		}
		if k >= a.Kind.arity() {
			return errInvalid(-1, "%s: more than %d items", a.Kind, a.Kind.arity())
		}
		str := func(dst *string, what string) error {
			s, ok := r.stringField()
			if !ok {
				return errInvalid(-1, "%s: %s must be a string", a.Kind, what)
			}
			*dst = s
			return nil
		}
		switch {
		case k == 1:
			return str(&a.ID, "id")
		case (a.Kind == New || a.Kind == Move) && k == 2:
			return str(&a.Parent, "parent")
		case (a.Kind == New || a.Kind == Move) && k == 3:
			return str(&a.Key, "key")
		case a.Kind == New: // k == 4
			props, err := r.props(lim)
			a.Props = props
			return err
		case k == 2: // set, text
			return str(&a.Prop, "property name")
		case a.Kind == Set: // k == 3
			if r.atNull() {
				return nil
			}
			v, err := r.value(nil, lim.MaxValueDepth)
			if err != nil {
				return valueErr(-1, err, lim)
			}
			a.Value = v
			return nil
		}
		// text, k == 3
		raw, err := r.raw()
		if err != nil {
			return errInvalid(-1, "text: %v", err)
		}
		t, err := ot.ParseJSONRaw(raw)
		if err != nil {
			return errCause(-1, "text: bad text op", err)
		}
		a.Text = t.Normalize()
		return nil
	})
	if err != nil {
		return err
	}
	if items == 0 {
		return errInvalid(-1, "action must be a non-empty array")
	}
	if items != a.Kind.arity() {
		return errInvalid(-1, "%s: %d items, want %d", a.Kind, items, a.Kind.arity())
	}
	return nil
}

// props reads the props object of a new action (or of a content object).
func (r *jreader) props(lim Limits) ([]Prop, error) {
	if r.peek() != '{' {
		_ = r.skip()
		return nil, errInvalid(-1, "new: props must be an object")
	}
	var props []Prop
	n := 0
	var seen keySet
	err := r.object(func(k []byte) error {
		if n++; n > lim.MaxProps {
			return errLimit(-1, "new: more than %d properties", lim.MaxProps)
		}
		if !seen.add(k) {
			return errInvalid(-1, "new: property %q given twice", truncate(string(k), 80))
		}
		if r.atNull() {
			return nil
		}
		v, err := r.value(nil, lim.MaxValueDepth)
		if err != nil {
			return valueErr(-1, err, lim)
		}
		props = append(props, Prop{Name: string(k), Value: v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(props) == 0 {
		return nil, nil
	}
	return props, sortUniqueProps(props)
}
