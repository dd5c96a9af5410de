package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/store"
)

// retentionTests are the op-log retention part of the contract (Compactor).
var retentionTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"RetentionRules", testRetentionRules},
	{"RetentionCompactAll", testRetentionCompactAll},
	{"RetentionConcurrentWriters", testRetentionConcurrentWriters},
}

func compactor(t *testing.T, s store.Store) store.Compactor {
	t.Helper()
	c, ok := s.(store.Compactor)
	if !ok {
		t.Fatalf("%T does not implement store.Compactor", s)
	}
	return c
}

// wantCompacted checks that err is a *CompactedError naming oldest.
func wantCompacted(t *testing.T, what string, err error, oldest int64) {
	t.Helper()
	var ce *store.CompactedError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("%s: got %v, want a *CompactedError", what, err)
	}
	if ce.Oldest != oldest {
		t.Fatalf("%s: oldest = %d, want %d", what, ce.Oldest, oldest)
	}
}

// agedHistory appends n random ops to a new document, op i committed at
// at(i), and returns the text after each version.
func agedHistory(t *testing.T, s store.Store, id string, n int, at func(i int) time.Time) []string {
	t.Helper()
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(uint64(n), 11))
	mustCreate(t, s, id, "start")
	texts := []string{"start"}
	for i := range n {
		op := randomOp(r, texts[i])
		texts = append(texts, apply(t, texts[i], op))
		rec := store.OpRecord{Version: int64(i), Op: op, SID: "aged-sid", Seq: int64(i) + 1, UserID: "u1", CreatedAt: at(i)}
		if err := s.AppendOps(ctx, id, int64(i), []store.OpRecord{rec}); err != nil {
			t.Fatalf("AppendOps %d: %v", i, err)
		}
	}
	return texts
}

func testRetentionRules(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := compactor(t, s)
	now := time.Now().UTC()
	// 40 ops: the first 30 two days old, the last 10 from now.
	texts := agedHistory(t, s, "ret", 40, func(i int) time.Time {
		if i < 30 {
			return now.Add(-48 * time.Hour)
		}
		return now
	})
	if err := s.WriteSnapshot(ctx, "ret", store.Snapshot{Version: 12, Content: textdoc.MustString(texts[12])}); err != nil {
		t.Fatal(err)
	}

	// Disabled retention and a cutoff at or below the oldest change nothing.
	for _, r := range []store.Retention{{}, {MaxAge: 72 * time.Hour}, {MaxAge: time.Hour, MinOps: 40}} {
		res, err := c.Compact(ctx, "ret", r, now)
		if err != nil || res.Oldest != 0 || res.DroppedOps != 0 {
			t.Fatalf("Compact(%+v) = %+v, %v; want nothing dropped", r, res, err)
		}
	}
	if _, err := c.Compact(ctx, "nope", store.Retention{MaxAge: time.Hour}, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Compact of an unknown id = %v, want ErrNotFound", err)
	}

	// MinOps binds: keep the last 15, though 30 are old enough to go.
	res, err := c.Compact(ctx, "ret", store.Retention{MaxAge: 24 * time.Hour, MinOps: 15}, now)
	if err != nil || res.Oldest != 25 || res.DroppedOps != 25 {
		t.Fatalf("Compact(24h, 15) = %+v, %v; want oldest 25 with 25 ops dropped", res, err)
	}
	// Age binds: the last 10 are young, though MinOps would let them go.
	res, err = c.Compact(ctx, "ret", store.Retention{MaxAge: 24 * time.Hour, MinOps: 2}, now)
	if err != nil || res.Oldest != 30 || res.DroppedOps != 5 {
		t.Fatalf("Compact(24h, 2) = %+v, %v; want oldest 30 with 5 more ops dropped", res, err)
	}
	again, err := c.Compact(ctx, "ret", store.Retention{MaxAge: 24 * time.Hour, MinOps: 2}, now)
	if err != nil || again.Oldest != 30 || again.DroppedOps != 0 || again.DroppedSnapshots != 0 {
		t.Fatalf("a second Compact = %+v, %v; want no change", again, err)
	}

	// Below the oldest: CompactedError; from it on: everything as before.
	_, err = s.ReadOps(ctx, "ret", 0, 0)
	wantCompacted(t, "ReadOps(0)", err, 30)
	_, err = s.ReadOps(ctx, "ret", 29, 5)
	wantCompacted(t, "ReadOps(29)", err, 30)
	_, err = s.SnapshotAt(ctx, "ret", 12)
	wantCompacted(t, "SnapshotAt(12), which had a snapshot", err, 30)
	_, err = s.SnapshotAt(ctx, "ret", 0)
	wantCompacted(t, "SnapshotAt(0)", err, 30)
	ops, err := s.ReadOps(ctx, "ret", 30, 0)
	if err != nil || len(ops) != 10 || ops[0].Version != 30 || ops[0].Seq != 31 {
		t.Fatalf("ReadOps(30) = %d ops, %v", len(ops), err)
	}
	for v := int64(30); v <= 40; v++ {
		snap, err := s.SnapshotAt(ctx, "ret", v)
		if err != nil || textdoc.String(snap.Content) != texts[v] || snap.Version != v {
			t.Fatalf("SnapshotAt(%d) = %q, %v; want %q", v, textdoc.String(snap.Content), err, texts[v])
		}
	}
	d, snap, err := s.Load(ctx, "ret")
	if err != nil || d.Version != 40 || textdoc.String(snap.Content) != texts[40] {
		t.Fatalf("Load = v%d %q, %v", d.Version, textdoc.String(snap.Content), err)
	}
	// Exactly-once marks of the kept ops stay; those of the dropped go with them.
	if v, found, err := s.FindOp(ctx, "ret", "aged-sid", 35); err != nil || !found || v != 34 {
		t.Fatalf("FindOp of a kept op = %d, %v, %v", v, found, err)
	}
	if _, found, err := s.FindOp(ctx, "ret", "aged-sid", 3); err != nil || found {
		t.Fatalf("FindOp of a dropped op = %v, %v; want not found", found, err)
	}
	// A snapshot below the oldest is pointless and is not an error.
	if err := s.WriteSnapshot(ctx, "ret", store.Snapshot{Version: 5, Content: textdoc.MustString(texts[5])}); err != nil {
		t.Fatalf("WriteSnapshot below the oldest: %v", err)
	}
	_, err = s.SnapshotAt(ctx, "ret", 5)
	wantCompacted(t, "SnapshotAt(5) after writing a snapshot there", err, 30)

	// The log goes on: appends, and a compaction of everything but the last op.
	text := texts[40]
	for v := int64(40); v < 45; v++ {
		op := ins(0, "n")
		text = apply(t, text, op)
		if err := s.AppendOps(ctx, "ret", v, records(v, op)); err != nil {
			t.Fatalf("AppendOps at %d after compaction: %v", v, err)
		}
	}
	res, err = c.Compact(ctx, "ret", store.Retention{MaxAge: time.Nanosecond, MinOps: 1}, now.Add(time.Minute))
	if err != nil || res.Oldest != 44 {
		t.Fatalf("Compact(1ns, 1) = %+v, %v; want oldest 44", res, err)
	}
	if snap, err := s.SnapshotAt(ctx, "ret", 44); err != nil || textdoc.String(snap.Content) != text[len("n"):] {
		t.Fatalf("SnapshotAt(44) = %q, %v", textdoc.String(snap.Content), err)
	}
	if _, snap, err := s.Load(ctx, "ret"); err != nil || textdoc.String(snap.Content) != text {
		t.Fatalf("Load after the second compaction = %q, %v; want %q", textdoc.String(snap.Content), err, text)
	}
	if ops, err := s.ReadOps(ctx, "ret", 45, 0); err != nil || len(ops) != 0 {
		t.Fatalf("ReadOps at the head = %v, %v", ops, err)
	}

	// Deleting and re-creating the id starts a full history again.
	if err := s.DeleteDoc(ctx, "ret"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "ret", "again")
	if _, err := s.SnapshotAt(ctx, "ret", 0); err != nil {
		t.Fatalf("SnapshotAt(0) of the re-created id: %v", err)
	}
}

func testRetentionCompactAll(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := compactor(t, s)
	old := time.Now().UTC().Add(-time.Hour)
	for i := range 3 {
		agedHistory(t, s, fmt.Sprintf("all-%d", i), 10+i, func(int) time.Time { return old })
	}
	mustCreate(t, s, "all-empty", "")
	if err := s.DeleteDoc(ctx, "all-1"); err != nil {
		t.Fatal(err)
	}
	n, err := c.CompactAll(ctx, store.Retention{MaxAge: time.Minute, MinOps: 4}, time.Now())
	if err != nil || n != (10-4)+(12-4) {
		t.Fatalf("CompactAll = %d, %v; want %d ops dropped", n, err, (10-4)+(12-4))
	}
	for id, oldest := range map[string]int64{"all-0": 6, "all-2": 8} {
		if _, err := s.ReadOps(ctx, id, oldest, 0); err != nil {
			t.Fatalf("ReadOps(%s, %d): %v", id, oldest, err)
		}
		_, err := s.ReadOps(ctx, id, oldest-1, 0)
		wantCompacted(t, "ReadOps below the oldest of "+id, err, oldest)
	}
	if n, err := c.CompactAll(ctx, store.Retention{}, time.Now()); err != nil || n != 0 {
		t.Fatalf("CompactAll without retention = %d, %v", n, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.CompactAll(cctx, store.Retention{MaxAge: time.Minute}, time.Now()); err == nil {
		t.Fatal("CompactAll with an ended context reported success")
	}
}

// testRetentionConcurrentWriters compacts a document again and again while
// writers race to append to it and readers read it: no append is lost or
// refused for another reason than a version race, every read from the oldest
// version a reader knows either works or says the history was compacted past
// it, and afterwards every version from the oldest on has its exact text.
func testRetentionConcurrentWriters(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := compactor(t, s)
	mustCreate(t, s, "busy", "")
	const writers, each = 4, 60
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		passes  atomic.Int64
		errc    = make(chan error, writers+3)
		retain  = store.Retention{MaxAge: time.Nanosecond, MinOps: 7}
		started = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			<-started
			sid := fmt.Sprintf("busy-writer-%d", w)
			for seq := int64(1); seq <= each; {
				d, err := s.GetDoc(ctx, "busy")
				if err != nil {
					errc <- err
					return
				}
				// Every op appends one letter at the end: the final text tells
				// whether each op is in it exactly once.
				op := ins(int(d.Version), string(rune('a'+w)))
				rec := store.OpRecord{Version: d.Version, Op: op, SID: sid, Seq: seq, CreatedAt: time.Now().Add(-time.Hour)}
				switch err := s.AppendOps(ctx, "busy", d.Version, []store.OpRecord{rec}); {
				case err == nil:
					seq++
				case errors.Is(err, store.ErrConflict):
				default:
					errc <- fmt.Errorf("%s seq %d: %w", sid, seq, err)
					return
				}
			}
		})
	}
	compacting := make(chan struct{})
	go func() {
		defer close(compacting)
		for !stop.Load() {
			if _, err := c.Compact(ctx, "busy", retain, time.Now()); err != nil {
				errc <- fmt.Errorf("Compact: %w", err)
				return
			}
			passes.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	for range 2 {
		wg.Go(func() {
			<-started
			from := int64(0)
			for !stop.Load() {
				ops, err := s.ReadOps(ctx, "busy", from, 50)
				var ce *store.CompactedError
				switch {
				case errors.As(err, &ce):
					if ce.Oldest <= from {
						errc <- fmt.Errorf("ReadOps(%d) compacted with oldest %d", from, ce.Oldest)
						return
					}
					from = ce.Oldest
					snap, err := s.SnapshotAt(ctx, "busy", from)
					if err != nil && !errors.Is(err, store.ErrCompacted) {
						errc <- fmt.Errorf("SnapshotAt(%d): %w", from, err)
						return
					}
					if err == nil && len([]rune(textdoc.String(snap.Content))) != int(from) {
						errc <- fmt.Errorf("SnapshotAt(%d) has %d letters", from, len([]rune(textdoc.String(snap.Content))))
						return
					}
				case err != nil:
					errc <- fmt.Errorf("ReadOps(%d): %w", from, err)
					return
				default:
					for i, r := range ops {
						if r.Version != from+int64(i) {
							errc <- fmt.Errorf("ReadOps(%d) has a gap at %d", from, i)
							return
						}
					}
					from += int64(len(ops))
				}
			}
		})
	}
	close(started)
	// Writers first, then the readers and the compactor.
	for {
		d, err := s.GetDoc(ctx, "busy")
		if err != nil {
			t.Fatal(err)
		}
		if d.Version == writers*each || len(errc) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	<-compacting
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	res, err := c.Compact(ctx, "busy", retain, time.Now())
	if err != nil || res.Oldest != writers*each-7 {
		t.Fatalf("final Compact = %+v, %v; want oldest %d", res, err, writers*each-7)
	}
	t.Logf("%d compaction passes while %d writers appended %d ops", passes.Load(), writers, writers*each)
	_, snap, err := s.Load(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	count := map[rune]int{}
	for _, r := range textdoc.String(snap.Content) {
		count[r]++
	}
	for w := range writers {
		if n := count[rune('a'+w)]; n != each {
			t.Fatalf("writer %d has %d ops in the text, want %d", w, n, each)
		}
	}
	for v := res.Oldest; v <= writers*each; v++ {
		at, err := s.SnapshotAt(ctx, "busy", v)
		if err != nil || textdoc.String(at.Content) != string([]rune(textdoc.String(snap.Content))[:v]) {
			t.Fatalf("SnapshotAt(%d) = %q, %v", v, textdoc.String(at.Content), err)
		}
	}
}
