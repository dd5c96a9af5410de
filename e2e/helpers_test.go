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
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

var tandemBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tandem-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	tandemBin = filepath.Join(dir, "tandem")
	build := exec.Command("go", "build", "-o", tandemBin, "github.com/tandem-collab/tandem/cmd/tandem")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/tandem: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func databaseURL() string {
	if u := os.Getenv("TANDEM_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func redisURL() string {
	if u := os.Getenv("TANDEM_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

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
}

func newCluster(t testing.TB, redisURL string, ttl time.Duration) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL())
	if err != nil {
		t.Fatalf("the e2e suite needs Postgres at TANDEM_TEST_DATABASE_URL (%s) and cannot reach it: %v; start it with `make services`", redact(databaseURL()), err)
	}
	defer conn.Close(context.Background())
	schema := "e2e_" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
	if len(schema) > 40 {
		schema = schema[:40]
	}
	schema += "_" + randHex(4)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, databaseURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	rc := redis.NewClient(mustParseRedis(t, redisURL))
	err = rc.Ping(ctx).Err()
	_ = rc.Close()
	if err != nil {
		t.Fatalf("the e2e suite needs Redis at %s and cannot reach it: %v; start it with `make services`", redact(redisURL), err)
	}
	u, _ := url.Parse(databaseURL())
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := store.OpenPG(ctx, databaseURL(), store.PGOptions{Schema: schema})
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(st.Close)
	return &cluster{t: t, schema: schema, dbURL: u.String(), redisURL: redisURL, prefix: "e2e:" + randHex(4) + ":", ttl: ttl, st: st}
}

func mustParseRedis(t testing.TB, u string) *redis.Options {
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse Redis URL %s: %v", redact(u), err)
	}
	return o
}

// node is one tandem process.
type node struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	addr string
	done chan struct{}
}

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

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// start runs n more nodes and waits until each is ready.
func (c *cluster) start(n int) []*node {
	c.t.Helper()
	var out []*node
	for range n {
		nd := &node{t: c.t, name: fmt.Sprintf("node%d", len(c.nodes)), out: &lockedBuffer{}, done: make(chan struct{})}
		nd.cmd = exec.Command(tandemBin)
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "TANDEM_") {
				env = append(env, kv)
			}
		}
		nd.cmd.Env = append(env,
			"TANDEM_ADDR=127.0.0.1:0",
			"TANDEM_DATABASE_URL="+c.dbURL,
			"TANDEM_REDIS_URL="+c.redisURL,
			"TANDEM_REDIS_PREFIX="+c.prefix,
			"TANDEM_PRESENCE_TTL="+c.ttl.String(),
			"TANDEM_LOG_LEVEL=info", // "listening addr=..." is at info
			"TANDEM_SHUTDOWN_TIMEOUT=5s",
		)
		nd.cmd.Stdout, nd.cmd.Stderr = nd.out, nd.out
		if err := nd.cmd.Start(); err != nil {
			c.t.Fatalf("start %s: %v", nd.name, err)
		}
		go func() {
			_ = nd.cmd.Wait()
			close(nd.done)
		}()
		c.t.Cleanup(func() {
			_ = nd.cmd.Process.Kill()
			<-nd.done
			if c.t.Failed() {
				c.t.Logf("%s output:\n%s", nd.name, nd.out)
			}
		})
		c.nodes = append(c.nodes, nd)
		out = append(out, nd)
	}
	for _, nd := range out {
		nd.addr = nd.waitAddr()
		waitReady(c.t, "http://"+nd.addr+"/readyz")
	}
	return out
}

func (nd *node) waitAddr() string {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(nd.out.String()); m != nil {
			return m[1]
		}
		select {
		case <-nd.done:
			nd.t.Fatalf("%s exited before listening; output:\n%s", nd.name, nd.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	nd.t.Fatalf("%s did not log its address; output:\n%s", nd.name, nd.out)
	return ""
}

func waitReady(t testing.TB, u string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became ready: %v", u, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (nd *node) wsURL() string { return "ws://" + nd.addr + "/v1/ws" }

// kill SIGKILLs the node: no drain, no goodbye on the bus.
func (nd *node) kill() {
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
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
	if _, err := c.st.CreateDoc(ctx, store.NewDocument{ID: id, Type: "text", Content: content}); err != nil {
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
		SID:          fmt.Sprintf("e2e-%02d-%s", i, randHex(6)),
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

func open(t testing.TB, c *client.Conn, docID string, opts ...client.DocOption) *client.Doc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.Open(ctx, docID, opts...)
	if err != nil {
		t.Fatalf("open %q: %v", docID, err)
	}
	return d
}

var pieces = []string{"a", "b", "z", " ", "\n", "é", "中", "😀", "👩‍💻", "🇫🇷"}

// randomEdit is a random valid op against text.
func randomEdit(r *rand.Rand, text string) ot.Op {
	n := utf8.RuneCountInString(text)
	pos := r.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	if pos < n && r.IntN(3) == 0 {
		op = append(op, ot.Component{Delete: 1 + r.IntN(min(4, n-pos))})
		if r.IntN(2) == 0 {
			return op
		}
	}
	var b strings.Builder
	for k := 1 + r.IntN(3); k > 0; k-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return append(op, ot.Component{Insert: b.String()})
}

// editing runs a random edit loop on every doc until stop is called, which
// waits for the loops and fails the test on an edit error.
func editing(t *testing.T, docs []*client.Doc) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, len(docs))
	for i, d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				for k := 1 + r.IntN(3); k > 0; k-- {
					if err := d.Edit(func(text string) ot.Op { return randomEdit(r, text) }); err != nil {
						if !errors.Is(err, client.ErrClosed) {
							errs <- fmt.Errorf("client %d: %w", i, err)
						}
						return
					}
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(2+r.IntN(10)) * time.Millisecond):
				}
			}
		}()
	}
	return func() {
		t.Helper()
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("edit failed: %v", err)
		}
	}
}

// converge waits until every doc is synced at one version and returns the
// common text; it fails on divergence.
func converge(t *testing.T, docs []*client.Doc) (string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var top int64
	for i, d := range docs {
		if err := d.WaitSynced(ctx); err != nil {
			t.Fatalf("client %d did not sync: %v (pending %d)", i, err, d.Pending())
		}
		top = max(top, d.Version())
	}
	var want string
	for i, d := range docs {
		if err := d.WaitVersion(ctx, top); err != nil {
			t.Fatalf("client %d did not reach v%d: %v", i, top, err)
		}
		text, v, pending := d.Snapshot()
		if v != top || pending != 0 {
			t.Fatalf("client %d at v%d with %d pending, want v%d and none", i, v, pending, top)
		}
		if i == 0 {
			want = text
		} else if text != want {
			t.Fatalf("client %d diverged at v%d:\n got  %q\n want %q", i, v, text, want)
		}
	}
	return want, top
}

// checkStore asserts Postgres holds text at v, that replaying the op log
// gives it, and that no (sid, seq) is stored twice. It returns the log.
func (c *cluster) checkStore(docID, initial, text string, v int64) []store.OpRecord {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	doc, snap, err := c.st.Load(ctx, docID)
	if err != nil {
		t.Fatalf("load %q: %v", docID, err)
	}
	if doc.Version != v || snap.Content != text {
		t.Fatalf("store holds v%d %q; clients are at v%d with %q", doc.Version, snap.Content, v, text)
	}
	ops, err := c.st.ReadOps(ctx, docID, 0, 0)
	if err != nil {
		t.Fatalf("read ops: %v", err)
	}
	replay := initial
	seen := map[string]int64{}
	for i, r := range ops {
		if r.Version != int64(i) {
			t.Fatalf("op log entry %d has version %d", i, r.Version)
		}
		if replay, err = ot.Apply(replay, r.Op); err != nil {
			t.Fatalf("replay v%d: %v", r.Version, err)
		}
		k := fmt.Sprintf("%s/%d", r.SID, r.Seq)
		if prev, dup := seen[k]; dup {
			t.Fatalf("(sid, seq) %s stored twice: v%d and v%d", k, prev, r.Version)
		}
		seen[k] = r.Version
	}
	if int64(len(ops)) != v || replay != text {
		t.Fatalf("op log: %d ops replaying to %q; want %d ops and %q", len(ops), replay, v, text)
	}
	return ops
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

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// freePort is a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
