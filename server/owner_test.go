package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/server"
)

// Several nodes with owners (Config.Leases): one node sequences each
// document, the others forward to it (server/actor_owner.go).

// cutLeases is a node's view of a shared Leaser that can be cut off, as a
// partitioned node cannot reach Redis.
type cutLeases struct {
	bus.Leaser
	cut atomic.Bool
}

func (l *cutLeases) Claim(ctx context.Context, doc, node string, ttl time.Duration) (bus.Lease, error) {
	if l.cut.Load() {
		return bus.Lease{}, errors.New("cut off: " + bus.ErrLeaseUnavailable.Error())
	}
	return l.Leaser.Claim(ctx, doc, node, ttl)
}

// ownedNodes starts n nodes on one schema, a LocalNetwork and one set of
// leases, with a presence TTL of ttl (leases of half of it). Tests that
// count owners use the default TTL (10 s): with leases of a second or less,
// a goroutine stalled that long on this shared machine under -race (load
// averages above 12 were seen) lets the lease expire, and another node then
// rightly takes over.
func ownedNodes(t *testing.T, n int, ttl time.Duration, faults func(i int) (drop, dup, delay float64)) ([]*e2eServer, []*faultyBus, []*cutLeases) {
	t.Helper()
	schema := testkit.Schema(t)
	network := bus.NewLocalNetwork()
	leases := bus.NewLocalLeases()
	out := make([]*e2eServer, n)
	buses := make([]*faultyBus, n)
	cuts := make([]*cutLeases, n)
	for i := range out {
		var drop, dup, delay float64
		if faults != nil {
			drop, dup, delay = faults(i)
		}
		buses[i] = newFaultyBus(network.Bus(), drop, dup, delay, uint64(i+1))
		cuts[i] = &cutLeases{Leaser: leases}
		out[i] = startNode(t, schema, buses[i], func(c *server.Config) { c.Leases, c.PresenceTTL = cuts[i], ttl })
	}
	return out, buses, cuts
}

// committers lists the nodes that committed ops.
func committers(t *testing.T, ns []*e2eServer) (which []int, conflicts float64) {
	t.Helper()
	for i, n := range ns {
		if metric(t, n, "tandem_ops_committed_total") > 0 {
			which = append(which, i)
		}
		conflicts += metric(t, n, "tandem_commit_conflicts_total")
	}
	return which, conflicts
}

// TestOwnerConvergence: clients spread over three nodes edit one document;
// one node commits everything, with no version race, and everyone converges
// on what the store holds, each (sid, seq) once.
func TestOwnerConvergence(t *testing.T) {
	const initial = "one owner ✓\n"
	ns, buses, _ := ownedNodes(t, 3, 10*time.Second, nil)
	v := editAcross(t, ns, "owned", initial, 6, 2*time.Second)
	which, conflicts := committers(t, ns)
	if len(which) != 1 || conflicts != 0 {
		t.Fatalf("nodes %v committed with %v version conflicts; want one owner and none", which, conflicts)
	}
	// The other nodes forward on the owner's own topic of the document, so
	// that no forward goes to a node that would only drop it.
	ownerTopic := "doc:owned:node:" + buses[which[0]].Node()
	for i, b := range buses {
		got := b.published()
		if i != which[0] && got[ownerTopic] == 0 {
			t.Errorf("node %d published nothing on the owner's topic %q: %v", i, ownerTopic, got)
		}
		if i == which[0] && got[ownerTopic] != 0 {
			t.Errorf("the owner published %d messages on its own topic", got[ownerTopic])
		}
	}
	t.Logf("3 nodes, 6 clients: %d ops, all committed by node %d", v, which[0])
}

// TestOwnerLossyBus: forwards, replies, commits and announcements are lost,
// duplicated and reordered; forwarded ops are sent again and deduplicated,
// and everyone converges with every op stored once.
func TestOwnerLossyBus(t *testing.T) {
	const initial = "lossy owner\n"
	ns, _, _ := ownedNodes(t, 3, 10*time.Second, func(int) (float64, float64, float64) { return 0.1, 0.1, 0.2 })
	v := editAcross(t, ns, "lossy-owned", initial, 6, 2*time.Second)
	which, conflicts := committers(t, ns)
	if len(which) != 1 || conflicts != 0 {
		t.Fatalf("nodes %v committed with %v version conflicts; want one owner and none", which, conflicts)
	}
	t.Logf("lossy bus with an owner: %d ops", v)
}

// TestOwnerPartition: the owner is cut off from the bus and from the leases
// mid-load (as a paused or partitioned node). Another node takes the lease
// within the presence TTL and the clients of the other nodes carry on; the
// cut-off node stops committing once its lease may have expired (its
// clients' ops wait); when it is back it forwards them to the new owner and
// everyone converges, every op stored once.
func TestOwnerPartition(t *testing.T) {
	const initial = "partition\n"
	ns, buses, cuts := ownedNodes(t, 3, 900*time.Millisecond, nil)
	createDoc(t, ns[0].st, "split", initial)
	docs := make([]*client.Doc, 6)
	for i := range docs {
		docs[i] = collab.Open(t, dial(t, ns[i%3].wsURL, i, nil), "split")
	}
	stop := collab.Editing(t, docs, editPause)
	time.Sleep(500 * time.Millisecond)
	which, _ := committers(t, ns)
	if len(which) != 1 {
		t.Fatalf("nodes %v committed; want one owner", which)
	}
	old := which[0]
	buses[old].cut.Store(true)
	cuts[old].cut.Store(true)
	cutAt := time.Now()
	// The others' clients are served by a new owner within the TTL.
	var other *client.Doc
	for i, d := range docs {
		if i%3 != old {
			other = d
			break
		}
	}
	v0 := other.Version()
	ttl := 900 * time.Millisecond
	testkit.WaitFor(t, 3*ttl, "a new owner committing", func() bool { return other.Version() > v0+3 })
	if d := time.Since(cutAt); d > ttl+ttl/2 {
		t.Errorf("the new owner took %v; the TTL is %v", d, ttl)
	}
	// The old owner committed nothing after its lease's validity (3/4 of
	// half the TTL after its last claim, which was at most a tick before
	// the cut).
	time.Sleep(ttl / 2)
	stale := metric(t, ns[old], "tandem_ops_committed_total")
	time.Sleep(ttl)
	if now := metric(t, ns[old], "tandem_ops_committed_total"); now != stale {
		t.Fatalf("the cut-off old owner committed %v ops without its lease", now-stale)
	}
	buses[old].cut.Store(false)
	cuts[old].cut.Store(false)
	time.Sleep(500 * time.Millisecond)
	stop()
	text, v := collab.Converge(t, docs, 30*time.Second)
	collab.CheckStore(t, ns[0].st, "split", initial, text, v)
}

// TestOwnerLeaves: the owner's clients leave and its actor unloads; it gives
// the lease up and another node takes over without waiting for the expiry.
func TestOwnerShutdownHandsOver(t *testing.T) {
	const initial = "hand over\n"
	ns, _, _ := ownedNodes(t, 2, 900*time.Millisecond, nil)
	createDoc(t, ns[0].st, "handover", initial)
	c0 := dial(t, ns[0].wsURL, 0, nil)
	a := collab.Open(t, c0, "handover") // node 0 loads first: it owns
	b := collab.Open(t, dial(t, ns[1].wsURL, 1, nil), "handover")
	if err := b.Insert(0, "b"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, ns[1], "tandem_ops_committed_total"); got != 0 {
		t.Fatalf("node 1 committed %v ops; node 0 owns the document", got)
	}
	_ = a
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := ns[0].srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Insert(0, "c"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 450*time.Millisecond {
		t.Errorf("the op after the owner's shutdown took %v (a released lease is taken at the next tick, 150ms)", d)
	}
	if b.Text() != "cb"+initial {
		t.Fatalf("b has %q", b.Text())
	}
}

// TestOwnerExactlyOnceAcrossNodes: an op forwarded by a non-owner and the
// same (sid, seq) sent again through the owner and through the other node
// are acknowledged with one version and stored once; a deletion through a
// non-owner reaches the clients of the owner.
func TestOwnerExactlyOnceAcrossNodes(t *testing.T) {
	ns, _, _ := ownedNodes(t, 3, 10*time.Second, nil)
	createDoc(t, ns[0].st, "once-owned", "")
	ctx := context.Background()
	deleted := make(chan struct{}, 1)
	// Node 0 loads the document first: it owns it.
	collab.Open(t, dial(t, ns[0].wsURL, 0, nil), "once-owned", client.OnError(func(err error) {
		if client.IsCode(err, "deleted") {
			select {
			case deleted <- struct{}{}:
			default:
			}
		}
	}))
	bConn := dial(t, ns[1].wsURL, 1, nil)
	b := collab.Open(t, bConn, "once-owned")
	collab.Open(t, dial(t, ns[2].wsURL, 2, nil), "once-owned")
	if err := b.Insert(0, "forwarded"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.WaitSynced(wctx); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, ns[1], "tandem_ops_forwarded_total"); got == 0 {
		t.Fatal("node 1 forwarded nothing")
	}
	// The same (sid, seq) again, through REST on each node: the original.
	sid, seq := bConn.SID(), b.LastSeq()
	for i, n := range ns {
		v, err := n.srv.SubmitOp(ctx, "once-owned", 0, ot.Op{{Insert: "forwarded"}}, sid, seq, "u")
		if err != nil || v != 0 {
			t.Fatalf("resubmission through node %d: v%d, %v; want the original v0", i, v, err)
		}
	}
	ops, err := ns[0].st.ReadOps(ctx, "once-owned", 0, 0)
	if err != nil || len(ops) != 1 {
		t.Fatalf("store holds %d ops (%v), want 1", len(ops), err)
	}
	if which, _ := committers(t, ns); len(which) != 1 || which[0] != 0 {
		t.Fatalf("nodes %v committed; want node 0 alone", which)
	}
	if err := ns[2].srv.DeleteDoc(ctx, "once-owned"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-deleted:
	case <-time.After(5 * time.Second):
		t.Fatal("the owner's client was not told of the deletion through node 2")
	}
}
