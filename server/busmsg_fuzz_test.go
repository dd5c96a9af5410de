package server

import (
	"testing"
	"time"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
)

// FuzzDecodeBusMsg: whatever arrives on the bus, decoding never panics, and a
// message it accepts carries only valid ops and survives a round trip.
func FuzzDecodeBusMsg(f *testing.F) {
	seeds := []*busMsg{
		{Kind: busOps, V: 3, At: time.Now().UnixNano(), Ops: []busOp{{Op: ot.Op{{Retain: 2}, {Insert: "é😀"}, {Delete: 1}}.AppendMsgpack(nil), SID: "s", Seq: 1, Sel: ot.Selection{{Anchor: 1, Head: 2}}.AppendMsgpack(nil)}}},
		{Kind: busPresence, V: 9, Peers: []busPeer{{SID: "p", Name: "Ann", Sel: ot.Selection{{Anchor: 0, Head: 0}}.AppendMsgpack(nil), Data: []byte{0x80}}}, Gone: []string{"q"}},
		{Kind: busBeat, V: 1, Peers: []busPeer{}},
		{Kind: busDeleted},
	}
	for _, m := range seeds {
		b, err := encodeBusMsg(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}) // a map claiming 4 billion keys
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := decodeBusMsg(p, textdoc.Type{})
		if err != nil {
			return
		}
		for i, o := range m.Ops {
			if err := textdoc.Op(o.op).Validate(); err != nil || o.op == nil {
				t.Fatalf("accepted op %d is invalid: %v", i, err)
			}
		}
		b, err := encodeBusMsg(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := decodeBusMsg(b, textdoc.Type{}); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestDecodeBusMsgRejects: table of payloads that must not reach an actor.
func TestDecodeBusMsgRejects(t *testing.T) {
	enc := func(m *busMsg) []byte {
		b, err := encodeBusMsg(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, p := range map[string][]byte{
		"empty":            nil,
		"not msgpack":      []byte("hello"),
		"unknown kind":     enc(&busMsg{Kind: 9}),
		"negative version": enc(&busMsg{Kind: busOps, V: -1}),
		"nil op":           enc(&busMsg{Kind: busOps, Ops: []busOp{{}}}),
		"invalid op":       []byte("\x82\xa1k\x01\xa1o\x91\x81\xa2op\x91\x00"), // retain 0
	} {
		if _, err := decodeBusMsg(p, textdoc.Type{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
