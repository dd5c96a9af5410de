package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/wire"
)

// These tests run the real binary the way an operator does: with nothing but
// the environment, then signals.

// TestMain removes the tandem binary that testkit.BuildTandem built.
func TestMain(m *testing.M) { testkit.Main(m) }

// start runs the tandem binary (built once per test run) with env and args;
// it is killed at the end of the test.
func start(t *testing.T, env []string, args ...string) *testkit.Process {
	t.Helper()
	cmd := exec.Command(testkit.BuildTandem(t), args...)
	cmd.Env = env
	return testkit.StartProcess(t, "tandem", cmd)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestVersion(t *testing.T) {
	p := start(t, testkit.CleanEnv(), "version")
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("tandem version exited %d: %s", code, p.Out)
	}
	if !strings.HasPrefix(p.Out.String(), "tandem ") {
		t.Fatalf("tandem version printed %q", p.Out)
	}
}

// TestZeroConfigAndGracefulShutdown: with no configuration the server starts
// on the memory store, says that nothing is durable and that it runs open;
// SIGTERM closes sockets with 1001 and exits 0.
func TestZeroConfigAndGracefulShutdown(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0"))
	addr := p.Addr(t, 20*time.Second)
	log := p.Out.String()
	for _, want := range []string{"in-memory store", "LOST", "running OPEN"} {
		if !strings.Contains(log, want) {
			t.Errorf("start-up log does not say %q:\n%s", want, log)
		}
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	if code, body := get(t, "http://"+addr+"/metrics"); code != 200 || !strings.Contains(body, "tandem_") {
		t.Fatalf("/metrics = %d, no tandem_ metrics:\n%.500s", code, body)
	}

	d := websocket.Dialer{Subprotocols: []string{"tandem.v1"}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws://"+addr+"/v1/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	hello, err := wire.EncodeClient(&wire.Hello{Proto: 1, SID: "main-test-sid-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, hello); err != nil {
		t.Fatalf("send hello: %v", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, frame, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read welcome: %v", err)
	}
	msgs, err := wire.DecodeServer(frame)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("welcome frame: %v %v", msgs, err)
	}
	if _, ok := msgs[0].(*wire.Welcome); !ok {
		t.Fatalf("first message %T, want welcome", msgs[0])
	}

	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err = ws.ReadMessage()
		if err != nil {
			break
		}
	}
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("socket ended with %v, want close 1001", err)
	}
	if code := p.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; output:\n%s", code, p.Out)
	}
	if !strings.Contains(p.Out.String(), "stopped cleanly") {
		t.Errorf("no clean-stop line in:\n%s", p.Out)
	}
}

// TestStartupSaysWhereThingsAre: the start-up log names the demo and the API
// addresses (a wildcard listener as localhost), and / leads to both.
func TestStartupSaysWhereThingsAre(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0"))
	addr := p.Addr(t, 20*time.Second)
	testkit.WaitFor(t, 10*time.Second, "the API log line", func() bool { return strings.Contains(p.Out.String(), "msg=\"API and docs\"") })
	log := p.Out.String()
	for _, want := range []string{
		`msg="open the demo in two browser windows" url=http://` + addr + "/demo/",
		"rest=http://" + addr + "/v1/docs", "websocket=ws://" + addr + "/v1/ws", "docs=http://" + addr + "/docs/",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, log)
		}
	}
	code, body := get(t, "http://"+addr+"/")
	if code != 200 || !strings.Contains(body, `href="/demo/"`) || !strings.Contains(body, `href="/docs/api.md"`) || !strings.Contains(body, "in-memory") {
		t.Fatalf("GET / = %d:\n%.2000s", code, body)
	}
	if code, body := get(t, "http://"+addr+"/docs/api.md"); code != 200 || !strings.Contains(body, "<table>") {
		t.Fatalf("GET /docs/api.md = %d:\n%.500s", code, body)
	}
}

func TestPublicURLs(t *testing.T) {
	for _, tc := range []struct{ addr, web, ws string }{
		{"[::]:8080", "http://localhost:8080", "ws://localhost:8080"},
		{"0.0.0.0:9000", "http://localhost:9000", "ws://localhost:9000"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", "ws://127.0.0.1:8080"},
		{"[::1]:8080", "http://[::1]:8080", "ws://[::1]:8080"},
		{"10.1.2.3:80", "http://10.1.2.3:80", "ws://10.1.2.3:80"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if web, ws := publicURLs(a); web != tc.web || ws != tc.ws {
			t.Errorf("publicURLs(%s) = %s, %s; want %s, %s", tc.addr, web, ws, tc.web, tc.ws)
		}
	}
}

// TestUnreachableDatabase: a database that cannot be reached is a clear
// start-up error, not a hang and not a silent fall-back to memory.
func TestUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0",
		"TANDEM_DATABASE_URL=postgres://postgres@"+dead+"/test?sslmode=disable&connect_timeout=2"))
	if code := p.Wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, p.Out)
	}
	out := p.Out.String()
	if !strings.Contains(out, "Postgres") || strings.Contains(out, "msg=listening") {
		t.Fatalf("start-up did not fail clearly:\n%s", out)
	}
}

// TestMalformedSetting: a typo in a variable is refused at once (exit 2),
// naming the variable, rather than silently taking the default.
func TestMalformedSetting(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_OP_RATE=fast"))
	if code := p.Wait(t, 10*time.Second); code != 2 {
		t.Fatalf("exit code %d, want 2; output:\n%s", code, p.Out)
	}
	if !strings.Contains(p.Out.String(), "TANDEM_OP_RATE") {
		t.Fatalf("error does not name the variable:\n%s", p.Out)
	}
}
