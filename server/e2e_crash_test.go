package server_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
)

// TestE2ECrash builds the real binary, runs it on Postgres, drives heavy
// editing, SIGKILLs it mid-stream and starts it again on the same port: every
// op a client saw acknowledged is in the stored log at the acknowledged
// version, and the clients reconnect on their own and converge.
func TestE2ECrash(t *testing.T) {
	const (
		docID   = "crash"
		initial = "before the crash 💥\n"
		clients = 6
	)
	schema := e2eSchema(t)
	st := openStore(t, schema) // migrates the schema the binary will use
	createDoc(t, st, docID, initial)
	bin := buildTandem(t)
	addr := freeAddr(t)
	dbURL := withSearchPath(t, testDatabaseURL(), schema)

	srv := startBinary(t, bin, addr, dbURL)
	wsURL := "ws://" + addr + "/v1/ws"

	type ackRec struct {
		sid    string
		seq, v int64
	}
	var (
		ackMu sync.Mutex
		acks  []ackRec
	)
	docs := make([]*client.Doc, clients)
	conns := make([]*client.Conn, clients)
	for i := range docs {
		conns[i] = dial(t, wsURL, i, nil)
		sid := conns[i].SID()
		docs[i] = open(t, conns[i], docID, client.OnAck(func(a client.AckInfo) {
			ackMu.Lock()
			acks = append(acks, ackRec{sid: sid, seq: a.Seq, v: a.V})
			ackMu.Unlock()
		}))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			editLoop(ctx, rand.New(rand.NewPCG(uint64(i), 5)), d, func(err error) { errs <- err })
		}()
	}

	time.Sleep(1500 * time.Millisecond)
	ackMu.Lock()
	before := len(acks)
	ackMu.Unlock()
	if before == 0 {
		t.Fatalf("no op acknowledged before the crash; server log:\n%s", srv.log())
	}
	srv.kill(t)
	// Clients keep editing offline for a moment; their edits are buffered.
	time.Sleep(300 * time.Millisecond)
	srv = startBinary(t, bin, addr, dbURL)
	time.Sleep(1500 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("edit failed: %v", err)
	}

	text, v := converge(t, docs)
	ops := checkStore(t, st, docID, initial, text, v)
	ackMu.Lock()
	defer ackMu.Unlock()
	for _, a := range acks {
		if a.v >= int64(len(ops)) {
			t.Fatalf("ack (%s, %d) at v%d, but the log ends at v%d", a.sid, a.seq, a.v, len(ops))
		}
		if r := ops[a.v]; r.SID != a.sid || r.Seq != a.seq {
			t.Fatalf("ack (%s, %d) at v%d, but the log holds (%s, %d) there", a.sid, a.seq, a.v, r.SID, r.Seq)
		}
	}
	reconnected := 0
	for _, c := range conns {
		if c.Sessions() > 1 {
			reconnected++
		}
	}
	if reconnected != clients {
		t.Fatalf("%d of %d clients reconnected", reconnected, clients)
	}
	t.Logf("%d acks before the crash, %d in all; %d ops; every ack found in the log", before, len(acks), v)
}

// buildTandem compiles cmd/tandem once per test binary run.
func buildTandem(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tandem")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/tandem")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tandem: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// withSearchPath points every connection of the binary at schema: pgx passes
// unknown URL parameters to Postgres as run-time parameters.
func withSearchPath(t *testing.T, dbURL, schema string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// binServer is a running tandem process.
type binServer struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (b *binServer) log() string { return b.out.String() }

// kill SIGKILLs the process and waits for it to be gone.
func (b *binServer) kill(t *testing.T) {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tandem did not die after SIGKILL")
	}
}

// startBinary runs the server and waits until /readyz answers 200.
func startBinary(t *testing.T, bin, addr, dbURL string) *binServer {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "TANDEM_ADDR="+addr, "TANDEM_DATABASE_URL="+dbURL, "TANDEM_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tandem: %v", err)
	}
	b := &binServer{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.kill(t)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b
			}
		}
		select {
		case <-b.done:
			t.Fatalf("tandem exited during start-up:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tandem not ready on %s after 20 s (last error %v):\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
