package server

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// Token expiry on live connections and renewal with auth (docs/protocol.md,
// section 16). Tokens carry exp in whole seconds, so the short-lived ones
// here expire one to two seconds after they are signed.

// shortExp is an exp that passes soon, whatever the second it falls in.
func shortExp() time.Time { return time.Now().Add(2 * time.Second) }

// expiringSession serves content as "doc" with token auth and joins it with
// a token for u1 expiring soon; it returns the server, the client and the exp.
func expiringSession(t *testing.T, content, sid string) (*testServer, *wsClient, time.Time) {
	t.Helper()
	t.Parallel()
	ts := newAuthServer(t, memStore(t), nil)
	createDoc(t, ts.st, "doc", content)
	exp := shortExp()
	c := dialToken(t, ts, sid, signToken(t, testSecret, "u1", map[string]string{"doc": "rw"}, false, exp))
	c.join("doc", nil)
	return ts, c, exp
}

func dialToken(t *testing.T, ts *testServer, sid, token string) *wsClient {
	t.Helper()
	c, first := ts.authDial(t, sid, bearer(token), "")
	if first["t"] != "welcome" {
		t.Fatalf("hello answered %v, want welcome", first)
	}
	return c
}

func TestTokenExpiryClosesLiveSocket(t *testing.T) {
	ts, c, exp := expiringSession(t, "abc", "expiry-sid-000000001")
	c.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, "x")})
	c.expectSkipping("ack", "presence")

	e := c.expectError(wire.CodeUnauthorized)
	if now := time.Now(); now.Before(exp.Truncate(time.Second)) {
		t.Fatalf("expired at %v, before the token's exp %v", now, exp.Truncate(time.Second))
	}
	if msg, _ := e["msg"].(string); !strings.Contains(msg, "token expired") || !strings.Contains(msg, "auth") {
		t.Fatalf("error %v does not say the token expired and how to renew it", e)
	}
	if code := c.expectClose(5 * time.Second); code != CloseTokenExpired {
		t.Fatalf("close code %d, want %d", code, CloseTokenExpired)
	}
	if text, _ := docText(t, ts.st, "doc"); text != "xabc" {
		t.Fatalf("document %q, want the op committed before the expiry", text)
	}
}

func TestTokenRenewalKeepsTheSocket(t *testing.T) {
	ts, c, exp := expiringSession(t, "", "renewal-sid-00000001")

	later := time.Now().Add(time.Hour).Truncate(time.Second)
	c.send(&wire.Auth{Token: signToken(t, testSecret, "u1", map[string]string{"d*": "rw"}, false, later)})
	a := c.expectSkipping(wire.TypeAuthed, "presence") // its join's presence may come first
	if num(t, a["exp"]) != later.Unix() {
		t.Fatalf("authed %v, want exp %d", a, later.Unix())
	}
	if docs, _ := a["docs"].(map[string]any); len(docs) != 1 || docs["doc"] != "rw" {
		t.Fatalf("authed %v, want docs {doc: rw}", a)
	}

	// Past the first token's exp the socket lives on, and editing works.
	time.Sleep(time.Until(exp) + 500*time.Millisecond)
	for seq := int64(1); seq <= 3; seq++ {
		c.send(&wire.Op{Doc: "doc", V: seq - 1, Seq: seq, Op: ins(0, "x")})
		if ack := c.expectSkipping("ack", "presence"); num(t, ack["seq"]) != seq {
			t.Fatalf("ack %v, want seq %d", ack, seq)
		}
	}
	if text, v := docText(t, ts.st, "doc"); text != "xxx" || v != 3 {
		t.Fatalf("document %q at v%d, want xxx at v3", text, v)
	}
}

func TestTokenRenewalRefusedKeepsTheSession(t *testing.T) {
	_, c, _ := expiringSession(t, "", "refused-sid-00000001")
	hour := time.Now().Add(time.Hour)
	seq := int64(0)
	for _, tc := range []struct {
		name, token, why string
	}{
		{"wrong secret", signToken(t, []byte("another-secret-0123456789"), "u1", map[string]string{"doc": "rw"}, false, hour), "signature is invalid"},
		{"expired", signToken(t, testSecret, "u1", map[string]string{"doc": "rw"}, false, time.Now().Add(-time.Minute)), "expired"},
		{"another user", signToken(t, testSecret, "u2", map[string]string{"doc": "rw"}, false, hour), `for user "u2"`},
		{"garbage", "not-a-token", "malformed"},
	} {
		c.send(&wire.Auth{Token: tc.token})
		e := c.expectError(wire.CodeUnauthorized)
		if msg, _ := e["msg"].(string); !strings.Contains(msg, "renewal refused") || !strings.Contains(msg, tc.why) {
			t.Fatalf("%s: error %v, want a refused renewal saying %q", tc.name, e, tc.why)
		}
		// The session carries on with its valid token.
		seq++
		c.send(&wire.Op{Doc: "doc", V: seq - 1, Seq: seq, Op: ins(0, "x")})
		if ack := c.expectSkipping("ack", "presence"); num(t, ack["seq"]) != seq {
			t.Fatalf("%s: ack %v, want seq %d", tc.name, ack, seq)
		}
	}
	// A refused renewal does not extend the token: it still expires on time.
	c.expectError(wire.CodeUnauthorized)
	if code := c.expectClose(5 * time.Second); code != CloseTokenExpired {
		t.Fatalf("close code %d, want %d", code, CloseTokenExpired)
	}
}

func TestTokenRenewalReplacesGrants(t *testing.T) {
	t.Parallel()
	ts := newAuthServer(t, memStore(t), nil)
	createDoc(t, ts.st, "doc-a", "a")
	createDoc(t, ts.st, "doc-b", "b")
	hour := time.Now().Add(time.Hour)
	c := dialToken(t, ts, "grants-sid-000000001", signToken(t, testSecret, "u1", map[string]string{"doc-*": "rw"}, false, hour))
	c.join("doc-a", nil)
	c.join("doc-b", nil)
	// A second user watches doc-b and sees the first one leave it.
	w := dialToken(t, ts, "grants-sid-000000002", signToken(t, testSecret, "u2", map[string]string{"doc-b": "r"}, false, hour))
	w.join("doc-b", nil)
	c.send(&wire.Presence{Doc: "doc-b", V: 0, Sel: ot.Selection{{Anchor: 1, Head: 1}}})
	for { // announced, so that its departure is news
		if _, ok := peerSel(t, w.expect("presence"), "grants-sid-000000001"); ok {
			break
		}
	}

	c.send(&wire.Auth{Token: signToken(t, testSecret, "u1", map[string]string{"doc-a": "r"}, false, hour.Add(time.Minute))})
	e := c.nextNot("presence")
	if e["t"] != "error" || e["code"] != wire.CodeForbidden || e["doc"] != "doc-b" {
		t.Fatalf("got %v, want error forbidden for doc-b", e)
	}
	a := c.nextNot("presence")
	if docs, _ := a["docs"].(map[string]any); a["t"] != wire.TypeAuthed || len(docs) != 1 || docs["doc-a"] != "r" {
		t.Fatalf("got %v, want authed with docs {doc-a: r}", a)
	}
	c.send(&wire.Op{Doc: "doc-a", V: 0, Seq: 1, Op: ins(0, "x")})
	c.expectError(wire.CodeForbidden)
	c.send(&wire.Op{Doc: "doc-b", V: 0, Seq: 1, Op: ins(0, "x")})
	c.expectError(wire.CodeBadRequest) // left: join first
	c.send(&wire.Join{Doc: "doc-b"})
	c.expectError(wire.CodeForbidden)
	for {
		m := w.expect("presence")
		if gone, _ := m["gone"].([]any); len(gone) == 1 && gone[0] == "grants-sid-000000001" {
			break
		}
	}
}

func TestAuthInOpenMode(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, memStore(t), nil)
	createDoc(t, ts.st, "doc", "")
	c := ts.connect(t, "open-auth-sid-000001")
	c.join("doc", nil)
	c.send(&wire.Auth{Token: "anything"})
	a := c.expectSkipping(wire.TypeAuthed, "presence") // its join's presence may come first
	if _, ok := a["exp"]; ok {
		t.Fatalf("authed %v has an exp in open mode", a)
	}
	if docs, _ := a["docs"].(map[string]any); docs["doc"] != "rw" {
		t.Fatalf("authed %v", a)
	}
}

func TestSSEStreamEndsAtTokenExpiry(t *testing.T) {
	t.Parallel()
	ts := newStreamServer(t, memStore(t), time.Hour, 64, func(c *Config) {
		ja, err := auth.NewJWTAuth(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		c.Authenticator = ja
	})
	createDoc(t, ts.st, "doc", "")
	exp := shortExp()
	s := ts.openSSE(t, "/v1/docs/doc/events", signToken(t, testSecret, "u1", map[string]string{"doc": "r"}, false, exp))
	if s.resp.StatusCode != 200 {
		t.Fatalf("status %d", s.resp.StatusCode)
	}
	ev := s.nextSkipping(t, 5*time.Second)
	if time.Now().Before(exp.Truncate(time.Second)) {
		t.Fatalf("event %+v before the token's exp", ev)
	}
	var data struct {
		Code string `json:"code"`
		Msg  string `json:"msg"`
		Exp  int64  `json:"exp"`
	}
	if err := json.Unmarshal([]byte(ev.data), &data); err != nil || ev.event != "unauthorized" || data.Code != wire.CodeUnauthorized ||
		data.Exp != exp.Unix() || !strings.Contains(data.Msg, "token expired") {
		t.Fatalf("event %+v (%v), want unauthorized with the exp", ev, err)
	}
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("the stream goes on after the expiry: %v", err)
	}
	// The same token cannot resume it.
	tok := signToken(t, testSecret, "u1", map[string]string{"doc": "r"}, false, exp)
	ts.call(t, "GET", "/v1/docs/doc/events", tok, nil).problem(t, 401, wire.CodeUnauthorized)
}
