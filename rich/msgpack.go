package rich

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"unicode/utf8"
	"unsafe"

	"github.com/tandem-collab/tandem/internal/mpack"
	"github.com/tandem-collab/tandem/internal/textutil"
)

// maxSafeInt is the largest integer a float64 (and a JavaScript number)
// holds exactly. Integral numbers up to it are encoded as MessagePack
// integers, others as float64, so that the encoding of a value is one thing
// whichever language produced it.
const maxSafeInt = 1<<53 - 1

// maxPrealloc caps what a decoder reserves up front for an array or map: its
// header is untrusted and may claim billions of items.
const maxPrealloc = 16

func appendArrayHeader(b []byte, n int) []byte { return mpack.AppendArrayHeader(b, n) }

func appendMapHeader(b []byte, n int) []byte { return mpack.AppendMapHeader(b, n) }

func appendString(b []byte, s string) []byte { return mpack.AppendString(b, s) }

func appendInt(b []byte, v int64) []byte { return mpack.AppendInt(b, v) }

func appendValue(b []byte, v Value) []byte {
	switch v.kind {
	case StringKind:
		return appendString(b, v.str)
	case BoolKind:
		if v.num != 0 {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case NumberKind:
		if v.num == math.Trunc(v.num) && math.Abs(v.num) <= maxSafeInt {
			return appendInt(b, int64(v.num))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(v.num))
	}
	return append(b, 0xc0)
}

// appendAttrs writes a as a map with its names in bytewise order: the
// canonical encoding, which is also how the package tells attribute maps
// apart in documents.
func appendAttrs(b []byte, a Attrs) []byte {
	b = appendMapHeader(b, len(a))
	switch len(a) {
	case 0:
		return b
	case 1:
		for k, v := range a {
			return appendValue(appendString(b, k), v)
		}
	}
	var arr [16]string // small maps sort on the stack
	keys := arr[:0]
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendValue(appendString(b, k), a[k])
	}
	return b
}

// attrsKey is the canonical encoding of a, "" for no attributes.
func attrsKey(a Attrs) string {
	if len(a) == 0 {
		return ""
	}
	var buf [64]byte
	return string(appendAttrs(buf[:0], a))
}

// keyMemo remembers the keys of the last few attribute maps by identity: the
// maps of a decoded op or content are shared between components with the
// same attributes (see reader.attrs), so a document's few distinct
// attribute sets are encoded once each.
type keyMemo struct {
	ptr  [8]unsafe.Pointer
	keys [8]string
	next int
}

func (m *keyMemo) key(a Attrs) string {
	if len(a) == 0 {
		return ""
	}
	p := reflect.ValueOf(a).UnsafePointer()
	for i, q := range m.ptr {
		if q == p {
			return m.keys[i]
		}
	}
	k := attrsKey(a)
	m.ptr[m.next], m.keys[m.next] = p, k
	m.next = (m.next + 1) % len(m.ptr)
	return k
}

func appendEmbed(b []byte, e Embed) []byte {
	return appendValue(appendString(append(b, 0x81), e.Type), e.Value)
}

func embedSize(e Embed) int {
	return 1 + stringSize(len(e.Type)) + valueSize(e.Value)
}

// appendComponent writes one component in its wire form.
func appendComponent(b []byte, c Component) []byte {
	switch c.kind() {
	case kInsert:
		if len(c.Attrs) == 0 {
			return appendString(b, c.Insert)
		}
		b = appendString(append(b, 0x82, 0xa1, 'i'), c.Insert)
		return appendAttrs(append(b, 0xa1, 'a'), c.Attrs)
	case kEmbed:
		if len(c.Attrs) == 0 {
			return appendEmbed(append(b, 0x81, 0xa1, 'e'), c.Embed)
		}
		b = appendEmbed(append(b, 0x82, 0xa1, 'e'), c.Embed)
		return appendAttrs(append(b, 0xa1, 'a'), c.Attrs)
	case kDelete:
		return appendInt(b, -int64(c.Delete))
	}
	if len(c.Attrs) == 0 {
		return appendInt(b, int64(c.Retain))
	}
	b = appendInt(append(b, 0x82, 0xa1, 'r'), int64(c.Retain))
	return appendAttrs(append(b, 0xa1, 'a'), c.Attrs)
}

// AppendMsgpack appends op's MessagePack wire form to b: an array of
// components (see Component). A nil op is an empty array. Attribute names are
// written in bytewise order, and integral numbers up to 2^53 as integers.
func (op Op) AppendMsgpack(b []byte) []byte {
	b = appendArrayHeader(b, len(op))
	for _, c := range op {
		b = appendComponent(b, c)
	}
	return b
}

// MarshalMsgpack returns op's MessagePack wire form (see AppendMsgpack).
func (op Op) MarshalMsgpack() ([]byte, error) { return op.AppendMsgpack(nil), nil }

// Size is the length in bytes of op's MessagePack encoding (AppendMsgpack),
// which is what the server's op size limit is measured against.
func (op Op) Size() int {
	n := arrayHeaderSize(len(op))
	for _, c := range op {
		n += componentSize(c)
	}
	return n
}

func componentSize(c Component) int {
	var n int
	switch c.kind() {
	case kInsert:
		n = stringSize(len(c.Insert))
		if len(c.Attrs) == 0 {
			return n
		}
		n += 3 // map header, "i"
	case kEmbed:
		n = 3 + embedSize(c.Embed)
	case kDelete:
		return intSize(-int64(c.Delete))
	default:
		n = intSize(int64(c.Retain))
		if len(c.Attrs) == 0 {
			return n
		}
		n += 3
	}
	if len(c.Attrs) > 0 {
		n += 2 + attrsSize(c.Attrs) // "a", the map
	}
	return n
}

func arrayHeaderSize(n int) int { return mpack.ArrayHeaderSize(n) }

func stringSize(n int) int { return mpack.StringHeaderSize(n) + n }

func intSize(v int64) int { return mpack.IntSize(v) }

func valueSize(v Value) int {
	switch v.kind {
	case StringKind:
		return stringSize(len(v.str))
	case NumberKind:
		if v.num == math.Trunc(v.num) && math.Abs(v.num) <= maxSafeInt {
			return intSize(int64(v.num))
		}
		return 9
	}
	return 1
}

func attrsSize(a Attrs) int {
	n := arrayHeaderSize(len(a)) // map headers have the same sizes
	for k, v := range a {
		n += stringSize(len(k)) + valueSize(v)
	}
	return n
}

// reader decodes MessagePack from an untrusted byte slice. Every length read
// from a header is checked against the bytes that remain before anything is
// reserved or copied, so no claim makes it allocate: an array or map of n
// items needs at least n (2n) more bytes, a string of n bytes needs n.
type reader struct {
	b []byte
	i int
	// attrs decoded so far, by their encoded bytes: an op usually repeats a
	// few attribute maps (a pasted paragraph's runs), and they are shared
	// rather than decoded again. Maps are never modified, so sharing is safe.
	// The first one is kept aside, so that an op with one map pays for no
	// cache.
	firstRaw   []byte
	firstAttrs Attrs
	seen       map[string]Attrs
}

// maxSeen bounds the reader's cache of attribute maps.
const maxSeen = 256

// mpKind is the family of the next value.
type mpKind uint8

const (
	mpNil mpKind = iota + 1
	mpBool
	mpInt
	mpUint
	mpFloat
	mpStr
	mpArray
	mpMap
	mpOther // bin, ext, reserved
)

func (r *reader) peek() (mpKind, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	c := r.b[r.i]
	switch {
	case c <= 0x7f:
		return mpUint, true
	case c >= 0xe0:
		return mpInt, true
	case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf:
		return mpMap, true
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd:
		return mpArray, true
	case c >= 0xa0 && c <= 0xbf, c == 0xd9, c == 0xda, c == 0xdb:
		return mpStr, true
	case c == 0xc0:
		return mpNil, true
	case c == 0xc2, c == 0xc3:
		return mpBool, true
	case c >= 0xcc && c <= 0xcf:
		return mpUint, true
	case c >= 0xd0 && c <= 0xd3:
		return mpInt, true
	case c == 0xca, c == 0xcb:
		return mpFloat, true
	}
	return mpOther, true
}

// bytes returns the next n bytes.
func (r *reader) bytes(n int) ([]byte, bool) {
	if n < 0 || n > len(r.b)-r.i {
		return nil, false
	}
	s := r.b[r.i : r.i+n]
	r.i += n
	return s, true
}

// length reads a big-endian count of size bytes.
func (r *reader) length(size int) (int, bool) {
	p, ok := r.bytes(size)
	if !ok {
		return 0, false
	}
	switch size {
	case 1:
		return int(p[0]), true
	case 2:
		return int(binary.BigEndian.Uint16(p)), true
	}
	return int(binary.BigEndian.Uint32(p)), true
}

// containerLen reads an array (mapped false) or map header and checks that
// its items could fit in what remains.
func (r *reader) containerLen(mapped bool) (int, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	c := r.b[r.i]
	r.i++
	var n int
	ok := true
	switch {
	case c >= 0x80 && c <= 0x8f && mapped, c >= 0x90 && c <= 0x9f && !mapped:
		n = int(c & 0x0f)
	case (c == 0xdc && !mapped) || (c == 0xde && mapped):
		n, ok = r.length(2)
	case (c == 0xdd && !mapped) || (c == 0xdf && mapped):
		n, ok = r.length(4)
	default:
		return 0, false
	}
	items := n
	if mapped {
		items *= 2
	}
	if !ok || items > len(r.b)-r.i {
		return 0, false
	}
	return n, true
}

// str reads a string's bytes (aliasing the input).
func (r *reader) str() ([]byte, bool) {
	if r.i >= len(r.b) {
		return nil, false
	}
	c := r.b[r.i]
	r.i++
	var n int
	ok := true
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9:
		n, ok = r.length(1)
	case c == 0xda:
		n, ok = r.length(2)
	case c == 0xdb:
		n, ok = r.length(4)
	default:
		return nil, false
	}
	if !ok {
		return nil, false
	}
	return r.bytes(n)
}

// integer reads any integer encoding. big is true when the value does not
// fit int64 (a uint64 over MaxInt64).
func (r *reader) integer() (v int64, big, ok bool) {
	if r.i >= len(r.b) {
		return 0, false, false
	}
	c := r.b[r.i]
	r.i++
	switch {
	case c <= 0x7f:
		return int64(c), false, true
	case c >= 0xe0:
		return int64(int8(c)), false, true
	}
	size := 1 << ((c - 0xcc) & 3) // cc..cf and d0..d3: 1, 2, 4, 8 bytes
	p, ok := r.bytes(size)
	if !ok {
		return 0, false, false
	}
	switch c {
	case 0xcc:
		return int64(p[0]), false, true
	case 0xcd:
		return int64(binary.BigEndian.Uint16(p)), false, true
	case 0xce:
		return int64(binary.BigEndian.Uint32(p)), false, true
	case 0xcf:
		u := binary.BigEndian.Uint64(p)
		return int64(u), u > math.MaxInt64, true
	case 0xd0:
		return int64(int8(p[0])), false, true
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p))), false, true
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p))), false, true
	case 0xd3:
		return int64(binary.BigEndian.Uint64(p)), false, true
	}
	return 0, false, false
}

func (r *reader) float() (float64, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	c := r.b[r.i]
	r.i++
	switch c {
	case 0xca:
		p, ok := r.bytes(4)
		if !ok {
			return 0, false
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), true
	case 0xcb:
		p, ok := r.bytes(8)
		if !ok {
			return 0, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), true
	}
	return 0, false
}

// number reads an integer or float as a float64. Integers past 2^53 lose
// precision, as they would in JSON and JavaScript.
func (r *reader) number() (float64, bool) {
	k, _ := r.peek()
	if k == mpFloat {
		return r.float()
	}
	v, big, ok := r.integer()
	if big {
		return float64(uint64(v)), ok
	}
	return float64(v), ok
}

// kindName names a MessagePack family for error messages.
func (k mpKind) String() string {
	switch k {
	case mpNil:
		return "nil"
	case mpBool:
		return "bool"
	case mpInt, mpUint:
		return "integer"
	case mpFloat:
		return "float"
	case mpStr:
		return "string"
	case mpArray:
		return "array"
	case mpMap:
		return "map"
	}
	return "unsupported value"
}

// text reads a string that must be valid UTF-8.
func (r *reader) text(index int, what string) (string, error) {
	b, ok := r.str()
	if !ok {
		return "", errInvalid(index, "%s: truncated or not a string", what)
	}
	if !utf8.Valid(b) {
		return "", errUTF8(index, what)
	}
	return string(b), nil
}

// value reads an attribute or embed value: a scalar. Containers are refused
// without looking inside them, so nesting costs nothing.
func (r *reader) value(index int, what string, maxBytes int) (Value, error) {
	k, ok := r.peek()
	if !ok {
		return Null, errInvalid(index, "%s: truncated", what)
	}
	switch k {
	case mpNil:
		r.i++
		return Null, nil
	case mpBool:
		v := r.b[r.i] == 0xc3
		r.i++
		return Bool(v), nil
	case mpInt, mpUint, mpFloat:
		f, ok := r.number()
		if !ok {
			return Null, errInvalid(index, "%s: truncated number", what)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Null, errInvalid(index, "%s is not a finite number", what)
		}
		return Number(f), nil
	case mpStr:
		start := r.i
		b, ok := r.str()
		if !ok {
			return Null, errInvalid(index, "%s: truncated string", what)
		}
		if len(b) > maxBytes {
			r.i = start
			return Null, errTooLarge(index, "%s is %d bytes, over the limit of %d", what, len(b), maxBytes)
		}
		if !utf8.Valid(b) {
			return Null, errUTF8(index, what)
		}
		return String(string(b)), nil
	}
	return Null, errInvalid(index, "%s is a %s, want a string, number, boolean or null", what, k)
}

// key reads a map key: an attribute name or embed type.
func (r *reader) key(index int, what string) (string, error) {
	b, ok := r.str()
	if !ok {
		return "", errInvalid(index, "%s: want a string key", what)
	}
	if !validKey(b) {
		return "", errInvalid(index, "%s %q is not 1-%d characters of [A-Za-z0-9_.:-]", what, textutil.Truncate(string(b), 80), MaxKeyLen)
	}
	return string(b), nil
}

// attrs reads an attribute map: at most MaxAttrs names, no name twice. A map
// whose bytes were seen before in this input is shared, not decoded again.
func (r *reader) attrs(index int) (Attrs, error) {
	start := r.i
	if r.firstRaw != nil {
		if end, ok := r.scanAttrs(); ok {
			raw := r.b[start:end]
			if bytes.Equal(raw, r.firstRaw) {
				return r.firstAttrs, nil
			}
			if a, hit := r.seen[string(raw)]; hit {
				return a, nil
			}
		}
		r.i = start
	}
	a, err := r.decodeAttrs(index)
	switch {
	case err != nil:
	case r.firstRaw == nil:
		r.firstRaw, r.firstAttrs = r.b[start:r.i], a
	case len(r.seen) < maxSeen:
		if r.seen == nil {
			r.seen = make(map[string]Attrs)
		}
		r.seen[string(r.b[start:r.i])] = a
	}
	return a, err
}

// scanAttrs steps over a map of string keys to scalar values without
// decoding it, and reports where it ends; ok is false for anything else (the
// decoder then reports what is wrong).
func (r *reader) scanAttrs() (end int, ok bool) {
	n, ok := r.containerLen(true)
	if !ok || n > MaxAttrs {
		return 0, false
	}
	for range n {
		if _, ok := r.str(); !ok {
			return 0, false
		}
		k, ok := r.peek()
		if !ok {
			return 0, false
		}
		switch k {
		case mpNil, mpBool:
			r.i++
		case mpInt, mpUint:
			if _, _, ok := r.integer(); !ok {
				return 0, false
			}
		case mpFloat:
			if _, ok := r.float(); !ok {
				return 0, false
			}
		case mpStr:
			if _, ok := r.str(); !ok {
				return 0, false
			}
		default:
			return 0, false
		}
	}
	return r.i, true
}

func (r *reader) decodeAttrs(index int) (Attrs, error) {
	n, ok := r.containerLen(true)
	if !ok {
		return nil, errInvalid(index, "attributes: want a map that fits the input")
	}
	if n > MaxAttrs {
		return nil, errTooLarge(index, "%d attributes, over the limit of %d", n, MaxAttrs)
	}
	if n == 0 {
		return nil, nil
	}
	a := make(Attrs, min(n, maxPrealloc))
	for range n {
		k, err := r.key(index, "attribute name")
		if err != nil {
			return nil, err
		}
		if _, dup := a[k]; dup {
			return nil, errInvalid(index, "attribute %q given twice", k)
		}
		v, err := r.value(index, "attribute "+k, MaxValueBytes)
		if err != nil {
			return nil, err
		}
		a[k] = v
	}
	return a, nil
}

// embed reads an embed: a map of exactly one type to a non-null scalar.
func (r *reader) embed(index int) (Embed, error) {
	n, ok := r.containerLen(true)
	if !ok || n != 1 {
		return Embed{}, errInvalid(index, "embed: want a map of exactly one type to a value")
	}
	t, err := r.key(index, "embed type")
	if err != nil {
		return Embed{}, err
	}
	v, err := r.value(index, "embed "+t, MaxEmbedBytes)
	if err != nil {
		return Embed{}, err
	}
	if v.IsNull() {
		return Embed{}, errInvalid(index, "embed %q has a null value", t)
	}
	return Embed{Type: t, Value: v}, nil
}

// count reads a retain or delete count (an integer or an integral float).
func (r *reader) count(index int) (int64, error) {
	k, _ := r.peek()
	if k == mpFloat {
		f, ok := r.float()
		if !ok {
			return 0, errInvalid(index, "truncated count")
		}
		return countFromFloat(index, f)
	}
	v, big, ok := r.integer()
	if !ok {
		return 0, errInvalid(index, "truncated count")
	}
	if big || v > MaxCount || v < -MaxCount {
		return 0, errNoFit(index, "count out of range")
	}
	return v, nil
}

// countFromFloat is a count given as a float: it must be integral and in
// range.
func countFromFloat(index int, f float64) (int64, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, errInvalid(index, "count %v is not an integer", f)
	}
	if math.Abs(f) > MaxCount {
		return 0, errNoFit(index, "count %v out of range", f)
	}
	return int64(f), nil
}

// countComponent is the retain (n > 0) or delete (n < 0) of a count.
func countComponent(index int, n int64) (Component, error) {
	switch {
	case n > 0:
		return Component{Retain: int(n)}, nil
	case n < 0:
		return Component{Delete: int(-n)}, nil
	}
	return Component{}, errInvalid(index, "zero count")
}

// component reads one op component.
func (r *reader) component(index int) (Component, error) {
	k, ok := r.peek()
	if !ok {
		return Component{}, errInvalid(index, "truncated op")
	}
	switch k {
	case mpStr:
		s, err := r.text(index, "insert")
		if err != nil {
			return Component{}, err
		}
		if s == "" {
			return Component{}, errInvalid(index, "empty insert")
		}
		return Component{Insert: s}, nil
	case mpInt, mpUint, mpFloat:
		n, err := r.count(index)
		if err != nil {
			return Component{}, err
		}
		return countComponent(index, n)
	case mpMap:
		return r.mapComponent(index)
	}
	return Component{}, errInvalid(index, "component is a %s, want an integer, a string or a map", k)
}

// mapComponent reads {"i": text, "a"?}, {"r": n, "a"?} or {"e": embed, "a"?}.
func (r *reader) mapComponent(index int) (Component, error) {
	n, ok := r.containerLen(true)
	if !ok {
		return Component{}, errInvalid(index, "component map does not fit the input")
	}
	var (
		c        Component
		seen     [4]bool // i r e a
		kindKeys int
	)
	for range n {
		kb, ok := r.str()
		if !ok || len(kb) != 1 {
			return Component{}, errInvalid(index, "component keys are \"i\", \"r\", \"e\" and \"a\"")
		}
		slot := -1
		switch kb[0] {
		case 'i':
			slot = 0
		case 'r':
			slot = 1
		case 'e':
			slot = 2
		case 'a':
			slot = 3
		}
		if slot < 0 {
			return Component{}, errInvalid(index, "unknown component key %q", kb)
		}
		if seen[slot] {
			return Component{}, errInvalid(index, "component key %q given twice", kb)
		}
		seen[slot] = true
		var err error
		switch slot {
		case 0:
			kindKeys++
			if c.Insert, err = r.text(index, "insert"); err == nil && c.Insert == "" {
				err = errInvalid(index, "empty insert")
			}
		case 1:
			kindKeys++
			var v int64
			if v, err = r.count(index); err == nil && v <= 0 {
				err = errInvalid(index, "retain %d is not positive", v)
			}
			c.Retain = int(v)
		case 2:
			kindKeys++
			c.Embed, err = r.embed(index)
		case 3:
			if k, _ := r.peek(); k == mpNil {
				r.i++ // "a": nil is no attributes
				break
			}
			c.Attrs, err = r.attrs(index)
		}
		if err != nil {
			return Component{}, err
		}
	}
	if kindKeys != 1 {
		return Component{}, errInvalid(index, "component map needs exactly one of \"i\", \"r\" and \"e\"")
	}
	return c, nil
}

// DecodeOp decodes an op from untrusted MessagePack: b must hold exactly one
// array of components. The op is validated (Validate) but not normalised:
// the server normalises what it stores and sends. Memory is bounded by len(b),
// never by what a header claims; attribute values that are containers are
// refused without being read. Errors are *OpError (KindTooLarge for a limit,
// else invalid).
func DecodeOp(b []byte) (Op, error) {
	r := reader{b: b}
	op, err := r.op()
	if err != nil {
		return nil, err
	}
	if r.i != len(b) {
		return nil, errInvalid(-1, "%d bytes after the op", len(b)-r.i)
	}
	// The reader checked every component as it went (FuzzDecodeOp holds it
	// to Validate); what is left is the sum of the counts.
	if err := op.checkBaseLen(); err != nil {
		return nil, err
	}
	return op, nil
}

func (r *reader) op() (Op, error) {
	if k, _ := r.peek(); k != mpArray {
		return nil, errInvalid(-1, "op must be an array")
	}
	n, ok := r.containerLen(false)
	if !ok {
		return nil, errInvalid(-1, "op array does not fit the input")
	}
	op := make(Op, 0, min(n, maxPrealloc))
	for i := range n {
		c, err := r.component(i)
		if err != nil {
			return nil, err
		}
		if len(op) == cap(op) {
			// Double, up to the count the header claims (which the input
			// was checked to be able to hold): append grows large slices by
			// a quarter, which costs five times the final size in copies.
			grown := make(Op, len(op), min(2*cap(op), n))
			copy(grown, op)
			op = grown
		}
		op = append(op, c)
	}
	return op, nil
}
