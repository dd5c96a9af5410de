package rich

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/textutil"
	"github.com/tandem-collab/tandem/ot"
)

// Limits on attributes and embeds. They bound what one op can make the server
// do per character it touches; the op and document size limits (1 MiB and
// 8 MiB by default, configured in the server) bound the rest.
const (
	// MaxAttrs is the most attributes one attribute map may hold: in an op
	// component, and on one character of a document (Apply refuses an op that
	// would give a character more, with KindTooLarge).
	MaxAttrs = 64
	// MaxKeyLen is the longest attribute name or embed type, in bytes. Names
	// are 1 to MaxKeyLen characters of [A-Za-z0-9_.:-].
	MaxKeyLen = 64
	// MaxValueBytes is the longest string attribute value, in UTF-8 bytes.
	MaxValueBytes = 8 << 10
	// MaxEmbedBytes is the longest string embed value, in UTF-8 bytes (an
	// image URL, not the image: a data: URL over this must be uploaded).
	MaxEmbedBytes = 256 << 10
	// MaxCount bounds a retain or delete count and an op's base length, as in
	// package ot.
	MaxCount = ot.MaxCount
)

// ValueKind is the JSON type of a Value.
type ValueKind uint8

const (
	// NullKind is JSON null: in a retain's attributes it removes the attribute.
	NullKind ValueKind = iota
	// StringKind is a JSON string.
	StringKind
	// NumberKind is a JSON number (a finite IEEE double, as in JavaScript).
	NumberKind
	// BoolKind is true or false.
	BoolKind
)

// Value is an attribute or embed value: a JSON scalar. The zero Value is null.
// Values are comparable with ==, which is how the package compares them.
// Numbers are float64 as in JavaScript: 1 and 1.0 are the same value, and -0
// is stored as 0.
type Value struct {
	kind ValueKind
	str  string
	num  float64 // the number, or 1/0 for a bool
}

// Null is the null Value (the zero Value).
var Null = Value{}

// String returns the string Value s.
func String(s string) Value { return Value{kind: StringKind, str: s} }

// Number returns the number Value f. NaN and infinities are not JSON numbers:
// Validate rejects them.
func Number(f float64) Value {
	if f == 0 {
		f = 0 // -0 is 0
	}
	return Value{kind: NumberKind, num: f}
}

// Int returns the number Value i.
func Int(i int) Value { return Number(float64(i)) }

// Bool returns the bool Value b.
func Bool(b bool) Value {
	if b {
		return Value{kind: BoolKind, num: 1}
	}
	return Value{kind: BoolKind}
}

// Kind is the JSON type of v.
func (v Value) Kind() ValueKind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == NullKind }

// Text is the string of a string Value, "" for any other kind.
func (v Value) Text() string { return v.str }

// Float is the number of a number Value, 0 for any other kind.
func (v Value) Float() float64 {
	if v.kind != NumberKind {
		return 0
	}
	return v.num
}

// Truth is the bool of a bool Value, false for any other kind.
func (v Value) Truth() bool { return v.kind == BoolKind && v.num != 0 }

// String renders v as JSON.
func (v Value) String() string { return string(appendValueJSON(nil, v)) }

// check validates a value; maxBytes bounds a string. what names the value
// in an error ("attribute" or "embed") and key its name.
func (v Value) check(maxBytes int, what, key string) error {
	switch v.kind {
	case NullKind, BoolKind:
		return nil
	case StringKind:
		if len(v.str) > maxBytes {
			return errTooLarge(-1, "%s %q is %d bytes, over the limit of %d", what, key, len(v.str), maxBytes)
		}
		if !utf8.ValidString(v.str) {
			return errUTF8(-1, what+" "+strconv.Quote(key))
		}
		return nil
	case NumberKind:
		if math.IsNaN(v.num) || math.IsInf(v.num, 0) {
			return errInvalid(-1, "%s %q is not a finite number", what, key)
		}
		return nil
	}
	return errInvalid(-1, "%s %q has an unknown kind %d", what, key, v.kind)
}

// Attrs maps attribute names to values. In an insert (and in a document) the
// values are never null; in a retain a null value removes the attribute. A nil
// or empty Attrs means "no attributes". Attrs given to this package must not
// be modified afterwards: documents and ops share them.
type Attrs map[string]Value

// Embed is a non-text item of length 1, such as an image: on the wire the map
// {Type: Value}, for example {"image": "https://example.com/a.png"}. Its
// other properties (alt text, width) are attributes of the embed insert, so
// that they can be formatted and merged like any attribute. The zero Embed
// (Type "") means "not an embed".
type Embed struct {
	Type  string
	Value Value
}

// validKey reports whether k is 1 to MaxKeyLen characters of [A-Za-z0-9_.:-].
func validKey[T string | []byte](k T) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// checkAttrs validates an attribute map: at most MaxAttrs names, valid names,
// valid values (string values at most MaxValueBytes).
func checkAttrs(a Attrs) error {
	if len(a) > MaxAttrs {
		return errTooLarge(-1, "%d attributes, over the limit of %d", len(a), MaxAttrs)
	}
	for k, v := range a {
		if !validKey(k) {
			return errInvalid(-1, "attribute name %q is not 1-%d characters of [A-Za-z0-9_.:-]", textutil.Truncate(k, 80), MaxKeyLen)
		}
		if err := v.check(MaxValueBytes, "attribute", k); err != nil {
			return err
		}
	}
	return nil
}

// check validates an embed.
func (e Embed) check() error {
	if !validKey(e.Type) {
		return errInvalid(-1, "embed type %q is not 1-%d characters of [A-Za-z0-9_.:-]", textutil.Truncate(e.Type, 80), MaxKeyLen)
	}
	if e.Value.IsNull() {
		return errInvalid(-1, "embed %q has a null value", e.Type)
	}
	return e.Value.check(MaxEmbedBytes, "embed", e.Type)
}

// attrsEqual reports whether a and b hold the same names and values (nil and
// empty are equal).
func attrsEqual(a, b Attrs) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// withoutNulls returns a without its null values, and nil for an empty
// result. It returns a itself when there is nothing to drop.
func withoutNulls(a Attrs) Attrs {
	nulls := 0
	for _, v := range a {
		if v.IsNull() {
			nulls++
		}
	}
	if nulls == len(a) {
		return nil
	}
	if nulls == 0 {
		return a
	}
	out := make(Attrs, len(a)-nulls)
	for k, v := range a {
		if !v.IsNull() {
			out[k] = v
		}
	}
	return out
}

// nonEmpty is a, or nil when a is empty.
func nonEmpty(a Attrs) Attrs {
	if len(a) == 0 {
		return nil
	}
	return a
}

// composeAttrs is the attributes of a character that had base and then got
// over set on it: over's values replace base's, a null in over removes the
// name. With keepNull (base is itself a retain's settings rather than a
// character's attributes) a null in over is kept, since it still has to
// remove the name from the document. It never modifies its arguments.
func composeAttrs(base, over Attrs, keepNull bool) Attrs {
	if len(over) == 0 {
		return nonEmpty(base)
	}
	if len(base) == 0 {
		if keepNull {
			return over
		}
		return withoutNulls(over)
	}
	out := make(Attrs, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v.IsNull() && !keepNull {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return nonEmpty(out)
}

// transformAttrs is what remains of a's settings on a character that b also
// set, concurrently. When a commits after b (aLater), a's settings all stand:
// they overwrite b's. Otherwise every name b set (to a value or to null) is
// b's, and a loses it.
func transformAttrs(a, b Attrs, aLater bool) Attrs {
	if aLater || len(a) == 0 || len(b) == 0 {
		return nonEmpty(a)
	}
	var out Attrs
	for k, v := range a {
		if _, taken := b[k]; taken {
			continue
		}
		if out == nil {
			out = make(Attrs, len(a))
		}
		out[k] = v
	}
	return out
}

// invertAttrs is the setting that undoes set on a character whose attributes
// were base: each name set restores its value in base, or is removed (null)
// when base did not have it. Names whose value set did not change are left out.
func invertAttrs(set, base Attrs) Attrs {
	var out Attrs
	put := func(k string, v Value) {
		if out == nil {
			out = make(Attrs, len(set))
		}
		out[k] = v
	}
	for k, v := range set {
		old, had := base[k]
		switch {
		case had && old == v:
		case had:
			put(k, old)
		case !v.IsNull():
			put(k, Null)
		}
	}
	return out
}

// sortedKeys returns a's names in bytewise order.
func sortedKeys(a Attrs) []string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
