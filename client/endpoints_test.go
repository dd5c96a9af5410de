package client

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFailoverToFallbackURL: when the node a client is on goes away, its
// reconnection moves on to the next endpoint, with the same sid.
func TestFailoverToFallbackURL(t *testing.T) {
	var mu sync.Mutex
	var socks []*websocket.Conn
	hold := func(ws *websocket.Conn) {
		mu.Lock()
		socks = append(socks, ws)
		mu.Unlock()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}
	ha := &handshakeServer{t: t, after: hold}
	hb := &handshakeServer{t: t, after: hold}
	a, b := httptest.NewServer(ha), httptest.NewServer(hb)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, Options{
		URL: wsURL(a), FallbackURLs: []string{wsURL(b)},
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if c.URL() != wsURL(a) || ha.sessions() != 1 {
		t.Fatalf("first session on %s (%d sessions on a), want a", c.URL(), ha.sessions())
	}
	aURL := wsURL(a)
	// The handler registers its socket after sending welcome, so Dial may
	// return before it has: wait, or the socket below would never be closed
	// and ha.wg.Wait would block for ever.
	for {
		mu.Lock()
		n := len(socks)
		mu.Unlock()
		if n == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the first session never registered its socket")
		case <-time.After(time.Millisecond):
		}
	}
	a.Close() // the node is gone: dials to it are refused ...
	mu.Lock()
	for _, ws := range socks {
		_ = ws.Close() // ... and so are its sockets (hijacked: Close leaves them)
	}
	mu.Unlock()
	ha.wg.Wait()
	for hb.sessions() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the client never moved to the fallback endpoint (on %s)", c.URL())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if c.URL() == aURL {
		t.Fatalf("client still points at the dead endpoint")
	}
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.hello[0].SID != c.SID() {
		t.Fatalf("sid changed across nodes: %s, want %s", hb.hello[0].SID, c.SID())
	}
}
