package main

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func testDatabaseURL() string {
	if u := os.Getenv("TANDEM_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func testRedisURL() string {
	if u := os.Getenv("TANDEM_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// TestRedisWithoutDatabaseRefused: nodes on private memory stores cannot
// share a bus, so the binary says so instead of starting.
func TestRedisWithoutDatabaseRefused(t *testing.T) {
	p := start(t, cleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_REDIS_URL="+testRedisURL()))
	if code := p.wait(t, 20*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "TANDEM_DATABASE_URL") || strings.Contains(out, "msg=listening") {
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
	p := start(t, cleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_DATABASE_URL="+testDatabaseURL(), "TANDEM_REDIS_URL=redis://"+dead+"/0"))
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "Redis") || strings.Contains(out, "msg=listening") {
		t.Fatalf("start-up did not fail clearly:\n%s", out)
	}
}

// TestRedisBusStarts: with Postgres and Redis the node starts, says it is
// on the bus, and drains cleanly.
func TestRedisBusStarts(t *testing.T) {
	p := start(t, cleanEnv("TANDEM_ADDR=127.0.0.1:0", "TANDEM_DATABASE_URL="+testDatabaseURL(), "TANDEM_REDIS_URL="+testRedisURL(), "TANDEM_PRESENCE_TTL=3s"))
	addr := p.addr(t)
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if !strings.Contains(p.out.String(), "scale-out bus on Redis") {
		t.Fatalf("no bus line in the log:\n%s", p.out)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT; output:\n%s", code, p.out)
	}
}
