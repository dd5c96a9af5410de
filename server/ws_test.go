package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

const sidA = "client-aaaaaaaaaaaa"
const sidB = "client-bbbbbbbbbbbb"

func TestHelloJoinOpAck(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "d1", "hello")
	ts := newTestServer(t, st, nil)

	a := ts.dial(t)
	a.send(&wire.Hello{Proto: 1, SID: sidA, User: &wire.UserInfo{Name: "Ann", Color: "#123456"}})
	w := a.expect("welcome")
	user := w["user"].(map[string]any)
	if w["sid"] != sidA || user["name"] != "Ann" || user["color"] != "#123456" || !strings.HasPrefix(user["id"].(string), "anon-") {
		t.Fatalf("welcome = %v", w)
	}
	j := a.join("d1", nil)
	if j["text"] != "hello" || num(t, j["v"]) != 0 || j["mode"] != "rw" {
		t.Fatalf("joined = %v", j)
	}

	b := ts.connect(t, sidB)
	b.join("d1", nil)

	a.send(&wire.Op{Doc: "d1", V: 0, Seq: 1, Op: ins(5, "!"), Sel: ot.Selection{{Anchor: 6, Head: 6}}})
	ack := a.expectSkipping("ack", "presence")
	if num(t, ack["v"]) != 0 || num(t, ack["seq"]) != 1 || ack["doc"] != "d1" {
		t.Fatalf("ack = %v", ack)
	}
	op := b.expectSkipping("op", "presence")
	if num(t, op["v"]) != 0 || op["sid"] != sidA || num(t, op["seq"]) != 1 {
		t.Fatalf("op = %v", op)
	}
	if sel := op["sel"].([]any); len(sel) != 1 {
		t.Fatalf("op sel = %v", op["sel"])
	}
	if text, v := docText(t, st, "d1"); text != "hello!" || v != 1 {
		t.Fatalf("store has %q at %d", text, v)
	}

	// A resubmission of a committed (sid, seq) is acknowledged with the
	// original version and not applied again.
	a.send(&wire.Op{Doc: "d1", V: 0, Seq: 1, Op: ins(5, "!")})
	ack = a.expectSkipping("ack", "presence")
	if num(t, ack["v"]) != 0 {
		t.Fatalf("duplicate ack = %v", ack)
	}
	if text, v := docText(t, st, "d1"); text != "hello!" || v != 1 {
		t.Fatalf("after duplicate, store has %q at %d", text, v)
	}

	// A concurrent op from B against v0 is transformed past A's op.
	b.send(&wire.Op{Doc: "d1", V: 0, Seq: 1, Op: ins(0, ">")})
	ack = b.expectSkipping("ack", "presence")
	if num(t, ack["v"]) != 1 {
		t.Fatalf("B ack = %v", ack)
	}
	op = a.expectSkipping("op", "presence")
	if num(t, op["v"]) != 1 {
		t.Fatalf("A got %v", op)
	}
	if text, _ := docText(t, st, "d1"); text != ">hello!" {
		t.Fatalf("store has %q", text)
	}

	// Re-joining with a version gets the missed ops, not the text.
	c := ts.connect(t, "client-cccccccccccc")
	j = c.join("d1", i64(1))
	ops, ok := j["ops"].([]any)
	if !ok || len(ops) != 1 || j["text"] != nil || num(t, j["v"]) != 2 {
		t.Fatalf("joined with v = %v", j)
	}
	if num(t, ops[0].(map[string]any)["v"]) != 1 {
		t.Fatalf("missed op = %v", ops[0])
	}
	// A version the server does not know gets the text.
	j = c.join("d1", i64(99))
	if j["text"] != ">hello!" {
		t.Fatalf("joined with a future v = %v", j)
	}
}

// errorCase is one row of the error table: what to send after hello (and a
// join of "doc" unless noJoin) and the error code expected.
type errorCase struct {
	name   string
	tweak  func(*Config)
	noJoin bool
	send   func(c *wsClient)
	code   string
	seq    int64
}

func TestErrorCodes(t *testing.T) {
	big := strings.Repeat("x", 2000)
	cases := []errorCase{
		{name: "message before hello", noJoin: true, code: wire.CodeBadRequest, send: nil},
		{name: "not a map", code: wire.CodeBadRequest, send: func(c *wsClient) { c.sendRaw([]byte{0x93, 1, 2, 3}) }},
		{name: "truncated msgpack", code: wire.CodeBadRequest, send: func(c *wsClient) { c.sendRaw([]byte{0x82, 0xa1, 't'}) }},
		{name: "hostile array32 header", code: wire.CodeBadRequest, send: func(c *wsClient) {
			c.sendRaw([]byte{0x81, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff})
		}},
		{name: "unknown type", code: wire.CodeBadRequest, send: func(c *wsClient) { c.sendMap(map[string]any{"t": "nope"}) }},
		{name: "missing key", code: wire.CodeBadRequest, send: func(c *wsClient) { c.sendMap(map[string]any{"t": "op", "doc": "doc", "v": 0, "op": []any{"x"}}) }},
		{name: "wrong type", code: wire.CodeBadRequest, send: func(c *wsClient) {
			c.sendMap(map[string]any{"t": "op", "doc": "doc", "v": "zero", "seq": 1, "op": []any{"x"}})
		}},
		{name: "second hello", code: wire.CodeBadRequest, send: func(c *wsClient) { c.send(&wire.Hello{Proto: 1, SID: sidA}) }},
		{name: "op before join", noJoin: true, code: wire.CodeBadRequest, seq: 1, send: func(c *wsClient) {
			c.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, "x")})
		}},
		{name: "join unknown doc", noJoin: true, code: wire.CodeNotFound, send: func(c *wsClient) { c.send(&wire.Join{Doc: "missing"}) }},
		{name: "op past the end", code: wire.CodeInvalidOp, seq: 1, send: func(c *wsClient) {
			c.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ot.Op{{Retain: 50}, {Insert: "x"}}})
		}},
		{name: "op from the future", code: wire.CodeInvalidOp, seq: 1, send: func(c *wsClient) {
			c.send(&wire.Op{Doc: "doc", V: 7, Seq: 1, Op: ins(0, "x")})
		}},
		{name: "malformed op", code: wire.CodeInvalidOp, seq: 1, send: func(c *wsClient) {
			c.sendMap(map[string]any{"t": "op", "doc": "doc", "v": 0, "seq": 1, "op": []any{0}})
		}},
		{name: "op over the op limit", tweak: func(c *Config) { c.MaxOpBytes = 1000 }, code: wire.CodeTooLarge, seq: 1, send: func(c *wsClient) {
			c.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, big)})
		}},
		{name: "document over the limit", tweak: func(c *Config) { c.MaxDocBytes = 1500 }, code: wire.CodeTooLarge, seq: 1, send: func(c *wsClient) {
			c.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, big)})
		}},
		{name: "presence data over the limit", code: wire.CodeTooLarge, send: func(c *wsClient) {
			data, _ := msgpack.Marshal(map[string]any{"pad": big})
			c.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 0, Head: 0}}, Data: data})
		}},
		{name: "presence outside the document", code: wire.CodeBadRequest, send: func(c *wsClient) {
			c.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 0, Head: 99}}})
		}},
		{name: "ops over the rate", tweak: func(c *Config) { c.OpRate, c.OpBurst = 0.01, 2 }, code: wire.CodeRateLimited, seq: 3, send: func(c *wsClient) {
			// Like a real client, each op waits for the ack of the one before
			// (an op at v1 sent before v1 exists is invalid_op, not a rate case).
			for i := int64(1); i <= 2; i++ {
				c.send(&wire.Op{Doc: "doc", V: i - 1, Seq: i, Op: ins(0, "x")})
				c.expectSkipping("ack", "presence")
			}
			c.send(&wire.Op{Doc: "doc", V: 2, Seq: 3, Op: ins(0, "x")})
		}},
		{name: "presence over the rate", tweak: func(c *Config) { c.PresenceRate, c.PresenceBurst = 0.01, 1 }, code: wire.CodeRateLimited, send: func(c *wsClient) {
			for range 2 {
				c.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 1, Head: 1}}})
			}
		}},
		{name: "forbidden join", noJoin: true, tweak: grantReadOnly, code: wire.CodeForbidden, send: func(c *wsClient) {
			c.send(&wire.Join{Doc: "secret"})
		}},
		{name: "forbidden op on a read-only join", noJoin: true, tweak: grantReadOnly, code: wire.CodeForbidden, seq: 1, send: func(c *wsClient) {
			if j := c.join("doc", nil); j["mode"] != "r" {
				c.t.Fatalf("joined = %v, want mode r", j)
			}
			c.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, "x")})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := memStore(t)
			createDoc(t, st, "doc", "abc")
			ts := newTestServer(t, st, tc.tweak)
			c := ts.dial(t)
			if tc.send == nil {
				c.send(&wire.Join{Doc: "doc"})
				c.expectError(tc.code)
				return
			}
			c.send(&wire.Hello{Proto: 1, SID: sidA})
			c.expect("welcome")
			if !tc.noJoin {
				c.join("doc", nil)
			}
			tc.send(c)
			e := c.expectError(tc.code)
			if tc.seq != 0 && num(t, e["seq"]) != tc.seq {
				t.Fatalf("error %v, want seq %d", e, tc.seq)
			}
			if e["msg"] == "" {
				t.Fatalf("error without a message: %v", e)
			}
			// The connection survives every error above.
			c.send(&wire.Join{Doc: "doc"})
			c.expectSkipping("joined", "presence", "ack", "error")
			if text, _ := docText(t, st, "doc"); tc.code != wire.CodeRateLimited && text != "abc" {
				t.Fatalf("a rejected message changed the document to %q", text)
			}
		})
	}
}

// grantReadOnly installs an authenticator granting "doc" read-only and
// nothing else.
func grantReadOnly(c *Config) {
	c.Authenticator = staticAuth{p: auth.Principal{UserID: "u1", Name: "Una", Grants: map[string]auth.Mode{"do*": auth.ModeRead}}}
}

type staticAuth struct {
	p   auth.Principal
	err error
}

func (s staticAuth) Authenticate(*http.Request) (auth.Principal, error) { return s.p, s.err }
func (s staticAuth) Open() bool                                         { return false }

func TestCloseCodes(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "doc", "abc")

	t.Run("text frame", func(t *testing.T) {
		ts := newTestServer(t, st, nil)
		c := ts.dial(t)
		if err := c.c.WriteMessage(websocket.TextMessage, []byte(`{"t":"hello"}`)); err != nil {
			t.Fatal(err)
		}
		if code := c.expectClose(5 * time.Second); code != websocket.CloseUnsupportedData {
			t.Fatalf("close code %d, want 1003", code)
		}
	})
	t.Run("oversized frame", func(t *testing.T) {
		ts := newTestServer(t, st, func(c *Config) { c.MaxFrameBytes = 4096 })
		c := ts.connect(t, sidA)
		c.sendRaw(bytes.Repeat([]byte{0xc0}, 5000))
		if code := c.expectClose(5 * time.Second); code != websocket.CloseMessageTooBig {
			t.Fatalf("close code %d, want 1009", code)
		}
	})
	t.Run("unauthorized", func(t *testing.T) {
		ts := newTestServer(t, st, func(c *Config) {
			c.Authenticator = staticAuth{err: fmt.Errorf("%w: no token", auth.ErrUnauthenticated)}
		})
		c := ts.dial(t)
		c.expectError(wire.CodeUnauthorized)
		if code := c.expectClose(5 * time.Second); code != websocket.ClosePolicyViolation {
			t.Fatalf("close code %d, want 1008", code)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		ts := newTestServer(t, st, nil)
		c := ts.connect(t, sidA)
		c.join("doc", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if code := c.expectClose(5 * time.Second); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
		_, status, _ := ts.dialRaw(t, []string{Subprotocol}, nil)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("upgrade after shutdown: status %d, want 503", status)
		}
	})
}

func TestUpgradeChecks(t *testing.T) {
	st := memStore(t)
	ts := newTestServer(t, st, nil)
	if _, status, err := ts.dialRaw(t, nil, nil); err == nil || status != http.StatusBadRequest {
		t.Fatalf("without the subprotocol: status %d err %v, want 400", status, err)
	}
	if _, status, err := ts.dialRaw(t, []string{Subprotocol}, http.Header{"Origin": {"https://evil.example"}}); err == nil || status != http.StatusForbidden {
		t.Fatalf("foreign origin: status %d err %v, want 403", status, err)
	}
	host := strings.TrimPrefix(ts.ts.URL, "http://")
	if _, _, err := ts.dialRaw(t, []string{Subprotocol}, http.Header{"Origin": {"http://" + host}}); err != nil {
		t.Fatalf("same-host origin refused: %v", err)
	}

	any := newTestServer(t, st, func(c *Config) { c.AllowedOrigins = []string{"https://app.example"} })
	if _, _, err := any.dialRaw(t, []string{Subprotocol}, http.Header{"Origin": {"https://app.example"}}); err != nil {
		t.Fatalf("listed origin refused: %v", err)
	}
	if _, status, _ := any.dialRaw(t, []string{Subprotocol}, http.Header{"Origin": {"http://" + host}}); status != http.StatusForbidden {
		t.Fatalf("unlisted origin: status %d, want 403", status)
	}
}

func TestDeleteDetaches(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "doc", "abc")
	ts := newTestServer(t, st, nil)
	a := ts.connect(t, sidA)
	a.join("doc", nil)
	if err := ts.srv.DeleteDoc(context.Background(), "doc"); err != nil {
		t.Fatal(err)
	}
	a.expectError(wire.CodeDeleted)
	// Detached: an op now needs a join, and the join finds nothing.
	a.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, "x")})
	a.expectError(wire.CodeBadRequest)
	a.send(&wire.Join{Doc: "doc"})
	a.expectError(wire.CodeNotFound)
	// The id can be created again and is served fresh.
	createDoc(t, st, "doc", "new")
	if j := a.join("doc", nil); j["text"] != "new" {
		t.Fatalf("joined after re-creation = %v", j)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	st := memStore(t)
	ts := newTestServer(t, st, nil)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		resp, err := http.Get(ts.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	createDoc(t, st, "doc", "")
	c := ts.connect(t, sidA)
	c.join("doc", nil)
	c.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, "x")})
	c.expectSkipping("ack", "presence") // its join's presence may come first
	resp, err := http.Get(ts.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"tandem_ops_committed_total 1", "tandem_ws_connections 1", "tandem_loaded_documents 1", "tandem_joined_documents 1", "tandem_commit_batch_ops_count 1"} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	st.Close() // a closed store is not ready
	resp, err = http.Get(ts.ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with a closed store: %d, want 503", resp.StatusCode)
	}
}

// TestUpgradeHandlerReturns: a connection costs two goroutines (melody's
// read loop, on the Server's runConn, and its write pump). The HTTP handler
// returns once the socket is hijacked, so net/http's per-request state is not
// held for the socket's life; with melody's loop run inside the handler it
// would be three.
func TestUpgradeHandlerReturns(t *testing.T) {
	st := memStore(t)
	ts := newTestServer(t, st, nil)
	const n = 20
	settle := func() int {
		// Let goroutines that are on their way out finish.
		prev := -1
		for range 100 {
			time.Sleep(20 * time.Millisecond)
			cur := runtime.NumGoroutine()
			if cur == prev {
				return cur
			}
			prev = cur
		}
		return prev
	}
	before := settle()
	clients := make([]*wsClient, 0, n)
	for i := range n {
		clients = append(clients, ts.connect(t, fmt.Sprintf("handler-returns-%04d", i)))
	}
	perConn := float64(settle()-before) / n
	if perConn < 1.9 || perConn > 2.2 {
		t.Fatalf("%.2f goroutines per connection, want 2 (read loop and write pump)", perConn)
	}
	for _, c := range clients {
		c.c.Close()
	}
}

// TestLargestPingAndFramesPastTheReadBuffer: a connection's read buffer is
// small (wsReadBuffer); the largest ping (125 bytes of payload) is still
// answered whole, and a data frame many times the buffer is read past it.
func TestLargestPingAndFramesPastTheReadBuffer(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "big", "")
	ts := newTestServer(t, st, nil)
	c := ts.connect(t, sidA)
	payload := strings.Repeat("p", 125)
	pong := make(chan string, 1)
	c.c.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := c.c.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	c.join("big", nil)
	select {
	case got := <-pong:
		if got != payload {
			t.Fatalf("pong carried %d bytes, want the ping's 125", len(got))
		}
	default:
		t.Fatal("no pong before the joined answer")
	}
	text := strings.Repeat("x", 8*wsReadBuffer)
	c.send(&wire.Op{Doc: "big", V: 0, Seq: 1, Op: ot.Op{{Insert: text}}})
	c.expectSkipping("ack", "presence")
	if got, _ := docText(t, st, "big"); got != text {
		t.Fatalf("stored %d bytes, want %d", len(got), len(text))
	}
}
