// Package collab is the test support that drives Go clients editing one
// document: random valid edits, edit loops, and the checks that clients
// converged and that the store holds what they hold. It is apart from
// testkit so that tests which do not use the client (store's) do not build
// it. It imports client, ot and store, never server, so in-package server
// tests could use it without an import cycle.
package collab

import (
	"context"
	"errors"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

// pieces are what random inserts are made of: letters, whitespace, accents,
// CJK, emoji, a ZWJ sequence and a flag, so that every edit path meets
// multi-byte and multi-code-point text.
var pieces = []string{"a", "b", "z", " ", "\n", "é", "ß", "中", "😀", "🎉", "👩‍💻", "🇫🇷"}

// RandomEdit is a random valid op against text: an insert, a delete of up to
// five code points, or a replacement.
func RandomEdit(r *rand.Rand, text string) ot.Op {
	n := utf8.RuneCountInString(text)
	pos := r.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	if pos < n && r.IntN(3) == 0 {
		op = append(op, ot.Component{Delete: 1 + r.IntN(min(5, n-pos))})
		if r.IntN(2) == 0 {
			return op
		}
	}
	var b strings.Builder
	for k := 1 + r.IntN(3); k > 0; k-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return append(op, ot.Component{Insert: b.String()})
}

// Pause is the random wait between two bursts of an edit loop: a whole
// number of milliseconds in [Min, Max).
type Pause struct {
	Min, Max time.Duration
}

func (p Pause) draw(r *rand.Rand) time.Duration {
	ms := int((p.Max - p.Min) / time.Millisecond)
	if ms <= 0 {
		return p.Min
	}
	return p.Min + time.Duration(r.IntN(ms))*time.Millisecond
}

// EditLoop edits d with client.Doc.Edit until ctx ends: a burst of 1-3 ops
// (so later ones are buffered behind the one in flight), then a pause. It
// returns quietly when d's connection is closed, and calls onErr and returns
// on any other edit error.
func EditLoop(ctx context.Context, r *rand.Rand, d *client.Doc, pause Pause, onErr func(error)) {
	for ctx.Err() == nil {
		for k := 1 + r.IntN(3); k > 0; k-- {
			if err := d.Edit(func(text string) ot.Op { return RandomEdit(r, text) }); err != nil {
				if errors.Is(err, client.ErrClosed) {
					return
				}
				onErr(err)
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause.draw(r)):
		}
	}
}

// TimeSeeded is a random source for client i that differs from run to run.
func TimeSeeded(i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
}

// GoEditLoops starts one EditLoop per doc until ctx ends, the i-th with the
// random source seed(i), as goroutines of wg (the caller waits for them).
// An edit error goes to errs, which needs room for one per doc, naming the
// client.
func GoEditLoops(ctx context.Context, wg *sync.WaitGroup, docs []*client.Doc, seed func(i int) *rand.Rand, pause Pause, errs chan<- error) {
	for i, d := range docs {
		r := seed(i)
		wg.Go(func() {
			EditLoop(ctx, r, d, pause, func(err error) { errs <- fmt.Errorf("client %d: %w", i, err) })
		})
	}
}

// Editing runs an EditLoop on every doc, each with a TimeSeeded random
// source, until stop is called; stop waits for the loops (they are owned by
// it) and fails the test on an edit error.
func Editing(tb testing.TB, docs []*client.Doc, pause Pause) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, len(docs))
	GoEditLoops(ctx, &wg, docs, TimeSeeded, pause, errs)
	return func() {
		tb.Helper()
		cancel()
		WaitEditLoops(tb, &wg, errs)
	}
}

// WaitEditLoops waits for the loops GoEditLoops started in wg (their context
// must be ending), then fails the test on the first edit error in errs.
func WaitEditLoops(tb testing.TB, wg *sync.WaitGroup, errs chan error) {
	tb.Helper()
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("edit failed: %v", err)
	}
}

// Open opens docID on c, failing the test after 10 s.
func Open(tb testing.TB, c *client.Conn, docID string, opts ...client.DocOption) *client.Doc {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.Open(ctx, docID, opts...)
	if err != nil {
		tb.Fatalf("open %q: %v", docID, err)
	}
	return d
}

// Converge waits up to timeout until every doc is synced and at one version,
// and returns that text and version; it fails the test if the texts differ.
func Converge(tb testing.TB, docs []*client.Doc, timeout time.Duration) (string, int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var top int64
	for i, d := range docs {
		if err := d.WaitSynced(ctx); err != nil {
			tb.Fatalf("client %d did not sync: %v (pending %d)", i, err, d.Pending())
		}
		top = max(top, d.Version())
	}
	var want string
	for i, d := range docs {
		if err := d.WaitVersion(ctx, top); err != nil {
			tb.Fatalf("client %d did not reach v%d: %v", i, top, err)
		}
		text, v, pending := d.Snapshot()
		if v != top || pending != 0 {
			tb.Fatalf("client %d at v%d with %d pending, want v%d and none", i, v, pending, top)
		}
		if i == 0 {
			want = text
		} else if text != want {
			tb.Fatalf("client %d diverged at v%d:\n got  %q\n want %q", i, v, text, want)
		}
	}
	return want, top
}

// CheckStore asserts that st holds text at version v (document and
// snapshot), that replaying its op log over initial gives the same text, and
// that no (sid, seq) was committed twice. It returns the log.
func CheckStore(tb testing.TB, st store.Store, docID, initial, text string, v int64) []store.OpRecord {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	doc, snap, err := st.Load(ctx, docID)
	if err != nil {
		tb.Fatalf("store.Load(%q): %v", docID, err)
	}
	if doc.Version != v || snap.Version != v {
		tb.Fatalf("store holds v%d (snapshot v%d), clients are at v%d", doc.Version, snap.Version, v)
	}
	if textdoc.String(snap.Content) != text {
		tb.Fatalf("store text differs from the clients':\n store   %q\n clients %q", textdoc.String(snap.Content), text)
	}
	ops, err := st.ReadOps(ctx, docID, 0, 0)
	if err != nil {
		tb.Fatalf("store.ReadOps: %v", err)
	}
	if int64(len(ops)) != v {
		tb.Fatalf("op log has %d ops, version is %d", len(ops), v)
	}
	replay := initial
	seen := make(map[string]int64, len(ops))
	for i, r := range ops {
		if r.Version != int64(i) {
			tb.Fatalf("op log entry %d has version %d", i, r.Version)
		}
		replay, err = ot.Apply(replay, textdoc.Op(r.Op))
		if err != nil {
			tb.Fatalf("replaying op v%d: %v", r.Version, err)
		}
		k := fmt.Sprintf("%s/%d", r.SID, r.Seq)
		if prev, dup := seen[k]; dup {
			tb.Fatalf("(sid, seq) %s committed twice: v%d and v%d", k, prev, r.Version)
		}
		seen[k] = r.Version
	}
	if replay != text {
		tb.Fatalf("replaying the op log gives a different text:\n replay  %q\n clients %q", replay, text)
	}
	return ops
}
