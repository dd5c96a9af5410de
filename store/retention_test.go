package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

func TestParseRetentionAge(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"0d", 0, false},
		{"720h", 720 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{" 7d ", 7 * 24 * time.Hour, false},
		{"-1d", 0, true},
		{"-5h", 0, true},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"36501d", 0, true},
		{"forever", 0, true},
	} {
		got, err := store.ParseRetentionAge(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseRetentionAge(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// TestBackgroundCompaction checks that an engine opened with a retention
// compacts on its own, and that Close stops its goroutine (the race detector
// and the package's goroutine-leak-free exit are the other half).
func TestBackgroundCompaction(t *testing.T) {
	r := store.Retention{MaxAge: time.Minute, MinOps: 3}
	engines := map[string]func(t *testing.T) store.Store{
		"mem": func(t *testing.T) store.Store {
			s := store.NewMem(store.MemOptions{Retention: r, CompactEvery: 20 * time.Millisecond})
			t.Cleanup(s.Close)
			return s
		},
		"pg": func(t *testing.T) store.Store {
			return newPG(t, store.PGOptions{Retention: r, CompactEvery: 20 * time.Millisecond})
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			if _, err := s.CreateDoc(ctx, store.NewDocument{ID: "bg", Content: textdoc.MustString("")}); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			for v := range int64(10) {
				rec := store.OpRecord{Version: v, Op: ot.Op{{Insert: "x"}}, CreatedAt: old}
				if err := s.AppendOps(ctx, "bg", v, []store.OpRecord{rec}); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := s.ReadOps(ctx, "bg", 0, 0)
				var ce *store.CompactedError
				if errors.As(err, &ce) && ce.Oldest == 7 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no background compaction in 10 s: ReadOps(0) = %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, snap, err := s.Load(ctx, "bg"); err != nil || textdoc.String(snap.Content) != "xxxxxxxxxx" {
				t.Fatalf("Load after compaction = %q, %v", textdoc.String(snap.Content), err)
			}
			s.Close()
		})
	}
}
