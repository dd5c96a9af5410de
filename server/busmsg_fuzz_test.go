package server

import (
	"bytes"
	"testing"
	"time"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// busSeeds are messages of every kind, as the actors build them.
func busSeeds(t testing.TB) []*busMsg {
	op := ot.Op{{Retain: 2}, {Insert: "é😀"}, {Delete: 1}}
	sel := ot.Selection{{Anchor: 1, Head: 2}}
	frame, err := wire.Encode(&wire.OpBroadcast{Doc: "d", V: 3, Op: op, SID: "s", Seq: 1, Sel: sel})
	if err != nil {
		t.Fatal(err)
	}
	long := ot.Op{{Insert: string(bytes.Repeat([]byte("x"), 300))}} // a bin past 255 bytes
	return []*busMsg{
		{Kind: busOps, V: 3, At: time.Now().UnixNano(), Ops: []busOp{{op: op, SID: "s", Seq: 1, UserID: "u", Created: 7, sel: sel, Frame: frame}, {op: long, SID: "t", Seq: 2}}},
		{Kind: busPresence, V: 9, Peers: []busPeer{{SID: "p", ID: "u", Name: "Ann", Color: "#fff", sel: ot.Selection{{Anchor: 0, Head: 0}}, Data: []byte{0x81, 0xa1, 'k', 0x01}}}, Gone: []string{"q"}},
		{Kind: busBeat, V: 1, Peers: []busPeer{{SID: "p"}}},
		{Kind: busDeleted},
		{Kind: busForward, V: 4, To: "n1", Tok: 12, Ops: []busOp{{op: op, SID: "s", Seq: 5, UserID: "u", sel: sel, F: 4, Base: 2}, {Op: op.AppendMsgpack(nil), SID: "s", Seq: 6, F: 5, Base: 2}}},
		{Kind: busForward, V: 4, To: "n2", Ops: []busOp{{op: op, SID: "s", Seq: 5}}},
		{Kind: busReply, V: 8, To: "n1", Ops: []busOp{{SID: "s", Seq: 5, Code: "invalid_op", Msg: "no"}}},
		{Kind: busOwner, V: 8, Tok: 13},
	}
}

// FuzzDecodeBusMsg: whatever arrives on the bus, decoding never panics, a
// message it accepts for this node carries only valid ops and encodes to the
// same bytes again, and the bus goroutine's filter agrees with the decoder
// on whom a message is for.
func FuzzDecodeBusMsg(f *testing.F) {
	for _, m := range busSeeds(f) {
		f.Add(encodeBusMsg(m))
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})                                     // a map claiming 4 billion keys
	f.Add([]byte{0x98, 0xa0, 0x01, 0x00, 0x00, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff}) // 4 billion ops
	const self = "n1"
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := decodeBusMsgFor(p, textdoc.Type{}, self)
		if err != nil {
			return
		}
		if m.To != "" && m.To != self {
			if !busAddressedElsewhere(p, self) {
				t.Fatalf("a message for %q is not filtered out on %q", m.To, self)
			}
			return
		}
		if busAddressedElsewhere(p, self) {
			t.Fatal("a message for this node is filtered out")
		}
		for i, o := range m.Ops {
			if m.Kind == busReply {
				continue
			}
			if err := textdoc.Op(o.op).Validate(); err != nil || o.op == nil {
				t.Fatalf("accepted op %d is invalid: %v", i, err)
			}
			if o.Frame != nil && wire.CheckClaims(o.Frame, 0) != nil {
				t.Fatalf("accepted frame %d is malformed", i)
			}
		}
		b := encodeBusMsg(m)
		m2, err := decodeBusMsgFor(b, textdoc.Type{}, self)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if b2 := encodeBusMsg(m2); !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the encoding:\n%x\n%x", b, b2)
		}
	})
}

// TestBusMsgRoundTrip: every kind of message decodes to what was encoded,
// ops and selections by the document's type.
func TestBusMsgRoundTrip(t *testing.T) {
	for _, m := range busSeeds(t) {
		self := m.To
		got, err := decodeBusMsgFor(encodeBusMsg(m), textdoc.Type{}, self)
		if err != nil {
			t.Fatalf("kind %d: %v", m.Kind, err)
		}
		if got.Kind != m.Kind || got.V != m.V || got.At != m.At || got.To != m.To || got.Tok != m.Tok ||
			len(got.Ops) != len(m.Ops) || len(got.Peers) != len(m.Peers) || len(got.Gone) != len(m.Gone) {
			t.Fatalf("kind %d: got %+v, want %+v", m.Kind, got, m)
		}
		for i, o := range m.Ops {
			g := got.Ops[i]
			if g.SID != o.SID || g.Seq != o.Seq || g.UserID != o.UserID || g.Created != o.Created || g.F != o.F ||
				g.Base != o.Base || g.Code != o.Code || g.Msg != o.Msg || !bytes.Equal(g.Frame, o.Frame) {
				t.Errorf("kind %d op %d: got %+v, want %+v", m.Kind, i, g, o)
			}
			if m.Kind == busReply {
				continue
			}
			want := o.op
			if want == nil {
				want, _ = textdoc.Type{}.DecodeOp(o.Op)
			}
			if !bytes.Equal(g.op.AppendMsgpack(nil), want.AppendMsgpack(nil)) {
				t.Errorf("kind %d op %d: op %v, want %v", m.Kind, i, g.op, want)
			}
			if (g.sel == nil) != (o.sel == nil) || g.sel != nil && !bytes.Equal(g.sel.AppendMsgpack(nil), o.sel.AppendMsgpack(nil)) {
				t.Errorf("kind %d op %d: sel %v, want %v", m.Kind, i, g.sel, o.sel)
			}
		}
		for i, p := range m.Peers {
			g := got.Peers[i]
			if g.SID != p.SID || g.ID != p.ID || g.Name != p.Name || g.Color != p.Color || !bytes.Equal(g.Data, p.Data) ||
				(g.sel == nil) != (p.sel == nil) || g.sel != nil && !bytes.Equal(g.sel.AppendMsgpack(nil), p.sel.AppendMsgpack(nil)) {
				t.Errorf("kind %d peer %d: got %+v, want %+v", m.Kind, i, g, p)
			}
		}
		for i, g := range m.Gone {
			if got.Gone[i] != g {
				t.Errorf("kind %d gone %d: %q, want %q", m.Kind, i, got.Gone[i], g)
			}
		}
	}
	// A message for another node: its header only, and filtered out.
	p := encodeBusMsg(&busMsg{Kind: busForward, To: "n2", Ops: []busOp{{op: ot.Op{{Insert: "x"}}, SID: "s", Seq: 1}}})
	if m, err := decodeBusMsgFor(p, textdoc.Type{}, "n1"); err != nil || m.To != "n2" || len(m.Ops) != 0 {
		t.Fatalf("a forward for n2 on n1: %+v, %v", m, err)
	}
	if !busAddressedElsewhere(p, "n1") || busAddressedElsewhere(p, "n2") {
		t.Fatal("busAddressedElsewhere disagrees on a forward for n2")
	}
}

// TestDecodeBusMsgRejects: table of payloads that must not reach an actor.
func TestDecodeBusMsgRejects(t *testing.T) {
	good := encodeBusMsg(&busMsg{Kind: busOps, V: 1, Ops: []busOp{{op: ot.Op{{Insert: "x"}}, SID: "s", Seq: 1}}})
	for name, p := range map[string][]byte{
		"empty":            nil,
		"not msgpack":      []byte("hello"),
		"a map":            {0x81, 0xa1, 'k', 0x01},
		"unknown kind":     encodeBusMsg(&busMsg{Kind: 9}),
		"kind 0":           encodeBusMsg(&busMsg{Kind: 0}),
		"negative version": encodeBusMsg(&busMsg{Kind: busOps, V: -1}),
		"nil op":           encodeBusMsg(&busMsg{Kind: busOps, Ops: []busOp{{SID: "s"}}}),
		"invalid op":       encodeBusMsg(&busMsg{Kind: busOps, Ops: []busOp{{Op: []byte{0x91, 0x00}, SID: "s"}}}), // retain 0
		"empty op":         encodeBusMsg(&busMsg{Kind: busOps, Ops: []busOp{{Op: []byte{}, SID: "s"}}}),
		"invalid sel":      encodeBusMsg(&busMsg{Kind: busOps, Ops: []busOp{{op: ot.Op{{Insert: "x"}}, Sel: []byte{0xa1, 'x'}}}}),
		"frame not a map":  encodeBusMsg(&busMsg{Kind: busOps, Ops: []busOp{{op: ot.Op{{Insert: "x"}}, Frame: []byte{0x91, 0x01}}}}),
		"frame truncated":  encodeBusMsg(&busMsg{Kind: busOps, Ops: []busOp{{op: ot.Op{{Insert: "x"}}, Frame: []byte{0x82, 0xa1, 't'}}}}),
		"data not a map":   encodeBusMsg(&busMsg{Kind: busPresence, Peers: []busPeer{{SID: "p", Data: []byte{0x01}}}}),
		"data trailing":    encodeBusMsg(&busMsg{Kind: busPresence, Peers: []busPeer{{SID: "p", Data: []byte{0x80, 0x80}}}}),
		"peer sel invalid": encodeBusMsg(&busMsg{Kind: busPresence, Peers: []busPeer{{SID: "p", Sel: []byte{0x01}}}}),
		"invalid UTF-8":    encodeBusMsg(&busMsg{Kind: busOps, Ops: []busOp{{op: ot.Op{{Insert: "x"}}, SID: "\xff"}}}),
		"trailing bytes":   append(append([]byte(nil), good...), 0x00),
		"truncated":        good[:len(good)-1],
		"too few fields":   {0x97, 0xa0, 0x01, 0x00, 0x00, 0x00, 0x90, 0x90},
		"ops claim":        {0x98, 0xa0, 0x01, 0x00, 0x00, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := decodeBusMsg(p, textdoc.Type{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
