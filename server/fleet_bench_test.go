package server

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// BenchmarkFleetDoc is one second of one document of the fleet scenario
// (docs/benchmarks.md, fleet), over real WebSockets on the memory store: two
// clients, one op (acknowledged to its author, broadcast to the other) and
// two caret moves (each flushed to both clients, the author included, as the
// contract has it). Each iteration is that second's 3 client frames and 6
// server frames, one after the other, so that nothing coalesces and the
// counts do not depend on timing; its B/op and allocs/op are what the server
// allocates per document-second of that load (the fleet's 2,500 documents
// make 2,500 of these a second), plus the clients' share, which is small and
// fixed: each reads its frames into a buffer of its own (gorilla's reader
// allocates its per-message reader, 16 bytes) and writes through gorilla's
// writer (one message writer per frame, 48 bytes): about 240 bytes and 9
// allocations of the total.
func BenchmarkFleetDoc(b *testing.B) {
	ts := newTestServer(b, memStore(b), func(c *Config) {
		c.OpRate, c.OpBurst = 1e9, 1e9
		c.PresenceRate, c.PresenceBurst = 1e9, 1e9
		// The flush comes as soon as the actor's timer fires: the
		// iteration waits for it, and a 50 ms wait would only make the
		// benchmark slow.
		c.PresenceInterval = 50 * time.Microsecond
	})
	createDoc(b, ts.st, "fleetdoc", "")
	a := newLeanClient(b, ts, "bench-fleet-client-a")
	o := newLeanClient(b, ts, "bench-fleet-client-b")
	a.send(&wire.Join{Doc: "fleetdoc"})
	a.expect("joined")
	a.expect("presence") // a joined
	o.send(&wire.Join{Doc: "fleetdoc"})
	o.expect("joined")
	a.expect("presence") // o joined
	o.expect("presence")

	op := &wire.Op{Doc: "fleetdoc", Op: ot.Op{{Insert: "x"}}}
	pa := &wire.Presence{Doc: "fleetdoc", Sel: ot.Selection{{Anchor: 1, Head: 1}}, Data: []byte{0x81, 0xa1, 't', 0x01}}
	po := &wire.Presence{Doc: "fleetdoc", Sel: ot.Selection{{Anchor: 0, Head: 0}}, Data: []byte{0x81, 0xa1, 't', 0x02}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		op.V, op.Seq = int64(i), int64(i+1)
		a.send(op)
		a.expect("ack")
		o.expect("op")
		pa.V, po.V = int64(i+1), int64(i+1)
		a.send(pa)
		a.expect("presence")
		o.expect("presence")
		o.send(po)
		a.expect("presence")
		o.expect("presence")
	}
}

// leanClient is a protocol client that allocates next to nothing of its own,
// so that a benchmark's allocations are the server's: it encodes into one
// buffer and reads each frame into another.
type leanClient struct {
	tb   testing.TB
	c    *websocket.Conn
	out  []byte
	in   []byte
	want []byte
}

func newLeanClient(tb testing.TB, ts *testServer, sid string) *leanClient {
	tb.Helper()
	c := &leanClient{tb: tb, c: ts.dial(tb).c, out: make([]byte, 0, 512), in: make([]byte, 4096)}
	c.send(&wire.Hello{Proto: wire.ProtoVersion, SID: sid})
	c.expect("welcome")
	return c
}

func (c *leanClient) send(m wire.Message) {
	var err error
	if c.out, err = wire.Append(c.out[:0], m); err != nil {
		c.tb.Fatalf("encode %T: %v", m, err)
	}
	if err := c.c.WriteMessage(websocket.BinaryMessage, c.out); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// expect reads one frame and checks that it is one message of type t (its
// "t" value, found without decoding the frame).
func (c *leanClient) expect(t string) {
	_, r, err := c.c.NextReader()
	if err != nil {
		c.tb.Fatalf("waiting for %s: %v", t, err)
	}
	n := 0
	for {
		if n == len(c.in) {
			c.tb.Fatalf("waiting for %s: a frame over %d bytes", t, len(c.in))
		}
		m, err := r.Read(c.in[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			c.tb.Fatalf("waiting for %s: %v", t, err)
		}
	}
	frame := c.in[:n]
	// A map (not an array of them) whose "t" is t: fixstr "t", then fixstr t.
	c.want = append(append(c.want[:0], 0xa1, 't', 0xa0|byte(len(t))), t...)
	if len(frame) == 0 || frame[0]&0xf0 != 0x80 || !bytes.Contains(frame, c.want) {
		c.tb.Fatalf("waiting for %s, got %s", t, describe(frame))
	}
}

func describe(frame []byte) string {
	if m, err := wire.NewServerDecoder().Decode(frame); err == nil {
		return fmt.Sprintf("%#v", m)
	}
	return fmt.Sprintf("% x", frame)
}
