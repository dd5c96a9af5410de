package server

import (
	"context"
	"errors"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// testLogger discards below warnings unless TANDEM_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testServer is a Server behind httptest.
type testServer struct {
	srv *Server
	ts  *httptest.Server
	st  store.Store
}

func newTestServer(t testing.TB, st store.Store, tweak func(*Config)) *testServer {
	t.Helper()
	return serveTest(t, st, tweak, nil)
}

// serveTest builds a Server with DefaultConfig changed by tweak, lets prepare
// set what Config does not reach (unexported knobs) before the server serves
// anything, and serves it until the end of the test. tweak and prepare may be
// nil.
func serveTest(t testing.TB, st store.Store, tweak func(*Config), prepare func(*Server)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := New(cfg, st, testLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	return &testServer{srv: srv, ts: testkit.Serve(t, srv.Handler(), srv.Shutdown), st: st}
}

func memStore(t testing.TB) store.Store {
	st := store.NewMem(store.MemOptions{})
	t.Cleanup(st.Close)
	return st
}

// pgStore opens the real Postgres store on a fresh schema, dropped afterwards.
// An unreachable database fails the test: these tests never skip.
func pgStore(t testing.TB) store.Store {
	t.Helper()
	schema := testkit.Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := store.OpenPG(ctx, testkit.DatabaseURL(), store.PGOptions{Schema: schema, Logger: testLogger()})
	if err != nil {
		t.Fatalf("OpenPG on schema %s: %v", schema, err)
	}
	t.Cleanup(st.Close) // registered after the schema's drop, so it runs before it
	return st
}

// stores lists the engines actor tests run against.
var stores = []struct {
	name string
	open func(testing.TB) store.Store
}{
	{"mem", memStore},
	{"pg", pgStore},
}

func createDoc(t testing.TB, st store.Store, id, content string) {
	t.Helper()
	if _, err := st.CreateDoc(context.Background(), store.NewDocument{ID: id, Type: "text", Content: textdoc.MustString(content)}); err != nil {
		t.Fatalf("CreateDoc %s: %v", id, err)
	}
}

// wsClient is a raw protocol client for tests.
type wsClient struct {
	t       testing.TB
	c       *websocket.Conn
	pending []map[string]any
}

func (ts *testServer) wsURL() string { return "ws" + strings.TrimPrefix(ts.ts.URL, "http") + "/v1/ws" }

func (ts *testServer) dial(t testing.TB) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(ts.wsURL(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	if got := c.Subprotocol(); got != Subprotocol {
		t.Fatalf("negotiated subprotocol %q, want %q", got, Subprotocol)
	}
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, c: c}
}

// connect dials and says hello.
func (ts *testServer) connect(t testing.TB, sid string) *wsClient {
	t.Helper()
	c := ts.dial(t)
	c.send(&wire.Hello{Proto: 1, SID: sid, User: &wire.UserInfo{Name: sid[:4]}})
	c.expect("welcome")
	return c
}

func (c *wsClient) send(m wire.Message) {
	c.t.Helper()
	b, err := wire.EncodeClient(m)
	if err != nil {
		c.t.Fatalf("encode %T: %v", m, err)
	}
	c.sendRaw(b)
}

func (c *wsClient) sendMap(m map[string]any) {
	c.t.Helper()
	b, err := msgpack.Marshal(m)
	if err != nil {
		c.t.Fatalf("marshal: %v", err)
	}
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.t.Helper()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.c.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next server message, unpacking array frames.
func (c *wsClient) read(timeout time.Duration) (map[string]any, error) {
	for len(c.pending) == 0 {
		_ = c.c.SetReadDeadline(time.Now().Add(timeout))
		mt, b, err := c.c.ReadMessage()
		if err != nil {
			return nil, err
		}
		if mt != websocket.BinaryMessage {
			return nil, fmt.Errorf("server sent frame type %d", mt)
		}
		var v any
		if err := msgpack.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("server frame is not MessagePack: %w", err)
		}
		switch v := v.(type) {
		case map[string]any:
			c.pending = append(c.pending, v)
		case []any:
			for _, e := range v {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("array frame holds %T", e)
				}
				c.pending = append(c.pending, m)
			}
		default:
			return nil, fmt.Errorf("server frame holds %T", v)
		}
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

func (c *wsClient) next() map[string]any {
	c.t.Helper()
	m, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expect reads the next message and checks its type.
func (c *wsClient) expect(typ string) map[string]any {
	c.t.Helper()
	m := c.next()
	if m["t"] != typ {
		c.t.Fatalf("got %v, want a %q message", m, typ)
	}
	return m
}

// expectSkipping reads until a message of type typ, skipping the types in skip.
func (c *wsClient) expectSkipping(typ string, skip ...string) map[string]any {
	c.t.Helper()
	for {
		m := c.next()
		if m["t"] == typ {
			return m
		}
		ok := false
		for _, s := range skip {
			ok = ok || m["t"] == s
		}
		if !ok {
			c.t.Fatalf("got %v while waiting for %q", m, typ)
		}
	}
}

// expectError reads the next message and checks it is an error with code.
func (c *wsClient) expectError(code string) map[string]any {
	c.t.Helper()
	m := c.expectSkipping("error", "presence", "ack")
	if m["code"] != code {
		c.t.Fatalf("got error %v, want code %q", m, code)
	}
	return m
}

// expectClose reads until the server closes and returns the close code.
func (c *wsClient) expectClose(timeout time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, err := c.read(time.Until(deadline))
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
	c.t.Fatalf("no close within %v", timeout)
	return 0
}

func (c *wsClient) join(doc string, v *int64) map[string]any {
	c.t.Helper()
	c.send(&wire.Join{Doc: doc, V: v})
	return c.expectSkipping("joined", "presence")
}

func num(t testing.TB, v any) int64 {
	t.Helper()
	switch n := v.(type) {
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	}
	t.Fatalf("%v (%T) is not an integer", v, v)
	return 0
}

func ins(pos int, s string) ot.Op {
	if pos == 0 {
		return ot.Op{{Insert: s}}
	}
	return ot.Op{{Retain: pos}, {Insert: s}}
}

func i64(v int64) *int64 { return &v }

// docText reads the committed text from the store.
func docText(t testing.TB, st store.Store, id string) (string, int64) {
	t.Helper()
	d, snap, err := st.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("Load %s: %v", id, err)
	}
	return textdoc.String(snap.Content), d.Version
}

// dialRaw performs an upgrade with custom headers and returns the HTTP status.
func (ts *testServer) dialRaw(t testing.TB, protos []string, header http.Header) (*websocket.Conn, int, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(ts.wsURL(), header)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, status, err
}

// opJSON is an op as GET .../ops and the event stream give it, read back
// as a text op (opView holds a doctype.Op, which JSON cannot fill).
type opJSON struct {
	V         int64     `json:"v"`
	Op        ot.Op     `json:"op"`
	SID       string    `json:"sid"`
	Seq       int64     `json:"seq"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

// opsJSON is the answer of GET .../ops, read back with text ops.
type opsJSON struct {
	Ops []opJSON `json:"ops"`
}
