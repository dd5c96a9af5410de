package wire

import (
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/internal/mpack"
)

// The protocol's messages are described once, here: a schema per message
// (and per nested map) lists its keys in the order they are written, each
// with how its value is encoded, whether decoders require it, when encoders
// leave it out and, for client messages, the validator rule that bounds it.
// Append walks a schema to encode, the client and server decoders walk the
// same schema to decode, and the validator's rules are registered from it
// (validate.go), so a key is added, renamed or bounded in one row. The
// struct tags "msgpack" of the message types are kept for generic
// MessagePack tools; TestSchemaMatchesStructTags pins them to the rows.
//
// The codecs are generated from these rows (gen_test.go writes
// schema_gen.go; `go generate ./wire/`, and a test fails while it is
// stale): a walk of the table at run time cost an accessor call and a type
// switch per key, 20-45% over the hand-written codecs it replaced
// (docs/benchmarks.md), while generated code writes each field directly.
// The bounded reading (skip, pairs, the decoder's str/int/op/sel helpers)
// stays hand-written and shared, so a fix to it is still made once.

// valKind is how a field's value is written and read; it also says what Go
// type the row's accessor points to.
type valKind uint8

const (
	// valString is a UTF-8 str (*string).
	valString valKind = iota + 1
	// valInt is an integer (*int64, or *int for Hello and Welcome's proto,
	// which must fit an int32).
	valInt
	// valOptInt is an optional integer (**int64); absent or nil is nil.
	valOptInt
	// valOp is the document type's op (*doctype.Op): an array, decoded by
	// the document's type; a nil op encodes as an empty array.
	valOp
	// valSel is the document type's selection (*doctype.Selection); nil is
	// MessagePack nil (hidden).
	valSel
	// valData is a raw map or nil (*msgpack.RawMessage), copied; a nil
	// RawMessage encodes as MessagePack nil.
	valData
	// valUser is a User map (*User).
	valUser
	// valUserInfo is an optional UserInfo map (**UserInfo).
	valUserInfo
	// valPeers is an array of PeerInfo maps (*[]PeerInfo).
	valPeers
	// valOpEntries is an array of OpEntry maps (*[]OpEntry).
	valOpEntries
	// valStrings is an array of UTF-8 strs (*[]string).
	valStrings
	// valModes is a map of str to str (*map[string]string), written sorted
	// by key so that one message always encodes to the same bytes.
	valModes
	// valDocType is the document's type name (*string): "" encodes as
	// "text", and an absent key decodes as "text" (servers before types
	// existed). Rows after it decode ops and selections by this type.
	valDocType
	// valContent is the document's content (*doctype.Content), under its
	// type's ContentKey rather than a fixed key.
	valContent
)

// field is one key of a message map.
type field struct {
	// key is the map key; "" for valContent (its type's ContentKey).
	key string
	// val is how the value is encoded.
	val valKind
	// required makes decoders refuse a map without the key.
	required bool
	// nilAbsent makes decoders take a MessagePack nil as the key's absence.
	nilAbsent bool
	// omitEmpty makes the encoder leave the key out when the value is empty
	// ("", 0, nil, no elements).
	omitEmpty bool
	// omitIfSet, when set, is the Go field of the same message whose
	// non-nil value makes the encoder leave this key out (a joined's ops
	// when it has the content). A field's name rather than a function of
	// the message, so that the generated encoders never hand the message
	// to a function value: that made every message given to Encode escape
	// to the heap.
	omitIfSet string
	// goName is the Go field the row reads and writes, which rule applies
	// to; the generated codecs name it.
	goName string
	// rule is the validator rule on the Go field (client messages: what the
	// decoder and EncodeClient check after the types are right).
	rule string
	// maxBytes, when positive, bounds a str's bytes; past it is too_large,
	// checked before the string is copied.
	maxBytes int
	// keyEnc is the key encoded as a MessagePack str (set by newSchema).
	keyEnc []byte
	// keyNum is the key's number (keyOf); -1 for valContent.
	keyNum int
	// inner is the name of a nested map or list element in errors: the key,
	// with "[]" for a list's elements (set by newSchema).
	inner string
}

// schema is the description of one message or nested map.
type schema struct {
	// t is the message's "t" value; "" for a nested map.
	t string
	// zero is a nil pointer of the Go type, for registering the rules.
	zero any
	// alloc returns a new zero message, for the decoders; nil for a nested
	// map.
	alloc func() any
	// tEnc is "t" and its value, encoded (set by newSchema).
	tEnc []byte
	// rowOf is the row of each key number (keyOf), -1 for a key the
	// schema does not have (set by newSchema).
	rowOf [numKeys]int8
	// fields are the keys, in the order they are written; a row that needs
	// the document's type (valOp, valSel, valPeers, valContent) comes after
	// the row that names it ("doc" or valDocType).
	fields []field
}

func newSchema(t string, zero any, alloc func() any, fields ...field) *schema {
	s := &schema{t: t, zero: zero, alloc: alloc, fields: fields}
	if t != "" {
		s.tEnc = mpack.AppendString(mpack.AppendString(nil, "t"), t)
	}
	for i := range s.rowOf {
		s.rowOf[i] = -1
	}
	for i := range fields {
		f := &fields[i]
		f.keyEnc = mpack.AppendString(nil, f.key)
		f.keyNum = -1
		if f.key != "" {
			if f.keyNum = keyOf([]byte(f.key)); f.keyNum < 0 {
				panic(fmt.Sprintf("wire: key %q has no number: run `go generate ./wire/`", f.key))
			}
			s.rowOf[f.keyNum] = int8(i)
		}
		f.inner = f.key
		switch f.val {
		case valPeers, valOpEntries, valStrings:
			f.inner = f.key + "[]"
		}
	}
	return s
}

// row returns the index of key's row, -1 when the schema has none.
func (s *schema) row(key []byte) int {
	if k := keyOf(key); k >= 0 {
		return int(s.rowOf[k])
	}
	return -1
}

// dynamic reports whether the schema has a row whose key is its type's
// content key.
func (s *schema) dynamic() bool {
	for i := range s.fields {
		if s.fields[i].val == valContent {
			return true
		}
	}
	return false
}

// maxFields bounds a schema's rows: the decoders keep the values on the
// stack, and with "t" a map has at most 15 entries, a fixmap (the generated encoders write its header byte first and fill in the count at the end).
const maxFields = 8

// ---- the schemas ----

var (
	userInfoSchema = newSchema("", (*UserInfo)(nil), nil,
		field{key: "name", val: valString, goName: "Name", rule: "max=256"},
		field{key: "color", val: valString, goName: "Color", rule: "max=64"},
	)
	userSchema = newSchema("", (*User)(nil), nil,
		field{key: "id", val: valString, goName: "ID"},
		field{key: "name", val: valString, goName: "Name"},
		field{key: "color", val: valString, goName: "Color"},
	)
	peerSchema = newSchema("", (*PeerInfo)(nil), nil,
		field{key: "sid", val: valString, goName: "SID"},
		field{key: "user", val: valUser, goName: "User"},
		field{key: "sel", val: valSel, goName: "Sel"},
		field{key: "data", val: valData, nilAbsent: true, goName: "Data"},
	)
	opEntrySchema = newSchema("", (*OpEntry)(nil), nil,
		field{key: "v", val: valInt, goName: "V"},
		field{key: "op", val: valOp, goName: "Op"},
		field{key: "sid", val: valString, goName: "SID"},
		field{key: "seq", val: valInt, goName: "Seq"},
	)
)

// Client messages.
var (
	helloSchema = newSchema(TypeHello, (*Hello)(nil), func() any { return &Hello{} },
		field{key: "proto", val: valInt, required: true, goName: "Proto", rule: "min=1"},
		field{key: "sid", val: valString, required: true, goName: "SID", rule: "sid"},
		field{key: "user", val: valUserInfo, nilAbsent: true, omitEmpty: true, goName: "User", rule: "omitempty"},
	)
	joinSchema = newSchema(TypeJoin, (*Join)(nil), func() any { return &Join{} },
		field{key: "doc", val: valString, required: true, goName: "Doc", rule: "docid"},
		field{key: "v", val: valOptInt, nilAbsent: true, omitEmpty: true, goName: "V", rule: "omitempty,min=0"},
	)
	leaveSchema = newSchema(TypeLeave, (*Leave)(nil), func() any { return &Leave{} },
		field{key: "doc", val: valString, required: true, goName: "Doc", rule: "docid"},
	)
	opSchema = newSchema(TypeOp, (*Op)(nil), func() any { return &Op{} },
		field{key: "doc", val: valString, required: true, goName: "Doc", rule: "docid"},
		field{key: "v", val: valInt, required: true, goName: "V", rule: "min=0"},
		field{key: "seq", val: valInt, required: true, goName: "Seq", rule: "gt=0"},
		field{key: "op", val: valOp, required: true, goName: "Op"},
		field{key: "sel", val: valSel, omitEmpty: true, goName: "Sel"},
	)
	presenceSchema = newSchema(TypePresence, (*Presence)(nil), func() any { return &Presence{} },
		field{key: "doc", val: valString, required: true, goName: "Doc", rule: "docid"},
		field{key: "v", val: valInt, required: true, goName: "V", rule: "min=0"},
		field{key: "sel", val: valSel, required: true, goName: "Sel"},
		field{key: "data", val: valData, omitEmpty: true, goName: "Data"},
	)
	authSchema = newSchema(TypeAuth, (*Auth)(nil), func() any { return &Auth{} },
		field{key: "token", val: valString, required: true, goName: "Token", rule: "required", maxBytes: MaxTokenBytes},
	)
)

// Server messages.
var (
	welcomeSchema = newSchema(TypeWelcome, (*Welcome)(nil), func() any { return &Welcome{} },
		field{key: "proto", val: valInt, required: true, goName: "Proto"},
		field{key: "sid", val: valString, required: true, goName: "SID"},
		field{key: "user", val: valUser, required: true, goName: "User"},
	)
	joinedSchema = newSchema(TypeJoined, (*Joined)(nil), func() any { return &Joined{} },
		field{key: "doc", val: valString, required: true, goName: "Doc"},
		field{key: "v", val: valInt, required: true, goName: "V"},
		field{key: "type", val: valDocType, goName: "DocType"},
		field{key: "", val: valContent, omitEmpty: true, goName: "Content"},
		field{key: "ops", val: valOpEntries, goName: "Ops",
			omitIfSet: "Content"},
		field{key: "peers", val: valPeers, required: true, goName: "Peers"},
		field{key: "mode", val: valString, required: true, goName: "Mode"},
	)
	ackSchema = newSchema(TypeAck, (*Ack)(nil), func() any { return &Ack{} },
		field{key: "doc", val: valString, required: true, goName: "Doc"},
		field{key: "seq", val: valInt, required: true, goName: "Seq"},
		field{key: "v", val: valInt, required: true, goName: "V"},
	)
	opBroadcastSchema = newSchema(TypeOp, (*OpBroadcast)(nil), func() any { return &OpBroadcast{} },
		field{key: "doc", val: valString, required: true, goName: "Doc"},
		field{key: "v", val: valInt, required: true, goName: "V"},
		field{key: "op", val: valOp, required: true, goName: "Op"},
		field{key: "sid", val: valString, required: true, goName: "SID"},
		field{key: "seq", val: valInt, required: true, goName: "Seq"},
		field{key: "sel", val: valSel, omitEmpty: true, goName: "Sel"},
	)
	presenceMsgSchema = newSchema(TypePresence, (*PresenceMsg)(nil), func() any { return &PresenceMsg{} },
		field{key: "doc", val: valString, required: true, goName: "Doc"},
		field{key: "v", val: valInt, required: true, goName: "V"},
		field{key: "peers", val: valPeers, required: true, goName: "Peers"},
		field{key: "gone", val: valStrings, nilAbsent: true, omitEmpty: true, goName: "Gone"},
	)
	errorSchema = newSchema(TypeError, (*Error)(nil), func() any { return &Error{} },
		field{key: "code", val: valString, required: true, goName: "Code"},
		field{key: "msg", val: valString, goName: "Msg"},
		field{key: "doc", val: valString, nilAbsent: true, omitEmpty: true, goName: "Doc"},
		field{key: "seq", val: valInt, nilAbsent: true, omitEmpty: true, goName: "Seq"},
	)
	authedSchema = newSchema(TypeAuthed, (*Authed)(nil), func() any { return &Authed{} },
		field{key: "exp", val: valInt, nilAbsent: true, omitEmpty: true, goName: "Exp"},
		field{key: "docs", val: valModes, required: true, goName: "Docs"},
	)
)

// clientSchemas and serverSchemas are the messages each decoder takes, by
// "t" (op and presence name a different message in each direction).
var (
	clientSchemas = schemasByType(helloSchema, joinSchema, leaveSchema, opSchema, presenceSchema, authSchema)
	serverSchemas = schemasByType(welcomeSchema, joinedSchema, ackSchema, opBroadcastSchema, presenceMsgSchema, errorSchema, authedSchema)
	// nestedSchemas are the maps inside messages.
	nestedSchemas = []*schema{userInfoSchema, userSchema, peerSchema, opEntrySchema}
)

func schemasByType(ss ...*schema) map[string]*schema {
	m := make(map[string]*schema, len(ss))
	for _, s := range ss {
		if len(s.fields) > maxFields {
			panic(fmt.Sprintf("wire: schema %q has %d rows, over %d", s.t, len(s.fields), maxFields))
		}
		m[s.t] = s
	}
	return m
}

// schemaOf is the schema of msg, nil for a type this package does not know.
func schemaOf(msg Message) *schema {
	switch msg.(type) {
	case *Hello:
		return helloSchema
	case *Join:
		return joinSchema
	case *Leave:
		return leaveSchema
	case *Op:
		return opSchema
	case *Presence:
		return presenceSchema
	case *Auth:
		return authSchema
	case *Welcome:
		return welcomeSchema
	case *Joined:
		return joinedSchema
	case *Ack:
		return ackSchema
	case *OpBroadcast:
		return opBroadcastSchema
	case *PresenceMsg:
		return presenceMsgSchema
	case *Error:
		return errorSchema
	case *Authed:
		return authedSchema
	}
	return nil
}

// isClient reports whether msg is a message clients send.
func isClient(msg Message) bool {
	s := schemaOf(msg)
	return s != nil && clientSchemas[s.t] == s
}

// allSchemas lists every schema, messages then nested maps.
func allSchemas() []*schema {
	out := make([]*schema, 0, len(clientSchemas)+len(serverSchemas)+len(nestedSchemas))
	for _, m := range []map[string]*schema{clientSchemas, serverSchemas} {
		for _, s := range m {
			out = append(out, s)
		}
	}
	return append(out, nestedSchemas...)
}

// goFieldType is the Go type a row of kind val points to, for the test that
// pins the accessors.
func goFieldType(val valKind) reflect.Type {
	switch val {
	case valString, valDocType:
		return reflect.TypeFor[string]()
	case valInt:
		return reflect.TypeFor[int64]()
	case valOptInt:
		return reflect.TypeFor[*int64]()
	case valOp:
		return reflect.TypeFor[doctype.Op]()
	case valSel:
		return reflect.TypeFor[doctype.Selection]()
	case valData:
		return reflect.TypeFor[msgpack.RawMessage]()
	case valUser:
		return reflect.TypeFor[User]()
	case valUserInfo:
		return reflect.TypeFor[*UserInfo]()
	case valPeers:
		return reflect.TypeFor[[]PeerInfo]()
	case valOpEntries:
		return reflect.TypeFor[[]OpEntry]()
	case valStrings:
		return reflect.TypeFor[[]string]()
	case valModes:
		return reflect.TypeFor[map[string]string]()
	case valContent:
		return reflect.TypeFor[doctype.Content]()
	}
	return nil
}

// A DecodeClient frame's keys that came twice are a bit mask of key numbers.
var _ [64 - numKeys]struct{}
