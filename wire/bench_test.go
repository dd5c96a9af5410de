package wire

import (
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

// A typical keystroke: one character typed in the middle of a document, with
// the caret after it.
func typicalOpFrame(b *testing.B) []byte {
	f, err := EncodeClient(&Op{Doc: "team-notes-2026", V: 18234, Seq: 412, Op: ot.Op{{Retain: 5120}, {Insert: "e"}}, Sel: ot.Selection{{Anchor: 5121, Head: 5121}}})
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func BenchmarkDecodeClientOp(b *testing.B) {
	in := typicalOpFrame(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClient(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeOpBroadcast(b *testing.B) {
	m := &OpBroadcast{Doc: "team-notes-2026", V: 18234, Op: ot.Op{{Retain: 5120}, {Insert: "e"}}, SID: testSID, Seq: 412, Sel: ot.Selection{{Anchor: 5121, Head: 5121}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePresence20Peers(b *testing.B) {
	peers := make([]PeerInfo, 20)
	for i := range peers {
		peers[i] = testPeer
	}
	m := &PresenceMsg{Doc: "team-notes-2026", V: 18234, Peers: peers, Gone: []string{testSID}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeServerBatch(b *testing.B) {
	frames := make([][]byte, 0, 8)
	for _, m := range serverMessages()[5:9] {
		f, err := Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, f, f)
	}
	in := EncodeBatch(frames)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeServer(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHotBatch is what every client of a hot document decodes per
// commit: a frame of 8 op broadcasts (typing, from 8 peers) and one ack,
// through a connection's ServerDecoder.
func BenchmarkDecodeHotBatch(b *testing.B) {
	frames := make([][]byte, 0, 9)
	for i := range 8 {
		m := &OpBroadcast{Doc: "bench-1796155149718959703", V: int64(70000 + i), Op: ot.Op{{Retain: 400 + i}, {Insert: "é"}},
			SID: "peer-session-id-" + string(rune('a'+i)) + "-000000", Seq: int64(3000 + i)}
		f, err := Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, f)
	}
	ack, err := Encode(&Ack{Doc: "bench-1796155149718959703", Seq: 3001, V: 70008})
	if err != nil {
		b.Fatal(err)
	}
	in := EncodeBatch(append(frames, ack))
	dec := NewServerDecoder()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}
