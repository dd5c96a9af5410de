package server_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/store"
)

// These end-to-end tests run the real-time core over real sockets against the
// Postgres store, each in a schema of its own. They need the database of the
// test environment and fail (never skip) without it.

func testDatabaseURL() string {
	if u := os.Getenv("TANDEM_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// e2eSchema creates an empty schema dropped at the end of the test and
// returns its name.
func e2eSchema(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dbURL := testDatabaseURL()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("e2e tests need Postgres at TANDEM_TEST_DATABASE_URL (%s) and cannot reach it: %v; start it with `make services`", redact(dbURL), err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = crand.Read(b)
	schema := "e2e_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	if len(schema) > 40 {
		schema = schema[:40]
	}
	schema += "_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// openStore opens a Postgres store on schema; closed at the end of the test.
func openStore(t *testing.T, schema string) *store.PGStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.OpenPG(ctx, testDatabaseURL(), store.PGOptions{Schema: schema})
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
	st := openStore(t, schema)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(server.DefaultConfig(), st, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return &e2eServer{st: st, srv: srv, http: hs, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws"}
}

// testWriter sends server logs to the test log, so they show with a failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func createDoc(t *testing.T, st store.Store, id, content string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.CreateDoc(ctx, store.NewDocument{ID: id, Type: "text", Content: content}); err != nil {
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
		SID:     fmt.Sprintf("e2e-client-%02d-%s", i, randHex(4)),
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

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

func open(t *testing.T, c *client.Conn, docID string, opts ...client.DocOption) *client.Doc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.Open(ctx, docID, opts...)
	if err != nil {
		t.Fatalf("open %q: %v", docID, err)
	}
	return d
}

var pieces = []string{"a", "b", "z", " ", "\n", "é", "ß", "中", "😀", "🎉", "👩‍💻", "🇫🇷"}

// randomEdit is a random valid op against text: an insert (letters, accents,
// CJK, emoji, ZWJ sequences, flags), a delete, or a replacement.
func randomEdit(r *rand.Rand, text string) ot.Op {
	n := utf8.RuneCountInString(text)
	pos := r.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	if pos < n && r.IntN(3) == 0 {
		op = append(op, ot.Component{Delete: 1 + r.IntN(min(5, n-pos))})
		if r.IntN(2) == 0 {
			return op
		}
	}
	var b strings.Builder
	for k := 1 + r.IntN(3); k > 0; k-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return append(op, ot.Component{Insert: b.String()})
}

// converge waits until every doc is synced and at the same version, and
// returns that text and version; it fails the test if the texts differ.
func converge(t *testing.T, docs []*client.Doc) (string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var top int64
	for i, d := range docs {
		if err := d.WaitSynced(ctx); err != nil {
			t.Fatalf("client %d did not sync: %v (pending %d)", i, err, d.Pending())
		}
		top = max(top, d.Version())
	}
	var want string
	for i, d := range docs {
		if err := d.WaitVersion(ctx, top); err != nil {
			t.Fatalf("client %d did not reach v%d: %v", i, top, err)
		}
		text, v, pending := d.Snapshot()
		if v != top || pending != 0 {
			t.Fatalf("client %d at v%d with %d pending, want v%d and none", i, v, pending, top)
		}
		if i == 0 {
			want = text
		} else if text != want {
			t.Fatalf("client %d diverged at v%d:\n got  %q\n want %q", i, v, text, want)
		}
	}
	return want, top
}

// checkStore asserts the store holds text at version v, that replaying its op
// log over the initial content gives the same text, and that no (sid, seq)
// was committed twice. It returns the log.
func checkStore(t *testing.T, st store.Store, docID, initial, text string, v int64) []store.OpRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	doc, snap, err := st.Load(ctx, docID)
	if err != nil {
		t.Fatalf("store.Load(%q): %v", docID, err)
	}
	if doc.Version != v || snap.Version != v {
		t.Fatalf("store holds v%d (snapshot v%d), clients are at v%d", doc.Version, snap.Version, v)
	}
	if snap.Content != text {
		t.Fatalf("store text differs from the clients':\n store   %q\n clients %q", snap.Content, text)
	}
	ops, err := st.ReadOps(ctx, docID, 0, 0)
	if err != nil {
		t.Fatalf("store.ReadOps: %v", err)
	}
	if int64(len(ops)) != v {
		t.Fatalf("op log has %d ops, version is %d", len(ops), v)
	}
	replay := initial
	seen := make(map[string]int64, len(ops))
	for i, r := range ops {
		if r.Version != int64(i) {
			t.Fatalf("op log entry %d has version %d", i, r.Version)
		}
		replay, err = ot.Apply(replay, r.Op)
		if err != nil {
			t.Fatalf("replaying op v%d: %v", r.Version, err)
		}
		k := fmt.Sprintf("%s/%d", r.SID, r.Seq)
		if prev, dup := seen[k]; dup {
			t.Fatalf("(sid, seq) %s committed twice: v%d and v%d", k, prev, r.Version)
		}
		seen[k] = r.Version
	}
	if replay != text {
		t.Fatalf("replaying the op log gives a different text:\n replay  %q\n clients %q", replay, text)
	}
	return ops
}

// editLoop edits d until stop: a burst of 1-3 ops (so later ones are buffered
// behind the one in flight), then a short random pause.
func editLoop(ctx context.Context, r *rand.Rand, d *client.Doc, onErr func(error)) {
	for ctx.Err() == nil {
		for k := 1 + r.IntN(3); k > 0; k-- {
			if err := d.Edit(func(text string) ot.Op { return randomEdit(r, text) }); err != nil {
				if errors.Is(err, client.ErrClosed) {
					return
				}
				onErr(err)
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(r.IntN(8)) * time.Millisecond):
		}
	}
}
