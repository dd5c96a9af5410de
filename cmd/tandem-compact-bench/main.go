// Command tandem-compact-bench measures the op-log compaction of the Postgres
// store (store.Retention): it builds one document with -ops ops of history,
// all older than the retention, as the server would have written them
// (batched appends, background snapshots every 500 ops), then compacts it
// while a writer keeps appending to the same document, and prints how long
// the compaction took, what it dropped, and the writer's append latency
// before and during it.
//
//	tandem-compact-bench -database-url postgres://postgres@127.0.0.1:5432/test?sslmode=disable -ops 1000000
//
// It works in a schema of its own (created, and dropped at the end unless
// -keep), so it never touches a deployment's tables.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	url     string
	ops     int
	minOps  int64
	docCap  int
	keep    bool
	writeHz int
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("tandem-compact-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "database-url", os.Getenv("TANDEM_DATABASE_URL"), "Postgres URL (a schema of its own is created in it); env TANDEM_DATABASE_URL")
	fs.IntVar(&o.ops, "ops", 1_000_000, "ops of history to build")
	fs.Int64Var(&o.minOps, "min-ops", store.DefaultRetentionMinOps, "retention: ops kept whatever their age")
	fs.IntVar(&o.docCap, "doc-bytes", 16<<10, "the document is kept near this size (each op inserts a word, and deletes one past this)")
	fs.IntVar(&o.writeHz, "write-hz", 100, "appends per second to the same document before and during the compaction")
	fs.BoolVar(&o.keep, "keep", false, "keep the schema afterwards")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.url == "" || o.ops < 1 {
		fmt.Fprintln(stderr, "tandem-compact-bench: -database-url and -ops >= 1 are required")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := bench(context.Background(), o, stdout, log); err != nil {
		fmt.Fprintln(stderr, "tandem-compact-bench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, o options, out io.Writer, log *slog.Logger) error {
	admin, err := pgx.Connect(ctx, o.url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.Background())
	var b [4]byte
	_, _ = crand.Read(b[:])
	schema := "compactbench_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if !o.keep {
		defer func() {
			if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				log.Warn("dropping the schema failed", "schema", schema, "err", err)
			}
		}()
	}
	st, err := store.OpenPG(ctx, o.url, store.PGOptions{Schema: schema, Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()

	const id = "compact-bench"
	if _, err := st.CreateDoc(ctx, store.NewDocument{ID: id}); err != nil {
		return err
	}
	t0 := time.Now()
	text, err := build(ctx, st, id, o)
	if err != nil {
		return err
	}
	built := time.Since(t0)
	time.Sleep(2 * time.Second) // let the background snapshotter finish
	before, err := sizes(ctx, admin, schema)
	if err != nil {
		return err
	}
	log.Info("built", "ops", o.ops, "took", built.Round(time.Millisecond), "ops_rows", before.opRows, "snapshots", before.snapRows)

	// A writer on the same document: its appends before the compaction, and
	// while it runs.
	w := &writer{st: st, id: id, text: text, v: int64(o.ops), hz: o.writeHz}
	quiet := w.run(ctx, 3*time.Second)

	stop := make(chan struct{})
	var during []time.Duration
	var werr error
	var wg sync.WaitGroup
	wg.Go(func() { during, werr = w.until(ctx, stop) })
	c0 := time.Now()
	res, err := st.Compact(ctx, id, store.Retention{MaxAge: 30 * 24 * time.Hour, MinOps: o.minOps}, time.Now())
	took := time.Since(c0)
	close(stop)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("writer during the compaction: %w", werr)
	}
	after, err := sizes(ctx, admin, schema)
	if err != nil {
		return err
	}
	// Check the result: the document is intact and the oldest version works.
	_, snap, err := st.Load(ctx, id)
	if err != nil || textdoc.String(snap.Content) != w.text {
		return fmt.Errorf("after compaction the document differs from what was written (%v)", err)
	}
	if _, err := st.SnapshotAt(ctx, id, res.Oldest); err != nil {
		return fmt.Errorf("snapshot at the oldest version %d: %w", res.Oldest, err)
	}

	fmt.Fprintf(out, "history\t%d ops (built in %v), %d snapshots, ops table %s, snapshots %s\n",
		o.ops, built.Round(time.Second), before.snapRows, mib(before.opBytes), mib(before.snapBytes))
	fmt.Fprintf(out, "compaction\t%v: dropped %d ops (%.0f ops/s) and %d snapshots; oldest version now %d\n",
		took.Round(time.Millisecond), res.DroppedOps, float64(res.DroppedOps)/took.Seconds(), res.DroppedSnapshots, res.Oldest)
	fmt.Fprintf(out, "after\t%d op rows, %d snapshots (the space is reused by Postgres after autovacuum, not returned to the OS)\n",
		after.opRows, after.snapRows)
	fmt.Fprintf(out, "appends at %d/s\tbefore: p50 %v p99 %v max %v (%d)   during: p50 %v p99 %v max %v (%d)\n", o.writeHz,
		pct(quiet, 0.5), pct(quiet, 0.99), pct(quiet, 1), len(quiet), pct(during, 0.5), pct(during, 0.99), pct(during, 1), len(during))
	return nil
}

// build appends ops ops in batches of 1000, all committed 60 days ago: each
// inserts a word at a random place and, past docCap, deletes one as long.
func build(ctx context.Context, st *store.PGStore, id string, o options) (string, error) {
	doc, _ := ot.NewDoc("")
	r := rand.New(rand.NewPCG(1, 2))
	at := time.Now().UTC().Add(-60 * 24 * time.Hour)
	const batch = 1000
	recs := make([]store.OpRecord, 0, batch)
	for v := int64(0); v < int64(o.ops); v++ {
		word := fmt.Sprintf("w%d ", v)
		n := doc.Len()
		pos := r.IntN(n + 1)
		op := ot.Op{}
		if pos > 0 {
			op = append(op, ot.Component{Retain: pos})
		}
		op = append(op, ot.Component{Insert: word})
		if doc.Bytes() > o.docCap && n-pos > len(word) {
			op = append(op, ot.Component{Delete: len(word)})
		}
		op = op.Normalize()
		if err := doc.Apply(op); err != nil {
			return "", fmt.Errorf("op %d: %w", v, err)
		}
		recs = append(recs, store.OpRecord{Version: v, Op: op, SID: "compact-bench-writer", Seq: v + 1, UserID: "bench", CreatedAt: at})
		if len(recs) == batch || v == int64(o.ops)-1 {
			if err := st.AppendOps(ctx, id, recs[0].Version, recs); err != nil {
				return "", fmt.Errorf("append at %d: %w", recs[0].Version, err)
			}
			recs = recs[:0]
		}
	}
	return doc.String(), nil
}

// writer appends one small op at a time at hz, as a typist's node would.
type writer struct {
	st   *store.PGStore
	id   string
	text string
	v    int64
	hz   int
}

func (w *writer) one(ctx context.Context) (time.Duration, error) {
	op := ot.Op{{Insert: "x"}}
	t0 := time.Now()
	err := w.st.AppendOps(ctx, w.id, w.v, []store.OpRecord{{Version: w.v, Op: op, UserID: "bench"}})
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	w.v++
	w.text = "x" + w.text
	return d, nil
}

func (w *writer) run(ctx context.Context, d time.Duration) []time.Duration {
	stop := make(chan struct{})
	time.AfterFunc(d, func() { close(stop) })
	lat, _ := w.until(ctx, stop)
	return lat
}

func (w *writer) until(ctx context.Context, stop <-chan struct{}) ([]time.Duration, error) {
	tick := time.NewTicker(time.Second / time.Duration(max(1, w.hz)))
	defer tick.Stop()
	var lat []time.Duration
	for {
		select {
		case <-stop:
			slices.Sort(lat)
			return lat, nil
		case <-tick.C:
		}
		d, err := w.one(ctx)
		if err != nil {
			return lat, err
		}
		lat = append(lat, d)
	}
}

type tableSizes struct {
	opRows, snapRows   int64
	opBytes, snapBytes int64
}

func sizes(ctx context.Context, c *pgx.Conn, schema string) (tableSizes, error) {
	var s tableSizes
	q := strings.NewReplacer("$s", schema).Replace(`SELECT (SELECT count(*) FROM $s.ops), (SELECT count(*) FROM $s.snapshots),
pg_total_relation_size('$s.ops'), pg_total_relation_size('$s.snapshots')`)
	err := c.QueryRow(ctx, q).Scan(&s.opRows, &s.snapRows, &s.opBytes, &s.snapBytes)
	return s, err
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))].Round(10 * time.Microsecond)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
