package tree

import (
	"sort"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/ot"
)

// ActionKind names one of the five actions of a tree op.
type ActionKind uint8

const (
	// New creates an object: ["new", id, parent, key, props].
	New ActionKind = iota + 1
	// Set sets one property, or removes it with nil: ["set", id, prop, value].
	Set
	// Text edits a string property with a text op: ["text", id, prop, textop].
	Text
	// Move re-parents and/or re-orders an object: ["move", id, parent, key].
	Move
	// Del deletes an object and everything under it: ["del", id].
	Del
)

var kindNames = [...]string{New: "new", Set: "set", Text: "text", Move: "move", Del: "del"}

// String is the action's name on the wire.
func (k ActionKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// arity is the number of items of an action's array, its name included.
func (k ActionKind) arity() int {
	switch k {
	case New:
		return 5
	case Set, Text, Move:
		return 4
	}
	return 2
}

func kindOfName(s []byte) ActionKind {
	switch string(s) {
	case "new":
		return New
	case "set":
		return Set
	case "text":
		return Text
	case "move":
		return Move
	case "del":
		return Del
	}
	return 0
}

// Prop is one property of a new object.
type Prop struct {
	Name  string
	Value Value
}

// Action is one step of an Op. Which fields are used depends on Kind:
//
//	New:  ID, Parent, Key, Props (sorted by name, names unique, no nil values)
//	Set:  ID, Prop, Value (nil removes the property)
//	Text: ID, Prop, Text (a canonical text op, section 1 of the protocol)
//	Move: ID, Parent, Key
//	Del:  ID
//
// Parent "" is the top level.
type Action struct {
	Kind   ActionKind
	ID     string
	Parent string
	Key    string
	Props  []Prop
	Prop   string
	Value  Value
	Text   ot.Op

	// rebased is set by Transform on the actions it returns past a
	// non-empty committed op: such an action was made before concurrent
	// changes, so Apply drops it, instead of failing the op, when those
	// changes make it break a limit. It does not travel on the wire.
	rebased bool
}

// Op is a tree operation: actions applied in order and committed atomically.
// On the wire it is an array of action arrays.
type Op []Action

// NewObject is the action that creates object id under parent at key. The
// props are copied and sorted by name.
func NewObject(id, parent, key string, props ...Prop) Action {
	var ps []Prop
	if len(props) > 0 {
		ps = append(ps, props...)
		SortProps(ps)
	}
	return Action{Kind: New, ID: id, Parent: parent, Key: key, Props: ps}
}

// SetProp is the action that sets property name of id to v (nil removes it).
func SetProp(id, name string, v Value) Action {
	return Action{Kind: Set, ID: id, Prop: name, Value: v}
}

// EditText is the action that edits the string property name of id with op.
func EditText(id, name string, op ot.Op) Action {
	return Action{Kind: Text, ID: id, Prop: name, Text: op}
}

// MoveTo is the action that moves id under parent at key.
func MoveTo(id, parent, key string) Action {
	return Action{Kind: Move, ID: id, Parent: parent, Key: key}
}

// Delete is the action that deletes id and everything under it.
func Delete(id string) Action { return Action{Kind: Del, ID: id} }

// ValidID reports whether s is an object id: 1-64 characters of
// [A-Za-z0-9_.:-].
func ValidID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// ValidKey reports whether s is a fractional key: 1-64 characters of
// [0-9A-Za-z]. Any such string is a key the server accepts; KeyBetween makes
// new ones.
func ValidKey(s string) bool {
	if len(s) < 1 || len(s) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if digitValue[s[i]] < 0 {
			return false
		}
	}
	return true
}

// ValidPropName reports whether s is a property name: valid UTF-8 of 1-64
// code points.
func ValidPropName(s string) bool {
	if s == "" || len(s) > 4*64 || !utf8.ValidString(s) {
		return false
	}
	return utf8.RuneCountInString(s) <= 64
}

// Validate checks the rules an op must meet whatever the document: known
// actions, valid ids, parents, keys and property names, valid values within
// lim (size and nesting), at most lim.MaxProps unique properties in a new
// object, valid text ops, no object made its own parent by new, and the op's
// encoded size within lim.MaxOpBytes. Decoders call it; call it on ops built
// in Go before applying them.
func (op Op) Validate(lim Limits) error {
	return op.validate(lim.WithDefaults(), true)
}

// validate checks op; checkValues says whether values still need checking
// (the decoders made them canonical and checked their nesting already).
func (op Op) validate(lim Limits, checkValues bool) error {
	for i := range op {
		if err := op[i].validate(lim, checkValues); err != nil {
			return at(err, i)
		}
	}
	if n := op.Size(); n > lim.MaxOpBytes {
		return errTooLarge(-1, "op is %d bytes encoded, over the limit of %d", n, lim.MaxOpBytes)
	}
	return nil
}

func (a *Action) validate(lim Limits, checkValues bool) error {
	if !ValidID(a.ID) {
		return errInvalid(-1, "%s: id %q is not 1-64 characters of [A-Za-z0-9_.:-]", a.Kind, truncate(a.ID, 80))
	}
	switch a.Kind {
	case New, Move:
		if a.Parent != "" && !ValidID(a.Parent) {
			return errInvalid(-1, "%s: parent %q is neither \"\" nor a valid id", a.Kind, truncate(a.Parent, 80))
		}
		if !ValidKey(a.Key) {
			return errInvalid(-1, "%s: key %q is not 1-64 characters of [0-9A-Za-z]", a.Kind, truncate(a.Key, 80))
		}
		if a.Kind == Move {
			return nil
		}
		if a.Parent == a.ID {
			return errInvalid(-1, "new: object %q cannot be its own parent", a.ID)
		}
		if len(a.Props) > lim.MaxProps {
			return errLimit(-1, "new: %d properties, over the limit of %d", len(a.Props), lim.MaxProps)
		}
		for j, p := range a.Props {
			if !ValidPropName(p.Name) {
				return errInvalid(-1, "new: property name %q is not 1-64 characters of UTF-8", truncate(p.Name, 80))
			}
			if j > 0 && a.Props[j-1].Name >= p.Name {
				return errInvalid(-1, "new: properties must be sorted by name and unique (%q after %q)", truncate(p.Name, 80), truncate(a.Props[j-1].Name, 80))
			}
			if p.Value.IsNil() {
				return errInvalid(-1, "new: property %q is nil", truncate(p.Name, 80))
			}
			if err := checkValue(p.Value, lim, checkValues); err != nil {
				return err
			}
		}
	case Set, Text:
		if !ValidPropName(a.Prop) {
			return errInvalid(-1, "%s: property name %q is not 1-64 characters of UTF-8", a.Kind, truncate(a.Prop, 80))
		}
		if a.Kind == Set {
			if a.Value.IsNil() {
				return nil
			}
			return checkValue(a.Value, lim, checkValues)
		}
		if err := a.Text.Validate(); err != nil {
			return errCause(-1, "text: bad text op", err)
		}
		if !a.Text.IsCanonical() {
			return errInvalid(-1, "text: text op is not canonical (use ot.Op.Normalize)")
		}
	case Del:
	default:
		return errInvalid(-1, "unknown action kind %d", a.Kind)
	}
	return nil
}

// checkValue checks a value's size and, when full, that it is canonical and
// within the nesting limit (values built in Go; decoders did that already).
func checkValue(v Value, lim Limits, full bool) error {
	if len(v) > lim.MaxValueBytes {
		return errLimit(-1, "value is %d bytes encoded, over the limit of %d", len(v), lim.MaxValueBytes)
	}
	if !full {
		return nil
	}
	canon, end, err := canonMsgpack(make([]byte, 0, len(v)), v, 0, lim.MaxValueDepth)
	if err == nil && end != len(v) {
		err = badValue("trailing bytes after the value")
	}
	if err != nil {
		return valueErr(-1, err, lim)
	}
	if string(canon) != string(v) {
		return errInvalid(-1, "value is not in canonical form (make it with ValueOf)")
	}
	return nil
}

// SortProps sorts props by name, as a new action requires.
func SortProps(props []Prop) {
	sort.Slice(props, func(i, j int) bool { return props[i].Name < props[j].Name })
}

// Size is the length in bytes of op's MessagePack encoding, which the op
// limit is measured against.
func (op Op) Size() int {
	n := containerHeaderSize(len(op))
	for i := range op {
		n += op[i].size()
	}
	return n
}

func (a *Action) size() int {
	name := a.Kind.String()
	n := strSize(len(name)) + strSize(len(a.ID))
	switch a.Kind {
	case New:
		n += 1 + strSize(len(a.Parent)) + strSize(len(a.Key)) + containerHeaderSize(len(a.Props))
		for _, p := range a.Props {
			n += strSize(len(p.Name)) + valueSize(p.Value)
		}
	case Set:
		n += 1 + strSize(len(a.Prop)) + valueSize(a.Value)
	case Text:
		n += 1 + strSize(len(a.Prop)) + a.Text.Size()
	case Move:
		n += 1 + strSize(len(a.Parent)) + strSize(len(a.Key))
	default:
		n++
	}
	return n
}

func valueSize(v Value) int {
	if len(v) == 0 {
		return 1
	}
	return len(v)
}

// AppendMsgpack appends op's MessagePack encoding to b.
func (op Op) AppendMsgpack(b []byte) []byte {
	b = appendArrayHeader(b, len(op))
	for i := range op {
		b = op[i].appendMsgpack(b)
	}
	return b
}

// MarshalMsgpack returns op's MessagePack encoding: an array of actions, each
// an array whose first item is the action's name.
func (op Op) MarshalMsgpack() ([]byte, error) {
	return op.AppendMsgpack(make([]byte, 0, op.Size())), nil
}

func (a *Action) appendMsgpack(b []byte) []byte {
	switch a.Kind {
	case New:
		b = appendArrayHeader(b, 5)
	case Set, Text, Move:
		b = appendArrayHeader(b, 4)
	default:
		b = appendArrayHeader(b, 2)
	}
	b = appendStr(b, a.Kind.String())
	b = appendStr(b, a.ID)
	switch a.Kind {
	case New:
		b = appendStr(b, a.Parent)
		b = appendStr(b, a.Key)
		b = appendMapHeader(b, len(a.Props))
		for _, p := range a.Props {
			b = appendStr(b, p.Name)
			b = appendValue(b, p.Value)
		}
	case Set:
		b = appendStr(b, a.Prop)
		b = appendValue(b, a.Value)
	case Text:
		b = appendStr(b, a.Prop)
		b = appendTextOp(b, a.Text)
	case Move:
		b = appendStr(b, a.Parent)
		b = appendStr(b, a.Key)
	}
	return b
}

func appendValue(b []byte, v Value) []byte {
	if len(v) == 0 {
		return appendNil(b)
	}
	return append(b, v...)
}

// appendTextOp writes a text op in its wire form (as ot.Op.EncodeMsgpack does).
func appendTextOp(b []byte, op ot.Op) []byte {
	b = appendArrayHeader(b, len(op))
	for _, c := range op {
		switch {
		case c.Insert != "":
			b = appendStr(b, c.Insert)
		case c.Delete != 0:
			b = appendInt(b, int64(-c.Delete))
		default:
			b = appendInt(b, int64(c.Retain))
		}
	}
	return b
}

// MarshalJSON writes op in the same array form as MessagePack.
func (op Op) MarshalJSON() ([]byte, error) {
	return op.AppendJSON(make([]byte, 0, op.Size()+len(op)*8)), nil
}

// AppendJSON appends op's JSON form to b.
func (op Op) AppendJSON(b []byte) []byte {
	b = append(b, '[')
	for i := range op {
		if i > 0 {
			b = append(b, ',')
		}
		b = op[i].appendJSON(b)
	}
	return append(b, ']')
}

func (a *Action) appendJSON(b []byte) []byte {
	b = append(b, '[', '"')
	b = append(b, a.Kind.String()...)
	b = append(b, '"', ',')
	b = appendJSONString(b, []byte(a.ID))
	switch a.Kind {
	case New:
		b = append(b, ',')
		b = appendJSONString(b, []byte(a.Parent))
		b = append(b, ',')
		b = appendJSONString(b, []byte(a.Key))
		b = append(b, ',', '{')
		for j, p := range a.Props {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, []byte(p.Name))
			b = append(b, ':')
			b, _ = appendValueJSON(b, p.Value, 0)
		}
		b = append(b, '}')
	case Set:
		b = append(b, ',')
		b = appendJSONString(b, []byte(a.Prop))
		b = append(b, ',')
		if a.Value.IsNil() {
			b = append(b, "null"...)
		} else {
			b, _ = appendValueJSON(b, a.Value, 0)
		}
	case Text:
		b = append(b, ',')
		b = appendJSONString(b, []byte(a.Prop))
		b = append(b, ',')
		t, _ := a.Text.MarshalJSON()
		b = append(b, t...)
	case Move:
		b = append(b, ',')
		b = appendJSONString(b, []byte(a.Parent))
		b = append(b, ',')
		b = appendJSONString(b, []byte(a.Key))
	}
	return append(b, ']')
}

// Clone returns a copy of op that shares no slices with it that Apply or
// Transform could change. (Values and text ops are never mutated in place.)
func (op Op) Clone() Op {
	if op == nil {
		return nil
	}
	out := make(Op, len(op))
	copy(out, op)
	return out
}
