package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// Event stream tests on Postgres; the end-to-end resume test with editing
// WebSocket clients is in sse_e2e_test.go.

func TestSSEHeartbeatAndCleanEnd(t *testing.T) {
	ts := newStreamServer(t, pgStore(t), 30*time.Millisecond, 64, nil)
	createDoc(t, ts.st, "hb", "x")
	s := ts.openSSE(t, "/v1/docs/hb/events", "")
	if s.resp.StatusCode != 200 || s.resp.Header.Get("Content-Type") != "text/event-stream" || s.resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("events: %d %v", s.resp.StatusCode, s.resp.Header)
	}
	testkit.WaitFor(t, 5*time.Second, "the stream to be subscribed", func() bool { return gaugeValue(ts.srv.metrics.joined) == 1 })
	time.Sleep(150 * time.Millisecond)
	if _, err := ts.srv.SubmitOp(context.Background(), "hb", 0, ins(1, "y"), "", 0, "u"); err != nil {
		t.Fatal(err)
	}
	ev := s.nextWithin(t, 5*time.Second)
	if ev.event != "op" || ev.id != "0" {
		t.Fatalf("event %+v", ev)
	}
	if s.comments < 2 {
		t.Fatalf("%d heartbeat comments in 150ms with a 30ms heartbeat", s.comments)
	}
	// The client goes away: the server detaches the stream.
	s.close()
	testkit.WaitFor(t, 5*time.Second, "the stream to be detached", func() bool { return gaugeValue(ts.srv.metrics.joined) == 0 })
}

func TestSSEResumeAndReplayFromStore(t *testing.T) {
	// MaxJoinOps 2: a resume from further back than that is replayed from the
	// store rather than from the actor's joined event.
	ts := newStreamServer(t, pgStore(t), time.Hour, 64, func(c *Config) { c.MaxJoinOps = 2 })
	createDoc(t, ts.st, "r", "")
	for i := range 10 {
		if _, err := ts.srv.SubmitOp(context.Background(), "r", int64(i), ins(i, strconv.Itoa(i)), "", 0, "u"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		query string
		hdr   []string
		first int64
	}{
		{"from the store", "?from=1", nil, 1},
		{"from the joined ops", "?from=8", nil, 8},
		{"Last-Event-ID wins over from", "?from=0", []string{"Last-Event-ID", "4"}, 5},
		{"from the end", "?from=10", nil, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ts.openSSE(t, "/v1/docs/r/events"+tc.query, "", tc.hdr...)
			if s.resp.StatusCode != 200 {
				t.Fatalf("status %d", s.resp.StatusCode)
			}
			for v := tc.first; v < 10; v++ {
				ev := s.nextWithin(t, 5*time.Second)
				var o opJSON
				if err := json.Unmarshal([]byte(ev.data), &o); err != nil {
					t.Fatal(err)
				}
				if ev.event != "op" || ev.id != strconv.FormatInt(v, 10) || o.V != v || !equalOps(o.Op, ins(int(v), strconv.Itoa(int(v)))) {
					t.Fatalf("event %+v, want op %d", ev, v)
				}
			}
			s.close()
		})
	}
	// Live after the replay, with nothing repeated.
	s := ts.openSSE(t, "/v1/docs/r/events?from=9", "")
	if ev := s.nextWithin(t, 5*time.Second); ev.id != "9" {
		t.Fatalf("replayed %+v", ev)
	}
	if _, err := ts.srv.SubmitOp(context.Background(), "r", 10, ins(0, "live"), "", 0, "u"); err != nil {
		t.Fatal(err)
	}
	if ev := s.nextWithin(t, 5*time.Second); ev.id != "10" {
		t.Fatalf("live %+v", ev)
	}
}

func equalOps(a, b ot.Op) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func TestSSEPresence(t *testing.T) {
	ts := newStreamServer(t, pgStore(t), time.Hour, 64, nil)
	createDoc(t, ts.st, "p", "hello")
	c := ts.connect(t, "presence-sse-sid-01")
	c.join("p", nil)
	c.send(&wire.Presence{Doc: "p", V: 0, Sel: ot.Selection{{Anchor: 2, Head: 4}}})
	// Its own flush comes back: the one with the selection (the join's own
	// presence may come first, on the leading edge of the interval).
	for {
		m := c.expectSkipping("presence")
		if sel, ok := peerSel(t, m, "presence-sse-sid-01"); ok && len(sel) == 1 {
			break
		}
	}

	s := ts.openSSE(t, "/v1/docs/p/events", "")
	ev := s.nextWithin(t, 5*time.Second)
	var pv struct {
		V     int64 `json:"v"`
		Peers []struct {
			SID  string          `json:"sid"`
			User map[string]any  `json:"user"`
			Sel  [][2]int        `json:"sel"`
			Data json.RawMessage `json:"data"`
		} `json:"peers"`
		Gone []string `json:"gone"`
	}
	if err := json.Unmarshal([]byte(ev.data), &pv); err != nil {
		t.Fatal(err)
	}
	if ev.event != "presence" || ev.id != "" || len(pv.Peers) != 1 || pv.Peers[0].SID != "presence-sse-sid-01" ||
		len(pv.Peers[0].Sel) != 1 || pv.Peers[0].Sel[0] != [2]int{2, 4} || pv.Peers[0].User["id"] == "" {
		t.Fatalf("initial presence %+v %s", ev, ev.data)
	}
	c.send(&wire.Leave{Doc: "p"})
	ev = s.nextWithin(t, 5*time.Second)
	pv.Gone = nil
	if err := json.Unmarshal([]byte(ev.data), &pv); err != nil {
		t.Fatal(err)
	}
	if ev.event != "presence" || len(pv.Gone) != 1 || pv.Gone[0] != "presence-sse-sid-01" {
		t.Fatalf("leave %+v", ev)
	}
}

// TestSSESubOverflow: a stream that cannot take an event is detached, never
// handed a gap.
func TestSSESubOverflow(t *testing.T) {
	s := newSSESub(2)
	ev := &Event{Kind: EventOp}
	if !s.Deliver(ev) || !s.Deliver(ev) {
		t.Fatal("Deliver refused with room")
	}
	if s.Deliver(ev) {
		t.Fatal("Deliver accepted over capacity")
	}
	select {
	case <-s.overflow:
	default:
		t.Fatal("overflow not signalled")
	}
	if s.Deliver(ev) {
		t.Fatal("Deliver accepted after overflow")
	}
}

// TestSSEShutdownEndsStreams: Shutdown ends open streams (http.Server's own
// Shutdown would otherwise wait for them forever).
func TestSSEShutdownEndsStreams(t *testing.T) {
	st := pgStore(t)
	srv, err := New(DefaultConfig(), st, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, st: st}
	ts.ts = httptestServer(t, srv)
	createDoc(t, st, "sd", "x")
	s := ts.openSSE(t, "/v1/docs/sd/events", "")
	testkit.WaitFor(t, 5*time.Second, "the stream to be subscribed", func() bool { return gaugeValue(srv.metrics.joined) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.next(); done <- err }()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Logf("stream ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open after Shutdown")
	}
	// New streams are refused while shutting down.
	ts.call(t, "GET", "/v1/docs/sd/events", "", nil).problem(t, 503, wire.CodeInternal)
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
