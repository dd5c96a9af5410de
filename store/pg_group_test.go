package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/store/storetest"
)

// TestPGContractNoGroupCommit: the contract holds with group commit off too.
func TestPGContractNoGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return newPG(t, store.PGOptions{SnapshotEvery: 5, MaxConns: 6, Committers: -1})
	})
}

func insertRec(v int64, sid string, seq int64) store.OpRecord {
	return store.OpRecord{Version: v, Op: ot.Op{{Insert: fmt.Sprintf("[%s%d]", sid, seq)}}, SID: sid, Seq: seq, UserID: "u"}
}

// TestPGGroupCommitIsolatesFailures: in one group, an append that conflicts, one
// to a missing document and one whose (sid, seq) is a duplicate each get their
// own error; every other append of the group commits, exactly once.
func TestPGGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s := newPG(t, store.PGOptions{})
	for _, id := range []string{"a", "b", "c", "d"} {
		if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendOps(ctx, "b", 0, []store.OpRecord{insertRec(0, "x", 1)}); err != nil {
		t.Fatal(err)
	}
	for _, withDup := range []bool{false, true} {
		t.Run(fmt.Sprintf("duplicate=%v", withDup), func(t *testing.T) {
			base := versionsOf(t, s, "a", "c", "d")
			sid := fmt.Sprintf("s%v", withDup)
			appends := []store.Append{
				{ID: "d", Expected: base["d"], Ops: []store.OpRecord{insertRec(base["d"], sid, 1)}},
				{ID: "a", Expected: base["a"], Ops: []store.OpRecord{insertRec(base["a"], sid, 1), insertRec(base["a"]+1, sid, 2)}},
				{ID: "b", Expected: 0, Ops: []store.OpRecord{insertRec(0, sid, 1)}}, // b is at 1 at least
				{ID: "nope", Expected: 0, Ops: []store.OpRecord{insertRec(0, sid, 1)}},
				{ID: "a", Expected: base["a"] + 2, Ops: []store.OpRecord{insertRec(base["a"]+2, sid, 3)}}, // after the first a
				{ID: "c", Expected: base["c"], Ops: []store.OpRecord{insertRec(base["c"], sid, 1)}},
			}
			if withDup {
				// b's (x, 1) is committed at version 0: a duplicate raises an error in
				// Postgres, which aborts the group's transaction.
				appends = append(appends, store.Append{ID: "b", Expected: 1, Ops: []store.OpRecord{insertRec(1, "x", 1)}})
			}
			errs := s.AppendGroup(ctx, appends)
			for i, want := range []error{nil, nil, store.ErrConflict, store.ErrNotFound, nil, nil, store.ErrDuplicate} {
				if i >= len(errs) {
					break
				}
				if want == nil && errs[i] != nil || want != nil && !errors.Is(errs[i], want) {
					t.Errorf("append %d (%s at %d): %v, want %v", i, appends[i].ID, appends[i].Expected, errs[i], want)
				}
			}
			var ce *store.ConflictError
			if errors.As(errs[2], &ce) && ce.Current != 1 {
				t.Errorf("conflict reports the store at %d, want 1", ce.Current)
			}
			var de *store.DuplicateError
			if withDup && errors.As(errs[6], &de) && de.Version != 0 {
				t.Errorf("duplicate reports the original at %d, want 0", de.Version)
			}
			for id, n := range map[string]int64{"a": 3, "c": 1, "d": 1} {
				ops, err := s.ReadOps(ctx, id, base[id], 0)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(ops)) != n {
					t.Fatalf("%s has %d new ops, want %d", id, len(ops), n)
				}
				for i, r := range ops {
					if r.SID != sid || r.Seq != int64(i+1) {
						t.Errorf("%s op %d is (%s, %d), want (%s, %d)", id, i, r.SID, r.Seq, sid, i+1)
					}
				}
			}
			if ops, err := s.ReadOps(ctx, "b", 0, 0); err != nil || len(ops) != 1 {
				t.Fatalf("b has %d ops (%v), want its 1", len(ops), err)
			}
		})
	}
}

// TestPGGroupCommitConcurrent: many writers, on documents of their own and two
// on each shared document racing for the same versions: every append that
// returned nil is in the log exactly once, every conflict wrote nothing.
func TestPGGroupCommitConcurrent(t *testing.T) {
	ctx := context.Background()
	s := newPG(t, store.PGOptions{Committers: 2, MaxConns: 4})
	const docs, writersPerDoc, appends = 8, 2, 40
	for d := range docs {
		if _, err := s.CreateDoc(ctx, store.NewDocument{ID: fmt.Sprint("doc", d)}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	committed := make([][]int64, docs*writersPerDoc) // seqs that returned nil
	for w := range docs * writersPerDoc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, sid := fmt.Sprint("doc", w%docs), fmt.Sprint("w", w)
			seq := int64(0)
			for range appends {
				d, err := s.GetDoc(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				seq++
				err = s.AppendOps(ctx, id, d.Version, []store.OpRecord{insertRec(d.Version, sid, seq)})
				switch {
				case err == nil:
					committed[w] = append(committed[w], seq)
				case errors.Is(err, store.ErrConflict):
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for d := range docs {
		id := fmt.Sprint("doc", d)
		ops, err := s.ReadOps(ctx, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]int64{}
		for _, r := range ops {
			got[r.SID] = append(got[r.SID], r.Seq)
		}
		for w := d; w < docs*writersPerDoc; w += docs {
			sid := fmt.Sprint("w", w)
			if fmt.Sprint(got[sid]) != fmt.Sprint(committed[w]) {
				t.Errorf("%s: log holds seqs %v of %s, the acknowledged ones are %v", id, got[sid], sid, committed[w])
			}
		}
	}
}

// TestPGGroupCommitClose: appends after Close fail with ErrUnavailable, and
// Close does not wait for them.
func TestPGGroupCommitClose(t *testing.T) {
	ctx := context.Background()
	s := newPG(t, store.PGOptions{})
	if _, err := s.CreateDoc(ctx, store.NewDocument{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	err := s.AppendOps(ctx, "a", 0, []store.OpRecord{insertRec(0, "s", 1)})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("AppendOps after Close: %v, want ErrUnavailable", err)
	}
}

// TestPGGroupStatementIsolatesFailures: a group whose documents are distinct
// is one statement (groupSQL); in it, an append that conflicts and one to a
// missing document each get their own error while the others commit, exactly
// once and at their versions, and a duplicate (sid, seq), which Postgres
// refuses for the whole statement, sends every append of the group alone.
func TestPGGroupStatementIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s := newPG(t, store.PGOptions{})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"b", "e"} {
		if err := s.AppendOps(ctx, id, 0, []store.OpRecord{insertRec(0, "x", 1)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, withDup := range []bool{false, true} {
		t.Run(fmt.Sprintf("duplicate=%v", withDup), func(t *testing.T) {
			base := versionsOf(t, s, "a", "c", "d")
			sid := fmt.Sprintf("t%v", withDup)
			appends := []store.Append{
				{ID: "d", Expected: base["d"], Ops: []store.OpRecord{insertRec(base["d"], sid, 1)}},
				{ID: "a", Expected: base["a"], Ops: []store.OpRecord{insertRec(base["a"], sid, 1), insertRec(base["a"]+1, sid, 2), insertRec(base["a"]+2, "", 0)}},
				{ID: "b", Expected: 0, Ops: []store.OpRecord{insertRec(0, sid, 1)}}, // b is at 1
				{ID: "nope", Expected: 0, Ops: []store.OpRecord{insertRec(0, sid, 1)}},
				{ID: "c", Expected: base["c"], Ops: []store.OpRecord{insertRec(base["c"], sid, 1)}},
			}
			want := []error{nil, nil, store.ErrConflict, store.ErrNotFound, nil}
			if withDup {
				// e's (x, 1) is committed at version 0.
				appends = append(appends, store.Append{ID: "e", Expected: 1, Ops: []store.OpRecord{insertRec(1, "x", 1)}})
				want = append(want, store.ErrDuplicate)
			}
			errs := s.AppendGroup(ctx, appends)
			for i, w := range want {
				if w == nil && errs[i] != nil || w != nil && !errors.Is(errs[i], w) {
					t.Errorf("append %d (%s at %d): %v, want %v", i, appends[i].ID, appends[i].Expected, errs[i], w)
				}
			}
			for id, n := range map[string]int{"a": 3, "c": 1, "d": 1} {
				ops, err := s.ReadOps(ctx, id, base[id], 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(ops) != n {
					t.Fatalf("%s has %d new ops, want %d", id, len(ops), n)
				}
				for i, r := range ops {
					if r.Version != base[id]+int64(i) {
						t.Errorf("%s op %d at version %d, want %d", id, i, r.Version, base[id]+int64(i))
					}
					if i < 2 && (r.SID != sid || r.Seq != int64(i+1)) {
						t.Errorf("%s op %d is (%s, %d), want (%s, %d)", id, i, r.SID, r.Seq, sid, i+1)
					}
					if i == 2 && r.SID != "" {
						t.Errorf("%s op %d has sid %q, want none (a REST op)", id, i, r.SID)
					}
				}
				d, err := s.GetDoc(ctx, id)
				if err != nil || d.Version != base[id]+int64(n) {
					t.Fatalf("%s at version %d (%v), want %d", id, d.Version, err, base[id]+int64(n))
				}
			}
			for _, id := range []string{"b", "e"} {
				if ops, err := s.ReadOps(ctx, id, 0, 0); err != nil || len(ops) != 1 {
					t.Fatalf("%s has %d ops (%v), want its 1", id, len(ops), err)
				}
			}
		})
	}
}

// TestPGGroupLoneAppendSentByCaller: an append that finds no append in flight
// and none queued is sent by its caller, not handed to a committer (with no
// committer running it would wait until its context ended).
func TestPGGroupLoneAppendSentByCaller(t *testing.T) {
	s := newPG(t, store.PGOptions{})
	s.WithoutCommitters()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.CreateDoc(ctx, store.NewDocument{ID: "lone"}); err != nil {
		t.Fatal(err)
	}
	for v := range int64(3) {
		if err := s.AppendOps(ctx, "lone", v, []store.OpRecord{insertRec(v, "s", v+1)}); err != nil {
			t.Fatalf("append at %d: %v", v, err)
		}
	}
	if ops, err := s.ReadOps(ctx, "lone", 0, 0); err != nil || len(ops) != 3 {
		t.Fatalf("the log holds %d ops (%v), want 3", len(ops), err)
	}
}

// versionsOf reads the documents' versions.
func versionsOf(t *testing.T, s *store.PGStore, ids ...string) map[string]int64 {
	t.Helper()
	vs := make(map[string]int64, len(ids))
	for _, id := range ids {
		d, err := s.GetDoc(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		vs[id] = d.Version
	}
	return vs
}

// TestPGGroupRecycledRequestsKeepTheirOps: append requests (their arrays and
// op encodings) are recycled once answered. Writers on several documents
// append ops of changing sizes (a long one, then short ones that reuse its
// encoding buffer), some with a context that ends while the append is
// queued or in flight (such a request is not reused); every op the store
// holds is exactly the op its writer appended (and the time it gave, for
// the appends that give one: those go as a []time.Time, the others as
// pointers with NULL for now()), and every acknowledged op is there.
func TestPGGroupRecycledRequestsKeepTheirOps(t *testing.T) {
	ctx := context.Background()
	s := newPG(t, store.PGOptions{Committers: 2, MaxConns: 4})
	const docs, appends = 6, 60
	for d := range docs {
		if _, err := s.CreateDoc(ctx, store.NewDocument{ID: fmt.Sprint("rdoc", d)}); err != nil {
			t.Fatal(err)
		}
	}
	text := func(w, seq int) string {
		return fmt.Sprintf("<%d.%d%s>", w, seq, strings.Repeat("abcdefgh", (seq*7+w)%9*(seq%3)))
	}
	var wg sync.WaitGroup
	acked := make([]map[int64]bool, docs)
	for w := range docs {
		acked[w] = map[int64]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, sid := fmt.Sprint("rdoc", w), fmt.Sprint("r", w)
			v := int64(0)
			for seq := 1; seq <= appends; seq++ {
				actx, cancel := context.WithCancel(ctx)
				if seq%11 == 0 {
					time.AfterFunc(time.Duration(seq%4)*100*time.Microsecond, cancel)
				}
				recs := []store.OpRecord{{Version: v, Op: ot.Op{{Insert: text(w, seq)}}, SID: sid, Seq: int64(seq), UserID: "u"}}
				if seq%5 == 0 { // two ops in one append
					recs = append(recs, store.OpRecord{Version: v + 1, Op: ot.Op{{Insert: "+" + text(w, seq)}}, SID: sid, Seq: int64(seq) + 1000, UserID: "u"})
				}
				if seq%2 == 0 {
					for i := range recs {
						recs[i].CreatedAt = opTime(seq)
					}
				}
				err := s.AppendOps(actx, id, v, recs)
				cancel()
				if err == nil {
					acked[w][int64(seq)] = true
				}
				d, gerr := s.GetDoc(ctx, id) // a cancelled append may have committed
				if gerr != nil {
					t.Error(gerr)
					return
				}
				v = d.Version
			}
		}()
	}
	wg.Wait()
	for w := range docs {
		ops, err := s.ReadOps(ctx, fmt.Sprint("rdoc", w), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, r := range ops {
			seq, prefix := r.Seq, ""
			if seq > 1000 {
				seq, prefix = seq-1000, "+"
			}
			if want := fmt.Sprint(ot.Op{{Insert: prefix + text(w, int(seq))}}); fmt.Sprint(r.Op) != want {
				t.Errorf("rdoc%d v%d (seq %d): stored %v, appended %s", w, r.Version, r.Seq, r.Op, want)
			}
			if seq%2 == 0 && !r.CreatedAt.Equal(opTime(int(seq))) {
				t.Errorf("rdoc%d v%d (seq %d): stored at %v, appended at %v", w, r.Version, r.Seq, r.CreatedAt, opTime(int(seq)))
			}
			seen[r.Seq] = true
		}
		for seq := range acked[w] {
			if !seen[seq] {
				t.Errorf("rdoc%d: acknowledged seq %d is not stored", w, seq)
			}
		}
	}
}

// opTime is the time TestPGGroupRecycledRequestsKeepTheirOps gives the ops of
// seq (whole microseconds, as Postgres keeps them).
func opTime(seq int) time.Time {
	return time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Millisecond)
}
