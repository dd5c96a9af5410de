//go:build e2e

// Package e2e runs real tandem processes (built from ./cmd/tandem) on
// loopback ports against the real Postgres and Redis, and drives them with
// the Go client. Run it with `make e2e` (part of `make test`), or
// `go test -tags e2e ./e2e/`. It needs Postgres at TANDEM_TEST_DATABASE_URL
// and Redis at TANDEM_TEST_REDIS_URL (`make services` starts both) and
// redis-server on PATH for the Redis restart test; it fails, never skips,
// when one is missing.
package e2e

import (
	"context"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/store"
)

// TestMain removes the tandem binary the tests built.
func TestMain(m *testing.M) { testkit.Main(m) }

// cluster is one test's deployment: a Postgres schema of its own, a Redis
// channel prefix of its own, and the nodes started on them.
type cluster struct {
	t        testing.TB
	schema   string
	dbURL    string // with search_path set to the schema: what the nodes get
	redisURL string
	prefix   string
	ttl      time.Duration
	st       *store.PGStore
	nodes    []*node
	env      []string // more TANDEM_* settings for the nodes started from now on
}

func newCluster(t testing.TB, redisURL string, ttl time.Duration) *cluster {
	t.Helper()
	schema := testkit.Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := redis.NewClient(mustParseRedis(t, redisURL))
	err := rc.Ping(ctx).Err()
	_ = rc.Close()
	if err != nil {
		t.Fatalf("the e2e suite needs Redis at %s and cannot reach it: %v; start it with `make services`", testkit.Redact(redisURL), err)
	}
	st, err := store.OpenPG(ctx, testkit.DatabaseURL(), store.PGOptions{Schema: schema})
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(st.Close)
	return &cluster{t: t, schema: schema, dbURL: testkit.WithSearchPath(t, testkit.DatabaseURL(), schema), redisURL: redisURL, prefix: "e2e:" + testkit.RandHex(4) + ":", ttl: ttl, st: st}
}

func mustParseRedis(t testing.TB, u string) *redis.Options {
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse Redis URL %s: %v", testkit.Redact(u), err)
	}
	return o
}

// node is one tandem process.
type node struct {
	t    testing.TB
	name string
	p    *testkit.Process
	addr string
}

// start runs n more nodes and waits until each is ready.
func (c *cluster) start(n int) []*node {
	c.t.Helper()
	var out []*node
	for range n {
		nd := &node{t: c.t, name: fmt.Sprintf("node%d", len(c.nodes))}
		cmd := exec.Command(testkit.BuildTandem(c.t))
		cmd.Env = testkit.CleanEnv(
			"TANDEM_ADDR=127.0.0.1:0",
			"TANDEM_DATABASE_URL="+c.dbURL,
			"TANDEM_REDIS_URL="+c.redisURL,
			"TANDEM_REDIS_PREFIX="+c.prefix,
			"TANDEM_PRESENCE_TTL="+c.ttl.String(),
			"TANDEM_LOG_LEVEL=info", // "listening addr=..." is at info
			"TANDEM_SHUTDOWN_TIMEOUT=5s",
		)
		cmd.Env = append(cmd.Env, c.env...)
		nd.p = testkit.StartProcess(c.t, nd.name, cmd)
		c.nodes = append(c.nodes, nd)
		out = append(out, nd)
	}
	for _, nd := range out {
		nd.addr = nd.p.Addr(c.t, 30*time.Second)
		nd.p.WaitReady(c.t, "http://"+nd.addr+"/readyz", 20*time.Second)
	}
	return out
}

func (nd *node) wsURL() string { return "ws://" + nd.addr + "/v1/ws" }

// kill SIGKILLs the node: no drain, no goodbye on the bus.
func (nd *node) kill() {
	nd.t.Helper()
	nd.p.Kill(nd.t, 10*time.Second)
}

// metric reads one unlabelled sample from the node's /metrics.
func (nd *node) metric(name string) float64 {
	nd.t.Helper()
	resp, err := http.Get("http://" + nd.addr + "/metrics")
	if err != nil {
		nd.t.Fatalf("GET %s/metrics: %v", nd.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		nd.t.Fatalf("%s: metric %s not found", nd.name, name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func (c *cluster) createDoc(id, content string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.st.CreateDoc(ctx, store.NewDocument{ID: id, Type: "text", Content: textdoc.MustString(content)}); err != nil {
		c.t.Fatalf("create document %q: %v", id, err)
	}
}

// dial connects a client to url, falling back to fallbacks in turn when
// that node goes away.
func dial(t testing.TB, i int, url string, fallbacks ...string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		URL:          url,
		FallbackURLs: fallbacks,
		SID:          fmt.Sprintf("e2e-%02d-%s", i, testkit.RandHex(6)),
		User:         client.User{Name: fmt.Sprintf("user %d", i), Color: "#2196f3"},
		Backoff:      client.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		PingInterval: time.Second,
		ReadTimeout:  3 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial client %d to %s: %v", i, url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// openAcross opens docID for n clients spread round-robin over ns.
func openAcross(t testing.TB, ns []*node, n int, docID string) []*client.Doc {
	t.Helper()
	docs := make([]*client.Doc, n)
	for i := range docs {
		docs[i] = collab.Open(t, dial(t, i, ns[i%len(ns)].wsURL()), docID)
	}
	return docs
}

// editPause is the pause between the bursts of these tests' edit loops.
var editPause = collab.Pause{Min: 2 * time.Millisecond, Max: 12 * time.Millisecond}

// checkStore is collab.CheckStore on the cluster's store.
func (c *cluster) checkStore(docID, initial, text string, v int64) []store.OpRecord {
	c.t.Helper()
	return collab.CheckStore(c.t, c.st, docID, initial, text, v)
}

// peerSeen reports whether d sees the peer with this sid (with a caret when
// withSel).
func peerSeen(d *client.Doc, sid string, withSel bool) bool {
	for _, p := range d.Peers() {
		if p.SID == sid {
			return !withSel || len(p.Sel) > 0
		}
	}
	return false
}
