package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/store/storetest"
)

// newPG opens a PGStore in a fresh schema; opts.Schema is filled in.
func newPG(tb testing.TB, opts store.PGOptions) *store.PGStore {
	tb.Helper()
	opts.Schema = testkit.Schema(tb)
	return openPG(tb, opts)
}

func openPG(tb testing.TB, opts store.PGOptions) *store.PGStore {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.OpenPG(ctx, testkit.DatabaseURL(), opts)
	if err != nil {
		tb.Fatalf("OpenPG(%s, schema %s): %v", testkit.DatabaseURL(), opts.Schema, err)
	}
	tb.Cleanup(s.Close) // registered after the schema drop, so it runs before it
	return s
}

func TestPGContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return newPG(t, store.PGOptions{SnapshotEvery: 5, MaxConns: 6})
	})
}

func TestPGUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.OpenPG(ctx, "postgres://postgres:secret@127.0.0.1:1/nodb?sslmode=disable&connect_timeout=2", store.PGOptions{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("OpenPG of a closed port = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1/nodb") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error should name the server and hide the password: %v", err)
	}
	_, err = store.OpenPG(ctx, "postgres://postgres:secret@[bad", store.PGOptions{})
	if !errors.Is(err, store.ErrInvalidArgument) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("OpenPG of a malformed URL = %v", err)
	}
}

func TestPGMigrations(t *testing.T) {
	schema := testkit.Schema(t)
	ctx := context.Background()
	// Several nodes starting at once: the advisory lock serialises them.
	var wg sync.WaitGroup
	stores := make([]*store.PGStore, 3)
	errs := make([]error, 3)
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = store.OpenPG(ctx, testkit.DatabaseURL(), store.PGOptions{Schema: schema})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent OpenPG %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	s := stores[0]
	var version int64
	var dirty bool
	if err := s.Pool().QueryRow(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if version != int64(store.SchemaVersion()) || dirty {
		t.Fatalf("schema at %d (dirty %v), want %d", version, dirty, store.SchemaVersion())
	}
	var sc string
	if err := s.Pool().QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil || sc != "on" {
		t.Fatalf("synchronous_commit = %q, %v; acknowledged ops must be durable", sc, err)
	}
	if _, err := s.CreateDoc(ctx, store.NewDocument{ID: "kept", Content: textdoc.MustString("survives a restart")}); err != nil {
		t.Fatal(err)
	}
	for _, x := range stores {
		x.Close()
	}

	// Reopening an up-to-date schema is a no-op that keeps the data.
	s2 := openPG(t, store.PGOptions{Schema: schema})
	if _, snap, err := s2.Load(ctx, "kept"); err != nil || textdoc.String(snap.Content) != "survives a restart" {
		t.Fatalf("Load after reopen = %q, %v", textdoc.String(snap.Content), err)
	}
	// A database migrated by a newer binary is refused.
	if _, err := s2.Pool().Exec(ctx, "UPDATE schema_migrations SET version = $1", store.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	_, err := store.OpenPG(ctx, testkit.DatabaseURL(), store.PGOptions{Schema: schema})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("OpenPG on a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

// TestPGBackgroundSnapshots checks that snapshots are really written by the
// store's goroutine, with the right text (the contract suite can only see that
// answers stay right).
func TestPGBackgroundSnapshots(t *testing.T) {
	s := newPG(t, store.PGOptions{SnapshotEvery: 10})
	ctx := context.Background()
	if _, err := s.CreateDoc(ctx, store.NewDocument{ID: "d", Content: textdoc.MustString("<")}); err != nil {
		t.Fatal(err)
	}
	text := "<"
	for v := int64(0); v < 35; v += 5 {
		var batch []store.OpRecord
		for k := range int64(5) {
			batch = append(batch, store.OpRecord{Version: v + k, Op: ot.Op{{Retain: 1}, {Insert: "x"}}})
			text = text[:1] + "x" + text[1:]
		}
		if err := s.AppendOps(ctx, "d", v, batch); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n, maxV int64
		err := s.Pool().QueryRow(ctx, `SELECT count(*), max(sn.version) FROM snapshots sn JOIN documents d ON d.pk = sn.doc WHERE d.id = 'd'`).Scan(&n, &maxV)
		if err != nil {
			t.Fatal(err)
		}
		if n >= 2 && maxV >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots, latest at %d: the background snapshotter did not run", n, maxV)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rows, err := s.Pool().Query(ctx, `SELECT sn.version, sn.content FROM snapshots sn JOIN documents d ON d.pk = sn.doc WHERE d.id = 'd' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Snapshot, error) {
		var sn store.Snapshot
		var b []byte
		if err := r.Scan(&sn.Version, &b); err != nil {
			return sn, err
		}
		// Stored in the type's MessagePack form (migration 0005).
		c, err := textdoc.Type{}.DecodeContent(b)
		sn.Content = c
		return sn, err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range versions {
		want := "<" + strings.Repeat("x", int(sn.Version))
		if textdoc.String(sn.Content) != want {
			t.Fatalf("snapshot at %d = %q, want %q", sn.Version, textdoc.String(sn.Content), want)
		}
	}
	if _, snap, err := s.Load(ctx, "d"); err != nil || textdoc.String(snap.Content) != text {
		t.Fatalf("Load = %q, %v", textdoc.String(snap.Content), err)
	}
}

// TestPGTwoNodes runs two stores (two server nodes) against one database: their
// appends interleave through optimistic concurrency alone.
func TestPGTwoNodes(t *testing.T) {
	schema := testkit.Schema(t)
	a := openPG(t, store.PGOptions{Schema: schema})
	b := openPG(t, store.PGOptions{Schema: schema})
	ctx := context.Background()
	if _, err := a.CreateDoc(ctx, store.NewDocument{ID: "shared"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for i, node := range []*store.PGStore{a, b} {
		wg.Go(func() {
			sid := []string{"node-a", "node-b"}[i]
			for seq := int64(1); seq <= 20; {
				d, err := node.GetDoc(ctx, "shared")
				if err != nil {
					errc <- err
					return
				}
				err = node.AppendOps(ctx, "shared", d.Version, []store.OpRecord{{Version: d.Version, Op: ot.Op{{Insert: sid[5:]}}, SID: sid, Seq: seq}})
				if err == nil {
					seq++
				} else if !errors.Is(err, store.ErrConflict) {
					errc <- err
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
	_, snap, err := b.Load(ctx, "shared")
	if err != nil || snap.Version != 40 || strings.Count(textdoc.String(snap.Content), "a") != 20 || strings.Count(textdoc.String(snap.Content), "b") != 20 {
		t.Fatalf("Load = v%d %q, %v", snap.Version, textdoc.String(snap.Content), err)
	}
	// A retry of a committed (sid, seq) through the other node is recognised.
	err = a.AppendOps(ctx, "shared", 40, []store.OpRecord{{Version: 40, Op: ot.Op{{Insert: "b"}}, SID: "node-b", Seq: 20}})
	var de *store.DuplicateError
	if !errors.As(err, &de) || de.Version < 0 || de.Version >= 40 {
		t.Fatalf("duplicate through the other node = %v", err)
	}
}

// TestPGDeleteLeavesNoOps: ops.doc has no foreign key (migration 0002), so
// DeleteDoc deletes the ops itself. Under writers racing the delete, no op row
// may outlive its document.
func TestPGDeleteLeavesNoOps(t *testing.T) {
	s := newPG(t, store.PGOptions{MaxConns: 8})
	ctx := context.Background()
	for round := range 10 {
		id := "orphan-" + string(rune('a'+round))
		if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for v := int64(0); ; {
					err := s.AppendOps(ctx, id, v, []store.OpRecord{{Version: v, Op: ot.Op{{Insert: "x"}}, SID: "writer-" + string(rune('a'+w)) + "-0123456789", Seq: v + 1}})
					var ce *store.ConflictError
					switch {
					case err == nil:
						v++
					case errors.As(err, &ce) && ce.Current >= 0:
						v = ce.Current
					case errors.Is(err, store.ErrNotFound):
						return
					case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDuplicate):
						time.Sleep(time.Millisecond)
					default:
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}
		time.Sleep(time.Duration(5+round) * time.Millisecond)
		if err := s.DeleteDoc(ctx, id); err != nil {
			t.Fatalf("DeleteDoc: %v", err)
		}
		wg.Wait()
	}
	var orphans int
	err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM ops o WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.pk = o.doc)`).Scan(&orphans)
	if err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Fatalf("%d op rows outlived their documents", orphans)
	}
}

// The pool is sized for a server unless the URL or the options say otherwise:
// pgx's own default (max(4, NumCPU)) queued the appends of many documents
// until the store timeout failed them.
func TestPGPoolSize(t *testing.T) {
	url := testkit.DatabaseURL()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name string
		url  string
		opts store.PGOptions
		want int32
	}{
		{"default", url, store.PGOptions{}, store.DefaultMaxConns},
		{"pool_max_conns in the URL", url + sep + "pool_max_conns=5", store.PGOptions{}, 5},
		{"MaxConns over the URL", url + sep + "pool_max_conns=5", store.PGOptions{MaxConns: 7}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tc.opts.Schema = testkit.Schema(t) // the migrations go there, not in public
			s, err := store.OpenPG(ctx, tc.url, tc.opts)
			if err != nil {
				t.Fatalf("OpenPG: %v", err)
			}
			defer s.Close()
			if got := s.PoolMaxConns(); got != tc.want {
				t.Fatalf("pool of %d connections, want %d", got, tc.want)
			}
		})
	}
}
