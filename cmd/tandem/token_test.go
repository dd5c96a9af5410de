package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/wire"
)

const cmdSecret = "cmd-test-secret-0123456789"

// mintWithBinary runs `tandem token` and returns its output and exit code.
func mintWithBinary(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	p := start(t, env, append([]string{"token"}, args...)...)
	code := p.Wait(t, 10*time.Second)
	return strings.TrimSpace(p.Out.String()), code
}

func TestTokenCommand(t *testing.T) {
	tok, code := mintWithBinary(t, testkit.CleanEnv("TANDEM_AUTH_SECRET="+cmdSecret), "-sub", "u1", "-name", "Ann", "-docs", "doc-a=rw, team-*=r", "-admin", "-ttl", "1h")
	if code != 0 {
		t.Fatalf("tandem token exited %d: %s", code, tok)
	}
	ja, err := auth.NewJWTAuth([]byte(cmdSecret))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ja.Verify(tok)
	if err != nil {
		t.Fatalf("the minted token does not verify: %v (%q)", err, tok)
	}
	if p.UserID != "u1" || p.Name != "Ann" || !p.Admin || p.Access("doc-a") != auth.ModeReadWrite ||
		p.Access("team-9") != auth.ModeRead || p.Access("other") != auth.ModeNone {
		t.Fatalf("minted principal %+v", p)
	}
	// -auth-secret wins over the variable.
	tok, code = mintWithBinary(t, testkit.CleanEnv("TANDEM_AUTH_SECRET=some-other-secret-0000"), "-auth-secret", cmdSecret, "-sub", "u2")
	if _, err := ja.Verify(tok); code != 0 || err != nil {
		t.Fatalf("-auth-secret: exit %d, %v", code, err)
	}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		say  string
	}{
		{"no secret", testkit.CleanEnv(), []string{"-sub", "u"}, "no secret"},
		{"short secret", testkit.CleanEnv("TANDEM_AUTH_SECRET=short"), []string{"-sub", "u"}, "refuses secrets under"},
		{"no sub", testkit.CleanEnv("TANDEM_AUTH_SECRET=" + cmdSecret), nil, "-sub"},
		{"bad grant", testkit.CleanEnv("TANDEM_AUTH_SECRET=" + cmdSecret), []string{"-sub", "u", "-docs", "a=write"}, "grant"},
		{"bad pattern", testkit.CleanEnv("TANDEM_AUTH_SECRET=" + cmdSecret), []string{"-sub", "u", "-docs", "a.b=r"}, "bad grant"},
		{"bad ttl", testkit.CleanEnv("TANDEM_AUTH_SECRET=" + cmdSecret), []string{"-sub", "u", "-ttl", "-1h"}, "ttl"},
		{"extra argument", testkit.CleanEnv("TANDEM_AUTH_SECRET=" + cmdSecret), []string{"-sub", "u", "extra"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := mintWithBinary(t, tc.env, tc.args...)
			if code != 2 || !strings.Contains(out, tc.say) {
				t.Fatalf("exit %d, output %q; want 2 and %q", code, out, tc.say)
			}
		})
	}
}

// TestServeWithSecret: with TANDEM_AUTH_SECRET the server starts with token
// authentication on and holds REST and WebSocket requests to it.
func TestServeWithSecret(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_AUTH_SECRET="+cmdSecret))
	addr := p.Addr(t, 20*time.Second)
	if log := p.Out.String(); !strings.Contains(log, "token authentication on") || strings.Contains(log, "running OPEN") {
		t.Fatalf("start-up log:\n%s", log)
	}
	base := "http://" + addr
	if code, body := get(t, base+"/v1/docs"); code != 401 || !strings.Contains(body, `"unauthorized"`) {
		t.Fatalf("GET /v1/docs without a token: %d %s", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	admin, code := mintWithBinary(t, testkit.CleanEnv("TANDEM_AUTH_SECRET="+cmdSecret), "-sub", "root", "-docs", "*=rw", "-admin")
	if code != 0 {
		t.Fatalf("token: %d %s", code, admin)
	}
	req, _ := http.NewRequest("POST", base+"/v1/docs", strings.NewReader(`{"id":"cmd-doc","content":"hi"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create with an admin token: %d", resp.StatusCode)
	}

	wsURL := "ws://" + addr + "/v1/ws"
	hello := func(c *websocket.Conn) map[string]any {
		t.Helper()
		b, err := wire.EncodeClient(&wire.Hello{Proto: 1, SID: "cmd-test-sid-000001"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, frame, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := msgpack.Unmarshal(frame, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	d := websocket.Dialer{Subprotocols: []string{server.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m := hello(c); m["t"] != "error" || m["code"] != "unauthorized" {
		t.Fatalf("WebSocket without a token: %v", m)
	}
	c2, _, err := d.Dial(wsURL+"?token="+admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if m := hello(c2); m["t"] != "welcome" || m["user"].(map[string]any)["id"] != "root" {
		t.Fatalf("WebSocket with a token: %v", m)
	}
}

// TestServeRefusesShortSecret: a secret too short to be safe stops start-up.
func TestServeRefusesShortSecret(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_AUTH_SECRET=short"))
	if code := p.Wait(t, 10*time.Second); code != 1 || !strings.Contains(p.Out.String(), "at least") {
		t.Fatalf("exit %d; output:\n%s", code, p.Out)
	}
}
