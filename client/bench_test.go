package client

import (
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// BenchmarkRemoteOp is the receiving side of every committed op: a joined,
// synchronised client applies a 1-character insert or delete (alternately, so
// the text keeps its size) broadcast by another client. The load generator runs this 19 times per op in `hot`, so its cost
// bounds how many ops one process can follow.
func BenchmarkRemoteOp(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			benchRemoteOp(b, size.n, false)
		})
		b.Run(size.name+"/pending", func(b *testing.B) {
			benchRemoteOp(b, size.n, true)
		})
	}
}

// benchRemoteOp applies b.N remote edits to a client holding n bytes; with
// pending, the client also has an op in flight that every remote op is
// transformed against (the local view is then applied separately).
func benchRemoteOp(b *testing.B, n int, pending bool) {
	text := strings.Repeat("abcdefgh", n/8)
	st := newDocState("doc", "me", 0, func(wire.Message) {})
	st.onSession()
	var fx effects
	st.onJoined(&wire.Joined{Doc: "doc", V: 1, Mode: wire.ModeReadWrite, Content: textdoc.MustString(text)}, &fx)
	if pending {
		if err := st.local(ot.Op{{Insert: "mine"}}); err != nil {
			b.Fatal(err)
		}
	}
	ops := [2]ot.Op{{{Retain: n / 2}, {Insert: "x"}}, {{Retain: n / 2}, {Delete: 1}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fx = effects{}
		st.onOp(&wire.OpBroadcast{Doc: "doc", V: st.version, Op: ops[i%2], SID: "other", Seq: int64(i + 1)}, &fx)
		if st.dead != nil || len(fx.changes) != 1 {
			b.Fatalf("remote op %d not applied: dead=%v changes=%d", i, st.dead, len(fx.changes))
		}
	}
}
