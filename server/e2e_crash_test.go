package server_test

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
)

// TestMain removes the tandem binary that testkit.BuildTandem built.
func TestMain(m *testing.M) { testkit.Main(m) }

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
	schema := testkit.Schema(t)
	st := openStore(t, schema) // migrates the schema the binary will use
	createDoc(t, st, docID, initial)
	bin := testkit.BuildTandem(t)
	addr := testkit.FreeAddr(t)
	dbURL := testkit.WithSearchPath(t, testkit.DatabaseURL(), schema)

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
		docs[i] = collab.Open(t, conns[i], docID, client.OnAck(func(a client.AckInfo) {
			ackMu.Lock()
			acks = append(acks, ackRec{sid: sid, seq: a.Seq, v: a.V})
			ackMu.Unlock()
		}))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	collab.GoEditLoops(ctx, &wg, docs, func(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 5)) }, editPause, errs)

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
	collab.WaitEditLoops(t, &wg, errs)

	text, v := collab.Converge(t, docs, 30*time.Second)
	ops := collab.CheckStore(t, st, docID, initial, text, v)
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

// binServer is a running tandem process.
type binServer struct{ p *testkit.Process }

func (b *binServer) log() string { return b.p.Out.String() }

// kill SIGKILLs the process and waits for it to be gone.
func (b *binServer) kill(t *testing.T) {
	t.Helper()
	b.p.Kill(t, 10*time.Second)
}

// startBinary runs the server and waits until /readyz answers 200.
func startBinary(t *testing.T, bin, addr, dbURL string) *binServer {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "TANDEM_ADDR="+addr, "TANDEM_DATABASE_URL="+dbURL, "TANDEM_LOG_LEVEL=warn")
	p := testkit.StartProcess(t, "tandem", cmd)
	p.WaitReady(t, "http://"+addr+"/readyz", 20*time.Second)
	return &binServer{p: p}
}
