package server

import (
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/wire"
)

// TestPacingRule: a connection is paced once its backlog (unacknowledged,
// unsent, and what the window lost against the largest the client advertised)
// passes paceMinBacklog plus what it is sent in a round trip and paceSlack,
// not counting the frame just written, and no longer once the backlog is
// under half of that; a probe acknowledged without the window shrinking by it
// makes the window shown the new reference.
func TestPacingRule(t *testing.T) {
	type step struct {
		wnd, unacked, notsent uint32
		wrote                 int     // just before the sample
		rate                  float64 // bytes a second, the writer's measure
		rtt                   time.Duration
		probe                 bool // hand a probe over before this sample
		paced                 bool // want, after the sample
	}
	const K = 1 << 10
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a reader acknowledges", []step{{wnd: 64 * K, unacked: 8 * K}, {wnd: 64 * K, unacked: 24 * K, wrote: 8 * K}, {wnd: 128 * K}, {wnd: 120 * K, unacked: 20 * K}}},
		{"a client that stops reading stops acknowledging", []step{{wnd: 64 * K, unacked: 8 * K}, {wnd: 64 * K, unacked: 24 * K}, {wnd: 64 * K, unacked: 40 * K, paced: true}, {wnd: 64 * K, unacked: 80 * K, paced: true}}},
		{"its window shrinks once it acknowledges", []step{{wnd: 64 * K}, {wnd: 24 * K, paced: true}, {wnd: 0, notsent: 8 * K, paced: true}}},
		{"what waits unsent counts", []step{{wnd: 64 * K}, {wnd: 64 * K, unacked: 16 * K, notsent: 20 * K, paced: true}}},
		{"the frame just written is not counted", []step{{wnd: 64 * K}, {wnd: 64 * K, unacked: 40 * K, wrote: 32 * K}, {wnd: 64 * K, unacked: 40 * K, paced: true}}},
		{"the threshold grows with what a round trip carries", []step{
			{wnd: 1024 * K}, {wnd: 1024 * K, unacked: 100 * K, rate: 1e6, rtt: 100 * time.Millisecond},
			{wnd: 1024 * K, unacked: 160 * K, rate: 1e6, rtt: 100 * time.Millisecond, paced: true},
		}},
		{"paced until the backlog is under half", []step{{wnd: 64 * K}, {wnd: 64 * K, unacked: 40 * K, paced: true}, {wnd: 64 * K, unacked: 20 * K, paced: true}, {wnd: 64 * K, unacked: 10 * K}}},
		{"a larger window raises the reference", []step{{wnd: 64 * K}, {wnd: 256 * K}, {wnd: 200 * K, paced: true}}},
		{"a probe the client took: the window shown is the reference", []step{
			{wnd: 128 * K}, {wnd: 40 * K, paced: true},
			{wnd: 40 * K, unacked: K, probe: true, paced: true}, // not acknowledged yet
			{wnd: 40 * K}, // acknowledged, the window did not shrink
			{wnd: 36 * K}, // the new reference holds
		}},
		{"a probe the client did not take", []step{
			{wnd: 128 * K}, {wnd: 40 * K, paced: true},
			{wnd: 39 * K, probe: true, paced: true},
			{wnd: 39 * K, paced: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pacing
			prev := uint32(0) // the window shown when a probe is handed over
			for i, s := range tc.steps {
				if s.probe {
					p.probing, p.probeWnd = true, prev
				}
				prev = s.wnd
				sample := tcpSample{wnd: s.wnd, unacked: s.unacked, notsent: s.notsent, rtt: s.rtt}
				if got := p.observe(sample, s.wrote, s.rate); got != s.paced {
					t.Fatalf("step %d (%+v): paced %v, want %v (reference window %d KiB)", i, sample, got, s.paced, p.maxWnd/K)
				}
			}
		})
	}
}

// TestPacingHoldsFramesOfAClientThatDoesNotRead: a client that stops reading
// (a 64 KiB receive buffer, as the e2e test's stalled sockets) is paced
// within its first window of a busy document: what it has not taken waits in
// its outbox, counted by the budget, instead of in the kernel, which would
// take it all (~190 KiB: its window and the server's 128 KiB send buffer).
// When it reads again it gets every op, in order, without being closed. With
// pacing off the kernel takes it all and nothing waits.
func TestPacingHoldsFramesOfAClientThatDoesNotRead(t *testing.T) {
	for _, pacing := range []bool{true, false} {
		name := map[bool]string{true: "paced", false: "pacing off"}[pacing]
		t.Run(name, func(t *testing.T) {
			st := memStore(t)
			createDoc(t, st, "doc", "")
			ts := newTestServer(t, st, func(c *Config) {
				c.OutboxPacing = pacing
				c.OpRate, c.OpBurst = 10000, 10000
			})
			srv := ts.srv
			stalled := ts.dialReadBuffer(t, 64<<10)
			stalled.send(&wire.Hello{Proto: 1, SID: "stalled-client-0000"})
			stalled.expect("welcome")
			stalled.join("doc", nil)

			writer := ts.connect(t, "writer-client-00000")
			writer.join("doc", nil)
			// 40 ops of 4 KiB: 160 KiB, which the kernel takes whole for
			// one socket without pacing; paced, it takes about 80 KiB
			// (paceMinBacklog and 20 ms at 2 MB/s).
			const total = 40
			for i := 1; i <= total; i++ {
				writer.send(&wire.Op{Doc: "doc", V: int64(i - 1), Seq: int64(i), Op: blockOp(i)})
				writer.expectSkipping("ack", "presence")
				// About 2 MB/s: the threshold grows with the rate, and a
				// burst as fast as the acks come would pass the kernel's
				// buffers before it.
				time.Sleep(2 * time.Millisecond)
			}
			paced := counterValue(t, srv.metrics.paced)
			if pacing {
				testkit.WaitFor(t, 5*time.Second, "frames to wait in the outbox", func() bool { return srv.budget.used.Load() > 0 })
				// (Once, or again after a delayed ACK: a receiver with room
				// in its buffer acknowledges late rather than shrinking its
				// window.)
				if paced < 1 {
					t.Fatalf("paced %v times, want at least once", paced)
				}
			} else {
				testkit.WaitFor(t, 5*time.Second, "the kernel to take every frame", func() bool { return srv.budget.used.Load() == 0 })
				if paced != 0 {
					t.Fatalf("paced %v times with pacing off", paced)
				}
			}
			t.Logf("%s: %d bytes wait in the outbox, paced %v times", name, srv.budget.used.Load(), paced)

			// It reads again: every op, in order, and no close.
			for v := int64(0); v < total; {
				m, err := stalled.read(5 * time.Second)
				if err != nil {
					t.Fatalf("the stalled client, reading again at v%d: %v", v, err)
				}
				if m["t"] != "op" {
					continue
				}
				if got := num(t, m["v"]); got != v {
					t.Fatalf("op v%d after v%d: a gap", got, v-1)
				}
				v++
			}
			testkit.WaitFor(t, 5*time.Second, "the outbox to drain", func() bool { return srv.budget.used.Load() == 0 })
		})
	}
}
