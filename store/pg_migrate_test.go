package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/store"
)

// TestPGMigration5 checks that migration 0005 turns the raw text snapshots of
// schema 4 into the text type's MessagePack form, whatever the length (every
// str header size), and that its down migration gives back the raw text.
func TestPGMigration5(t *testing.T) {
	ctx := context.Background()
	schema := testkit.Schema(t)
	s := openPG(t, store.PGOptions{Schema: schema, SnapshotEvery: -1})
	texts := map[string]string{
		"empty": "", "short": "héllo 😀", "s31": strings.Repeat("a", 31), "s32": strings.Repeat("b", 32),
		"s255": strings.Repeat("c", 255), "s256": strings.Repeat("d", 256), "s70k": strings.Repeat("é", 35000),
	}
	for id, txt := range texts {
		if _, err := s.CreateDoc(ctx, store.NewDocument{ID: id, Content: textdoc.MustString(txt)}); err != nil {
			t.Fatal(err)
		}
	}
	down, err := os.ReadFile("migrations/0005_typed_snapshots.down.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, string(down)); err != nil {
		t.Fatalf("down migration: %v", err)
	}
	for id, txt := range texts {
		var raw []byte
		if err := s.Pool().QueryRow(ctx, `SELECT sn.content FROM snapshots sn JOIN documents d ON d.pk = sn.doc WHERE d.id = $1`, id).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if string(raw) != txt {
			t.Fatalf("%s after the down migration: %d bytes, want the raw %d", id, len(raw), len(txt))
		}
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE schema_migrations SET version = 4`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening migrates up again.
	s2 := openPG(t, store.PGOptions{Schema: schema, SnapshotEvery: -1})
	for id, txt := range texts {
		_, snap, err := s2.Load(ctx, id)
		if err != nil || textdoc.String(snap.Content) != txt {
			t.Fatalf("%s after the up migration: %d bytes, %v; want %d", id, len(textdoc.String(snap.Content)), err, len(txt))
		}
	}
}
