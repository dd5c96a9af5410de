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
	// document's type: rawOp and rawSel then keep the values (see Op.RawOp).
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
	d.rows(s, &vals, v, m, name)
}

// rows decodes the values of map v's rows into m.
func (d *decoder) rows(s *schema, vals *rowValues, v []byte, m any, name string) {
	for i := range s.fields {
		if d.err != nil {
			return
		}
		f := &s.fields[i]
		val := vals[i]
		switch f.val {
		case valContent:
			val = d.content(v)
		case valDocType:
			if val == nil {
				*f.at(m).(*string) = text.Name // a server before types
				d.setType(text.Type{})
				continue
			}
		}
		if val == nil || f.nilAbsent && isNil(val) {
			if f.required {
				d.fail(CodeBadRequest, "missing key %q", pathOf{name, f.key}.String())
			}
			continue
		}
		d.value(f, val, f.at(m), name)
		if name == "" && f.key == "doc" && !d.client {
			d.doc = *f.at(m).(*string)
		}
	}
}

// value decodes val, the value of row f of the map called name, into p.
// The key's path is built only for an error: a nested map's name is its
// row's inner name, so that the walk allocates no string per key.
func (d *decoder) value(f *field, val []byte, p any, name string) {
	what := pathOf{name, f.key}
	switch f.val {
	case valString:
		if f.maxBytes > 0 && len(val) > f.maxBytes+5 { // checked before the string is copied
			d.fail(CodeTooLarge, "%s: %d bytes encoded, over the limit of %d", what, len(val), f.maxBytes)
			return
		}
		s := d.str(what, val)
		if f.maxBytes > 0 && len(s) > f.maxBytes {
			d.fail(CodeTooLarge, "%s: %d bytes, over the limit of %d", what, len(s), f.maxBytes)
			return
		}
		*p.(*string) = s
	case valInt:
		n := d.int(what, val)
		if q, ok := p.(*int); ok {
			if n > math.MaxInt32 || n < math.MinInt32 {
				d.fail(CodeBadRequest, "%s: %d is out of range", what, n)
				return
			}
			*q = int(n)
			return
		}
		*p.(*int64) = n
	case valOptInt:
		n := d.int(what, val)
		*p.(**int64) = &n
	case valOp:
		*p.(*doctype.Op) = d.op(what, val)
	case valSel:
		*p.(*doctype.Selection) = d.sel(what, val)
	case valData:
		if k := kindOf(val); k != kindMap && k != kindNil {
			d.fail(CodeBadRequest, "%s: want a map or nil, got %s", what, kindName(k))
			return
		}
		if d.client && len(val) > d.lim.MaxDataBytes {
			d.fail(CodeTooLarge, "%s: %d bytes encoded, over the limit of %d", what, len(val), d.lim.MaxDataBytes)
			return
		}
		*p.(*msgpack.RawMessage) = keep(val)
	case valUser:
		d.fields(userSchema, val, p.(*User), f.inner)
	case valUserInfo:
		u := &UserInfo{}
		d.fields(userInfoSchema, val, u, f.inner)
		*p.(**UserInfo) = u
	case valPeers:
		*p.(*[]PeerInfo) = decodeMaps[PeerInfo](d, peerSchema, what, f.inner, val)
	case valOpEntries:
		*p.(*[]OpEntry) = decodeMaps[OpEntry](d, opEntrySchema, what, f.inner, val)
	case valStrings:
		var ss []string
		d.list(what, val, func(e []byte) { ss = append(ss, d.str(pathOf{f.inner, ""}, e)) })
		*p.(*[]string) = ss
	case valModes:
		modes := map[string]string{}
		ok, _ := pairs(val, func(k, v []byte) error {
			if d.err == nil {
				key := d.str(pathOf{f.key, "(key)"}, k)
				modes[key] = d.str(pathOf{f.key, key}, v)
			}
			return nil
		})
		if !ok {
			d.fail(CodeBadRequest, "%s: want a map, got %s", what, kindName(kindOf(val)))
		}
		*p.(*map[string]string) = modes
	case valDocType:
		s := d.str(what, val)
		if d.err != nil {
			return
		}
		typ, err := doctype.Lookup(s)
		if err != nil {
			d.fail(CodeBadRequest, "%s: %v", what, err)
			return
		}
		*p.(*string) = s
		d.setType(typ)
	case valContent:
		if isNil(val) {
			return
		}
		c, err := d.typ.DecodeContent(val)
		if err != nil {
			d.failCause(CodeBadRequest, err, "%s: %v", d.typ.ContentKey(), err)
			return
		}
		*p.(*doctype.Content) = c
	default:
		panic(fmt.Sprintf("wire: decode: value kind %d", f.val))
	}
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
