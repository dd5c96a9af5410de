package server_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/server"
)

// TestOwnerOverRedis: three nodes over a RedisBus with Redis leases, clients
// on each: one owner commits, everyone converges on the store.
func TestOwnerOverRedis(t *testing.T) {
	const initial = "redis owner\n"
	schema := testkit.Schema(t)
	prefix := "tandem-test-" + testkit.RandHex(6) + ":"
	ns := make([]*e2eServer, 3)
	for i := range ns {
		b := openRedisBus(t, prefix)
		ns[i] = startNode(t, schema, b, func(c *server.Config) { c.Leases, c.PresenceTTL = b.Leases(), 10*time.Second })
	}
	v := editAcross(t, ns, "redis-owned", initial, 6, 2*time.Second)
	which, conflicts := committers(t, ns)
	if len(which) != 1 || conflicts != 0 {
		t.Fatalf("nodes %v committed with %v version conflicts; want one owner and none", which, conflicts)
	}
	t.Logf("3 nodes over Redis: %d ops, committed by node %d", v, which[0])
}

// openRedisBus opens a node's RedisBus on the test Redis under prefix (the
// nodes of one test share it, and no other test hears them); it fails the
// test loudly when Redis is unreachable.
func openRedisBus(t *testing.T, prefix string) *bus.RedisBus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(testkit.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := bus.OpenRedis(ctx, testkit.RedisURL(), bus.RedisOptions{Prefix: prefix, Logger: log})
	if err != nil {
		t.Fatalf("this test needs Redis at TANDEM_TEST_REDIS_URL (%s) and cannot reach it: %v; start it with `make services`", testkit.Redact(testkit.RedisURL()), err)
	}
	// Closed after the node's server (cleanups run last-registered first).
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close redis bus: %v", err)
		}
	})
	return b
}
