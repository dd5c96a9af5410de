package main

import (
	"context"
	"errors"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

// runBigDoc builds documents of about -doc-bytes with -history ops of history
// directly in Postgres (through the store package, as the server would have
// written them), then measures how long a client takes from sending join to
// holding the text: once per document while the server has not loaded it
// (the server reads the snapshot, replays the ops after it and the window),
// then -joins more times on a loaded one.
func runBigDoc(ctx context.Context, cfg config) (*result, error) {
	if cfg.DatabaseURL == "" {
		return nil, errors.New("bigdoc needs -database-url: the history is written straight into the store")
	}
	if cfg.BigOps < 1 || cfg.BigBehind < 0 || cfg.BigBehind > cfg.BigOps {
		return nil, fmt.Errorf("-history must be >= 1 and 0 <= -snapshot-behind <= -history")
	}
	st, err := store.OpenPG(ctx, cfg.DatabaseURL, store.PGOptions{SnapshotEvery: -1, Logger: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	defer st.Close()
	var want string
	ids := make([]string, max(1, cfg.BigCold))
	for k := range ids {
		ids[k] = docID(cfg.Doc, k, len(ids))
		t0 := time.Now()
		text, err := buildBigDoc(ctx, st, ids[k], cfg)
		if err != nil {
			return nil, err
		}
		want = text
		cfg.Log.Info("built a big document", "doc", ids[k], "bytes", len(text), "took", time.Since(t0))
	}

	watch := watchServer(cfg.ServerPID)
	start := time.Now()
	var cold, warm latencies
	nJoins := 0
	join := func(id string) (time.Duration, error) {
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		url := cfg.nodeURL(nJoins) // the joins go to the nodes in turn
		nJoins++
		c, err := client.Dial(dctx, client.Options{URL: url, Token: cfg.Token, Logger: cfg.Log})
		if err != nil {
			return 0, fmt.Errorf("dial: %w", err)
		}
		defer c.Close()
		t0 := time.Now()
		d, err := c.Open(dctx, id)
		took := time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("open %q: %w", id, err)
		}
		if text, v, _ := d.Snapshot(); v != int64(cfg.BigOps) || text != want {
			return 0, fmt.Errorf("join of %q gave v%d with %d bytes; want v%d with %d bytes", id, v, len(text), cfg.BigOps, len(want))
		}
		return took, nil
	}
	for _, id := range ids {
		d, err := join(id)
		if err != nil {
			return nil, err
		}
		cold = append(cold, d)
	}
	for range cfg.Joins {
		d, err := join(ids[0])
		if err != nil {
			return nil, err
		}
		warm = append(warm, d)
	}
	usage, err := watch.stop()
	if err != nil {
		return nil, err
	}
	res := &result{URL: cfg.URL, Doc: ids[0], Clients: 1, DurationSec: time.Since(start).Seconds(),
		DocBytes: len(want), HistoryOps: int64(cfg.BigOps), SnapshotBehind: cfg.BigBehind, serverUsage: usage}
	c := summarize(cold)
	res.JoinColdMs, res.JoinColdSamples = c.p50, c.n
	w := summarize(warm)
	res.JoinWarmP50Ms, res.JoinWarmMaxMs, res.JoinWarmSamples = w.p50, w.max, w.n
	res.Converged = true // every join returned exactly the built text
	return res, nil
}

// bigDocPlan is the shape of a built document: initial content plus ops that
// each type one short word at a random place, sized so that the final text is
// about target bytes.
func bigDocPlan(target, ops int) (initial string, word func(i int) string) {
	word = func(i int) string { return fmt.Sprintf("w%07d ", i%10_000_000) } // 9 bytes
	grow := 9 * ops
	const para = "The quick brown fox jumps over the lazy dog. Café naïve 日本語 😀 résumé.\n"
	n := max(0, target-grow)
	initial = strings.Repeat(para, n/len(para)+1)
	cut := n
	for cut > 0 && cut < len(initial) && initial[cut]&0xc0 == 0x80 {
		cut--
	}
	return initial[:cut], word
}

// buildBigDoc creates id with its history and a snapshot -snapshot-behind ops
// before the head, and returns the final text.
func buildBigDoc(ctx context.Context, st *store.PGStore, id string, cfg config) (string, error) {
	initial, word := bigDocPlan(cfg.BigBytes, cfg.BigOps)
	if _, err := st.CreateDoc(ctx, store.NewDocument{ID: id, Type: "text", Content: textdoc.MustString(initial)}); err != nil {
		return "", fmt.Errorf("create %q: %w", id, err)
	}
	doc, err := ot.NewDoc(initial)
	if err != nil {
		return "", err
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 7))
	const batch = 1000
	recs := make([]store.OpRecord, 0, batch)
	snapAt := int64(cfg.BigOps - cfg.BigBehind)
	var snapText string
	now := time.Now().UTC()
	for v := int64(0); v < int64(cfg.BigOps); v++ {
		if v == snapAt {
			snapText = doc.String()
		}
		op := opAt(r.IntN(doc.Len()+1), ot.Component{Insert: word(int(v))})
		if err := doc.Apply(op); err != nil {
			return "", fmt.Errorf("build %q: op %d: %w", id, v, err)
		}
		recs = append(recs, store.OpRecord{Version: v, Op: op, SID: "bigdoc-builder-sid", Seq: v + 1, UserID: "bench", CreatedAt: now})
		if len(recs) == batch || v == int64(cfg.BigOps)-1 {
			if err := st.AppendOps(ctx, id, recs[0].Version, recs); err != nil {
				return "", fmt.Errorf("build %q: append at %d: %w", id, recs[0].Version, err)
			}
			recs = recs[:0]
		}
	}
	if snapAt == int64(cfg.BigOps) {
		snapText = doc.String()
	}
	if snapAt > 0 {
		if err := st.WriteSnapshot(ctx, id, store.Snapshot{Version: snapAt, Content: textdoc.MustString(snapText)}); err != nil {
			return "", fmt.Errorf("build %q: snapshot at %d: %w", id, snapAt, err)
		}
	}
	return doc.String(), nil
}
