package main

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
)

// TestRedisWithoutDatabaseRefused: nodes on private memory stores cannot
// share a bus, so the binary says so instead of starting.
func TestRedisWithoutDatabaseRefused(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_REDIS_URL="+testkit.RedisURL()))
	if code := p.Wait(t, 20*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, p.Out)
	}
	if out := p.Out.String(); !strings.Contains(out, "TANDEM_DATABASE_URL") || strings.Contains(out, "msg=listening") {
		t.Fatalf("start-up did not fail clearly:\n%s", out)
	}
}

// TestUnreachableRedis: a configured Redis that is not there stops start-up
// (exit 1, naming Redis) rather than running as a silent single node.
func TestUnreachableRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_DATABASE_URL="+privateDB(t), "TANDEM_REDIS_URL=redis://"+dead+"/0"))
	if code := p.Wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, p.Out)
	}
	if out := p.Out.String(); !strings.Contains(out, "Redis") || strings.Contains(out, "msg=listening") {
		t.Fatalf("start-up did not fail clearly:\n%s", out)
	}
}

// TestRedisBusStarts: with Postgres and Redis the node starts, says it is
// on the bus, and drains cleanly.
func TestRedisBusStarts(t *testing.T) {
	p := start(t, testkit.CleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_DATABASE_URL="+privateDB(t), "TANDEM_REDIS_URL="+testkit.RedisURL(), "TANDEM_PRESENCE_TTL=3s"))
	addr := p.Addr(t, 20*time.Second)
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if !strings.Contains(p.Out.String(), "scale-out bus on Redis") {
		t.Fatalf("no bus line in the log:\n%s", p.Out)
	}
	_ = p.Cmd.Process.Signal(os.Interrupt)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT; output:\n%s", code, p.Out)
	}
}

// privateDB is the test database with a schema of this test's own, so that
// the binary's migrations never meet the shared public schema, which another
// checkout's (newer) binary may have migrated further.
func privateDB(t *testing.T) string {
	t.Helper()
	return testkit.WithSearchPath(t, testkit.DatabaseURL(), testkit.Schema(t))
}
