package server

import (
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// reflectiveBusMsg is the bus message as it was encoded before the
// hand-written codec (msgpack/v5 by reflection, short keys), kept here only
// to measure the codec against it (BenchmarkBusMsg).
type reflectiveBusMsg struct {
	Kind  uint8         `msgpack:"k"`
	V     int64         `msgpack:"v"`
	At    int64         `msgpack:"at"`
	Ops   []reflectedOp `msgpack:"o,omitempty"`
	Peers []struct{}    `msgpack:"p,omitempty"`
	Gone  []string      `msgpack:"g,omitempty"`
	To    string        `msgpack:"to,omitempty"`
	Tok   int64         `msgpack:"t,omitempty"`
}

type reflectedOp struct {
	Op      msgpack.RawMessage `msgpack:"op"`
	SID     string             `msgpack:"s"`
	Seq     int64              `msgpack:"q"`
	UserID  string             `msgpack:"u"`
	Created int64              `msgpack:"c"`
	Sel     msgpack.RawMessage `msgpack:"sel"`
	F       int64              `msgpack:"f,omitempty"`
	Base    int64              `msgpack:"b,omitempty"`
	Code    string             `msgpack:"e,omitempty"`
	Msg     string             `msgpack:"m,omitempty"`
}

// BenchmarkBusMsg: a committed batch of 4 one-character inserts with
// carets, as an owner publishes it and every other node decodes it, with
// the hand-written codec and with the reflective one it replaced; and the
// broadcast frames a non-owner no longer encodes (it relays the owner's).
//
//	go test -run '^$' -bench BusMsg -benchmem ./server/
func BenchmarkBusMsg(b *testing.B) {
	const n = 4
	m := &busMsg{Kind: busOps, V: 1000, At: time.Now().UnixNano()}
	old := &reflectiveBusMsg{Kind: busOps, V: 1000, At: m.At}
	for i := range n {
		op := ot.Op{{Retain: 500 + i}, {Insert: "x"}}
		sel := ot.Selection{{Anchor: 501 + i, Head: 501 + i}}
		frame, err := wire.Encode(&wire.OpBroadcast{Doc: "bench-doc", V: 1000 + int64(i), Op: op, SID: "sid-0123456789", Seq: 77, Sel: sel})
		if err != nil {
			b.Fatal(err)
		}
		m.Ops = append(m.Ops, busOp{op: op, sel: sel, SID: "sid-0123456789", Seq: 77, UserID: "user-1", Created: m.At, Frame: frame})
		old.Ops = append(old.Ops, reflectedOp{Op: op.AppendMsgpack(nil), Sel: sel.AppendMsgpack(nil), SID: "sid-0123456789", Seq: 77, UserID: "user-1", Created: m.At})
	}
	typ := textdoc.Type{}
	b.Run("encode/handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = encodeBusMsg(m)
		}
	})
	b.Run("encode/reflective", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range old.Ops { // what publishOps did per op
				old.Ops[i].Op = m.Ops[i].op.AppendMsgpack(nil)
				old.Ops[i].Sel = m.Ops[i].sel.AppendMsgpack(nil)
			}
			if _, err := msgpack.Marshal(old); err != nil {
				b.Fatal(err)
			}
		}
	})
	p := encodeBusMsg(m)
	b.Run("decode/handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeBusMsgFor(p, typ, "node"); err != nil {
				b.Fatal(err)
			}
		}
	})
	po, err := msgpack.Marshal(old)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode/reflective", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() { // what decodeBusMsgFor did
			if err := wire.CheckClaims(po, 4); err != nil {
				b.Fatal(err)
			}
			var d reflectiveBusMsg
			if err := msgpack.Unmarshal(po, &d); err != nil {
				b.Fatal(err)
			}
			for _, o := range d.Ops {
				if _, err := typ.DecodeOp(o.Op); err != nil {
					b.Fatal(err)
				}
				if _, err := typ.DecodeSelection(o.Sel); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("frames/encoded-per-node", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() { // what a non-owner did for its subscribers, now relayed
			for _, o := range m.Ops {
				if _, err := wire.Encode(&wire.OpBroadcast{Doc: "bench-doc", V: 1000, Op: o.op, SID: o.SID, Seq: o.Seq, Sel: o.sel}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
