package store_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vmihailenco/msgpack/v5"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

// typingBatch makes n ops that each type a few characters at the end of a
// document of length runes, numbered from version v (sid/seq set, as the server does).
func typingBatch(v int64, length, n int) ([]store.OpRecord, int) {
	batch := make([]store.OpRecord, n)
	for i := range batch {
		var op ot.Op
		if length > 0 {
			op = append(op, ot.Component{Retain: length})
		}
		op = append(op, ot.Component{Insert: "typed "})
		length += 6
		batch[i] = store.OpRecord{Version: v + int64(i), Op: op, SID: "bench-sid", Seq: v + int64(i) + 1, UserID: "bench"}
	}
	return batch, length
}

// benchDocs numbers the documents the append benchmarks create, so that each
// run of a benchmark function starts on a document of its own.
var benchDocs atomic.Int64

func benchAppend(b *testing.B, s store.Store) {
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			// The function runs once per b.N tried and once more per -count
			// round, all on the same store: b.N alone repeats across rounds.
			id := fmt.Sprintf("append-%d-%d", n, benchDocs.Add(1))
			if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id}); err != nil {
				b.Fatal(err)
			}
			v, length := int64(0), 0
			b.ResetTimer()
			for range b.N {
				var batch []store.OpRecord
				batch, length = typingBatch(v, length, n)
				if err := s.AppendOps(ctx, id, v, batch); err != nil {
					b.Fatal(err)
				}
				v += int64(n)
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ops/s")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/batch")
		})
	}
}

// groupModes are the PGStore configurations the append benchmarks compare.
var groupModes = []struct {
	name       string
	committers int
}{{"group=off", -1}, {"group=on", 0}}

// BenchmarkPGAppend: durable appends (synchronous_commit on) to one document.
func BenchmarkPGAppend(b *testing.B) {
	for _, m := range groupModes {
		b.Run(m.name, func(b *testing.B) { benchAppend(b, newPG(b, store.PGOptions{Committers: m.committers})) })
	}
}

// BenchmarkMemAppend is the same workload on the memory engine, for scale.
func BenchmarkMemAppend(b *testing.B) {
	s := store.NewMem(store.MemOptions{})
	defer s.Close()
	benchAppend(b, s)
}

// loadFixture writes, with CopyFrom, a document typed op by op: 100,000 ops of
// 10 or 11 characters each, ending at 1,050,000 bytes of text. Snapshots exist at
// version 0 and at head-replay, as the background snapshotter would leave them
// when the head is replay ops past the latest one.
func loadFixture(b *testing.B, s *store.PGStore, id string, replay int) string {
	const nOps = 100_000
	ctx := context.Background()
	pieces := make([]string, nOps)
	for i := range pieces {
		p := fmt.Sprintf("w%08d ", i) // 10 bytes
		if i%2 == 1 {
			p = fmt.Sprintf("w%08d\n ", i)[:11]
		}
		pieces[i] = p
	}
	var pk int64
	err := s.Pool().QueryRow(ctx, `INSERT INTO documents (id, type, version) VALUES ($1, 'text', $2) RETURNING pk`, id, nOps).Scan(&pk)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	length := 0
	rows := make([][]any, nOps)
	for i, p := range pieces {
		var op ot.Op
		if length > 0 {
			op = append(op, ot.Component{Retain: length})
		}
		op = append(op, ot.Component{Insert: p})
		length += len(p)
		enc, err := msgpack.Marshal(op)
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = []any{pk, int64(i), enc, "fixture", int64(i + 1), "u", now}
	}
	if _, err := s.Pool().CopyFrom(ctx, pgx.Identifier{"ops"}, []string{"doc", "version", "op", "sid", "seq", "user_id", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	at := nOps - replay
	snaps := [][]any{{pk, int64(0), []byte{}}, {pk, int64(at), []byte(strings.Join(pieces[:at], ""))}}
	if _, err := s.Pool().CopyFrom(ctx, pgx.Identifier{"snapshots"}, []string{"doc", "version", "content"}, pgx.CopyFromRows(snaps)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `ANALYZE documents, ops, snapshots`); err != nil {
		b.Fatal(err)
	}
	return strings.Join(pieces, "")
}

// BenchmarkPGLoad1MiB: Load of a 1 MiB document with 100,000 ops of history, for
// several distances between the latest snapshot and the head. replay=499 is the
// worst case with the default SnapshotEvery of 500.
func BenchmarkPGLoad1MiB(b *testing.B) {
	s := newPG(b, store.PGOptions{SnapshotEvery: -1}) // keep the fixture's snapshots as they are
	for _, replay := range []int{0, 99, 499, 1999} {
		id := fmt.Sprintf("load-%d", replay)
		want := loadFixture(b, s, id, replay)
		// One full check of the text, outside the timed loop.
		if _, snap, err := s.Load(context.Background(), id); err != nil || textdoc.String(snap.Content) != want {
			b.Fatalf("Load(%s) does not give the typed text: %d bytes, %v", id, len(textdoc.String(snap.Content)), err)
		}
		b.Run(fmt.Sprintf("replay=%d", replay), func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				d, snap, err := s.Load(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				if d.Version != 100_000 || len(textdoc.String(snap.Content)) != len(want) {
					b.Fatalf("Load = v%d, %d bytes; want v100000, %d bytes", d.Version, len(textdoc.String(snap.Content)), len(want))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/load")
		})
	}
}

// benchAppendParallel: about `writers` goroutines (a multiple of GOMAXPROCS),
// each appending one op at a time to a document of its own, as the actors of
// many open documents do on one node. This is the load group commit is for.
func benchAppendParallel(b *testing.B, s store.Store) {
	for _, writers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			var next atomic.Int64
			prefix := fmt.Sprintf("par-%d-%d", writers, benchDocs.Add(1))
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((writers + procs - 1) / procs)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprintf("%s-%d", prefix, next.Add(1))
				if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id}); err != nil {
					b.Error(err)
					return
				}
				v, length := int64(0), 0
				for pb.Next() {
					var batch []store.OpRecord
					batch, length = typingBatch(v, length, 1)
					if err := s.AppendOps(ctx, id, v, batch); err != nil {
						b.Error(err)
						return
					}
					v++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkPGAppendParallel: durable single-op appends from many writers, each
// on its own document.
func BenchmarkPGAppendParallel(b *testing.B) {
	for _, m := range groupModes {
		b.Run(m.name, func(b *testing.B) { benchAppendParallel(b, newPG(b, store.PGOptions{Committers: m.committers})) })
	}
}
