package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/doctype"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/mpack"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/ot"
)

func textContent(s string) doctype.Content { return textdoc.MustString(s) }

var (
	testOp   = ot.Op{{Retain: 3}, {Insert: "añ😀"}, {Delete: 200}, {Retain: 70000}, {Delete: 40000}}
	testData = msgpack.RawMessage(mustMarshal(map[string]any{"viewport": []int{0, 40}}))
	testPeer = PeerInfo{SID: testSID, User: User{ID: "u1", Name: "Ada", Color: "#fff"}, Sel: ot.Selection{{Anchor: 1, Head: 2}, {Anchor: 300, Head: 300}}, Data: testData}
)

func mustMarshal(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// serverMessages is one of every server message, covering optional keys both
// present and absent.
func serverMessages() []Message {
	return []Message{
		&Welcome{Proto: 1, SID: testSID, User: User{ID: "u1", Name: "Ada", Color: "#e91e63"}},
		&Joined{Doc: "d", V: 12, DocType: "text", Content: textContent("hello 😀"), Peers: []PeerInfo{testPeer, {SID: "other_sid_0000000", User: User{ID: "u2"}}}, Mode: ModeReadWrite},
		&Joined{Doc: "d", V: 0, DocType: "text", Content: textContent(""), Peers: []PeerInfo{}, Mode: ModeRead},
		&Joined{Doc: "d", V: 14, DocType: "text", Ops: []OpEntry{{V: 12, Op: testOp, SID: testSID, Seq: 9}, {V: 13, Op: ot.Op{{Insert: "x"}}, SID: testSID, Seq: 10}}, Peers: []PeerInfo{}, Mode: ModeRead},
		&Joined{Doc: "d", V: 14, DocType: "text", Ops: []OpEntry{}, Peers: []PeerInfo{}, Mode: ModeReadWrite},
		&Ack{Doc: "d", Seq: 1 << 40, V: 1<<32 + 5},
		&OpBroadcast{Doc: "d", V: 5, Op: testOp, SID: testSID, Seq: 2, Sel: ot.Selection{{Anchor: 4, Head: 4}}},
		&OpBroadcast{Doc: "d", V: 5, Op: ot.Op{{Delete: 1}}, SID: testSID, Seq: 2},
		&PresenceMsg{Doc: "d", V: 5, Peers: []PeerInfo{testPeer}, Gone: []string{"gone_sid_00000000", "gone_sid_00000001"}},
		&PresenceMsg{Doc: "d", V: 5, Peers: []PeerInfo{}},
		&Error{Code: CodeInvalidOp, Msg: "op: does not fit", Doc: "d", Seq: 4},
		&Error{Code: CodeUnauthorized, Msg: strings.Repeat("long message ", 30)},
		&Authed{Exp: 1_900_000_000, Docs: map[string]string{"d": ModeReadWrite, "v": ModeRead}},
		&Authed{Docs: map[string]string{}},
	}
}

func clientMessages() []Message {
	return []Message{
		&Hello{Proto: 1, SID: testSID, User: &UserInfo{Name: "Ada", Color: "#e91e63"}},
		&Hello{Proto: 1, SID: testSID},
		&Join{Doc: "d", V: i64(3)},
		&Join{Doc: "d"},
		&Leave{Doc: "d"},
		&Op{Doc: "d", V: 3, Seq: 1, Op: testOp, Sel: ot.Selection{{Anchor: 1, Head: 5}}},
		&Op{Doc: "d", V: 3, Seq: 1, Op: testOp},
		&Presence{Doc: "d", V: 3, Sel: ot.Selection{{Anchor: 1, Head: 5}, {Anchor: 7, Head: 7}}, Data: testData},
		&Presence{Doc: "d", V: 3},
		&Auth{Token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln"},
	}
}

func TestServerRoundTrip(t *testing.T) {
	for _, m := range serverMessages() {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode %#v: %v", m, err)
		}
		got, err := DecodeServer(b)
		if err != nil {
			t.Fatalf("DecodeServer(%T): %v", m, err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], m) {
			t.Fatalf("round trip of %T:\ngot  %#v\nwant %#v", m, got, m)
		}
	}
}

func TestClientRoundTrip(t *testing.T) {
	for _, m := range clientMessages() {
		b, err := EncodeClient(m)
		if err != nil {
			t.Fatalf("EncodeClient %#v: %v", m, err)
		}
		got, err := DecodeClient(b, Limits{})
		if err != nil {
			t.Fatalf("DecodeClient(%T): %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip of %T:\ngot  %#v\nwant %#v", m, got, m)
		}
	}
}

// TestEncodeMatchesReferenceDecoder checks the hand-written appenders against
// msgpack/v5 reading the same struct tags (and ot's own decoders).
func TestEncodeMatchesReferenceDecoder(t *testing.T) {
	for _, m := range append(serverMessages(), clientMessages()...) {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		var generic map[string]any
		if err := msgpack.Unmarshal(b, &generic); err != nil {
			t.Fatalf("%T: reference decoder: %v", m, err)
		}
		if generic["t"] != m.Type() {
			t.Fatalf("%T: t = %v, want %q", m, generic["t"], m.Type())
		}
		// msgpack/v5 encoding the same struct by its tags (the ops and
		// selections by their own encoders) must give the same map.
		ref, err := msgpack.Marshal(m)
		if err != nil {
			t.Fatalf("%T: reference encoder: %v", m, err)
		}
		var want map[string]any
		if err := msgpack.Unmarshal(ref, &want); err != nil {
			t.Fatalf("%T: reference decoder: %v", m, err)
		}
		want["t"] = m.Type()
		if j, ok := m.(*Joined); ok {
			// The content goes under its type's key, which tags cannot say.
			want["type"] = "text"
			if j.Content != nil {
				want["text"] = textdoc.String(j.Content)
				delete(want, "ops")
			} else if _, ok := want["ops"]; !ok {
				want["ops"] = []any{} // omitempty drops an empty list; the encoder sends it
			}
		}
		if !reflect.DeepEqual(normalizeNumbers(generic), normalizeNumbers(want)) {
			t.Fatalf("%T: hand-written encoding decodes to\n%#v\nreference %#v", m, generic, want)
		}
	}
}

func TestEncodeOptionalKeys(t *testing.T) {
	tests := []struct {
		msg     Message
		present []string
		absent  []string
	}{
		{&OpBroadcast{Doc: "d", Op: testOp, SID: testSID, Seq: 1}, []string{"t", "doc", "v", "op", "sid", "seq"}, []string{"sel"}},
		{&Joined{Doc: "d", Content: textContent("x"), Mode: "r"}, []string{"text", "peers", "mode"}, []string{"ops"}},
		{&Joined{Doc: "d", Mode: "r"}, []string{"ops", "peers"}, []string{"text"}},
		{&PresenceMsg{Doc: "d"}, []string{"peers"}, []string{"gone"}},
		{&Error{Code: CodeInternal, Msg: "x"}, []string{"code", "msg"}, []string{"doc", "seq"}},
		{&Op{Doc: "d", Seq: 1, Op: testOp}, []string{"op"}, []string{"sel"}},
		{&Presence{Doc: "d"}, []string{"sel"}, []string{"data"}},
		{&Hello{Proto: 1, SID: testSID}, []string{"proto", "sid"}, []string{"user"}},
		{&Join{Doc: "d"}, []string{"doc"}, []string{"v"}},
	}
	for _, tc := range tests {
		b, err := Encode(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := msgpack.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range tc.present {
			if _, ok := m[k]; !ok {
				t.Errorf("%T: key %q missing in %v", tc.msg, k, m)
			}
		}
		for _, k := range tc.absent {
			if _, ok := m[k]; ok {
				t.Errorf("%T: key %q present in %v", tc.msg, k, m)
			}
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := Encode(nil); err == nil {
		t.Fatal("Encode(nil) succeeded")
	}
	type alien struct{ Message }
	if _, err := Encode(alien{}); err == nil {
		t.Fatal("Encode of an unknown type succeeded")
	}
	if _, err := EncodeClient(&Ack{Doc: "d"}); err == nil {
		t.Fatal("EncodeClient of a server message succeeded")
	}
	if _, err := EncodeClient(&Op{Doc: "d", V: 1, Seq: 0, Op: testOp}); err == nil || !strings.Contains(err.Error(), "seq") {
		t.Fatalf("EncodeClient of seq 0: %v", err)
	}
	if _, err := EncodeClient(&Hello{Proto: 1, SID: "short"}); err == nil || !strings.Contains(err.Error(), "sid") {
		t.Fatalf("EncodeClient of a short sid: %v", err)
	}
}

func TestEncodeBatch(t *testing.T) {
	msgs := serverMessages()
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		var err error
		if frames[i], err = Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := DecodeServer(EncodeBatch(frames))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, msgs) {
		t.Fatalf("batch decoded to\n%#v\nwant %#v", got, msgs)
	}
	// More than 15 frames needs an array16 header.
	many := make([][]byte, 20)
	for i := range many {
		many[i] = frames[5]
	}
	got, err = DecodeServer(EncodeBatch(many))
	if err != nil || len(got) != 20 {
		t.Fatalf("batch of 20: %d messages, %v", len(got), err)
	}
	if one := EncodeBatch(frames[:1]); &one[0] != &frames[0][0] {
		t.Fatal("a batch of one frame was copied")
	}
	if EncodeBatch(nil) != nil {
		t.Fatal("empty batch is not nil")
	}
}

func TestEncodeIntForms(t *testing.T) {
	// Every integer width round-trips through both our reader and the reference.
	for _, n := range []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<63 - 1, -1, -32, -33, -128, -129, -32768, -32769, -1 << 31, -1<<31 - 1, -1 << 63} {
		b := mpack.AppendInt(nil, n)
		got, ok := readInt(b)
		if !ok || got != n {
			t.Errorf("readInt(mpack.AppendInt(%d)) = %d, %v", n, got, ok)
		}
		var ref int64
		if err := msgpack.Unmarshal(b, &ref); err != nil || ref != n {
			t.Errorf("reference read %d as %d, %v", n, ref, err)
		}
	}
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("x", n)
		b := mpack.AppendString(nil, s)
		var ref string
		if err := msgpack.Unmarshal(b, &ref); err != nil || ref != s {
			t.Errorf("reference read str of %d bytes: %v", n, err)
		}
		if got, ok := readStr(b); !ok || string(got) != s {
			t.Errorf("readStr of %d bytes failed", n)
		}
	}
	for _, n := range []int{0, 15, 16, 65535, 65536} {
		for _, b := range [][]byte{mpack.AppendArrayHeader(nil, n), mpack.AppendMapHeader(nil, n)} {
			k, _, got, err := header(b, 0)
			if err != nil || got != uint64(n) || (k != kindArray && k != kindMap) {
				t.Errorf("header of %d items: %v %d %v", n, k, got, err)
			}
		}
	}
}

func TestDecodeServerErrors(t *testing.T) {
	ack := mustMarshal(map[string]any{"t": "ack", "doc": "d", "seq": 1, "v": 2})
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"empty", nil, "want a map or an array"},
		{"string", raw("x"), "want a map or an array"},
		{"trailing", append(append([]byte{}, ack...), 0xc0), "trailing"},
		{"huge claimed array", raw(0xdd, 0xff, 0xff, 0xff, 0xff, 0x80), "claims more"},
		{"array element not a map", raw(0x92, ack, 0x01), "frame[1]: want a map"},
		{"missing t", mustMarshal(map[string]any{"doc": "d"}), `missing key "t"`},
		{"ack missing v", mustMarshal(map[string]any{"t": "ack", "doc": "d", "seq": 1}), `missing key "v"`},
		{"ack wrong type", mustMarshal(map[string]any{"t": "ack", "doc": "d", "seq": "1", "v": 2}), "seq: want an integer"},
		{"op invalid op", mustMarshal(map[string]any{"t": "op", "doc": "d", "v": 1, "op": []any{0}, "sid": "s", "seq": 1}), "op: ot:"},
		{"op op not array", mustMarshal(map[string]any{"t": "op", "doc": "d", "v": 1, "op": "x", "sid": "s", "seq": 1}), "op: want an array"},
		{"presence peers not array", mustMarshal(map[string]any{"t": "presence", "doc": "d", "v": 1, "peers": 3}), "peers: want an array"},
		{"presence peer not map", mustMarshal(map[string]any{"t": "presence", "doc": "d", "v": 1, "peers": []any{3}}), "peers[]: want a map"},
		{"presence bad sel", mustMarshal(map[string]any{"t": "presence", "doc": "d", "v": 1, "peers": []any{map[string]any{"sel": []any{[]any{-1, 0}}}}}), "peers[].sel"},
		{"presence gone not strings", mustMarshal(map[string]any{"t": "presence", "doc": "d", "v": 1, "peers": []any{}, "gone": []any{1}}), "gone[]"},
		{"joined user not map", mustMarshal(map[string]any{"t": "joined", "doc": "d", "v": 1, "peers": []any{map[string]any{"user": 1}}, "mode": "r"}), "user: want a map"},
		{"joined ops entry bad", mustMarshal(map[string]any{"t": "joined", "doc": "d", "v": 1, "ops": []any{map[string]any{"v": "x"}}, "peers": []any{}, "mode": "r"}), "ops[].v"},
		{"welcome missing user", mustMarshal(map[string]any{"t": "welcome", "proto": 1, "sid": "s"}), `missing key "user"`},
		{"error missing code", mustMarshal(map[string]any{"t": "error", "msg": "m"}), `missing key "code"`},
		// Keys of nested maps do not stand in for the message's own.
		{"joined v only in ops", mustMarshal(map[string]any{"t": "joined", "doc": "d", "ops": []any{map[string]any{"v": 0, "op": []any{"x"}, "sid": "s", "seq": 1}}, "peers": []any{}, "mode": "r"}), `missing key "v"`},
		{"welcome sid only in user", mustMarshal(map[string]any{"t": "welcome", "proto": 1, "user": map[string]any{"id": "u", "sid": "s"}}), `missing key "sid"`},
	}
	sd := NewServerDecoder()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, decode := range []func([]byte) ([]Message, error){DecodeServer, sd.Decode} {
				got, err := decode(tc.in)
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("got %#v, %v; want a *Error", got, err)
				}
				if !strings.Contains(de.Msg, tc.msg) {
					t.Fatalf("error %q does not contain %q", de.Msg, tc.msg)
				}
			}
		})
	}
}

func TestDecodeServerSkipsUnknownTypes(t *testing.T) {
	ack := mustMarshal(map[string]any{"t": "ack", "doc": "d", "seq": 1, "v": 2, "future": true})
	future := mustMarshal(map[string]any{"t": "cursor3d", "x": 1})
	got, err := DecodeServer(EncodeBatch([][]byte{future, ack, future}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Message{&Ack{Doc: "d", Seq: 1, V: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if got, err := DecodeServer(future); err != nil || len(got) != 0 {
		t.Fatalf("lone unknown message: %#v, %v", got, err)
	}
}

// TestConcurrentUse: the pool and the shared validator are safe across
// goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	in := frame(t, baseOp)
	msgs := serverMessages()
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 200 {
				if _, err := DecodeClient(in, Limits{}); err != nil {
					done <- err
					return
				}
				m := msgs[(g+i)%len(msgs)]
				b, err := Encode(m)
				if err != nil {
					done <- err
					return
				}
				got, err := DecodeServer(b)
				if err != nil || !reflect.DeepEqual(got[0], m) {
					done <- errors.New("concurrent round trip differs")
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// normalizeNumbers turns every integer of a generically decoded value into an
// int64: encoders may pick different (equally valid) integer families.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeNumbers(e)
		}
		return out
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return v
}
