package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/internal/mpack"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/ot"
)

const testSID = "tab_0123456789abcdef"

// frame encodes m with the reference encoder; map order does not matter to
// DecodeClient.
func frame(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %v: %v", m, err)
	}
	return b
}

// with returns a copy of base with key set to v; a nil v deletes the key, and
// the special value nilValue sets it to MessagePack nil.
func with(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1]; v {
		case nil:
			delete(m, k)
		case nilValue:
			m[k] = nil
		default:
			m[k] = v
		}
	}
	return m
}

type nilMarker struct{}

var nilValue = nilMarker{}

var (
	baseHello    = map[string]any{"t": "hello", "proto": 1, "sid": testSID, "user": map[string]any{"name": "Ada", "color": "#e91e63"}}
	baseJoin     = map[string]any{"t": "join", "doc": "notes-1", "v": 7}
	baseLeave    = map[string]any{"t": "leave", "doc": "notes-1"}
	baseOp       = map[string]any{"t": "op", "doc": "notes-1", "v": 7, "seq": 3, "op": []any{5, "hé😀", -2}, "sel": [][]int{{8, 8}}}
	baseAuth     = map[string]any{"t": "auth", "token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}
	basePresence = map[string]any{"t": "presence", "doc": "notes-1", "v": 7, "sel": [][]int{{1, 4}, {9, 9}}, "data": map[string]any{"status": "typing"}}
)

func i64(n int64) *int64 { return &n }

func TestDecodeClientValid(t *testing.T) {
	data := frame(t, map[string]any{"status": "typing"})
	tests := []struct {
		name string
		in   map[string]any
		want Message
	}{
		{"hello", baseHello, &Hello{Proto: 1, SID: testSID, User: &UserInfo{Name: "Ada", Color: "#e91e63"}}},
		{"hello without user", with(baseHello, "user", nil), &Hello{Proto: 1, SID: testSID}},
		{"hello nil user", with(baseHello, "user", nilValue), &Hello{Proto: 1, SID: testSID}},
		{"hello unknown keys ignored", with(baseHello, "x", []any{1, 2}, "user", map[string]any{"name": "A", "extra": 1}), &Hello{Proto: 1, SID: testSID, User: &UserInfo{Name: "A"}}},
		{"hello 64-char sid", with(baseHello, "sid", strings.Repeat("a", 64), "user", nil), &Hello{Proto: 1, SID: strings.Repeat("a", 64)}},
		{"join with v", baseJoin, &Join{Doc: "notes-1", V: i64(7)}},
		{"join v 0", with(baseJoin, "v", 0), &Join{Doc: "notes-1", V: i64(0)}},
		{"join without v", with(baseJoin, "v", nil), &Join{Doc: "notes-1"}},
		{"join nil v", with(baseJoin, "v", nilValue), &Join{Doc: "notes-1"}},
		{"join 128-char doc", with(baseJoin, "doc", strings.Repeat("Z", 128), "v", nil), &Join{Doc: strings.Repeat("Z", 128)}},
		{"leave", baseLeave, &Leave{Doc: "notes-1"}},
		{"op", baseOp, &Op{Doc: "notes-1", V: 7, Seq: 3, Op: ot.Op{{Retain: 5}, {Insert: "hé😀"}, {Delete: 2}}, Sel: ot.Selection{{Anchor: 8, Head: 8}}}},
		{"op without sel", with(baseOp, "sel", nil), &Op{Doc: "notes-1", V: 7, Seq: 3, Op: ot.Op{{Retain: 5}, {Insert: "hé😀"}, {Delete: 2}}}},
		{"op kept as sent (the server checks the trailing retain)", with(baseOp, "op", []any{2, 3, "a", "b", 4}, "sel", nil), &Op{Doc: "notes-1", V: 7, Seq: 3, Op: ot.Op{{Retain: 2}, {Retain: 3}, {Insert: "a"}, {Insert: "b"}, {Retain: 4}}}},
		{"op with a float count kept as sent", with(baseOp, "op", []any{2.0, "a", 99}, "sel", nil), &Op{Doc: "notes-1", V: 7, Seq: 3, Op: ot.Op{{Retain: 2}, {Insert: "a"}, {Retain: 99}}}},
		{"op big seq and v", with(baseOp, "v", int64(1)<<40, "seq", uint64(1)<<62, "sel", nil), &Op{Doc: "notes-1", V: 1 << 40, Seq: 1 << 62, Op: ot.Op{{Retain: 5}, {Insert: "hé😀"}, {Delete: 2}}}},
		{"op float sel position", with(baseOp, "sel", []any{[]any{2.0, float32(3)}}), &Op{Doc: "notes-1", V: 7, Seq: 3, Op: ot.Op{{Retain: 5}, {Insert: "hé😀"}, {Delete: 2}}, Sel: ot.Selection{{Anchor: 2, Head: 3}}}},
		{"presence", basePresence, &Presence{Doc: "notes-1", V: 7, Sel: ot.Selection{{Anchor: 1, Head: 4}, {Anchor: 9, Head: 9}}, Data: data}},
		{"presence hidden caret", with(basePresence, "sel", nilValue, "data", nil), &Presence{Doc: "notes-1", V: 7}},
		{"presence empty sel is hidden", with(basePresence, "sel", []any{}, "data", nil), &Presence{Doc: "notes-1", V: 7}},
		{"auth", baseAuth, &Auth{Token: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}},
		{"auth token at the limit", with(baseAuth, "token", strings.Repeat("t", MaxTokenBytes)), &Auth{Token: strings.Repeat("t", MaxTokenBytes)}},
		{"presence nil data clears", with(basePresence, "data", nilValue), &Presence{Doc: "notes-1", V: 7, Sel: ot.Selection{{Anchor: 1, Head: 4}, {Anchor: 9, Head: 9}}, Data: msgpack.RawMessage{0xc0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeClient(frame(t, tc.in), Limits{})
			if err != nil {
				t.Fatalf("DecodeClient: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// raw builds a frame byte by byte for cases a well-behaved encoder cannot
// produce.
func raw(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch x := p.(type) {
		case byte:
			b = append(b, x)
		case int:
			b = append(b, byte(x))
		case []byte:
			b = append(b, x...)
		case string:
			b = mpack.AppendString(b, x)
		}
	}
	return b
}

func nested(depth int) []byte {
	b := raw(0x82, "t", "presence", "data")
	for range depth {
		b = append(b, 0x81, 0xa1, 'k')
	}
	return append(b, 0xc0)
}

func TestDecodeClientErrors(t *testing.T) {
	small := Limits{MaxOpBytes: 16, MaxDataBytes: 8, MaxRanges: 2}
	tests := []struct {
		name    string
		in      []byte
		lim     Limits
		code    string
		msg     string // substring of Error.Msg
		doc     string
		seq     int64
		otCause bool
	}{
		// frame structure
		{name: "empty frame", in: nil, code: CodeBadRequest, msg: "want one MessagePack map"},
		{name: "text where map expected", in: raw("hello"), code: CodeBadRequest, msg: "got a string"},
		{name: "array of maps from a client", in: append([]byte{0x91}, frame(t, baseLeave)...), code: CodeBadRequest, msg: "got an array"},
		{name: "nil frame value", in: raw(0xc0), code: CodeBadRequest, msg: "got nil"},
		{name: "reserved byte", in: raw(0xc1), code: CodeBadRequest, msg: "nothing valid"},
		{name: "trailing bytes", in: append(frame(t, baseLeave), 0x00), code: CodeBadRequest, msg: "trailing bytes"},
		{name: "two maps", in: append(frame(t, baseLeave), frame(t, baseLeave)...), code: CodeBadRequest, msg: "trailing bytes"},
		{name: "truncated map", in: frame(t, baseOp)[:20], code: CodeBadRequest, msg: "malformed"},
		{name: "map32 claims 2^32-1 pairs", in: raw(0xdf, 0xff, 0xff, 0xff, 0xff, "t", "op"), code: CodeBadRequest, msg: "claims more"},
		{name: "huge claimed array", in: raw(0x81, "op", 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01), code: CodeBadRequest, msg: "claims more"},
		{name: "huge claimed array16", in: raw(0x81, "op", 0xdc, 0xff, 0xff, 0x01, 0x02), code: CodeBadRequest, msg: "claims more"},
		{name: "huge claimed str32", in: raw(0x81, "t", 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'), code: CodeBadRequest, msg: "claims more"},
		{name: "huge claimed bin32", in: raw(0x81, "t", 0xc6, 0x7f, 0xff, 0xff, 0xff, 'x'), code: CodeBadRequest, msg: "claims more"},
		{name: "huge claimed ext32", in: raw(0x81, "t", 0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01, 'x'), code: CodeBadRequest, msg: "claims more"},
		{name: "truncated int", in: raw(0x81, "v", 0xcf, 0x01), code: CodeBadRequest, msg: "truncated"},
		{name: "deep nesting", in: nested(40), code: CodeBadRequest, msg: "deeper than"},
		{name: "nesting at the limit is fine structurally", in: nested(MaxDepth - 2), code: CodeBadRequest, msg: "missing key \"doc\""},
		{name: "duplicate key", in: raw(0x83, "t", "leave", "doc", "a", "doc", "b"), code: CodeBadRequest, msg: "duplicate"},
		// discriminator
		{name: "missing t", in: frame(t, with(baseLeave, "t", nil)), code: CodeBadRequest, msg: `missing key "t"`, doc: "notes-1"},
		{name: "t wrong type", in: frame(t, with(baseLeave, "t", 1)), code: CodeBadRequest, msg: "t: want a string", doc: "notes-1"},
		{name: "unknown t", in: frame(t, with(baseLeave, "t", "subscribe")), code: CodeBadRequest, msg: "unknown message type", doc: "notes-1"},
		{name: "non-string key ignored", in: raw(0x83, "t", "leave", 0x01, 0x02, "doc", "d"), code: "", doc: "d"},
		// hello
		{name: "hello missing proto", in: frame(t, with(baseHello, "proto", nil)), code: CodeBadRequest, msg: `missing key "proto"`},
		{name: "hello proto wrong type", in: frame(t, with(baseHello, "proto", "1")), code: CodeBadRequest, msg: "proto: want an integer"},
		{name: "hello proto 0", in: frame(t, with(baseHello, "proto", 0)), code: CodeBadRequest, msg: "proto: must be >= 1"},
		{name: "hello proto float", in: frame(t, with(baseHello, "proto", 1.0)), code: CodeBadRequest, msg: "got a float"},
		{name: "hello missing sid", in: frame(t, with(baseHello, "sid", nil)), code: CodeBadRequest, msg: `missing key "sid"`},
		{name: "hello sid wrong type", in: frame(t, with(baseHello, "sid", []byte(testSID))), code: CodeBadRequest, msg: "got binary"},
		{name: "hello sid too short", in: frame(t, with(baseHello, "sid", "abc")), code: CodeBadRequest, msg: "sid: must be 16-64"},
		{name: "hello sid too long", in: frame(t, with(baseHello, "sid", strings.Repeat("a", 65))), code: CodeBadRequest, msg: "sid: must be 16-64"},
		{name: "hello sid bad charset", in: frame(t, with(baseHello, "sid", "tab.0123456789abcdef")), code: CodeBadRequest, msg: "sid: must be 16-64"},
		{name: "hello sid invalid utf8", in: frame(t, with(baseHello, "sid", "\xff0123456789abcdef")), code: CodeBadRequest, msg: "want a UTF-8 string"},
		{name: "hello user wrong type", in: frame(t, with(baseHello, "user", "Ada")), code: CodeBadRequest, msg: "user: want a map"},
		{name: "hello user name wrong type", in: frame(t, with(baseHello, "user", map[string]any{"name": 5})), code: CodeBadRequest, msg: "user.name: want a UTF-8 string"},
		{name: "hello user color wrong type", in: frame(t, with(baseHello, "user", map[string]any{"color": true})), code: CodeBadRequest, msg: "user.color"},
		{name: "hello user name too long", in: frame(t, with(baseHello, "user", map[string]any{"name": strings.Repeat("n", 257)})), code: CodeBadRequest, msg: "user.name: must be at most 256 characters long"},
		// join
		{name: "join missing doc", in: frame(t, with(baseJoin, "doc", nil)), code: CodeBadRequest, msg: `missing key "doc"`},
		{name: "join doc wrong type", in: frame(t, with(baseJoin, "doc", 12)), code: CodeBadRequest, msg: "doc: want a UTF-8 string"},
		{name: "join doc empty", in: frame(t, with(baseJoin, "doc", "")), code: CodeBadRequest, msg: "doc: must match"},
		{name: "join doc too long", in: frame(t, with(baseJoin, "doc", strings.Repeat("d", 129))), code: CodeBadRequest, msg: "doc: must match"},
		{name: "join doc bad charset", in: frame(t, with(baseJoin, "doc", "a/b")), code: CodeBadRequest, msg: "doc: must match"},
		{name: "join v wrong type", in: frame(t, with(baseJoin, "v", "7")), code: CodeBadRequest, msg: "v: want an integer", doc: "notes-1"},
		{name: "join v negative", in: frame(t, with(baseJoin, "v", -1)), code: CodeBadRequest, msg: "v: must be >= 0", doc: "notes-1"},
		{name: "join v over int64", in: raw(0x83, "t", "join", "doc", "d", "v", 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), code: CodeBadRequest, msg: "v: want an integer", doc: "d"},
		// auth
		{name: "auth missing token", in: frame(t, with(baseAuth, "token", nil)), code: CodeBadRequest, msg: `missing key "token"`},
		{name: "auth token wrong type", in: frame(t, with(baseAuth, "token", 42)), code: CodeBadRequest, msg: "token: want a UTF-8 string"},
		{name: "auth token nil", in: frame(t, with(baseAuth, "token", nilValue)), code: CodeBadRequest, msg: "token: want a UTF-8 string, got nil"},
		{name: "auth token empty", in: frame(t, with(baseAuth, "token", "")), code: CodeBadRequest, msg: "token"},
		{name: "auth token over the limit", in: frame(t, with(baseAuth, "token", strings.Repeat("t", MaxTokenBytes+1))), code: CodeTooLarge, msg: "token"},
		{name: "auth token claims 2^32-1 bytes", in: raw(0x82, "t", "auth", "token", 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'), code: CodeBadRequest, msg: "claims more"},
		// leave
		{name: "leave missing doc", in: frame(t, with(baseLeave, "doc", nil)), code: CodeBadRequest, msg: `missing key "doc"`},
		{name: "leave doc nil", in: frame(t, with(baseLeave, "doc", nilValue)), code: CodeBadRequest, msg: "doc: want a UTF-8 string, got nil"},
		// op
		{name: "op missing doc", in: frame(t, with(baseOp, "doc", nil)), code: CodeBadRequest, msg: `missing key "doc"`, seq: 3},
		{name: "op missing v", in: frame(t, with(baseOp, "v", nil)), code: CodeBadRequest, msg: `missing key "v"`, doc: "notes-1", seq: 3},
		{name: "op v wrong type", in: frame(t, with(baseOp, "v", []any{})), code: CodeBadRequest, msg: "v: want an integer", doc: "notes-1", seq: 3},
		{name: "op v negative", in: frame(t, with(baseOp, "v", -4)), code: CodeBadRequest, msg: "v: must be >= 0", doc: "notes-1", seq: 3},
		{name: "op missing seq", in: frame(t, with(baseOp, "seq", nil)), code: CodeBadRequest, msg: `missing key "seq"`, doc: "notes-1"},
		{name: "op seq wrong type", in: frame(t, with(baseOp, "seq", "3")), code: CodeBadRequest, msg: "seq: want an integer", doc: "notes-1"},
		{name: "op seq 0", in: frame(t, with(baseOp, "seq", 0)), code: CodeBadRequest, msg: "seq: must be > 0", doc: "notes-1"},
		{name: "op seq negative", in: frame(t, with(baseOp, "seq", -2)), code: CodeBadRequest, msg: "seq: must be > 0", doc: "notes-1"},
		{name: "op missing op", in: frame(t, with(baseOp, "op", nil)), code: CodeBadRequest, msg: `missing key "op"`, doc: "notes-1", seq: 3},
		{name: "op op wrong type", in: frame(t, with(baseOp, "op", "abc")), code: CodeBadRequest, msg: "op: want an array", doc: "notes-1", seq: 3},
		{name: "op op nil", in: frame(t, with(baseOp, "op", nilValue)), code: CodeBadRequest, msg: "op: want an array, got nil", doc: "notes-1", seq: 3},
		{name: "op zero retain", in: frame(t, with(baseOp, "op", []any{0, "a"})), code: CodeInvalidOp, doc: "notes-1", seq: 3, otCause: true},
		{name: "op empty insert", in: frame(t, with(baseOp, "op", []any{1, ""})), code: CodeInvalidOp, doc: "notes-1", seq: 3, otCause: true},
		{name: "op bool component", in: frame(t, with(baseOp, "op", []any{1, true})), code: CodeInvalidOp, doc: "notes-1", seq: 3, otCause: true},
		{name: "op invalid utf8 insert", in: frame(t, with(baseOp, "op", []any{"\xed\xa0\x80"})), code: CodeInvalidOp, doc: "notes-1", seq: 3, otCause: true},
		{name: "op over limit", in: frame(t, with(baseOp, "op", []any{1, strings.Repeat("x", 20)})), lim: small, code: CodeTooLarge, msg: "over the limit of 16", doc: "notes-1", seq: 3},
		{name: "op sel wrong type", in: frame(t, with(baseOp, "sel", "caret")), code: CodeBadRequest, msg: "sel: want an array", doc: "notes-1", seq: 3},
		{name: "op sel range not a pair", in: frame(t, with(baseOp, "sel", []any{[]any{1}})), code: CodeBadRequest, msg: "sel[0]", doc: "notes-1", seq: 3},
		{name: "op sel range of three", in: frame(t, with(baseOp, "sel", []any{[]any{1, 2, 3}})), code: CodeBadRequest, msg: "sel[0]", doc: "notes-1", seq: 3},
		{name: "op sel range not an array", in: frame(t, with(baseOp, "sel", []any{5})), code: CodeBadRequest, msg: "sel[0]", doc: "notes-1", seq: 3},
		{name: "op sel negative", in: frame(t, with(baseOp, "sel", []any{[]any{1, 1}, []any{-1, 2}})), code: CodeBadRequest, msg: "sel[1]", doc: "notes-1", seq: 3},
		{name: "op sel fractional", in: frame(t, with(baseOp, "sel", []any{[]any{1.5, 2}})), code: CodeBadRequest, msg: "sel[0]", doc: "notes-1", seq: 3},
		{name: "op sel string position", in: frame(t, with(baseOp, "sel", []any{[]any{"1", 2}})), code: CodeBadRequest, msg: "sel[0]", doc: "notes-1", seq: 3},
		{name: "op sel too many ranges", in: frame(t, with(baseOp, "sel", [][]int{{1, 1}, {2, 2}, {3, 3}}, "op", []any{1, "a"})), lim: small, code: CodeTooLarge, msg: "3 ranges", doc: "notes-1", seq: 3},
		{name: "op bad doc not echoed", in: frame(t, with(baseOp, "doc", "no/slash")), code: CodeBadRequest, msg: "doc: must match", seq: 3},
		// presence
		{name: "presence missing v", in: frame(t, with(basePresence, "v", nil)), code: CodeBadRequest, msg: `missing key "v"`, doc: "notes-1"},
		{name: "presence v wrong type", in: frame(t, with(basePresence, "v", true)), code: CodeBadRequest, msg: "v: want an integer, got a boolean", doc: "notes-1"},
		{name: "presence missing sel", in: frame(t, with(basePresence, "sel", nil)), code: CodeBadRequest, msg: `missing key "sel"`, doc: "notes-1"},
		{name: "presence sel wrong type", in: frame(t, with(basePresence, "sel", map[string]any{})), code: CodeBadRequest, msg: "sel: want an array", doc: "notes-1"},
		{name: "presence data wrong type", in: frame(t, with(basePresence, "data", "viewport")), code: CodeBadRequest, msg: "data: want a map or nil", doc: "notes-1"},
		{name: "presence data array", in: frame(t, with(basePresence, "data", []any{1})), code: CodeBadRequest, msg: "data: want a map or nil", doc: "notes-1"},
		{name: "presence data over limit", in: frame(t, with(basePresence, "data", map[string]any{"k": "0123456789"})), lim: small, code: CodeTooLarge, msg: "data:", doc: "notes-1"},
		{name: "presence data over default 1 KiB", in: frame(t, with(basePresence, "data", map[string]any{"k": strings.Repeat("x", 1100)})), code: CodeTooLarge, msg: "limit of 1024", doc: "notes-1"},
		{name: "presence doc too long not echoed", in: frame(t, with(basePresence, "doc", strings.Repeat("d", 200))), code: CodeBadRequest, msg: "doc: must match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := DecodeClient(tc.in, tc.lim)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decoded %#v, want %s error", msg, tc.code)
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *Error", err, err)
			}
			if de.Code != tc.code || !strings.Contains(de.Msg, tc.msg) {
				t.Fatalf("got %s %q, want %s containing %q", de.Code, de.Msg, tc.code, tc.msg)
			}
			if de.Doc != tc.doc || de.Seq != tc.seq {
				t.Fatalf("echo doc=%q seq=%d, want doc=%q seq=%d", de.Doc, de.Seq, tc.doc, tc.seq)
			}
			var oe *ot.OpError
			if got := errors.As(err, &oe); got != tc.otCause {
				t.Fatalf("has *ot.OpError cause = %v, want %v (%v)", got, tc.otCause, err)
			}
			if msg != nil {
				t.Fatalf("message %#v returned with an error", msg)
			}
			// The error is the reply: it encodes as the error message.
			b, err := Encode(de)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := DecodeServer(b)
			if err != nil || len(ms) != 1 {
				t.Fatalf("the reply does not decode: %v", err)
			}
			if r := ms[0].(*Error); r.Code != de.Code || r.Msg != de.Msg || r.Doc != de.Doc || r.Seq != de.Seq {
				t.Fatalf("reply %+v does not match %+v", r, de)
			}
		})
	}
}

func TestDecodeClientDoesNotAliasFrame(t *testing.T) {
	in := frame(t, basePresence)
	msg, err := DecodeClient(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), msg.(*Presence).Data...)
	for i := range in {
		in[i] = 0
	}
	if got := msg.(*Presence).Data; !reflect.DeepEqual([]byte(got), before) {
		t.Fatalf("Data changed with the frame: %x", got)
	}
}

func TestValidIDs(t *testing.T) {
	tests := []struct {
		s        string
		sid, doc bool
	}{
		{"", false, false},
		{"a", false, true},
		{strings.Repeat("a", 15), false, true},
		{strings.Repeat("a", 16), true, true},
		{"AZaz09_-AZaz09_-", true, true},
		{strings.Repeat("a", 64), true, true},
		{strings.Repeat("a", 65), false, true},
		{strings.Repeat("a", 128), false, true},
		{strings.Repeat("a", 129), false, false},
		{"abcdefghijklmno é", false, false},
		{"abcdefghijklmnop ", false, false},
		{"abcdefghijklmnop.", false, false},
	}
	for _, tc := range tests {
		if got := ValidSID(tc.s); got != tc.sid {
			t.Errorf("ValidSID(%q) = %v", tc.s, got)
		}
		if got := ValidDocID(tc.s); got != tc.doc {
			t.Errorf("ValidDocID(%q) = %v", tc.s, got)
		}
	}
}

// TestDecodeClientDefersUnknownType: while the connection does not know the
// document's type (its joined is on the way), the op and selections are
// checked structurally and against the limits, and kept raw for the
// document to decode, not decoded as text.
func TestDecodeClientDefersUnknownType(t *testing.T) {
	unknown := Limits{TypeOf: func(string) doctype.Type { return nil }}
	treeOp := []any{[]any{"set", "box", "x", 5}} // not a text op
	m, err := DecodeClient(frame(t, with(baseOp, "op", treeOp, "sel", []any{"box"})), unknown)
	if err != nil {
		t.Fatal(err)
	}
	op := m.(*Op)
	if op.Op != nil || op.Sel != nil || op.Raw == nil || len(op.Raw.Op) == 0 || len(op.Raw.Sel) == 0 {
		t.Fatalf("got %#v, want the op and selection raw", op)
	}
	p, err := DecodeClient(frame(t, with(basePresence, "sel", []any{"box"})), unknown)
	if err != nil || p.(*Presence).Sel != nil || p.(*Presence).Raw == nil || len(p.(*Presence).Raw.Sel) == 0 {
		t.Fatalf("presence %#v, %v: want the selection raw", p, err)
	}
	// The bounds still hold.
	small := Limits{MaxOpBytes: 8, MaxRanges: 1, TypeOf: unknown.TypeOf}
	for _, tc := range []struct {
		name string
		in   map[string]any
		code string
	}{
		{"op not an array", with(baseOp, "op", "x"), CodeBadRequest},
		{"op over the limit", with(baseOp, "op", []any{"0123456789"}), CodeTooLarge},
		{"sel over the limit", with(baseOp, "op", []any{1}, "sel", []any{"a", "b"}), CodeTooLarge},
	} {
		_, err := DecodeClient(frame(t, tc.in), small)
		var e *Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}
