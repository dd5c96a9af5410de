package ot

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/tandem-collab/tandem/internal/textutil"
)

func itoa(n int) string { return strconv.Itoa(n) }

// maxPrealloc caps how many components (or ranges) a decoder reserves up front:
// an array header is untrusted and may claim billions of items.
const maxPrealloc = 16

// Parse builds an op from a decoded wire value, validates it and returns its
// canonical form. It accepts the values a generic MessagePack decoder produces
// ([]any of int8..int64, uint8..uint64 and string) and a JSON decoder produces
// ([]any of float64 that must be integral, json.Number and string); an Op is
// validated and normalised as well. It never panics.
//
// Do not produce v by decoding untrusted MessagePack into any or map[string]any:
// msgpack/v5 preallocates generic slices and maps by their header, so a 5-byte
// frame can claim 64 GiB. Decode into a struct whose op field has type Op
// (see DecodeMsgpack) instead.
//
// Normalising drops a trailing retain, so a trailing retain that runs past the
// document end is no longer detectable afterwards; use ParseRaw to keep the op
// exactly as sent.
func Parse(v any) (Op, error) {
	op, err := ParseRaw(v)
	if err != nil {
		return nil, err
	}
	return op.Normalize(), nil
}

// ParseRaw is Parse without normalising: the op keeps its components as sent
// (still validated).
func ParseRaw(v any) (Op, error) {
	switch t := v.(type) {
	case Op:
		if err := t.Validate(); err != nil {
			return nil, err
		}
		return t, nil
	case []any:
		op := make(Op, 0, len(t))
		for i, item := range t {
			c, err := componentFromValue(i, item)
			if err != nil {
				return nil, err
			}
			op = append(op, c)
		}
		if err := op.Validate(); err != nil {
			return nil, err
		}
		return op, nil
	case nil:
		return nil, errInvalid(-1, "op is nil, want an array")
	}
	return nil, errInvalid(-1, "op is %T, want an array", v)
}

func componentFromValue(i int, item any) (Component, error) {
	switch x := item.(type) {
	case string:
		return componentFromString(i, x)
	case json.Number:
		return componentFromNumberText(i, string(x))
	case float64:
		return componentFromFloat(i, x)
	case float32:
		return componentFromFloat(i, float64(x))
	case int:
		return componentFromInt(i, int64(x))
	case int8:
		return componentFromInt(i, int64(x))
	case int16:
		return componentFromInt(i, int64(x))
	case int32:
		return componentFromInt(i, int64(x))
	case int64:
		return componentFromInt(i, x)
	case uint:
		return componentFromUint(i, uint64(x))
	case uint8:
		return componentFromUint(i, uint64(x))
	case uint16:
		return componentFromUint(i, uint64(x))
	case uint32:
		return componentFromUint(i, uint64(x))
	case uint64:
		return componentFromUint(i, x)
	}
	return Component{}, errInvalid(i, "item is %T, want an integer or a string", item)
}

func componentFromString(i int, s string) (Component, error) {
	if s == "" {
		return Component{}, errInvalid(i, "empty insert")
	}
	if !utf8.ValidString(s) {
		return Component{}, errUTF8(i, "insert is not valid UTF-8")
	}
	return Component{Insert: s}, nil
}

func componentFromInt(i int, n int64) (Component, error) {
	switch {
	case n == 0:
		return Component{}, errInvalid(i, "zero count")
	case n > MaxCount || n < -MaxCount:
		return Component{}, errNoFit(i, "count %d out of range", n)
	case n > 0:
		return Component{Retain: int(n)}, nil
	}
	return Component{Delete: int(-n)}, nil
}

func componentFromUint(i int, n uint64) (Component, error) {
	if n > MaxCount {
		return Component{}, errNoFit(i, "count %d out of range", n)
	}
	return componentFromInt(i, int64(n))
}

func componentFromFloat(i int, f float64) (Component, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return Component{}, errInvalid(i, "count %v is not an integer", f)
	}
	if f > MaxCount || f < -MaxCount {
		return Component{}, errNoFit(i, "count %v out of range", f)
	}
	return componentFromInt(i, int64(f))
}

func componentFromNumberText(i int, s string) (Component, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return componentFromInt(i, n)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return Component{}, errNoFit(i, "count %s out of range", s)
		}
		return Component{}, errInvalid(i, "count %q is not a number", s)
	}
	return componentFromFloat(i, f)
}

var (
	_ msgpack.CustomEncoder = Op(nil)
	_ msgpack.CustomDecoder = (*Op)(nil)
)

// EncodeMsgpack writes op in its wire form: an array of positive integers
// (retain), strings (insert) and negative integers (delete). A nil op is
// written as an empty array, never as nil.
func (op Op) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(len(op)); err != nil {
		return err
	}
	for _, c := range op {
		var err error
		switch {
		case c.Insert != "":
			err = enc.EncodeString(c.Insert)
		case c.Delete != 0:
			err = enc.EncodeInt(int64(-c.Delete))
		default:
			err = enc.EncodeInt(int64(c.Retain))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack reads an op in its wire form, validates it and stores its
// canonical form. Malformed input gives an *OpError (ErrInvalid); errors of the
// underlying reader (truncated input) are returned wrapped in one as well. It
// reserves memory by what it has read, not by what the array header claims.
//
// Called directly, it rejects a MessagePack nil. Through msgpack.Unmarshal into
// a field of type Op, the library turns nil into a nil Op without calling this
// method, so a caller that requires an op must reject a nil Op itself.
func (op *Op) DecodeMsgpack(dec *msgpack.Decoder) error {
	out, err := decodeMsgpackRaw(dec)
	if err != nil {
		return err
	}
	*op = out.Normalize()
	return nil
}

// ParseMsgpackRaw decodes one op from its MessagePack wire form like
// DecodeMsgpack, validated but not normalised: the op keeps its components as
// sent, so that a trailing retain can still be checked against the document
// (CheckFit). Bytes after the op are an error.
func ParseMsgpackRaw(data []byte) (Op, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	op, err := decodeMsgpackRaw(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.PeekCode(); err == nil {
		return nil, errInvalid(-1, "bytes after the op")
	}
	return op, nil
}

func decodeMsgpackRaw(dec *msgpack.Decoder) (Op, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return nil, errInvalid(-1, "read op: %v", err)
	}
	if !msgpcode.IsFixedArray(code) && code != msgpcode.Array16 && code != msgpcode.Array32 {
		_ = dec.Skip()
		return nil, errInvalid(-1, "op must be an array (msgpack code 0x%02x)", code)
	}
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, errInvalid(-1, "read op: %v", err)
	}
	out := make(Op, 0, min(n, maxPrealloc))
	for i := 0; i < n; i++ {
		c, err := decodeComponent(dec, i)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeComponent(dec *msgpack.Decoder, i int) (Component, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return Component{}, errInvalid(i, "read op: %v", err)
	}
	switch {
	case msgpcode.IsString(code):
		s, err := dec.DecodeString()
		if err != nil {
			return Component{}, errInvalid(i, "read insert: %v", err)
		}
		return componentFromString(i, s)
	case msgpcode.IsFixedNum(code), code == msgpcode.Int8, code == msgpcode.Int16,
		code == msgpcode.Int32, code == msgpcode.Int64:
		n, err := dec.DecodeInt64()
		if err != nil {
			return Component{}, errInvalid(i, "read count: %v", err)
		}
		return componentFromInt(i, n)
	case code == msgpcode.Uint8, code == msgpcode.Uint16, code == msgpcode.Uint32, code == msgpcode.Uint64:
		n, err := dec.DecodeUint64()
		if err != nil {
			return Component{}, errInvalid(i, "read count: %v", err)
		}
		return componentFromUint(i, n)
	case code == msgpcode.Float, code == msgpcode.Double:
		f, err := dec.DecodeFloat64()
		if err != nil {
			return Component{}, errInvalid(i, "read count: %v", err)
		}
		return componentFromFloat(i, f)
	}
	return Component{}, errInvalid(i, "item has msgpack code 0x%02x, want an integer or a string", code)
}

// MarshalJSON writes op in the same array form as MessagePack. A nil op is [].
func (op Op) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+op.Size()+len(op)*2)
	b = append(b, '[')
	for i, c := range op {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case c.Insert != "":
			b = appendJSONString(b, c.Insert)
		case c.Delete != 0:
			b = strconv.AppendInt(b, int64(-c.Delete), 10)
		default:
			b = strconv.AppendInt(b, int64(c.Retain), 10)
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads an op in its array form, validates it and stores its
// canonical form. Unlike encoding/json it rejects invalid UTF-8 and lone
// surrogate escapes ("\ud800") instead of replacing them with U+FFFD.
func (op *Op) UnmarshalJSON(data []byte) error {
	raw, err := parseJSONRaw(data)
	if err != nil {
		return err
	}
	*op = raw.Normalize()
	return nil
}

// ParseJSONRaw decodes an op from JSON like UnmarshalJSON but without
// normalising it.
func ParseJSONRaw(data []byte) (Op, error) { return parseJSONRaw(data) }

func parseJSONRaw(data []byte) (Op, error) {
	if !utf8.Valid(data) {
		return nil, errUTF8(-1, "op JSON is not valid UTF-8")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, errInvalid(-1, "op must be a JSON array: %v", err)
	}
	if items == nil {
		return nil, errInvalid(-1, "op is null, want an array")
	}
	out := make(Op, 0, len(items))
	for i, it := range items {
		if len(it) == 0 {
			return nil, errInvalid(i, "empty item")
		}
		var (
			c   Component
			err error
		)
		switch it[0] {
		case '"':
			if hasLoneSurrogate(it) {
				return nil, errUTF8(i, "insert has a lone surrogate escape")
			}
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return nil, errInvalid(i, "bad string: %v", err)
			}
			c, err = componentFromString(i, s)
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			c, err = componentFromNumberText(i, string(it))
		default:
			err = errInvalid(i, "item %s is not an integer or a string", textutil.Truncate(string(it), 32))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes a valid UTF-8 string for JSON, escaping only what
// JSON requires (plus U+2028/U+2029, which break JavaScript string literals).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// hasLoneSurrogate reports whether a JSON string literal holds a lone UTF-16
// surrogate escape: encoding/json would silently turn it into U+FFFD; the
// protocol rejects it.
func hasLoneSurrogate(lit []byte) bool {
	at, _ := textutil.LoneSurrogate(lit)
	return at >= 0
}
