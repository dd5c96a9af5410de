package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/textutil"
)

// Value is one property value in its canonical MessagePack encoding. A value
// is anything JSON can say: nil, a boolean, a number, a UTF-8 string, an array,
// or a map with string keys (in the order given; a key may not repeat).
// MessagePack's binary and extension types, and NaN and infinities, are not
// values: REST shows content as JSON, so every value must have a JSON form.
//
// Canonical means the shortest header for every length and integer, and
// float64 for every non-integral number; a number that is an integer of at
// most 2^53-1 in magnitude is written as an integer whichever way it came
// (1.0 is 1). This is exactly what @msgpack/msgpack writes for the equivalent
// JavaScript value, so the Go and TypeScript sides agree on sizes. Two
// canonical values are equal when their bytes are.
//
// The zero Value (nil slice) stands for nil: in a set action it removes the
// property. Stored properties are never nil.
type Value []byte

const maxSafeInteger = 1<<53 - 1

// IsNil reports whether v is nil (empty, or the MessagePack nil).
func (v Value) IsNil() bool { return len(v) == 0 || (len(v) == 1 && v[0] == 0xc0) }

// Str returns the string v holds, ok false when v is not a string.
func (v Value) Str() (s string, ok bool) {
	if len(v) == 0 {
		return "", false
	}
	h, err := readHead(v, 0)
	if err != nil || h.kind != mStr || uint64(len(v)-h.hlen) != h.n {
		return "", false
	}
	return string(v[h.hlen:]), true
}

// StringValue is the canonical value of s, which must be valid UTF-8.
func StringValue(s string) Value { return appendStr(make(Value, 0, strSize(len(s))), s) }

// Equal reports whether a and b are the same value.
func (v Value) Equal(o Value) bool {
	if v.IsNil() || o.IsNil() {
		return v.IsNil() == o.IsNil()
	}
	return bytes.Equal(v, o)
}

// Interface decodes v into Go values: nil, bool, int64 (or uint64 above
// math.MaxInt64), float64, string, []any and map[string]any.
func (v Value) Interface() any {
	if v.IsNil() {
		return nil
	}
	x, _ := decodeAny(v, 0)
	return x
}

func decodeAny(b []byte, i int) (any, int) {
	h, _ := readHead(b, i)
	switch h.kind {
	case mBool:
		return b[i] == 0xc3, i + 1
	case mInt:
		n, u, ok := readInt(b, i)
		if !ok {
			return u, i + h.hlen
		}
		return n, i + h.hlen
	case mFloat:
		return readFloat(b, i), i + h.hlen
	case mStr:
		s := i + h.hlen
		return string(b[s : s+int(h.n)]), s + int(h.n)
	case mArray:
		out := make([]any, 0, h.n)
		i += h.hlen
		for range h.n {
			var x any
			x, i = decodeAny(b, i)
			out = append(out, x)
		}
		return out, i
	case mMap:
		out := make(map[string]any, h.n)
		i += h.hlen
		for range h.n {
			var k, x any
			k, i = decodeAny(b, i)
			x, i = decodeAny(b, i)
			out[k.(string)] = x
		}
		return out, i
	}
	return nil, i + 1
}

// valueError is the cause of an invalid value; callers wrap it.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func badValue(format string, args ...any) error {
	return &valueError{msg: fmt.Sprintf(format, args...)}
}

// canonMsgpack validates the untrusted value at b[i] and appends its canonical
// form to dst. depth is how many more containers may nest. It allocates in
// proportion to the bytes it reads, never to a header's claim.
func canonMsgpack(dst, b []byte, i, depth int) ([]byte, int, error) {
	h, err := readHead(b, i)
	if err != nil {
		return dst, 0, err
	}
	start := i + h.hlen
	rest := uint64(len(b) - start)
	switch h.kind {
	case mNil:
		return appendNil(dst), start, nil
	case mBool:
		return appendBool(dst, b[i] == 0xc3), start, nil
	case mInt:
		n, u, ok := readInt(b, i)
		if !ok {
			return appendUint(dst, u), start, nil
		}
		return appendInt(dst, n), start, nil
	case mFloat:
		dst, err = appendNumber(dst, readFloat(b, i))
		return dst, start, err
	case mStr:
		if h.n > rest {
			return dst, 0, errMPClaims
		}
		s := b[start : start+int(h.n)]
		if !utf8.Valid(s) {
			return dst, 0, badValue("string is not valid UTF-8")
		}
		return append(appendStrHeader(dst, len(s)), s...), start + len(s), nil
	case mBin:
		return dst, 0, badValue("binary values have no JSON form")
	case mExt:
		return dst, 0, badValue("extension values have no JSON form")
	case mArray:
		if h.n > rest {
			return dst, 0, errMPClaims
		}
		if h.n > 0 && depth <= 0 {
			return dst, 0, errMPDepth
		}
		dst = appendArrayHeader(dst, int(h.n))
		j := start
		for range h.n {
			if dst, j, err = canonMsgpack(dst, b, j, depth-1); err != nil {
				return dst, 0, err
			}
		}
		return dst, j, nil
	}
	// mMap
	if 2*h.n > rest {
		return dst, 0, errMPClaims
	}
	if h.n > 0 && depth <= 0 {
		return dst, 0, errMPDepth
	}
	dst = appendMapHeader(dst, int(h.n))
	var seen keySet
	j := start
	for range h.n {
		kh, err := readHead(b, j)
		if err != nil {
			return dst, 0, err
		}
		if kh.kind != mStr {
			return dst, 0, badValue("map keys must be strings")
		}
		ks := j + kh.hlen
		if kh.n > uint64(len(b)-ks) {
			return dst, 0, errMPClaims
		}
		key := b[ks : ks+int(kh.n)]
		if !utf8.Valid(key) {
			return dst, 0, badValue("map key is not valid UTF-8")
		}
		if !seen.add(key) {
			return dst, 0, badValue("map key %q given twice", truncate(string(key), 32))
		}
		dst = append(appendStrHeader(dst, len(key)), key...)
		if dst, j, err = canonMsgpack(dst, b, ks+len(key), depth-1); err != nil {
			return dst, 0, err
		}
	}
	return dst, j, nil
}

// appendNumber writes f canonically: an integer when it is one of at most
// 2^53-1 in magnitude, else a float64. NaN and infinities have no JSON form.
func appendNumber(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, badValue("number %v has no JSON form", f)
	}
	if f == math.Trunc(f) && math.Abs(f) <= maxSafeInteger {
		return appendInt(dst, int64(f)), nil
	}
	return appendFloat(dst, f), nil
}

// keySet detects a repeated map key: the first eight keys are compared
// linearly without allocating, a map takes over past them.
type keySet struct {
	few  [8][]byte
	nfew int
	many map[string]struct{}
}

func (s *keySet) add(k []byte) bool {
	if s.many == nil && s.nfew == len(s.few) {
		s.many = make(map[string]struct{}, 2*len(s.few))
		for _, x := range s.few {
			s.many[string(x)] = struct{}{}
		}
	}
	if s.many != nil {
		if _, dup := s.many[string(k)]; dup {
			return false
		}
		s.many[string(k)] = struct{}{}
		return true
	}
	for _, x := range s.few[:s.nfew] {
		if bytes.Equal(x, k) {
			return false
		}
	}
	s.few[s.nfew] = k
	s.nfew++
	return true
}

// ParseValue validates one untrusted MessagePack value (the whole of b) and
// returns its canonical form. The errors are *OpError: KindInvalid for a
// malformed or disallowed value, KindLimit past lim.MaxValueBytes or
// lim.MaxValueDepth.
func ParseValue(b []byte, lim Limits) (Value, error) {
	lim = lim.WithDefaults()
	v, end, err := canonMsgpack(make([]byte, 0, min(len(b), 256)), b, 0, lim.MaxValueDepth)
	if err == nil && end != len(b) {
		err = badValue("%d trailing bytes after the value", len(b)-end)
	}
	if err != nil {
		return nil, valueErr(-1, err, lim)
	}
	if len(v) > lim.MaxValueBytes {
		return nil, errLimit(-1, "value is %d bytes encoded, over the limit of %d", len(v), lim.MaxValueBytes)
	}
	return v, nil
}

// valueErr turns a cause from the value readers into an *OpError.
func valueErr(action int, err error, lim Limits) *OpError {
	if errors.Is(err, errMPDepth) {
		return errLimit(action, "value nests deeper than %d", lim.MaxValueDepth)
	}
	var oe *OpError
	if errors.As(err, &oe) {
		c := *oe
		if c.Index < 0 {
			c.Index = action
		}
		return &c
	}
	return errInvalid(action, "bad value: %v", err)
}

// ValueOf converts a Go value into a Value: nil, bool, integers, floats,
// string, json.Number, json.RawMessage, Value, []any, map[string]any, and
// slices and maps of those with string keys (map keys are written sorted).
// Default limits apply.
func ValueOf(x any) (Value, error) {
	lim := Limits{}.WithDefaults()
	v, err := appendGo(nil, x, lim.MaxValueDepth)
	if err != nil {
		return nil, valueErr(-1, err, lim)
	}
	if len(v) > lim.MaxValueBytes {
		return nil, errLimit(-1, "value is %d bytes encoded, over the limit of %d", len(v), lim.MaxValueBytes)
	}
	return v, nil
}

// MustValue is ValueOf for values known to be valid; it panics otherwise.
func MustValue(x any) Value {
	v, err := ValueOf(x)
	if err != nil {
		panic(err)
	}
	return v
}

func appendGo(dst []byte, x any, depth int) ([]byte, error) {
	switch t := x.(type) {
	case nil:
		return appendNil(dst), nil
	case Value:
		if t.IsNil() {
			return appendNil(dst), nil
		}
		out, end, err := canonMsgpack(dst, t, 0, depth)
		if err == nil && end != len(t) {
			err = badValue("trailing bytes after the value")
		}
		return out, err
	case bool:
		return appendBool(dst, t), nil
	case int:
		return appendInt(dst, int64(t)), nil
	case int8:
		return appendInt(dst, int64(t)), nil
	case int16:
		return appendInt(dst, int64(t)), nil
	case int32:
		return appendInt(dst, int64(t)), nil
	case int64:
		return appendInt(dst, t), nil
	case uint:
		return appendUint(dst, uint64(t)), nil
	case uint8:
		return appendUint(dst, uint64(t)), nil
	case uint16:
		return appendUint(dst, uint64(t)), nil
	case uint32:
		return appendUint(dst, uint64(t)), nil
	case uint64:
		return appendUint(dst, t), nil
	case float32:
		return appendNumber(dst, float64(t))
	case float64:
		return appendNumber(dst, t)
	case json.Number:
		return appendJSONNumber(dst, string(t))
	case json.RawMessage:
		if err := checkJSON(t); err != nil {
			return dst, err
		}
		return appendJSON(dst, t, depth)
	case string:
		if !utf8.ValidString(t) {
			return dst, badValue("string is not valid UTF-8")
		}
		return appendStr(dst, t), nil
	case []any:
		return appendGoList(dst, t, depth)
	case []string:
		return appendGoList(dst, t, depth)
	case map[string]any:
		if len(t) > 0 && depth <= 0 {
			return dst, errMPDepth
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = appendMapHeader(dst, len(keys))
		for _, k := range keys {
			if !utf8.ValidString(k) {
				return dst, badValue("map key is not valid UTF-8")
			}
			dst = appendStr(dst, k)
			var err error
			if dst, err = appendGo(dst, t[k], depth-1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, badValue("%T is not a value", x)
}

func appendGoList[T any](dst []byte, list []T, depth int) ([]byte, error) {
	if len(list) > 0 && depth <= 0 {
		return dst, errMPDepth
	}
	dst = appendArrayHeader(dst, len(list))
	for _, e := range list {
		var err error
		if dst, err = appendGo(dst, e, depth-1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// MarshalJSON writes v as JSON; the nil Value is null.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.IsNil() {
		return []byte("null"), nil
	}
	out, _ := appendValueJSON(make([]byte, 0, len(v)+8), v, 0)
	return out, nil
}

// UnmarshalJSON reads a JSON value with the default limits.
func (v *Value) UnmarshalJSON(b []byte) error {
	x, err := ParseValueJSON(b, Limits{})
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// appendValueJSON writes the canonical value at b[i] as JSON.
func appendValueJSON(dst, b []byte, i int) ([]byte, int) {
	h, _ := readHead(b, i)
	switch h.kind {
	case mNil:
		return append(dst, "null"...), i + 1
	case mBool:
		if b[i] == 0xc3 {
			return append(dst, "true"...), i + 1
		}
		return append(dst, "false"...), i + 1
	case mInt:
		n, u, ok := readInt(b, i)
		if !ok {
			return strconv.AppendUint(dst, u, 10), i + h.hlen
		}
		return strconv.AppendInt(dst, n, 10), i + h.hlen
	case mFloat:
		return appendJSONFloat(dst, readFloat(b, i)), i + h.hlen
	case mStr:
		s := i + h.hlen
		return appendJSONString(dst, b[s:s+int(h.n)]), s + int(h.n)
	case mArray:
		dst = append(dst, '[')
		i += h.hlen
		for k := range h.n {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst, i = appendValueJSON(dst, b, i)
		}
		return append(dst, ']'), i
	case mMap:
		dst = append(dst, '{')
		i += h.hlen
		for k := range h.n {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst, i = appendValueJSON(dst, b, i)
			dst = append(dst, ':')
			dst, i = appendValueJSON(dst, b, i)
		}
		return append(dst, '}'), i
	}
	return append(dst, "null"...), i + 1
}

// appendJSONFloat formats like encoding/json (and JavaScript): plain decimal
// for magnitudes in [1e-6, 1e21), exponent form outside it. A float with an
// integral value (canonical only past 2^53) gets ".0", so that reading the
// JSON back gives a float again rather than an exact integer.
func appendJSONFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		n := len(dst)
		dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
		// e-07 -> e-7, as encoding/json does.
		if m := len(dst); m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '-' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		}
		return dst
	}
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	if f == math.Trunc(f) {
		dst = append(dst, '.', '0')
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes valid UTF-8 for JSON: it escapes the quote, the
// backslash, control characters, and U+2028/U+2029 (which break JavaScript
// string literals); everything else is written as is.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for len(s) > 0 {
		c := s[0]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s)
			if r == '\u2028' || r == '\u2029' {
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			} else {
				dst = append(dst, s[:size]...)
			}
			s = s[size:]
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
		s = s[1:]
	}
	return append(dst, '"')
}

// ParseValueJSON validates one JSON value and returns its canonical form.
// Text that is not valid UTF-8, or holds a lone surrogate escape ("\ud800"),
// is rejected rather than replaced with U+FFFD.
func ParseValueJSON(b []byte, lim Limits) (Value, error) {
	lim = lim.WithDefaults()
	if err := checkJSON(b); err != nil {
		return nil, valueErr(-1, err, lim)
	}
	v, err := appendJSON(make([]byte, 0, min(len(b), 256)), b, lim.MaxValueDepth)
	if err != nil {
		return nil, valueErr(-1, err, lim)
	}
	if len(v) > lim.MaxValueBytes {
		return nil, errLimit(-1, "value is %d bytes encoded, over the limit of %d", len(v), lim.MaxValueBytes)
	}
	return v, nil
}

// checkJSONText rejects JSON text that encoding/json would silently repair:
// invalid UTF-8 and lone surrogate escapes. Backslashes occur only inside
// strings in valid JSON, so one pass over the whole text finds every escape.
func checkJSONText(b []byte) error {
	if !utf8.Valid(b) {
		return badValue("JSON is not valid UTF-8")
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return nil
	}
	high := false // the previous escape was a high surrogate awaiting its low half
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			if high {
				return badValue("lone surrogate escape in a JSON string")
			}
			continue
		}
		if i+1 < len(b) && b[i+1] == 'u' && i+6 <= len(b) {
			v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
			if err == nil {
				i += 5
				isHigh := v >= 0xd800 && v <= 0xdbff
				isLow := v >= 0xdc00 && v <= 0xdfff
				switch {
				case high && !isLow, !high && isLow:
					return badValue("lone surrogate escape in a JSON string")
				}
				high = isHigh
				continue
			}
		}
		if high {
			return badValue("lone surrogate escape in a JSON string")
		}
		i++ // a two-character escape such as \n or \\
	}
	if high {
		return badValue("lone surrogate escape in a JSON string")
	}
	return nil
}

// appendJSON converts one JSON value, which checkJSON accepted, to canonical
// MessagePack.
func appendJSON(dst, b []byte, depth int) ([]byte, error) {
	r := jreader{b: b}
	return r.value(dst, depth)
}

// appendJSONNumber writes a JSON number: an integer literal that fits int64
// (or uint64) stays exact; anything else goes through float64 and the
// canonical number rule.
func appendJSONNumber(dst []byte, s string) ([]byte, error) {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return appendInt(dst, n), nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return appendUint(dst, u), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return dst, badValue("number %s out of range", truncate(s, 32))
	}
	return appendNumber(dst, f)
}

// truncate is textutil.Truncate, under the name this package's messages use.
func truncate(s string, n int) string { return textutil.Truncate(s, n) }
