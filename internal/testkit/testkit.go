// Package testkit is the test support shared by the tests of store, server,
// cmd/tandem and e2e: where the test Postgres and Redis are, a fresh Postgres
// schema per test, loopback addresses, and the real tandem binary run as a
// process whose output the test can read while it runs.
//
// It imports no Tandem package, so that in-package tests (package server,
// package store) can use it without an import cycle. Helpers that drive the
// Go client live in the sub-package collab, so that store tests do not pull
// the client in.
//
// Tests that need Postgres or Redis fail loudly when it is unreachable; they
// never skip (see the team brief).
package testkit

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDatabaseURL is the test Postgres of the development environment
// (`make services`), used when TANDEM_TEST_DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DefaultRedisURL is the test Redis of the development environment, used
// when TANDEM_TEST_REDIS_URL is unset.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// DatabaseURL is the Postgres the tests use: TANDEM_TEST_DATABASE_URL, or
// DefaultDatabaseURL.
func DatabaseURL() string {
	if u := os.Getenv("TANDEM_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// RedisURL is the Redis the tests use: TANDEM_TEST_REDIS_URL, or
// DefaultRedisURL.
func RedisURL() string {
	if u := os.Getenv("TANDEM_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultRedisURL
}

// Redact hides the password of a URL, so that failure messages can name the
// server they could not reach without leaking a secret into CI logs.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// RandHex is n random bytes in hex: unique names for schemas, prefixes and
// session IDs, so that parallel test runs on one server never collide.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// Schema creates an empty Postgres schema for one test in DatabaseURL and
// drops it (CASCADE) at the end of the test, so that tests never see each
// other's rows. Its name starts with the test's name, for whoever finds one
// left behind by a killed run. Cleanups registered after Schema (closing a
// store on it) run before the drop. An unreachable Postgres fails the test
// with a message that says where it looked and how to start it.
func Schema(tb testing.TB) string {
	tb.Helper()
	dbURL := DatabaseURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("this test needs Postgres at TANDEM_TEST_DATABASE_URL (%s) and cannot reach it: %v; start it with `make services`", Redact(dbURL), err)
	}
	defer conn.Close(context.Background())
	name := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(tb.Name()), "_"), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	schema := "t_" + name + "_" + RandHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create schema %s at %s: %v", schema, Redact(dbURL), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// WithSearchPath returns dbURL with search_path set to schema, for a process
// (the tandem binary) that is given only a URL: pgx passes unknown URL
// parameters to Postgres as run-time parameters.
func WithSearchPath(tb testing.TB, dbURL, schema string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("parse database URL %s: %v", Redact(dbURL), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// FreeAddr is a loopback host:port nobody listens on right now, for a process
// that must be restarted on the same address.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pick a free loopback port: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// FreePort is the port of FreeAddr.
func FreePort(tb testing.TB) int {
	tb.Helper()
	_, p, _ := net.SplitHostPort(FreeAddr(tb))
	port, err := strconv.Atoi(p)
	if err != nil {
		tb.Fatalf("free loopback port %q: %v", p, err)
	}
	return port
}

// LockedBuffer collects a process's output while the test reads it: the
// process's copying goroutines and the test would race on a bytes.Buffer.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// LogWriter is an io.Writer that sends each write to tb's log (a slog
// handler writes one line per call), so that the logs of what a test runs
// show with its failure and nowhere else.
func LogWriter(tb testing.TB) io.Writer { return logWriter{tb} }

type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// WaitFor polls cond every 5 ms until it holds, failing the test with what
// it waited for once timeout has passed; it returns how long it took.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}
