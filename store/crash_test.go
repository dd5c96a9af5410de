package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

// The crash test re-executes the test binary as a writer child (TestMain routes
// it here when crashChildEnv is set) and SIGKILLs it at random moments.
const (
	crashChildEnv  = "TANDEM_STORE_CRASH_CHILD"
	crashSchemaEnv = "TANDEM_STORE_CRASH_SCHEMA"
	crashDoc       = "crash"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		if err := crashChild(); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// marker tags op i of a batch of n that starts at version start, so the parent
// can tell complete batches from partial ones.
func marker(start int64, i, n int) string { return fmt.Sprintf("{%d:%d/%d}", start, i, n) }

// crashChild appends batches of 1..8 ops at the end of the document until it is
// killed. It resumes from whatever the store holds, as a restarted server would.
func crashChild() error {
	ctx := context.Background()
	s, err := store.OpenPG(ctx, testkit.DatabaseURL(), store.PGOptions{Schema: os.Getenv(crashSchemaEnv), SnapshotEvery: 7})
	if err != nil {
		return err
	}
	defer s.Close()
	doc, snap, err := s.Load(ctx, crashDoc)
	if err != nil {
		return err
	}
	v, length := doc.Version, len(textdoc.String(snap.Content)) // markers are ASCII: bytes == code points
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	for {
		n := 1 + r.IntN(8)
		batch := make([]store.OpRecord, n)
		for i := range batch {
			m := marker(v, i, n)
			var op ot.Op
			if length > 0 {
				op = append(op, ot.Component{Retain: length})
			}
			op = append(op, ot.Component{Insert: m})
			length += len(m)
			batch[i] = store.OpRecord{Version: v + int64(i), Op: op, SID: "crash-child", Seq: v + int64(i) + 1}
		}
		if err := s.AppendOps(ctx, crashDoc, v, batch); err != nil {
			return err
		}
		v += int64(n)
	}
}

func TestPGCrash(t *testing.T) {
	schema := testkit.Schema(t)
	ctx := context.Background()
	s := openPG(t, store.PGOptions{Schema: schema})
	if _, err := s.CreateDoc(ctx, store.NewDocument{ID: crashDoc}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var lastV int64
	const kills = 6
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		appName := fmt.Sprintf("tandem-crash-child-%d", k)
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashSchemaEnv+"="+schema, "PGAPPNAME="+appName)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start writer child: %v", err)
		}
		// Wait until the child is writing, then kill it at a random point.
		deadline := time.Now().Add(20 * time.Second)
		for {
			d, err := s.GetDoc(ctx, crashDoc)
			if err != nil {
				t.Fatal(err)
			}
			if d.Version > lastV {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child %d made no progress: %s", k, stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		if countBackends(t, s, appName) == 0 {
			t.Fatalf("the writing child's connections do not carry application_name %s; the wait after the kill would prove nothing", appName)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill child: %v", err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child %d ended with %v before the kill: %s", k, err, stderr.String())
		}
		// A COMMIT the child sent just before it died still completes on the
		// server; its backend exits only after that, so wait for it before
		// reading the version the crash left.
		waitBackendsGone(t, s, appName)
		d, err := s.GetDoc(ctx, crashDoc)
		if err != nil {
			t.Fatal(err)
		}
		lastV = d.Version
		t.Logf("kill %d: log at version %d", k+1, lastV)
	}

	// The log has no gap (ReadOps checks) and only whole batches.
	ops, err := s.ReadOps(ctx, crashDoc, 0, 0)
	if err != nil {
		t.Fatalf("ReadOps: %v", err)
	}
	if int64(len(ops)) != lastV {
		t.Fatalf("ReadOps returned %d ops, document at %d", len(ops), lastV)
	}
	text := ""
	texts := []string{""}
	for i := 0; i < len(ops); {
		start := ops[i].Version
		var n int
		if _, err := fmt.Sscanf(insertOf(textdoc.Op(ops[i].Op)), "{%d:0/%d}", new(int64), &n); err != nil {
			t.Fatalf("op at %d does not start a batch: %v (%v)", start, ops[i].Op, err)
		}
		for k := range n {
			if i+k >= len(ops) {
				t.Fatalf("partial batch at %d: %d of %d ops", start, len(ops)-i, n)
			}
			r := ops[i+k]
			if got, want := insertOf(textdoc.Op(r.Op)), marker(start, k, n); got != want || r.Seq != r.Version+1 || r.SID != "crash-child" {
				t.Fatalf("op at %d is %q seq %d, want %q seq %d", r.Version, got, r.Seq, want, r.Version+1)
			}
			text = apply(t, text, textdoc.Op(r.Op))
			texts = append(texts, text)
		}
		i += n
	}
	// Load (snapshot + replay) equals the replay of the whole log from 0, and every
	// snapshot the killed children left behind is the text at its version.
	_, snap, err := s.Load(ctx, crashDoc)
	if err != nil || textdoc.String(snap.Content) != text || snap.Version != lastV {
		t.Fatalf("Load = v%d (%d bytes), %v; replay gives v%d (%d bytes)", snap.Version, len(textdoc.String(snap.Content)), err, lastV, len(text))
	}
	rows, err := s.Pool().Query(ctx, `SELECT sn.version, sn.content FROM snapshots sn JOIN documents d ON d.pk = sn.doc WHERE d.id = $1`, crashDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	nsnap := 0
	for rows.Next() {
		var v int64
		var content []byte
		if err := rows.Scan(&v, &content); err != nil {
			t.Fatal(err)
		}
		c, err := textdoc.Type{}.DecodeContent(content)
		if err != nil || v > lastV || textdoc.String(c) != texts[v] {
			t.Fatalf("stored snapshot at %d does not match the replay", v)
		}
		nsnap++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if nsnap < 2 {
		t.Fatalf("only %d snapshots after %d ops with SnapshotEvery 7", nsnap, lastV)
	}
	t.Logf("%d kills, %d ops, %d snapshots, all consistent", kills, lastV, nsnap)
}

// waitBackendsGone waits until no Postgres backend of application appName is
// left.
func waitBackendsGone(t *testing.T, s *store.PGStore, appName string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := countBackends(t, s, appName)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends of the killed child %s still alive after 10s", n, appName)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func countBackends(t *testing.T, s *store.PGStore, appName string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n); err != nil {
		t.Fatalf("count backends of %s: %v", appName, err)
	}
	return n
}

func insertOf(op ot.Op) string {
	for _, c := range op {
		if c.Insert != "" {
			return c.Insert
		}
	}
	return ""
}

func apply(t *testing.T, text string, op ot.Op) string {
	t.Helper()
	out, err := ot.Apply(text, op)
	if err != nil {
		t.Fatalf("ot.Apply: %v", err)
	}
	return out
}
