package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/wire"
)

// These tests run the real binary the way an operator does: with nothing but
// the environment, then signals.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// tandemBinary compiles this package once for all tests of the run.
func tandemBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tandem-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "tandem")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", builtBin, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/tandem: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// process is a started tandem binary.
type process struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error // set before done is closed
}

// cleanEnv is the environment minus every TANDEM_ variable, so that the
// developer's shell cannot change what "no configuration" means.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TANDEM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(tandemBinary(t), args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start tandem: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns the exit code, failing the test after timeout.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("tandem still running after %v; output:\n%s", timeout, p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// addr waits for the "listening" log line and returns the bound address.
func (p *process) addr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(p.out.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("tandem exited before listening (%v); output:\n%s", p.err, p.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("tandem did not log its address; output:\n%s", p.out)
	return ""
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
	p := start(t, cleanEnv(), "version")
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("tandem version exited %d: %s", code, p.out)
	}
	if !strings.HasPrefix(p.out.String(), "tandem ") {
		t.Fatalf("tandem version printed %q", p.out)
	}
}

// TestZeroConfigAndGracefulShutdown: with no configuration the server starts
// on the memory store, says that nothing is durable and that it runs open;
// SIGTERM closes sockets with 1001 and exits 0.
func TestZeroConfigAndGracefulShutdown(t *testing.T) {
	p := start(t, cleanEnv("TANDEM_ADDR=127.0.0.1:0"))
	addr := p.addr(t)
	log := p.out.String()
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

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
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
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; output:\n%s", code, p.out)
	}
	if !strings.Contains(p.out.String(), "stopped cleanly") {
		t.Errorf("no clean-stop line in:\n%s", p.out)
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
	p := start(t, cleanEnv("TANDEM_ADDR=127.0.0.1:0",
		"TANDEM_DATABASE_URL=postgres://postgres@"+dead+"/test?sslmode=disable&connect_timeout=2"))
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, p.out)
	}
	out := p.out.String()
	if !strings.Contains(out, "Postgres") || strings.Contains(out, "msg=listening") {
		t.Fatalf("start-up did not fail clearly:\n%s", out)
	}
}

// TestMalformedSetting: a typo in a variable is refused at once (exit 2),
// naming the variable, rather than silently taking the default.
func TestMalformedSetting(t *testing.T) {
	p := start(t, cleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_OP_RATE=fast"))
	if code := p.wait(t, 10*time.Second); code != 2 {
		t.Fatalf("exit code %d, want 2; output:\n%s", code, p.out)
	}
	if !strings.Contains(p.out.String(), "TANDEM_OP_RATE") {
		t.Fatalf("error does not name the variable:\n%s", p.out)
	}
}
