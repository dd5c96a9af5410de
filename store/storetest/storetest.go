// Package storetest is the one contract suite every store.Store engine must pass.
// Each engine's tests call Run with a factory for fresh, empty stores.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"github.com/tandem-collab/tandem/doctype"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

// Factory returns a fresh, empty store for one test and registers its own
// cleanup (t.Cleanup). Stores should be configured with a small snapshot interval
// (store SnapshotEvery around 5) so that background snapshots happen while the
// suite runs; results must not depend on it.
type Factory func(t *testing.T) store.Store

// Run checks the store.Store contract against the engine that newStore builds.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateGet", testCreateGet},
		{"UpdateDoc", testUpdateDoc},
		{"ListPagination", testListPagination},
		{"ListLimits", testListLimits},
		{"ListConcurrentChanges", testListConcurrentChanges},
		{"AppendRead", testAppendRead},
		{"AppendRace", testAppendRace},
		{"AppendRaceMany", testAppendRaceMany},
		{"Duplicates", testDuplicates},
		{"TimeTravel", testTimeTravel},
		{"WriteSnapshot", testWriteSnapshot},
		{"DeleteRecreate", testDeleteRecreate},
		{"DeleteRacesWriters", testDeleteRacesWriters},
		{"LargeDocument", testLargeDocument},
		{"PingClose", testPingClose},
	}
	tests = append(tests, retentionTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, s store.Store, id, content string) store.Document {
	t.Helper()
	d, err := s.CreateDoc(ctxT(t), store.NewDocument{ID: id, Content: textdoc.MustString(content)})
	if err != nil {
		t.Fatalf("CreateDoc(%q): %v", id, err)
	}
	return d
}

func ins(pos int, s string) ot.Op {
	if pos == 0 {
		return ot.Op{{Insert: s}}
	}
	return ot.Op{{Retain: pos}, {Insert: s}}
}

func del(pos, n int) ot.Op {
	if pos == 0 {
		return ot.Op{{Delete: n}}
	}
	return ot.Op{{Retain: pos}, {Delete: n}}
}

var alphabet = []rune("abcdefghij XYZ\n\u00e9\u4e2d\U0001F600")

// randomOp makes a valid op for text: an insert or a delete at a random place.
func randomOp(r *rand.Rand, text string) ot.Op {
	n := utf8.RuneCountInString(text)
	pos := r.IntN(n + 1)
	if n-pos > 0 && r.IntN(3) == 0 {
		return del(pos, 1+r.IntN(min(5, n-pos)))
	}
	var b strings.Builder
	for range 1 + r.IntN(6) {
		b.WriteRune(alphabet[r.IntN(len(alphabet))])
	}
	return ins(pos, b.String())
}

func apply(t *testing.T, text string, op doctype.Op) string {
	t.Helper()
	out, err := ot.Apply(text, textdoc.Op(op))
	if err != nil {
		t.Fatalf("ot.Apply(%v): %v", op, err)
	}
	return out
}

// records numbers ops from version v, with no sid.
func records(v int64, ops ...ot.Op) []store.OpRecord {
	out := make([]store.OpRecord, len(ops))
	for i, op := range ops {
		out[i] = store.OpRecord{Version: v + int64(i), Op: op, UserID: "u1"}
	}
	return out
}

func opsEqual(x, y doctype.Op) bool {
	a, b := textdoc.Op(x), textdoc.Op(y)
	if len(a) == 0 && len(b) == 0 {
		return x != nil && y != nil
	}
	return reflect.DeepEqual(a, b)
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func testCreateGet(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	before := time.Now().Add(-time.Second)
	d, err := s.CreateDoc(ctx, store.NewDocument{
		ID: "doc-1", Title: "Hello", Content: textdoc.MustString("h\u00e9llo \U0001F600 w\x00rld"),
		Metadata: map[string]any{"lang": "en", "n": 3, "tags": []any{"a", "b"}},
	})
	if err != nil {
		t.Fatalf("CreateDoc: %v", err)
	}
	if d.ID != "doc-1" || d.Type != "text" || d.Title != "Hello" || d.Version != 0 {
		t.Fatalf("CreateDoc returned %+v", d)
	}
	if d.CreatedAt.Before(before) || d.UpdatedAt.Before(before) {
		t.Fatalf("timestamps not set: %+v", d)
	}
	wantMeta := map[string]any{"lang": "en", "n": float64(3), "tags": []any{"a", "b"}}
	if !reflect.DeepEqual(d.Metadata, wantMeta) {
		t.Fatalf("metadata = %#v, want %#v", d.Metadata, wantMeta)
	}
	g, err := s.GetDoc(ctx, "doc-1")
	if err != nil {
		t.Fatalf("GetDoc: %v", err)
	}
	if !reflect.DeepEqual(g, d) {
		t.Fatalf("GetDoc = %+v, want %+v", g, d)
	}
	// The returned map must not alias the stored one.
	g.Metadata["lang"] = "fr"
	if g2, _ := s.GetDoc(ctx, "doc-1"); g2.Metadata["lang"] != "en" {
		t.Fatalf("mutating a returned map changed the store: %v", g2.Metadata)
	}
	ld, snap, err := s.Load(ctx, "doc-1")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if snap.Version != 0 || textdoc.String(snap.Content) != "h\u00e9llo \U0001F600 w\x00rld" || ld.Version != 0 {
		t.Fatalf("Load = %+v %+v", ld, snap)
	}
	if snap.CreatedAt.IsZero() {
		t.Fatalf("Load snapshot has no time")
	}

	empty, err := s.CreateDoc(ctx, store.NewDocument{ID: "empty", Type: "text"})
	if err != nil {
		t.Fatalf("CreateDoc(empty): %v", err)
	}
	if empty.Metadata == nil || len(empty.Metadata) != 0 || empty.Title != "" {
		t.Fatalf("defaults: %+v", empty)
	}
	if _, snap, err := s.Load(ctx, "empty"); err != nil || textdoc.String(snap.Content) != "" {
		t.Fatalf("Load(empty) = %+v, %v", snap, err)
	}

	_, err = s.CreateDoc(ctx, store.NewDocument{ID: "doc-1", Content: textdoc.MustString("other")})
	wantErr(t, "CreateDoc of a taken id", err, store.ErrExists)
	_, err = s.GetDoc(ctx, "nope")
	wantErr(t, "GetDoc(nope)", err, store.ErrNotFound)
	_, _, err = s.Load(ctx, "nope")
	wantErr(t, "Load(nope)", err, store.ErrNotFound)
	_, err = s.CreateDoc(ctx, store.NewDocument{ID: ""})
	wantErr(t, "CreateDoc with empty id", err, store.ErrInvalidArgument)
	_, err = s.CreateDoc(ctx, store.NewDocument{ID: "bad-type", Type: "no-such-type"})
	wantErr(t, "CreateDoc with an unknown type", err, store.ErrInvalidArgument)
	if !errors.Is(err, doctype.ErrUnknownType) {
		t.Fatalf("CreateDoc with an unknown type: %v, want doctype.ErrUnknownType too", err)
	}
	if _, err := s.GetDoc(ctx, "bad-type"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a rejected CreateDoc left a document behind: %v", err)
	}
}

func testUpdateDoc(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	d, err := s.CreateDoc(ctx, store.NewDocument{ID: "u", Title: "t0", Metadata: map[string]any{"k": "v"}})
	if err != nil {
		t.Fatalf("CreateDoc: %v", err)
	}
	title := "t1"
	u, err := s.UpdateDoc(ctx, "u", store.MetaPatch{Title: &title})
	if err != nil {
		t.Fatalf("UpdateDoc(title): %v", err)
	}
	if u.Title != "t1" || u.Metadata["k"] != "v" || u.UpdatedAt.Before(d.UpdatedAt) || !u.CreatedAt.Equal(d.CreatedAt) {
		t.Fatalf("after title patch: %+v", u)
	}
	u, err = s.UpdateDoc(ctx, "u", store.MetaPatch{Metadata: map[string]any{"x": true}})
	if err != nil {
		t.Fatalf("UpdateDoc(metadata): %v", err)
	}
	if u.Title != "t1" || !reflect.DeepEqual(u.Metadata, map[string]any{"x": true}) {
		t.Fatalf("after metadata patch: %+v", u)
	}
	g, err := s.GetDoc(ctx, "u")
	if err != nil || !reflect.DeepEqual(g, u) {
		t.Fatalf("GetDoc after patch = %+v, %v; want %+v", g, err, u)
	}
	u, err = s.UpdateDoc(ctx, "u", store.MetaPatch{})
	if err != nil || u.Title != "t1" || u.Metadata["x"] != true {
		t.Fatalf("empty patch changed things: %+v, %v", u, err)
	}
	_, err = s.UpdateDoc(ctx, "nope", store.MetaPatch{Title: &title})
	wantErr(t, "UpdateDoc(nope)", err, store.ErrNotFound)
}

// listAll follows cursors with the given page size and prefix.
func listAll(t *testing.T, s store.Store, prefix string, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("pagination does not terminate")
		}
		p, err := s.ListDocs(ctxT(t), store.ListOptions{Limit: limit, Cursor: cursor, Prefix: prefix})
		if err != nil {
			t.Fatalf("ListDocs(prefix %q, cursor %q): %v", prefix, cursor, err)
		}
		if len(p.Docs) > limit {
			t.Fatalf("page of %d docs, limit %d", len(p.Docs), limit)
		}
		for _, d := range p.Docs {
			ids = append(ids, d.ID)
		}
		if p.NextCursor == "" {
			return ids
		}
		if len(p.Docs) == 0 {
			t.Fatalf("empty page with a next cursor")
		}
		cursor = p.NextCursor
	}
}

func testListPagination(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var want []string
	for i := range 23 {
		id := fmt.Sprintf("a-%03d", i)
		want = append(want, id)
		mustCreate(t, s, id, "")
	}
	// Neighbours that a sloppy prefix filter would let in: LIKE wildcards,
	// upper case, and ids that sort right before and after the range.
	for _, id := range []string{"a_x", "a%x", "A-000", "a", "a.", "b-000", "a,"} {
		mustCreate(t, s, id, "")
	}
	for _, limit := range []int{1, 5, 7, 23, 200} {
		got := listAll(t, s, "a-", limit)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("prefix a- with limit %d: got %v, want %v", limit, got, want)
		}
	}
	if got := listAll(t, s, "a_", 3); !reflect.DeepEqual(got, []string{"a_x"}) {
		t.Fatalf("prefix a_ = %v", got)
	}
	if got := listAll(t, s, "a%", 3); !reflect.DeepEqual(got, []string{"a%x"}) {
		t.Fatalf("prefix a%% = %v", got)
	}
	if got := listAll(t, s, "zzz", 3); len(got) != 0 {
		t.Fatalf("prefix zzz = %v", got)
	}
	all := listAll(t, s, "", 4)
	if len(all) != 30 {
		t.Fatalf("listed %d docs, want 30: %v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1] >= all[i] {
			t.Fatalf("not ordered by id (bytewise): %v", all)
		}
	}
	p, err := s.ListDocs(ctx, store.ListOptions{Prefix: "a-", Limit: 23})
	if err != nil || len(p.Docs) != 23 || p.NextCursor != "" {
		t.Fatalf("an exactly full last page must have no cursor: %d docs, cursor %q, %v", len(p.Docs), p.NextCursor, err)
	}
	if p.Docs[0].CreatedAt.IsZero() || p.Docs[0].Type != "text" || p.Docs[0].Metadata == nil {
		t.Fatalf("listed document lacks fields: %+v", p.Docs[0])
	}
	_, err = s.ListDocs(ctx, store.ListOptions{Cursor: "!!not base64!!"})
	wantErr(t, "ListDocs with a bad cursor", err, store.ErrInvalidArgument)
}

func testListLimits(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for i := range 205 {
		mustCreate(t, s, fmt.Sprintf("l%04d", i), "")
	}
	p, err := s.ListDocs(ctx, store.ListOptions{})
	if err != nil || len(p.Docs) != store.DefaultListLimit || p.NextCursor == "" {
		t.Fatalf("default page: %d docs, cursor %q, %v", len(p.Docs), p.NextCursor, err)
	}
	p, err = s.ListDocs(ctx, store.ListOptions{Limit: 1000})
	if err != nil || len(p.Docs) != store.MaxListLimit || p.NextCursor == "" {
		t.Fatalf("over-large limit: %d docs, cursor %q, %v", len(p.Docs), p.NextCursor, err)
	}
	p, err = s.ListDocs(ctx, store.ListOptions{Limit: 1000, Cursor: p.NextCursor})
	if err != nil || len(p.Docs) != 5 || p.NextCursor != "" || p.Docs[4].ID != "l0204" {
		t.Fatalf("second page: %d docs, cursor %q, %v", len(p.Docs), p.NextCursor, err)
	}
}

// testListConcurrentChanges pages through documents while others are created and
// deleted between pages: every document that exists throughout is seen exactly
// once, in order.
func testListConcurrentChanges(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	stable := map[string]bool{}
	for i := range 60 {
		id := fmt.Sprintf("c%03d", i*2)
		mustCreate(t, s, id, "")
		if i%3 == 0 {
			continue // these will be deleted while paging
		}
		stable[id] = true
	}
	seen := map[string]int{}
	var order []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := s.ListDocs(ctx, store.ListOptions{Limit: 7, Cursor: cursor, Prefix: "c"})
		if err != nil {
			t.Fatalf("ListDocs: %v", err)
		}
		for _, d := range p.Docs {
			seen[d.ID]++
			order = append(order, d.ID)
		}
		// Between pages: insert odd ids on both sides of the cursor, delete some
		// not-yet-visited and some visited even ids.
		for k := range 3 {
			id := fmt.Sprintf("c%03d", (page*17+k*41)%60*2+1)
			if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id}); err != nil && !errors.Is(err, store.ErrExists) {
				t.Fatalf("CreateDoc(%s): %v", id, err)
			}
		}
		for i := page * 3; i < 60 && i < page*3+9; i += 3 {
			id := fmt.Sprintf("c%03d", i*2)
			if err := s.DeleteDoc(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("DeleteDoc(%s): %v", id, err)
			}
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	for id := range stable {
		if seen[id] != 1 {
			t.Fatalf("stable doc %s seen %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("doc %s seen %d times", id, n)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Fatalf("pages out of order: %v", order)
		}
	}
}

func testAppendRead(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, "ar", "abc")
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	batch := []store.OpRecord{
		{Version: 0, Op: ins(3, "d"), SID: "sidA", Seq: 1, UserID: "alice", CreatedAt: at},
		{Version: 1, Op: del(0, 1), SID: "sidA", Seq: 2, UserID: "alice"},
		{Version: 2, Op: ins(1, "\U0001F600"), UserID: "bob"},
	}
	if err := s.AppendOps(ctx, "ar", 0, batch); err != nil {
		t.Fatalf("AppendOps: %v", err)
	}
	if err := s.AppendOps(ctx, "ar", 3, records(3, ins(0, "x"), ins(0, "y"))); err != nil {
		t.Fatalf("AppendOps at 3: %v", err)
	}
	d, err := s.GetDoc(ctx, "ar")
	if err != nil || d.Version != 5 {
		t.Fatalf("GetDoc after appends: %+v, %v", d, err)
	}
	got, err := s.ReadOps(ctx, "ar", 0, 0)
	if err != nil || len(got) != 5 {
		t.Fatalf("ReadOps(0, all) = %d ops, %v", len(got), err)
	}
	for i, r := range got {
		if r.Version != int64(i) || r.CreatedAt.IsZero() {
			t.Fatalf("op %d: %+v", i, r)
		}
	}
	if !got[0].CreatedAt.Equal(at) {
		t.Fatalf("caller's CreatedAt not kept: %v", got[0].CreatedAt)
	}
	for i, w := range batch {
		g := got[i]
		if !opsEqual(g.Op, w.Op) || g.SID != w.SID || g.Seq != w.Seq || g.UserID != w.UserID {
			t.Fatalf("op %d round trip: got %+v, want %+v", i, g, w)
		}
	}
	if part, err := s.ReadOps(ctx, "ar", 1, 2); err != nil || len(part) != 2 || part[0].Version != 1 || part[1].Version != 2 {
		t.Fatalf("ReadOps(1, 2) = %+v, %v", part, err)
	}
	if part, err := s.ReadOps(ctx, "ar", 4, 100); err != nil || len(part) != 1 || part[0].Version != 4 {
		t.Fatalf("ReadOps(4, 100) = %+v, %v", part, err)
	}
	if part, err := s.ReadOps(ctx, "ar", 5, 0); err != nil || len(part) != 0 {
		t.Fatalf("ReadOps(current) = %+v, %v", part, err)
	}
	_, err = s.ReadOps(ctx, "ar", 6, 0)
	wantErr(t, "ReadOps past the end", err, store.ErrVersion)
	_, err = s.ReadOps(ctx, "ar", -1, 0)
	wantErr(t, "ReadOps(-1)", err, store.ErrVersion)
	_, err = s.ReadOps(ctx, "nope", 0, 0)
	wantErr(t, "ReadOps(nope)", err, store.ErrNotFound)

	text := "abc"
	for _, r := range got {
		text = apply(t, text, r.Op)
	}
	_, snap, err := s.Load(ctx, "ar")
	if err != nil || textdoc.String(snap.Content) != text || snap.Version != 5 {
		t.Fatalf("Load = %+v, %v; want %q at 5", snap, err, text)
	}

	// Stale expected version: a *ConflictError naming where the store is.
	err = s.AppendOps(ctx, "ar", 3, records(3, ins(0, "z")))
	wantErr(t, "AppendOps at a stale version", err, store.ErrConflict)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Current != 5 || ce.Expected != 3 || ce.DocID != "ar" {
		t.Fatalf("conflict error = %#v", err)
	}
	err = s.AppendOps(ctx, "ar", 7, records(7, ins(0, "z")))
	wantErr(t, "AppendOps ahead of the document", err, store.ErrConflict)
	// Records not numbered from expected.
	err = s.AppendOps(ctx, "ar", 5, records(6, ins(0, "z")))
	wantErr(t, "AppendOps with misnumbered records", err, store.ErrVersion)
	err = s.AppendOps(ctx, "ar", 5, []store.OpRecord{{Version: 5, Op: ins(0, "a")}, {Version: 7, Op: ins(0, "b")}})
	wantErr(t, "AppendOps with a hole in the batch", err, store.ErrVersion)
	err = s.AppendOps(ctx, "nope", 0, records(0, ins(0, "z")))
	wantErr(t, "AppendOps(nope)", err, store.ErrNotFound)
	if d, _ := s.GetDoc(ctx, "ar"); d.Version != 5 {
		t.Fatalf("failed appends moved the version to %d", d.Version)
	}
	// An empty batch at the right version is a no-op; at the wrong one a conflict.
	if err := s.AppendOps(ctx, "ar", 5, nil); err != nil {
		t.Fatalf("empty AppendOps: %v", err)
	}
	wantErr(t, "empty AppendOps at a stale version", s.AppendOps(ctx, "ar", 4, nil), store.ErrConflict)
}

// testAppendRace races two writers at the same version, many times: exactly one
// wins, the loser gets a *ConflictError, and the log holds exactly the winner's
// batch.
func testAppendRace(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, "race", "")
	text := ""
	v := int64(0)
	for round := range 60 {
		batches := [2][]store.OpRecord{
			records(v, ins(0, fmt.Sprintf("[A%d]", round))),
			records(v, ins(0, fmt.Sprintf("[B%d.1]", round)), ins(0, fmt.Sprintf("[B%d.2]", round)), ins(0, fmt.Sprintf("[B%d.3]", round))),
		}
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 {
			wg.Go(func() {
				<-start
				errs[i] = s.AppendOps(ctx, "race", v, batches[i])
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both writers won", round)
				}
				winner = i
			case errors.Is(err, store.ErrConflict):
				var ce *store.ConflictError
				if !errors.As(err, &ce) || ce.Expected != v {
					t.Fatalf("round %d: conflict error %#v", round, err)
				}
			default:
				t.Fatalf("round %d: writer %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won: %v", round, errs)
		}
		w := batches[winner]
		got, err := s.ReadOps(ctx, "race", v, 0)
		if err != nil {
			t.Fatalf("ReadOps: %v", err)
		}
		if len(got) != len(w) {
			t.Fatalf("round %d: log has %d new ops, the winner wrote %d", round, len(got), len(w))
		}
		for i := range got {
			if !opsEqual(got[i].Op, w[i].Op) {
				t.Fatalf("round %d: op %d is %v, the winner wrote %v", round, i, got[i].Op, w[i].Op)
			}
			text = apply(t, text, w[i].Op)
		}
		v += int64(len(w))
	}
	d, snap, err := s.Load(ctx, "race")
	if err != nil || d.Version != v || textdoc.String(snap.Content) != text {
		t.Fatalf("Load after races = v%d %q, %v; want v%d %q", d.Version, textdoc.String(snap.Content), err, v, text)
	}
}

// testAppendRaceMany has eight writers that retry on conflict until each has
// committed its ops: the log ends with every op exactly once and no gap.
func testAppendRaceMany(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, "many", "")
	const writers, each = 8, 6
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			sid := fmt.Sprintf("writer-%d", w)
			for seq := int64(1); seq <= each; {
				d, err := s.GetDoc(ctx, "many")
				if err != nil {
					errc <- err
					return
				}
				rec := store.OpRecord{Version: d.Version, Op: ins(0, "x"), SID: sid, Seq: seq}
				err = s.AppendOps(ctx, "many", d.Version, []store.OpRecord{rec})
				switch {
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
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	got, err := s.ReadOps(ctx, "many", 0, 0)
	if err != nil || len(got) != writers*each {
		t.Fatalf("ReadOps = %d ops, %v; want %d", len(got), err, writers*each)
	}
	next := map[string]int64{}
	for i, r := range got {
		if r.Version != int64(i) {
			t.Fatalf("gap at %d: %+v", i, r)
		}
		next[r.SID]++
		if r.Seq != next[r.SID] {
			t.Fatalf("%s: seq %d out of order at version %d", r.SID, r.Seq, r.Version)
		}
	}
}

func testDuplicates(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, "dup", "")
	recs := []store.OpRecord{
		{Version: 0, Op: ins(0, "a"), SID: "s1", Seq: 1},
		{Version: 1, Op: ins(0, "b"), SID: "s1", Seq: 2},
		{Version: 2, Op: ins(0, "c"), SID: "s2", Seq: 2}, // same seq, other sid
		{Version: 3, Op: ins(0, "d")},                    // no sid: never deduplicated
		{Version: 4, Op: ins(0, "e")},
	}
	if err := s.AppendOps(ctx, "dup", 0, recs); err != nil {
		t.Fatalf("AppendOps: %v", err)
	}
	for _, c := range []struct {
		sid   string
		seq   int64
		v     int64
		found bool
	}{{"s1", 1, 0, true}, {"s1", 2, 1, true}, {"s2", 2, 2, true}, {"s2", 1, 0, false}, {"s3", 1, 0, false}} {
		v, found, err := s.FindOp(ctx, "dup", c.sid, c.seq)
		if err != nil || found != c.found || (found && v != c.v) {
			t.Fatalf("FindOp(%s, %d) = %d, %v, %v; want %d, %v", c.sid, c.seq, v, found, err, c.v, c.found)
		}
	}
	_, _, err := s.FindOp(ctx, "nope", "s1", 1)
	wantErr(t, "FindOp(nope)", err, store.ErrNotFound)

	// A batch with one already-committed (sid, seq) is rejected whole.
	err = s.AppendOps(ctx, "dup", 5, []store.OpRecord{
		{Version: 5, Op: ins(0, "f"), SID: "s1", Seq: 3},
		{Version: 6, Op: ins(0, "g"), SID: "s1", Seq: 2},
	})
	wantErr(t, "AppendOps with a committed (sid, seq)", err, store.ErrDuplicate)
	var de *store.DuplicateError
	if !errors.As(err, &de) || de.Version != 1 || de.SID != "s1" || de.Seq != 2 {
		t.Fatalf("duplicate error = %#v, want version 1 for s1/2", err)
	}
	if d, _ := s.GetDoc(ctx, "dup"); d.Version != 5 {
		t.Fatalf("rejected batch moved the version to %d", d.Version)
	}
	if _, found, _ := s.FindOp(ctx, "dup", "s1", 3); found {
		t.Fatalf("rejected batch left s1/3 behind")
	}
	// A batch that repeats a (sid, seq) within itself is malformed.
	err = s.AppendOps(ctx, "dup", 5, []store.OpRecord{
		{Version: 5, Op: ins(0, "f"), SID: "s9", Seq: 1},
		{Version: 6, Op: ins(0, "g"), SID: "s9", Seq: 1},
	})
	if err == nil {
		t.Fatalf("batch repeating a (sid, seq) was accepted")
	}
	// Ops without a sid repeat freely, and the log is intact.
	if err := s.AppendOps(ctx, "dup", 5, records(5, ins(0, "h"), ins(0, "h"))); err != nil {
		t.Fatalf("AppendOps without sid: %v", err)
	}
	if _, snap, err := s.Load(ctx, "dup"); err != nil || textdoc.String(snap.Content) != "hhedcba" {
		t.Fatalf("Load = %q, %v", textdoc.String(snap.Content), err)
	}
	// Dedup is per document.
	mustCreate(t, s, "dup2", "")
	if err := s.AppendOps(ctx, "dup2", 0, []store.OpRecord{{Version: 0, Op: ins(0, "a"), SID: "s1", Seq: 1}}); err != nil {
		t.Fatalf("same (sid, seq) in another document: %v", err)
	}
}

// history builds a document from random ops in random-sized batches and returns
// the text at every version.
func history(t *testing.T, s store.Store, id, initial string, n int, seed uint64, snapshotAt func(v int64) bool) []string {
	t.Helper()
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(seed, 7))
	mustCreate(t, s, id, initial)
	texts := []string{initial}
	for len(texts)-1 < n {
		v := int64(len(texts) - 1)
		var batch []store.OpRecord
		for k := range 1 + r.IntN(7) {
			op := randomOp(r, texts[len(texts)-1])
			texts = append(texts, apply(t, texts[len(texts)-1], op))
			batch = append(batch, store.OpRecord{Version: v + int64(k), Op: op, SID: "tt", Seq: v + int64(k) + 1})
		}
		if err := s.AppendOps(ctx, id, v, batch); err != nil {
			t.Fatalf("AppendOps at %d: %v", v, err)
		}
		nv := int64(len(texts) - 1)
		if snapshotAt != nil && snapshotAt(nv) {
			if err := s.WriteSnapshot(ctx, id, store.Snapshot{Version: nv, Content: textdoc.MustString(texts[nv])}); err != nil {
				t.Fatalf("WriteSnapshot at %d: %v", nv, err)
			}
		}
	}
	return texts
}

func testTimeTravel(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	texts := history(t, s, "tt", "start \U0001F600 text", 150, 1, func(v int64) bool { return v%23 < 3 })
	cur := int64(len(texts) - 1)
	check := func(round string) {
		for v := int64(0); v <= cur; v++ {
			snap, err := s.SnapshotAt(ctx, "tt", v)
			if err != nil {
				t.Fatalf("%s: SnapshotAt(%d): %v", round, v, err)
			}
			if snap.Version != v || textdoc.String(snap.Content) != texts[v] {
				t.Fatalf("%s: SnapshotAt(%d) = v%d %q, want %q", round, v, snap.Version, textdoc.String(snap.Content), texts[v])
			}
		}
		d, snap, err := s.Load(ctx, "tt")
		if err != nil || d.Version != cur || snap.Version != cur || textdoc.String(snap.Content) != texts[cur] {
			t.Fatalf("%s: Load = v%d/%d %q, %v; want v%d %q", round, d.Version, snap.Version, textdoc.String(snap.Content), err, cur, texts[cur])
		}
	}
	check("right after writing")
	// Background snapshots land whenever they do; the answers must not change.
	time.Sleep(200 * time.Millisecond)
	check("after background snapshots")
	_, err := s.SnapshotAt(ctx, "tt", cur+1)
	wantErr(t, "SnapshotAt(current+1)", err, store.ErrVersion)
	_, err = s.SnapshotAt(ctx, "tt", -1)
	wantErr(t, "SnapshotAt(-1)", err, store.ErrVersion)
	_, err = s.SnapshotAt(ctx, "nope", 0)
	wantErr(t, "SnapshotAt(nope)", err, store.ErrNotFound)
	// A version's time is when the document got there.
	ops, err := s.ReadOps(ctx, "tt", cur-1, 1)
	if err != nil {
		t.Fatalf("ReadOps: %v", err)
	}
	if snap, err := s.SnapshotAt(ctx, "tt", cur); err != nil || !snap.CreatedAt.Equal(ops[0].CreatedAt) {
		t.Fatalf("SnapshotAt(current).CreatedAt = %v, want the last op's %v (%v)", snap.CreatedAt, ops[0].CreatedAt, err)
	}
}

func testWriteSnapshot(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	texts := history(t, s, "ws", "abc", 20, 2, nil)
	cur := int64(len(texts) - 1)
	for _, v := range []int64{0, 7, 7, cur} { // 7 twice: writing an existing version is fine
		if err := s.WriteSnapshot(ctx, "ws", store.Snapshot{Version: v, Content: textdoc.MustString(texts[v])}); err != nil {
			t.Fatalf("WriteSnapshot(%d): %v", v, err)
		}
	}
	err := s.WriteSnapshot(ctx, "ws", store.Snapshot{Version: cur + 1, Content: textdoc.MustString("future")})
	wantErr(t, "WriteSnapshot past the current version", err, store.ErrVersion)
	err = s.WriteSnapshot(ctx, "ws", store.Snapshot{Version: -1, Content: textdoc.MustString("")})
	wantErr(t, "WriteSnapshot(-1)", err, store.ErrVersion)
	err = s.WriteSnapshot(ctx, "nope", store.Snapshot{Version: 0, Content: textdoc.MustString("")})
	wantErr(t, "WriteSnapshot(nope)", err, store.ErrNotFound)
	for v := range cur + 1 {
		snap, err := s.SnapshotAt(ctx, "ws", v)
		if err != nil || textdoc.String(snap.Content) != texts[v] {
			t.Fatalf("SnapshotAt(%d) = %q, %v; want %q", v, textdoc.String(snap.Content), err, texts[v])
		}
	}
	// Appending after a snapshot at the head replays from it.
	if err := s.AppendOps(ctx, "ws", cur, records(cur, ins(0, "Z"))); err != nil {
		t.Fatalf("AppendOps: %v", err)
	}
	if _, snap, err := s.Load(ctx, "ws"); err != nil || textdoc.String(snap.Content) != "Z"+texts[cur] {
		t.Fatalf("Load = %q, %v", textdoc.String(snap.Content), err)
	}
}

func testDeleteRecreate(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	texts := history(t, s, "del", "old content", 30, 3, func(v int64) bool { return v > 10 && v < 15 })
	mustCreate(t, s, "del-neighbour", "n")
	if err := s.DeleteDoc(ctx, "del"); err != nil {
		t.Fatalf("DeleteDoc: %v", err)
	}
	_, err := s.GetDoc(ctx, "del")
	wantErr(t, "GetDoc after delete", err, store.ErrNotFound)
	_, _, err = s.Load(ctx, "del")
	wantErr(t, "Load after delete", err, store.ErrNotFound)
	_, err = s.ReadOps(ctx, "del", 0, 0)
	wantErr(t, "ReadOps after delete", err, store.ErrNotFound)
	_, err = s.SnapshotAt(ctx, "del", 0)
	wantErr(t, "SnapshotAt after delete", err, store.ErrNotFound)
	_, _, err = s.FindOp(ctx, "del", "tt", 1)
	wantErr(t, "FindOp after delete", err, store.ErrNotFound)
	v := int64(len(texts) - 1)
	err = s.AppendOps(ctx, "del", v, records(v, ins(0, "x")))
	wantErr(t, "AppendOps after delete", err, store.ErrNotFound)
	err = s.WriteSnapshot(ctx, "del", store.Snapshot{Version: 0, Content: textdoc.MustString("x")})
	wantErr(t, "WriteSnapshot after delete", err, store.ErrNotFound)
	title := "x"
	_, err = s.UpdateDoc(ctx, "del", store.MetaPatch{Title: &title})
	wantErr(t, "UpdateDoc after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteDoc twice", s.DeleteDoc(ctx, "del"), store.ErrNotFound)
	if ids := listAll(t, s, "del", 10); !reflect.DeepEqual(ids, []string{"del-neighbour"}) {
		t.Fatalf("ListDocs after delete = %v", ids)
	}

	// Re-created: version 0, empty history, no memory of the old (sid, seq)s.
	d, err := s.CreateDoc(ctx, store.NewDocument{ID: "del", Content: textdoc.MustString("new"), Title: "again"})
	if err != nil {
		t.Fatalf("CreateDoc after delete: %v", err)
	}
	if d.Version != 0 || d.Title != "again" {
		t.Fatalf("re-created doc = %+v", d)
	}
	if ops, err := s.ReadOps(ctx, "del", 0, 0); err != nil || len(ops) != 0 {
		t.Fatalf("re-created doc has history: %v, %v", ops, err)
	}
	if _, found, err := s.FindOp(ctx, "del", "tt", 1); err != nil || found {
		t.Fatalf("re-created doc remembers an old (sid, seq): %v, %v", found, err)
	}
	_, err = s.SnapshotAt(ctx, "del", 5)
	wantErr(t, "SnapshotAt of old history", err, store.ErrVersion)
	if err := s.AppendOps(ctx, "del", 0, []store.OpRecord{{Version: 0, Op: ins(3, "!"), SID: "tt", Seq: 1}}); err != nil {
		t.Fatalf("AppendOps on re-created doc with an old (sid, seq): %v", err)
	}
	if _, snap, err := s.Load(ctx, "del"); err != nil || textdoc.String(snap.Content) != "new!" || snap.Version != 1 {
		t.Fatalf("Load of re-created doc = %+v, %v", snap, err)
	}
	if s0, err := s.SnapshotAt(ctx, "del", 0); err != nil || textdoc.String(s0.Content) != "new" {
		t.Fatalf("SnapshotAt(0) of re-created doc = %q, %v", textdoc.String(s0.Content), err)
	}
}

// testDeleteRacesWriters deletes and re-creates a document while writers of the
// old incarnation keep appending: none of their ops may surface in the new one.
func testDeleteRacesWriters(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for round := range 5 {
		id := fmt.Sprintf("dr%d", round)
		mustCreate(t, s, id, "")
		// The old incarnation gets ahead so its writers' versions never match
		// the new one's.
		if err := s.AppendOps(ctx, id, 0, records(0, ins(0, "o"), ins(0, "o"), ins(0, "o"), ins(0, "o"), ins(0, "o"), ins(0, "o"), ins(0, "o"), ins(0, "o"), ins(0, "o"), ins(0, "o"))); err != nil {
			t.Fatalf("AppendOps: %v", err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errc := make(chan error, 4)
		for w := range 4 {
			wg.Go(func() {
				v := int64(10)
				for {
					select {
					case <-stop:
						return
					default:
					}
					err := s.AppendOps(ctx, id, v, records(v, ins(0, "OLD")))
					switch {
					case err == nil:
						v++
					case errors.Is(err, store.ErrConflict):
						// Another old writer got there: learn the version from the
						// log of the incarnation we know (ReadOps from our v).
						ops, rerr := s.ReadOps(ctx, id, v, 0)
						if rerr != nil {
							return // deleted (or re-created behind us, at a lower version)
						}
						v += int64(len(ops))
					case errors.Is(err, store.ErrNotFound):
						time.Sleep(time.Millisecond)
					default:
						errc <- fmt.Errorf("old writer %d: %w", w, err)
						return
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		if err := s.DeleteDoc(ctx, id); err != nil {
			t.Fatalf("DeleteDoc: %v", err)
		}
		if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id, Content: textdoc.MustString("fresh")}); err != nil {
			t.Fatalf("CreateDoc: %v", err)
		}
		for v := range int64(5) {
			if err := s.AppendOps(ctx, id, v, records(v, ins(0, "n"))); err != nil {
				t.Fatalf("AppendOps on the new incarnation at %d: %v", v, err)
			}
		}
		close(stop)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		ops, err := s.ReadOps(ctx, id, 0, 0)
		if err != nil || len(ops) != 5 {
			t.Fatalf("new incarnation has %d ops (%v), want 5", len(ops), err)
		}
		for _, r := range ops {
			if textdoc.Op(r.Op)[0].Insert != "n" {
				t.Fatalf("an old writer's op leaked into the new incarnation: %+v", r)
			}
		}
		if _, snap, err := s.Load(ctx, id); err != nil || textdoc.String(snap.Content) != "nnnnnfresh" {
			t.Fatalf("Load = %q, %v", textdoc.String(snap.Content), err)
		}
	}
}

func testLargeDocument(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var b strings.Builder
	for b.Len() < 1<<20+1000 {
		b.WriteString("The quick brown fox jumps over the lazy dog. \u00e9\u4e2d\U0001F600\n")
	}
	big := b.String()
	d := mustCreate(t, s, "big", big)
	if d.Version != 0 {
		t.Fatalf("version %d", d.Version)
	}
	n := utf8.RuneCountInString(big)
	r := rand.New(rand.NewPCG(4, 4))
	texts := []string{big}
	var batch []store.OpRecord
	for i := range 40 {
		var op ot.Op
		if i%2 == 0 {
			op = ins(r.IntN(n), "INSERTED\U0001F600")
		} else {
			op = del(r.IntN(n-100), 50)
		}
		texts = append(texts, apply(t, texts[len(texts)-1], op))
		batch = append(batch, store.OpRecord{Version: int64(i), Op: op})
	}
	// One op that inserts a whole MiB on its own.
	bigIns := ins(7, big[:1<<20])
	texts = append(texts, apply(t, texts[len(texts)-1], bigIns))
	batch = append(batch, store.OpRecord{Version: 40, Op: bigIns})
	if err := s.AppendOps(ctx, "big", 0, batch); err != nil {
		t.Fatalf("AppendOps: %v", err)
	}
	_, snap, err := s.Load(ctx, "big")
	if err != nil || snap.Version != 41 || textdoc.String(snap.Content) != texts[41] {
		t.Fatalf("Load of the large doc: v%d, %d bytes, %v; want %d bytes", snap.Version, len(textdoc.String(snap.Content)), err, len(texts[41]))
	}
	for _, v := range []int64{0, 1, 20, 40, 41} {
		snap, err := s.SnapshotAt(ctx, "big", v)
		if err != nil || textdoc.String(snap.Content) != texts[v] {
			t.Fatalf("SnapshotAt(%d): %d bytes, %v; want %d", v, len(textdoc.String(snap.Content)), err, len(texts[v]))
		}
	}
	if err := s.WriteSnapshot(ctx, "big", store.Snapshot{Version: 41, Content: textdoc.MustString(texts[41])}); err != nil {
		t.Fatalf("WriteSnapshot of 2 MiB: %v", err)
	}
	if _, snap, err := s.Load(ctx, "big"); err != nil || textdoc.String(snap.Content) != texts[41] {
		t.Fatalf("Load after snapshot: %d bytes, %v", len(textdoc.String(snap.Content)), err)
	}
	ops, err := s.ReadOps(ctx, "big", 40, 0)
	if err != nil || len(ops) != 1 || !opsEqual(ops[0].Op, bigIns) {
		t.Fatalf("ReadOps of the 1 MiB op: %v", err)
	}
}

func testPingClose(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	mustCreate(t, s, "pc", "x")
	s.Close()
	s.Close() // idempotent; the factory's cleanup closes a third time
	if err := s.Ping(ctx); err == nil {
		t.Fatalf("Ping after Close succeeded")
	}
}
