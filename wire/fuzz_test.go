package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/ot"
)

// Seeds beyond the committed corpus in testdata/fuzz: every message type and
// the hostile shapes the structural scan exists for.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, m := range append(clientMessages(), serverMessages()...) {
		b, err := Encode(m)
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds,
		raw(0xdd, 0xff, 0xff, 0xff, 0xff, 0x80),
		raw(0x81, "op", 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01),
		raw(0xdf, 0xff, 0xff, 0xff, 0xff, "t", "op"),
		raw(0x81, "t", 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'),
		raw(0x82, "t", "auth", "token", 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'),
		raw(0x82, "t", "auth", "token", 0xda, 0xff, 0xff, 't'),
		raw(0x82, "t", "authed", "docs", 0xdf, 0xff, 0xff, 0xff, 0xff),
		nested(40),
		raw("hello"),
	)
}

func FuzzDecodeClient(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := DecodeClient(in, Limits{})
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			switch de.Code {
			case CodeBadRequest, CodeTooLarge, CodeInvalidOp:
			default:
				t.Fatalf("unexpected code %q", de.Code)
			}
			if de.Doc != "" && !ValidDocID(de.Doc) {
				t.Fatalf("echoed an invalid doc id %q", de.Doc)
			}
			return
		}
		// What was accepted re-encodes to something accepted as the same message.
		b, err := EncodeClient(msg)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", msg, err)
		}
		again, err := DecodeClient(b, Limits{})
		if err != nil {
			t.Fatalf("decode of re-encoded %#v: %v", msg, err)
		}
		if !reflect.DeepEqual(again, msg) {
			t.Fatalf("round trip changed the message:\n%#v\n%#v", msg, again)
		}
	})
}

func FuzzDecodeServer(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	// One decoder across inputs, as across a connection's frames: its table of
	// texts must never change what a frame decodes to.
	sd := NewServerDecoder()
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs, err := DecodeServer(in)
		msgsSD, errSD := sd.Decode(in)
		if (err == nil) != (errSD == nil) || !reflect.DeepEqual(msgs, msgsSD) {
			t.Fatalf("ServerDecoder disagrees with DecodeServer:\n%#v, %v\n%#v, %v", msgsSD, errSD, msgs, err)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			return
		}
		// Encoding is a fixed point after one decode: keys the encoder normalises
		// (absent vs empty lists, text and ops together) settle in one pass.
		first := encodeAll(t, msgs)
		msgs2, err := DecodeServer(first)
		if err != nil {
			t.Fatalf("decode of re-encoded frame: %v", err)
		}
		if second := encodeAll(t, msgs2); !bytes.Equal(first, second) {
			t.Fatalf("re-encoding is not stable:\n%x\n%x", first, second)
		}
	})
}

func encodeAll(t *testing.T, msgs []Message) []byte {
	frames := make([][]byte, 0, len(msgs)+1)
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("encode %#v: %v", m, err)
		}
		frames = append(frames, b)
	}
	// Always an array, so a batch of one is framed like a batch of many.
	return EncodeBatch(append(frames, mustMarshal(map[string]any{"t": "future"})))
}

// FuzzDecodeOpFast pins the hand-written op decoder to the msgpack one it
// short-cuts: whatever it accepts, the msgpack path accepts too and decodes to
// the same op.
func FuzzDecodeOpFast(f *testing.F) {
	for _, op := range []ot.Op{
		{},
		{{Retain: 3}, {Insert: "héllo 😀"}, {Delete: 2}},
		{{Insert: "a"}, {Insert: "b"}, {Retain: 1}},
		{{Delete: ot.MaxCount}},
		{{Retain: 70000}, {Insert: string(make([]byte, 300))}},
	} {
		b, err := msgpack.Marshal(op)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(raw(0x93, 0x01, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, "x"))
	f.Add(raw(0x92, 0x00, "x"))
	f.Add(raw(0x91, 0xa2, 0xff, 0xfe))
	f.Add(raw(0x92, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, "x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if end, err := skip(b, 0, 1); err != nil || end != len(b) {
			return // decodeOp is only called on complete values
		}
		fast, ok := decodeOpFast(b)
		if !ok {
			return
		}
		var slow ot.Op
		if err := msgpack.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %x as %v, msgpack path says %v", b, fast, err)
		}
		if !reflect.DeepEqual(fast.Normalize(), slow) {
			t.Fatalf("decoding %x: fast %#v, msgpack %#v", b, fast.Normalize(), slow)
		}
		asSent, err := ot.ParseMsgpackRaw(b)
		if err != nil || !reflect.DeepEqual(fast, asSent) {
			t.Fatalf("decoding %x as sent: fast %#v, ot %#v, %v", b, fast, asSent, err)
		}
	})
}
