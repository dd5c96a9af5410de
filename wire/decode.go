package wire

import (
	"errors"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/doctype/text"
)

// decoder reads one message map of either direction by walking its schema.
// The frame has passed skip, so every length it reads fits in the frame. The
// first error wins; later reads are no-ops, which keeps the walk linear.
type decoder struct {
	// client is set for frames from clients: errors are not prefixed with
	// the message type, they echo the doc and seq, and the Limits apply.
	client bool
	lim    Limits
	// t is the message's type, the prefix of a server message's errors.
	t string
	// doc is the message's document: the valid id a client sent (which
	// errors echo), or the server message's "doc".
	doc string
	// seq is the client's seq when positive, which errors echo.
	seq int64
	// typ is the type of the message's document, once known.
	typ doctype.Type
	// deferred is set when the client's Limits.TypeOf did not know the
	// document's type: rawOp and rawSel then keep the values (see Op.Raw).
	deferred      bool
	rawOp, rawSel msgpack.RawMessage
	// texts and types are a ServerDecoder's tables, or nil.
	texts map[string]string
	types map[string]doctype.Type
	err   *Error
}

func (d *decoder) fail(code, format string, args ...any) {
	if d.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if !d.client {
		msg = d.t + ": " + msg
	}
	d.err = &Error{Code: code, Msg: msg, Doc: d.doc, Seq: d.seq}
	if !d.client {
		d.err.Doc = ""
	}
}

// failCause is fail with an underlying error, for errors.Is/As.
func (d *decoder) failCause(code string, cause error, format string, args ...any) {
	if d.err == nil {
		d.fail(code, format, args...)
		d.err.Err = cause
	}
}

// pathOf names a key of the map called name ("" for the message itself), or
// the map itself when key is "". It is rendered only for an error message.
type pathOf struct{ name, key string }

func (p pathOf) String() string {
	switch {
	case p.name == "":
		return p.key
	case p.key == "":
		return p.name
	}
	return p.name + "." + p.key
}

// rowValues is the value of each row of a schema in one map, nil where the
// key is absent.
type rowValues [maxFields][]byte

// put records val, the value of key, in its row (none: an unknown key,
// ignored); a key twice is an error.
func (d *decoder) put(s *schema, vals *rowValues, key, val []byte, name string) {
	if i := s.row(key); i >= 0 {
		if vals[i] != nil {
			d.fail(CodeBadRequest, "%s: duplicate key", pathOf{name, s.fields[i].key})
		}
		vals[i] = val
	}
}

// fields decodes map v into m (a pointer to s's Go type) row by row. A key
// that no row names is ignored; a key twice is an error.
func (d *decoder) fields(s *schema, v []byte, m any, name string) {
	var vals rowValues
	ok, _ := pairs(v, func(k, val []byte) error {
		if key, ok := readStr(k); ok && d.err == nil { // not a string key: unknown, ignored
			d.put(s, &vals, key, val, name)
		}
		return nil
	})
	if !ok {
		d.fail(CodeBadRequest, "%s: want a map, got %s", name, kindName(kindOf(v)))
		return
	}
	decodeRows(d, &vals, v, m, name)
}

// The generated decoders (schema_gen.go) read each row's value with the
// helpers below and str, int, op and sel; what names the key in errors.

// boundedStr is a str of at most maxBytes bytes; past it is too_large,
// checked before the string is copied.
func (d *decoder) boundedStr(what pathOf, val []byte, maxBytes int) string {
	if len(val) > maxBytes+5 {
		d.fail(CodeTooLarge, "%s: %d bytes encoded, over the limit of %d", what, len(val), maxBytes)
		return ""
	}
	s := d.str(what, val)
	if len(s) > maxBytes {
		d.fail(CodeTooLarge, "%s: %d bytes, over the limit of %d", what, len(s), maxBytes)
		return ""
	}
	return s
}

// int32 is an integer that must fit an int32 (Hello's and Welcome's proto).
func (d *decoder) int32(what pathOf, val []byte) int {
	n := d.int(what, val)
	if n > math.MaxInt32 || n < math.MinInt32 {
		d.fail(CodeBadRequest, "%s: %d is out of range", what, n)
		return 0
	}
	return int(n)
}

func (d *decoder) optInt(what pathOf, val []byte) *int64 {
	n := d.int(what, val)
	return &n
}

// data is a raw map or nil, copied; a client's is bounded by MaxDataBytes.
func (d *decoder) data(what pathOf, val []byte) msgpack.RawMessage {
	if k := kindOf(val); k != kindMap && k != kindNil {
		d.fail(CodeBadRequest, "%s: want a map or nil, got %s", what, kindName(k))
		return nil
	}
	if d.client && len(val) > d.lim.MaxDataBytes {
		d.fail(CodeTooLarge, "%s: %d bytes encoded, over the limit of %d", what, len(val), d.lim.MaxDataBytes)
		return nil
	}
	return keep(val)
}

// strings is an array of strs, each called inner in errors.
func (d *decoder) strings(what pathOf, inner string, val []byte) []string {
	var ss []string
	d.list(what, val, func(e []byte) { ss = append(ss, d.str(pathOf{inner, ""}, e)) })
	return ss
}

// modes is a map of str to str, the row called key.
func (d *decoder) modes(what pathOf, key string, val []byte) map[string]string {
	modes := map[string]string{}
	ok, _ := pairs(val, func(k, v []byte) error {
		if d.err == nil {
			s := d.str(pathOf{key, "(key)"}, k)
			modes[s] = d.str(pathOf{key, s}, v)
		}
		return nil
	})
	if !ok {
		d.fail(CodeBadRequest, "%s: want a map, got %s", what, kindName(kindOf(val)))
	}
	return modes
}

// docTypeName is a document type's name, which becomes the type of the
// message's document.
func (d *decoder) docTypeName(what pathOf, val []byte) string {
	s := d.str(what, val)
	if d.err != nil {
		return ""
	}
	typ, err := doctype.Lookup(s)
	if err != nil {
		d.fail(CodeBadRequest, "%s: %v", what, err)
		return ""
	}
	d.setType(typ)
	return s
}

// contentValue is the document's content in its type's encoding; nil for
// MessagePack nil.
func (d *decoder) contentValue(val []byte) doctype.Content {
	if isNil(val) {
		return nil
	}
	c, err := d.typ.DecodeContent(val)
	if err != nil {
		d.failCause(CodeBadRequest, err, "%s: %v", d.typ.ContentKey(), err)
		return nil
	}
	return c
}

// decodeMaps decodes array v (called what) of maps that s describes (each
// called inner in errors). Each element is decoded in place in the list.
func decodeMaps[T any](d *decoder, s *schema, what pathOf, inner string, v []byte) []T {
	out := []T{}
	d.list(what, v, func(e []byte) {
		var zero T
		out = append(out, zero)
		d.fields(s, e, &out[len(out)-1], inner)
	})
	return out
}

// setType makes typ the type of the message's document, and a
// ServerDecoder's type of the document for the messages that follow.
func (d *decoder) setType(typ doctype.Type) {
	d.typ = typ
	if d.types != nil && d.doc != "" {
		if len(d.types) >= maxTableTexts {
			clear(d.types)
		}
		d.types[d.doc] = typ
	}
}

// docType is the type of the message's document: set by a valDocType row,
// else Limits.TypeOf's answer (client; nil when it has none, which defers
// the op and selections) or the type a ServerDecoder remembered from the
// document's joined (server); text when none is known.
func (d *decoder) docType() doctype.Type {
	if d.typ != nil {
		return d.typ
	}
	if d.deferred {
		return nil
	}
	var t doctype.Type
	switch {
	case d.client && d.lim.TypeOf != nil:
		if t = d.lim.TypeOf(d.doc); t == nil {
			d.deferred = true
			return nil
		}
	case !d.client:
		t = d.types[d.doc]
	}
	if t == nil {
		t = text.Type{}
	}
	d.typ = t
	return t
}

// content is the value of map v under its type's content key, nil when absent.
func (d *decoder) content(v []byte) []byte {
	if d.typ == nil {
		return nil
	}
	key := d.typ.ContentKey()
	var out []byte
	_, _ = pairs(v, func(k, val []byte) error {
		if s, ok := readStr(k); ok && string(s) == key {
			out = val
		}
		return nil
	})
	return out
}

func (d *decoder) str(what pathOf, v []byte) string {
	s, ok := tableText(d.texts, v)
	if !ok {
		d.fail(CodeBadRequest, "%s: want a UTF-8 string, got %s", what, kindName(kindOf(v)))
	}
	return s
}

func (d *decoder) int(what pathOf, v []byte) int64 {
	n, ok := readInt(v)
	if !ok {
		d.fail(CodeBadRequest, "%s: want an integer, got %s", what, kindName(kindOf(v)))
	}
	return n
}

// list calls fn for every element of array v, failing when v is not an array.
func (d *decoder) list(what pathOf, v []byte, fn func(e []byte)) {
	ok, _ := elems(v, func(_ int, e []byte) error {
		if d.err == nil {
			fn(e)
		}
		return nil
	})
	if !ok {
		d.fail(CodeBadRequest, "%s: want an array, got %s", what, kindName(kindOf(v)))
	}
}

// op decodes an op value with the document's type, which enforces the op
// rules; the op is kept as sent.
func (d *decoder) op(what pathOf, v []byte) doctype.Op {
	if k := kindOf(v); k != kindArray {
		d.fail(CodeBadRequest, "%s: want an array, got %s", what, kindName(k))
		return nil
	}
	if d.client && len(v) > d.lim.MaxOpBytes {
		d.fail(CodeTooLarge, "%s: %d bytes encoded, over the limit of %d", what, len(v), d.lim.MaxOpBytes)
		return nil
	}
	t := d.docType()
	if t == nil {
		d.rawOp = keep(v)
		return nil
	}
	op, err := t.DecodeOp(v)
	if err != nil {
		d.typeFail(CodeInvalidOp, err, what)
		return nil
	}
	return op
}

// typeFail reports err, from the document's type: CodeTooLarge for
// doctype.ErrTooLarge, else code.
func (d *decoder) typeFail(code string, err error, what pathOf) {
	if errors.Is(err, doctype.ErrTooLarge) {
		code = CodeTooLarge
	}
	d.failCause(code, err, "%s: %v", what, err)
}

// sel decodes a selection with the document's type: nil (hidden), or what
// the type takes (text: an array of [anchor, head] ranges, an empty array
// being hidden too).
func (d *decoder) sel(what pathOf, v []byte) doctype.Selection {
	if isNil(v) {
		return nil
	}
	if d.client {
		if k, _, n, err := header(v, 0); err == nil && k == kindArray && n > uint64(d.lim.MaxRanges) {
			d.fail(CodeTooLarge, "%s: %d ranges, over the limit of %d", what, n, d.lim.MaxRanges)
			return nil
		}
	}
	t := d.docType()
	if t == nil {
		d.rawSel = keep(v)
		return nil
	}
	sel, err := t.DecodeSelection(v)
	if err != nil {
		d.typeFail(CodeBadRequest, err, what)
		return nil
	}
	return sel
}

// keep copies a value out of the frame.
func keep(v []byte) msgpack.RawMessage { return append(msgpack.RawMessage(nil), v...) }

// checkFrame checks a whole frame structurally before anything is decoded
// (see the package doc): every claimed length fits, the nesting is bounded,
// nothing trails.
func checkFrame(frame []byte) *Error {
	end, err := skip(frame, 0, 1)
	if err != nil {
		return &Error{Code: CodeBadRequest, Msg: "frame: malformed MessagePack: " + err.Error()}
	}
	if end != len(frame) {
		return &Error{Code: CodeBadRequest, Msg: fmt.Sprintf("frame: %v (%d)", errTrailing, len(frame)-end)}
	}
	return nil
}

// tableText is readText through a ServerDecoder's table of texts (none when
// texts is nil): a text seen before comes back as the same string, without
// an allocation.
func tableText(texts map[string]string, v []byte) (string, bool) {
	b, ok := readStr(v)
	if !ok {
		return "", false
	}
	if texts == nil || len(b) > maxTableText {
		return validText(b)
	}
	if s, ok := texts[string(b)]; ok { // looked up without allocating
		return s, true
	}
	s, ok := validText(b)
	if ok {
		if len(texts) >= maxTableTexts {
			clear(texts)
		}
		texts[s] = s
	}
	return s, ok
}

var errStop = errors.New("stop")

func kindName(k kind) string {
	switch k {
	case kindNil:
		return "nil"
	case kindBool:
		return "a boolean"
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a float"
	case kindStr:
		return "a string"
	case kindBin:
		return "binary"
	case kindArray:
		return "an array"
	case kindMap:
		return "a map"
	case kindExt:
		return "an extension"
	}
	return "nothing valid"
}
