//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
)

// One owner per document (server/actor_owner.go), with real processes: the
// owner is killed, then the next one; a node is paused past its lease; Redis
// restarts. Through all of it every acked op is stored exactly once at the
// version it was acked as, no client sees a gap in the versions it is given,
// and everyone converges.

// history records what the clients were told: the acks, and the resets (a
// jump a client could not follow op by op, as a re-join answered with the
// whole text after a long absence).
type history struct {
	mu     sync.Mutex
	acks   map[string]int64 // sid/seq -> acked version
	resets map[string]int
	errs   []string // errors the server sent the clients
	docs   map[string]*client.Doc
	conns  map[string]*client.Conn
}

func newHistory() *history {
	return &history{acks: map[string]int64{}, resets: map[string]int{}, docs: map[string]*client.Doc{}, conns: map[string]*client.Conn{}}
}

func (h *history) options(sid string) []client.DocOption {
	return []client.DocOption{
		client.OnAck(func(ai client.AckInfo) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.acks[sid+"/"+strconv.FormatInt(ai.Seq, 10)] = ai.V
		}),
		client.OnError(func(err error) {
			h.mu.Lock()
			h.errs = append(h.errs, sid+": "+err.Error())
			h.mu.Unlock()
		}),
		client.OnChange(func(c client.Change) {
			if c.Reset {
				h.mu.Lock()
				h.resets[sid]++
				h.mu.Unlock()
			}
		}),
	}
}

// check asserts the acks against the store's log (each acked op stored
// once, at the version it was acked as), that no client saw a gap or an ack
// out of turn (client.Doc.Gaps), that none was reset other than when it
// reconnected, and that none got an error.
func (h *history) check(t *testing.T, c *cluster, docID, initial, text string, v int64) {
	t.Helper()
	ops := c.checkStore(docID, initial, text, v)
	h.mu.Lock()
	defer h.mu.Unlock()
	checkAcked(t, ops, h.acks)
	for _, e := range h.errs {
		t.Errorf("a client got an error (a failover must be a pause, not an error): %s", e)
	}
	sessions := 0
	for sid, d := range h.docs {
		n := h.conns[sid].Sessions()
		sessions += n
		if g := d.Gaps(); g > 0 {
			t.Errorf("client %s saw %d gaps (an op past its version, an ack out of turn, a short joined)", sid, g)
		}
		if h.resets[sid] > n-1 {
			t.Errorf("client %s was reset %d times in %d sessions", sid, h.resets[sid], n)
		}
	}
	t.Logf("%d ops stored, %d acks checked, %d clients in %d sessions, no gap", v, len(h.acks), len(h.docs), sessions)
}

// owner finds the node that commits: the one whose committed-op count grows
// while the clients type (and the only one).
func owner(t *testing.T, ns []*node, alive []bool) int {
	t.Helper()
	before := make([]float64, len(ns))
	for i, nd := range ns {
		if alive[i] {
			before[i] = nd.metric("tandem_ops_committed_total")
		}
	}
	var who []int
	testkit.WaitFor(t, 10*time.Second, "one node committing", func() bool {
		who = who[:0]
		for i, nd := range ns {
			if alive[i] && nd.metric("tandem_ops_committed_total") > before[i] {
				who = append(who, i)
			}
		}
		return len(who) > 0
	})
	if len(who) != 1 {
		t.Fatalf("nodes %v all committed; want one owner", who)
	}
	return who[0]
}

// spread opens docID for n clients on the nodes round-robin, each able to
// move to every other node.
func spread(t *testing.T, ns []*node, n int, docID string, h *history) []*client.Doc {
	t.Helper()
	urls := make([]string, len(ns))
	for i, nd := range ns {
		urls[i] = nd.wsURL()
	}
	docs := make([]*client.Doc, n)
	for i := range docs {
		home := i % len(ns)
		var others []string
		for k := 1; k < len(urls); k++ {
			others = append(others, urls[(home+k)%len(urls)])
		}
		conn := dial(t, i, urls[home], others...)
		docs[i] = collab.Open(t, conn, docID, h.options(conn.SID())...)
		h.mu.Lock()
		h.docs[conn.SID()], h.conns[conn.SID()] = docs[i], conn
		h.mu.Unlock()
	}
	return docs
}

// TestOwnerKilledTwice: three nodes, clients on all three; the owner is
// SIGKILLed mid-load, then the node that took over. The last node takes
// the lease within the presence TTL each time, the clients move and
// resubmit, and nothing acked is lost or doubled.
func TestOwnerKilledTwice(t *testing.T) {
	const (
		initial = "kill the owner, twice\n"
		ttl     = 2 * time.Second
	)
	c := newCluster(t, testkit.RedisURL(), ttl)
	ns := c.start(3)
	c.createDoc("owner-killed", initial)
	h := newHistory()
	docs := spread(t, ns, 9, "owner-killed", h)
	stop := collab.Editing(t, docs, editPause)
	alive := []bool{true, true, true}
	for round := range 2 {
		time.Sleep(time.Second)
		o := owner(t, ns, alive)
		ns[o].kill()
		alive[o] = false
		killed := time.Now()
		next := owner(t, ns, alive)
		took := time.Since(killed)
		t.Logf("round %d: owner %s killed, %s committing after %v", round, ns[o].name, ns[next].name, took.Round(time.Millisecond))
		if took > ttl+time.Second {
			t.Errorf("the next owner took %v (TTL %v)", took, ttl)
		}
	}
	time.Sleep(time.Second)
	stop()
	text, v := collab.Converge(t, docs, 45*time.Second)
	h.check(t, c, "owner-killed", initial, text, v)
}

// TestOwnerPausedPastLease: the owner is SIGSTOPped for twice the presence
// TTL (four leases) while clients on the other nodes type; another node
// takes over. When the old owner resumes it finds out it lost the lease and
// commits nothing with it (an append in flight at the stop finds a new
// owner's ops in the store and is refused by the version check).
func TestOwnerPausedPastLease(t *testing.T) {
	const (
		initial = "SIGSTOP the owner\n"
		ttl     = 2 * time.Second
	)
	c := newCluster(t, testkit.RedisURL(), ttl)
	ns := c.start(3)
	c.createDoc("owner-paused", initial)
	h := newHistory()
	docs := spread(t, ns, 9, "owner-paused", h)
	stop := collab.Editing(t, docs, editPause)
	time.Sleep(time.Second)
	alive := []bool{true, true, true}
	o := owner(t, ns, alive)
	if err := ns[o].p.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	alive[o] = false
	next := owner(t, ns, alive)
	t.Logf("%s stopped, %s committing after %v", ns[o].name, ns[next].name, time.Since(stopped).Round(time.Millisecond))
	time.Sleep(2*ttl - time.Since(stopped))
	if err := ns[o].p.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl)
	if ns[next].metric("tandem_ops_committed_total") == 0 {
		t.Errorf("%s never committed", ns[next].name)
	}
	stop()
	text, v := collab.Converge(t, docs, 45*time.Second)
	h.check(t, c, "owner-paused", initial, text, v)
	// An op is stamped by the node that commits it as it prepares it: an op
	// the old owner prepared before the stop and committed after the new
	// owner's ops is a commit with a stale lease.
	ops, err := c.st.ReadOps(context.Background(), "owner-paused", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var newer int64 = -1
	for _, r := range ops {
		if r.CreatedAt.After(stopped.Add(100 * time.Millisecond)) {
			if newer < 0 {
				newer = r.Version
			}
		} else if newer >= 0 && r.CreatedAt.Before(stopped) {
			t.Fatalf("op v%d, prepared before the old owner was stopped (%v), was committed after the new owner's v%d", r.Version, r.CreatedAt, newer)
		}
	}
	if newer < 0 {
		t.Fatal("no op was committed after the stop")
	}
}

// TestOwnerRedisRestart: the private Redis that holds the leases and the
// bus restarts under load (its leases are gone with it). Edits pause, a
// node takes the lease again, and everything acked is stored once.
func TestOwnerRedisRestart(t *testing.T) {
	const initial = "restart the leases\n"
	port := testkit.FreePort(t)
	rs := testkit.StartRedis(t, port)
	defer func() { rs.Stop() }()
	c := newCluster(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port), 2*time.Second)
	ns := c.start(3)
	c.createDoc("owner-redis", initial)
	h := newHistory()
	docs := spread(t, ns, 9, "owner-redis", h)
	stop := collab.Editing(t, docs, editPause)
	time.Sleep(time.Second)
	rs.Stop()
	time.Sleep(time.Second)
	rs = testkit.StartRedis(t, port)
	owner(t, ns, []bool{true, true, true})
	time.Sleep(time.Second)
	stop()
	text, v := collab.Converge(t, docs, 45*time.Second)
	h.check(t, c, "owner-redis", initial, text, v)
}
