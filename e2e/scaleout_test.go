//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"

	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/store"
)

// TestThreeNodesConverge: clients spread over three nodes edit one document
// at once; they converge, Postgres holds exactly their text, and the ops
// crossed between the nodes over Redis.
func TestThreeNodesConverge(t *testing.T) {
	const initial = "Scale out: 🌍 three nodes, one document.\n"
	c := newCluster(t, testkit.RedisURL(), 3*time.Second)
	ns := c.start(3)
	c.createDoc("spread", initial)
	docs := openAcross(t, ns, 9, "spread")
	stop := collab.Editing(t, docs, editPause)
	time.Sleep(3 * time.Second)
	stop()
	text, v := collab.Converge(t, docs, 45*time.Second)
	c.checkStore("spread", initial, text, v)
	for _, nd := range ns {
		if got := nd.metric("tandem_bus_received_total"); got == 0 {
			t.Errorf("%s received nothing over Redis", nd.name)
		}
	}
	if v < 100 {
		t.Fatalf("only %d ops in 3 s from 9 clients", v)
	}
	t.Logf("9 clients on 3 nodes: %d ops, %d code points", v, len([]rune(text)))
}

// checkAcked fails the test unless every acked op, "sid/seq" -> version in
// acked, is in the store's log ops at the version it was acked as.
func checkAcked(t *testing.T, ops []store.OpRecord, acked map[string]int64) {
	t.Helper()
	stored := make(map[string]int64, len(ops))
	for _, r := range ops {
		stored[r.SID+"/"+strconv.FormatInt(r.Seq, 10)] = r.Version
	}
	for k, av := range acked {
		sv, ok := stored[k]
		if !ok {
			t.Fatalf("acked op %s (v%d) is not stored", k, av)
		}
		if sv != av {
			t.Fatalf("acked op %s: acked as v%d, stored at v%d", k, av, sv)
		}
	}
}

// acks records every acknowledgement a client got: (sid, seq) -> version.
type acks struct {
	mu sync.Mutex
	m  map[string]int64
}

func (a *acks) record(sid string) client.DocOption {
	return client.OnAck(func(ai client.AckInfo) {
		a.mu.Lock()
		a.m[sid+"/"+strconv.FormatInt(ai.Seq, 10)] = ai.V
		a.mu.Unlock()
	})
}

// TestNodeKilledMidEdit: one of three nodes is SIGKILLed while its clients
// type. They reconnect to the other nodes, resubmit and converge; every
// acknowledged op is stored exactly once, at the version it was acked as;
// the caret of a user who stays on the dead node vanishes from the others
// within the presence time-to-live.
func TestNodeKilledMidEdit(t *testing.T) {
	const (
		initial = "kill -9 mid-edit\n"
		ttl     = 2 * time.Second
	)
	c := newCluster(t, testkit.RedisURL(), ttl)
	ns := c.start(3)
	c.createDoc("killed", initial)
	urls := []string{ns[0].wsURL(), ns[1].wsURL(), ns[2].wsURL()}
	ack := &acks{m: map[string]int64{}}
	var docs []*client.Doc
	var conns []*client.Conn
	for i := range 6 {
		// Clients of node 0 know the other nodes; the others are pinned.
		var fallbacks []string
		if i%3 == 0 {
			fallbacks = urls[1:]
		}
		conn := dial(t, i, urls[i%3], fallbacks...)
		conns = append(conns, conn)
		docs = append(docs, collab.Open(t, conn, "killed", ack.record(conn.SID())))
	}
	// A user on node 0 with nowhere else to go: it disappears with its node.
	ghostConn := dial(t, 99, urls[0])
	ghost := collab.Open(t, ghostConn, "killed")
	if err := ghost.SetSelection(ot.Selection{{Anchor: 1, Head: 3}}, nil); err != nil {
		t.Fatal(err)
	}
	watcher := docs[1] // on node 1
	testkit.WaitFor(t, 5*time.Second, "the ghost's caret on node 1", func() bool { return peerSeen(watcher, ghostConn.SID(), true) })

	stop := collab.Editing(t, docs, editPause)
	time.Sleep(1500 * time.Millisecond)
	ns[0].kill()
	killed := time.Now()
	time.Sleep(1500 * time.Millisecond)
	stop()

	testkit.WaitFor(t, ttl+3*time.Second, "the ghost's caret to vanish from node 1 and node 2", func() bool {
		return !peerSeen(docs[1], ghostConn.SID(), false) && !peerSeen(docs[2], ghostConn.SID(), false)
	})
	vanished := time.Since(killed)
	if vanished > ttl+2*time.Second {
		t.Fatalf("the dead node's caret took %v to vanish (TTL %v)", vanished, ttl)
	}

	text, v := collab.Converge(t, docs, 45*time.Second)
	ops := c.checkStore("killed", initial, text, v)
	ack.mu.Lock()
	defer ack.mu.Unlock()
	checkAcked(t, ops, ack.m)
	for _, i := range []int{0, 3} {
		if conns[i].URL() == urls[0] || conns[i].Sessions() < 2 {
			t.Fatalf("client %d of the dead node is on %s after %d sessions: it did not move", i, conns[i].URL(), conns[i].Sessions())
		}
	}
	t.Logf("node 0 killed: %d ops stored, %d acks checked, clients 0 and 3 moved, caret gone %v after the kill", v, len(ack.m), vanished.Round(10*time.Millisecond))
}

// TestRedisRestartMidEdit: Redis (a private server, so nobody else's tests
// notice) is restarted while clients on three nodes type. The nodes
// reconnect to it, nothing diverges, and ops cross over Redis again after.
func TestRedisRestartMidEdit(t *testing.T) {
	const initial = "redis restart\n"
	port := testkit.FreePort(t)
	rs := testkit.StartRedis(t, port)
	defer func() { rs.Stop() }()
	c := newCluster(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port), 3*time.Second)
	ns := c.start(3)
	c.createDoc("restart", initial)
	docs := openAcross(t, ns, 6, "restart")
	stop := collab.Editing(t, docs, editPause)
	time.Sleep(time.Second)
	rs.Stop()
	time.Sleep(time.Second)
	rs = testkit.StartRedis(t, port)
	time.Sleep(1500 * time.Millisecond)
	stop()
	text, v := collab.Converge(t, docs, 45*time.Second)
	c.checkStore("restart", initial, text, v)

	// The bus works again: an edit on node 0 reaches node 1 through Redis.
	testkit.WaitFor(t, 10*time.Second, "the nodes to report the lost messages", func() bool {
		return ns[1].metric("tandem_bus_lost_total") > 0 && ns[2].metric("tandem_bus_lost_total") > 0
	})
	before := ns[1].metric("tandem_bus_received_total")
	for k := range 5 {
		if err := docs[0].Insert(0, strconv.Itoa(k)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := docs[0].WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if err := docs[1].WaitVersion(ctx, docs[0].Version()); err != nil {
		t.Fatal(err)
	}
	if after := ns[1].metric("tandem_bus_received_total"); after <= before {
		t.Fatalf("node 1 received nothing over Redis after the restart (%v -> %v)", before, after)
	}
	text, v = collab.Converge(t, docs, 45*time.Second)
	c.checkStore("restart", initial, text, v)
	t.Logf("Redis restarted mid-edit: %d ops, converged", v)
}
