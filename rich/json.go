package rich

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/textutil"
	"github.com/tandem-collab/tandem/ot"
)

// appendValueJSON writes v as JSON. Numbers are written as JavaScript's
// JSON.stringify writes them (and encoding/json does): integers without a
// fraction, others in the shortest form that reads back the same.
func appendValueJSON(b []byte, v Value) []byte {
	switch v.kind {
	case StringKind:
		return appendJSONString(b, v.str)
	case BoolKind:
		return strconv.AppendBool(b, v.num != 0)
	case NumberKind:
		f := v.num
		abs := math.Abs(f)
		fmt := byte('f')
		if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			fmt = 'e'
		}
		b = strconv.AppendFloat(b, f, fmt, -1, 64)
		if fmt == 'e' {
			// clean up e-09 to e-9, as JavaScript does
			n := len(b)
			if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
				b[n-2] = b[n-1]
				b = b[:n-1]
			}
		}
		return b
	}
	return append(b, "null"...)
}

func appendAttrsJSON(b []byte, a Attrs) []byte {
	b = append(b, '{')
	for i, k := range sortedKeys(a) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendValueJSON(b, a[k])
	}
	return append(b, '}')
}

func appendComponentJSON(b []byte, c Component) []byte {
	switch c.kind() {
	case kInsert:
		if len(c.Attrs) == 0 {
			return appendJSONString(b, c.Insert)
		}
		b = appendJSONString(append(b, `{"i":`...), c.Insert)
	case kEmbed:
		b = append(b, `{"e":{`...)
		b = appendJSONString(b, c.Embed.Type)
		b = appendValueJSON(append(b, ':'), c.Embed.Value)
		b = append(b, '}')
		if len(c.Attrs) == 0 {
			return append(b, '}')
		}
	case kDelete:
		return strconv.AppendInt(b, -int64(c.Delete), 10)
	default:
		if len(c.Attrs) == 0 {
			return strconv.AppendInt(b, int64(c.Retain), 10)
		}
		b = strconv.AppendInt(append(b, `{"r":`...), int64(c.Retain), 10)
	}
	b = appendAttrsJSON(append(b, `,"a":`...), c.Attrs)
	return append(b, '}')
}

// AppendJSON appends op's JSON wire form to b: the same array as MessagePack.
func (op Op) AppendJSON(b []byte) []byte {
	b = append(b, '[')
	for i, c := range op {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendComponentJSON(b, c)
	}
	return append(b, ']')
}

// MarshalJSON writes op in its wire form. A nil op is [].
func (op Op) MarshalJSON() ([]byte, error) { return op.AppendJSON(nil), nil }

// UnmarshalJSON reads an op in its wire form, validates it and stores its
// canonical form (see ParseJSON).
func (op *Op) UnmarshalJSON(data []byte) error {
	raw, err := ParseJSON(data)
	if err != nil {
		return err
	}
	*op = raw.Normalize()
	return nil
}

// ParseJSON decodes and validates an op from JSON without normalising it.
// Unlike encoding/json it rejects invalid UTF-8 and lone surrogate escapes
// ("\ud800") instead of replacing them with U+FFFD. A name given twice in one
// JSON object keeps its last value, as in JavaScript's JSON.parse. Attribute
// values that are objects or arrays are refused.
func ParseJSON(data []byte) (Op, error) {
	if !utf8.Valid(data) {
		return nil, errUTF8(-1, "op JSON")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, errInvalid(-1, "op must be a JSON array: %v", err)
	}
	if items == nil {
		return nil, errInvalid(-1, "op is null, want an array")
	}
	op := make(Op, 0, len(items))
	for i, it := range items {
		c, err := componentFromJSON(i, it)
		if err != nil {
			return nil, err
		}
		op = append(op, c)
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	return op, nil
}

func componentFromJSON(i int, it json.RawMessage) (Component, error) {
	if len(it) == 0 {
		return Component{}, errInvalid(i, "empty item")
	}
	switch it[0] {
	case '"':
		s, err := stringFromJSON(i, it, "insert")
		if err != nil {
			return Component{}, err
		}
		if s == "" {
			return Component{}, errInvalid(i, "empty insert")
		}
		return Component{Insert: s}, nil
	case '{':
		return mapComponentFromJSON(i, it)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		n, err := countFromJSON(i, it)
		if err != nil {
			return Component{}, err
		}
		return countComponent(i, n)
	}
	return Component{}, errInvalid(i, "item %s is not an integer, a string or an object", textutil.Truncate(string(it), 32))
}

func stringFromJSON(i int, lit json.RawMessage, what string) (string, error) {
	if hasLoneSurrogate(lit) {
		return "", errUTF8(i, what+" (a lone surrogate escape)")
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", errInvalid(i, "%s: %v", what, err)
	}
	return s, nil
}

func countFromJSON(i int, lit json.RawMessage) (int64, error) {
	s := string(lit)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > MaxCount || n < -MaxCount {
			return 0, errNoFit(i, "count %d out of range", n)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, errNoFit(i, "count %s out of range", textutil.Truncate(s, 32))
		}
		return 0, errInvalid(i, "count %q is not a number", textutil.Truncate(s, 32))
	}
	return countFromFloat(i, f)
}

func mapComponentFromJSON(i int, it json.RawMessage) (Component, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(it, &m); err != nil {
		return Component{}, errInvalid(i, "component object: %v", err)
	}
	var c Component
	kinds := 0
	for k, v := range m {
		var err error
		switch k {
		case "i":
			kinds++
			if len(v) == 0 || v[0] != '"' {
				return Component{}, errInvalid(i, `"i" must be a string`)
			}
			if c.Insert, err = stringFromJSON(i, v, "insert"); err == nil && c.Insert == "" {
				err = errInvalid(i, "empty insert")
			}
		case "r":
			kinds++
			var n int64
			if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
				return Component{}, errInvalid(i, `"r" must be a positive integer`)
			}
			if n, err = countFromJSON(i, v); err == nil && n <= 0 {
				err = errInvalid(i, "retain %d is not positive", n)
			}
			c.Retain = int(n)
		case "e":
			kinds++
			c.Embed, err = embedFromJSON(i, v)
		case "a":
			if bytes.Equal(v, []byte("null")) {
				break
			}
			c.Attrs, err = attrsFromJSON(i, v)
		default:
			return Component{}, errInvalid(i, "unknown component key %q", textutil.Truncate(k, 32))
		}
		if err != nil {
			return Component{}, err
		}
	}
	if kinds != 1 {
		return Component{}, errInvalid(i, `component object needs exactly one of "i", "r" and "e"`)
	}
	return c, nil
}

func attrsFromJSON(i int, v json.RawMessage) (Attrs, error) {
	if len(v) == 0 || v[0] != '{' {
		return nil, errInvalid(i, "attributes must be an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, errInvalid(i, "attributes: %v", err)
	}
	if len(m) > MaxAttrs {
		return nil, errTooLarge(i, "%d attributes, over the limit of %d", len(m), MaxAttrs)
	}
	if len(m) == 0 {
		return nil, nil
	}
	a := make(Attrs, len(m))
	for k, raw := range m {
		if !validKey(k) {
			return nil, errInvalid(i, "attribute name %q is not 1-%d characters of [A-Za-z0-9_.:-]", textutil.Truncate(k, 80), MaxKeyLen)
		}
		val, err := valueFromJSON(i, raw, "attribute "+k, MaxValueBytes)
		if err != nil {
			return nil, err
		}
		a[k] = val
	}
	return a, nil
}

func embedFromJSON(i int, v json.RawMessage) (Embed, error) {
	if len(v) == 0 || v[0] != '{' {
		return Embed{}, errInvalid(i, "embed must be an object of one type to a value")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return Embed{}, errInvalid(i, "embed: %v", err)
	}
	if len(m) != 1 {
		return Embed{}, errInvalid(i, "embed must be an object of exactly one type to a value")
	}
	for t, raw := range m {
		if !validKey(t) {
			return Embed{}, errInvalid(i, "embed type %q is not 1-%d characters of [A-Za-z0-9_.:-]", textutil.Truncate(t, 80), MaxKeyLen)
		}
		val, err := valueFromJSON(i, raw, "embed "+t, MaxEmbedBytes)
		if err != nil {
			return Embed{}, err
		}
		if val.IsNull() {
			return Embed{}, errInvalid(i, "embed %q has a null value", t)
		}
		return Embed{Type: t, Value: val}, nil
	}
	return Embed{}, nil
}

// valueFromJSON reads a scalar; objects and arrays are refused unread.
func valueFromJSON(i int, raw json.RawMessage, what string, maxBytes int) (Value, error) {
	if len(raw) == 0 {
		return Null, errInvalid(i, "%s: empty", what)
	}
	switch raw[0] {
	case '"':
		s, err := stringFromJSON(i, raw, what)
		if err != nil {
			return Null, err
		}
		if len(s) > maxBytes {
			return Null, errTooLarge(i, "%s is %d bytes, over the limit of %d", what, len(s), maxBytes)
		}
		return String(s), nil
	case 't':
		return Bool(true), nil
	case 'f':
		return Bool(false), nil
	case 'n':
		return Null, nil
	case '{', '[':
		return Null, errInvalid(i, "%s is an object or array, want a string, number, boolean or null", what)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return Null, errInvalid(i, "%s is not a finite number", what)
	}
	return Number(f), nil
}

// hasLoneSurrogate reports whether a JSON string literal holds a lone UTF-16
// surrogate escape (encoding/json would turn it into U+FFFD; the protocol
// rejects it).
func hasLoneSurrogate(lit []byte) bool {
	at, _ := textutil.LoneSurrogate(lit)
	return at >= 0
}

// appendJSONString quotes a valid UTF-8 string for JSON as text ops do
// (ot.AppendJSONString: only what JSON requires, plus U+2028 and U+2029).
func appendJSONString(b []byte, s string) []byte { return ot.AppendJSONString(b, s) }
