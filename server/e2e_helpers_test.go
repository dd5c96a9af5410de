package server_test

import (
	"context"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/store"
)

// These end-to-end tests run the real-time core over real sockets against the
// Postgres store, each in a schema of its own. They need the database of the
// test environment and fail (never skip) without it.

// openStore opens a Postgres store on schema; closed at the end of the test.
func openStore(t *testing.T, schema string) *store.PGStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.OpenPG(ctx, testkit.DatabaseURL(), store.PGOptions{Schema: schema})
	if err != nil {
		t.Fatalf("open Postgres store in schema %s: %v", schema, err)
	}
	t.Cleanup(st.Close)
	return st
}

// e2eServer is an in-process server behind a real TCP listener.
type e2eServer struct {
	st    *store.PGStore
	srv   *server.Server
	http  *httptest.Server
	wsURL string
}

func startServer(t *testing.T, schema string) *e2eServer {
	t.Helper()
	return serve(t, openStore(t, schema), server.DefaultConfig(), slog.LevelWarn)
}

// serve runs a server with cfg on st, logging at level and above to the test
// log, until the end of the test.
func serve(t *testing.T, st *store.PGStore, cfg server.Config, level slog.Level) *e2eServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testkit.LogWriter(t), &slog.HandlerOptions{Level: level}))
	srv, err := server.New(cfg, st, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	hs := testkit.Serve(t, srv.Handler(), srv.Shutdown)
	return &e2eServer{st: st, srv: srv, http: hs, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws"}
}

func createDoc(t *testing.T, st store.Store, id, content string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.CreateDoc(ctx, store.NewDocument{ID: id, Type: "text", Content: textdoc.MustString(content)}); err != nil {
		t.Fatalf("create document %q: %v", id, err)
	}
}

// cutDialer records every raw connection it dials so that a test can cut
// one, as a network failure would, without the client noticing beforehand.
type cutDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (c *cutDialer) dialer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				c.mu.Lock()
				c.conns = append(c.conns, nc)
				c.mu.Unlock()
			}
			return nc, err
		},
	}
}

// cut closes the most recent raw connection.
func (c *cutDialer) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.conns); n > 0 {
		_ = c.conns[n-1].Close()
	}
}

func dial(t *testing.T, wsURL string, i int, d *websocket.Dialer) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		URL:     wsURL,
		SID:     fmt.Sprintf("e2e-client-%02d-%s", i, testkit.RandHex(4)),
		User:    client.User{Name: fmt.Sprintf("user %d", i), Color: "#ff9800"},
		Dialer:  d,
		Backoff: client.Backoff{Initial: 20 * time.Millisecond, Max: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("dial client %d: %v", i, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// editPause is the pause between the bursts of these tests' edit loops.
var editPause = collab.Pause{Max: 8 * time.Millisecond}
