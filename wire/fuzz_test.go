package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
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
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *Error: %v", err, err)
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
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *Error: %v", err, err)
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
