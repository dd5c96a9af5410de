package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/wire"
)

// handshakeServer accepts WebSocket upgrades and completes hello/welcome,
// then hands the socket to after. The real server is exercised by the
// end-to-end tests in package server; this one checks transport behaviour
// that a conforming server never triggers (silence, refusal).
type handshakeServer struct {
	t     *testing.T
	mu    sync.Mutex
	hello []*wire.Hello
	proto []string
	after func(ws *websocket.Conn)
	wg    sync.WaitGroup
}

func (h *handshakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{Subprotocol}}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	h.wg.Add(1)
	defer h.wg.Done()
	defer ws.Close()
	_, data, err := ws.ReadMessage()
	if err != nil {
		return
	}
	m, err := wire.DecodeClient(data, wire.Limits{})
	if err != nil {
		h.t.Errorf("first client frame: %v", err)
		return
	}
	hello, ok := m.(*wire.Hello)
	if !ok {
		h.t.Errorf("first client message is %T, want hello", m)
		return
	}
	h.mu.Lock()
	h.hello = append(h.hello, hello)
	h.proto = append(h.proto, ws.Subprotocol())
	h.mu.Unlock()
	frame, err := wire.Encode(&wire.Welcome{Proto: 1, SID: hello.SID, User: wire.User{ID: "u-1", Name: "n"}})
	if err != nil {
		h.t.Errorf("encode welcome: %v", err)
		return
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		return
	}
	h.after(ws)
}

func (h *handshakeServer) sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.hello)
}

func wsURL(s *httptest.Server) string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/ws" }

// TestSilentConnectionIsReplaced: a server that stops answering (no pongs,
// no frames) is treated as dead after ReadTimeout and the client reconnects,
// with the same sid.
func TestSilentConnectionIsReplaced(t *testing.T) {
	stop := make(chan struct{})
	h := &handshakeServer{t: t, after: func(*websocket.Conn) { <-stop }} // never reads: pings go unanswered
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.wg.Wait()
	defer close(stop)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Options{
		URL: wsURL(srv), User: User{Name: "ann", Color: "#fff"},
		PingInterval: 30 * time.Millisecond, ReadTimeout: 150 * time.Millisecond,
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if c.User().ID != "u-1" {
		t.Fatalf("welcome user %+v", c.User())
	}
	for h.sessions() < 3 {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d sessions: a silent connection was not replaced", h.sessions())
		case <-time.After(10 * time.Millisecond):
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, hl := range h.hello {
		if hl.SID != c.SID() || hl.Proto != 1 || hl.User == nil || hl.User.Name != "ann" {
			t.Fatalf("hello %d: %+v, want sid %s, proto 1, user ann", i, hl, c.SID())
		}
		if h.proto[i] != Subprotocol {
			t.Fatalf("session %d negotiated subprotocol %q", i, h.proto[i])
		}
	}
}

// TestDialRefused: an HTTP refusal of the upgrade is reported by Dial with
// its status, and an unauthorized error answer as a ServerError.
func TestDialRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nope", http.StatusForbidden)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, Options{URL: wsURL(srv)})
	de, ok := err.(*DialError)
	if !ok || de.Status != http.StatusForbidden || !fatal(err) {
		t.Fatalf("dial error %v, want a fatal DialError with status 403", err)
	}

	unauth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{Subprotocols: []string{Subprotocol}}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		frame, _ := wire.Encode(&wire.Error{Code: wire.CodeUnauthorized, Msg: "bad token"})
		_ = ws.WriteMessage(websocket.BinaryMessage, frame)
		_, _, _ = ws.ReadMessage()
	}))
	defer unauth.Close()
	_, err = Dial(ctx, Options{URL: wsURL(unauth), Token: "x"})
	if !IsCode(err, wire.CodeUnauthorized) || !fatal(err) {
		t.Fatalf("dial error %v, want unauthorized", err)
	}
}

// TestBackoffDelays: delays grow geometrically to the cap and stay within the
// jitter band.
func TestBackoffDelays(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.2}.withDefaults()
	for n, base := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		base *= time.Millisecond
		for range 50 {
			d := b.delay(n)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("attempt %d: delay %v outside %v +/- 20%%", n, d, base)
			}
		}
	}
}
