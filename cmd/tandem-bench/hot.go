package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

// runHot puts every client on one document, each with exactly one op
// outstanding: submit, wait for the ack, submit the next. The document's
// actor is the bottleneck, so this measures the per-document commit rate
// (transform + durable append + broadcast) and the latency clients see.
func runHot(ctx context.Context, cfg config) (*result, error) {
	if err := ensureDoc(ctx, cfg); err != nil {
		return nil, err
	}
	conns, docs, err := openClients(ctx, cfg)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if err != nil {
		return nil, err
	}

	var (
		committed atomic.Int64
		errCount  atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		all       latencies
	)
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	watch, self := watchServer(cfg.ServerPID), watchServer(os.Getpid())
	start := time.Now()
	for i, d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			local := make(latencies, 0, 4096)
			for runCtx.Err() == nil {
				t0 := time.Now()
				if err := submitByLen(d, func(n int) ot.Op { return benchOp(r, n) }); err != nil {
					errCount.Add(1)
					cfg.Log.Warn("submit failed", "client", i, "err", err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				// Wait with the parent context so the last op in flight is
				// still acknowledged after the run window closes.
				wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
				err := d.WaitSynced(wctx)
				wcancel()
				if err != nil {
					errCount.Add(1)
					cfg.Log.Warn("waiting for ack failed", "client", i, "err", err)
					continue
				}
				local = append(local, time.Since(t0))
				committed.Add(1)
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	usage, err := watch.stop()
	if err != nil {
		return nil, err
	}

	res := &result{
		URL:          cfg.URL,
		Doc:          cfg.Doc,
		Clients:      cfg.Clients,
		DurationSec:  elapsed.Seconds(),
		CommittedOps: committed.Load(),
		OpsPerSec:    float64(committed.Load()) / elapsed.Seconds(),
		Errors:       errCount.Load(),
		serverUsage:  usage,
	}
	if u, err := self.stop(); err == nil && u != nil {
		res.LoadGenCPUCores = u.CPUCores
	}
	res.setLatencies(all)
	for _, c := range conns {
		res.Reconnects += c.Sessions() - 1
	}
	if cfg.Verify {
		if err := verifyConverged(ctx, docs, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// benchOp is a small random edit: mostly typing (1-3 code points, sometimes
// an emoji), some deletions, biased towards deleting once the document grows
// past hotMaxLen so that long runs keep it near that size. (bench/sharedb uses
// the same bound, so both systems edit documents of the same size; the Go
// client's cost per remote op no longer grows with the text since it keeps a
// rope, see docs/benchmarks.md.)
const hotMaxLen = 1000

// n is the document's length in code points.
func benchOp(r *rand.Rand, n int) ot.Op {
	pos := r.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	delChance := 4
	if n > hotMaxLen {
		delChance = 1
	}
	if pos < n && r.IntN(delChance) == 0 {
		return append(op, ot.Component{Delete: 1 + r.IntN(min(8, n-pos))})
	}
	pieces := []string{"a", "e", "t", " ", "é", "😀", "\n", "xy", "ok"}
	var b strings.Builder
	for k := 1 + r.IntN(3); k > 0; k-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return append(op, ot.Component{Insert: b.String()})
}

// submitByLen submits an op made by gen for the document's current length,
// again if a remote op shortened the document in between. Unlike Doc.Edit it
// never builds the text: a closed-loop client submits thousands of ops a
// second, and benchOp needs only the length.
func submitByLen(d interface {
	Len() int
	Submit(ot.Op) error
}, gen func(n int) ot.Op) error {
	var err error
	for range 8 {
		if err = d.Submit(gen(d.Len())); err == nil || !errors.Is(err, ot.ErrDoesNotFit) {
			return err
		}
	}
	return err
}

// openClients dials cfg.Clients connections and opens the document on each.
func openClients(ctx context.Context, cfg config) ([]*client.Conn, []*client.Doc, error) {
	conns := make([]*client.Conn, 0, cfg.Clients)
	docs := make([]*client.Doc, 0, cfg.Clients)
	for i := range cfg.Clients {
		c, d, err := openOne(ctx, cfg, i, cfg.Doc)
		if c != nil {
			conns = append(conns, c)
		}
		if err != nil {
			return conns, docs, err
		}
		docs = append(docs, d)
	}
	return conns, docs, nil
}

// verifyConverged waits for every client to catch up with the highest
// version any of them holds and compares their texts.
func verifyConverged(ctx context.Context, docs []*client.Doc, res *result) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var top int64
	for _, d := range docs {
		if err := d.WaitSynced(ctx); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		top = max(top, d.Version())
	}
	var want string
	for i, d := range docs {
		if err := d.WaitVersion(ctx, top); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		text, v, _ := d.Snapshot()
		if v != top {
			// Someone is still behind or ahead; compare at equal versions only.
			return fmt.Errorf("verify: client %d at v%d, expected v%d", i, v, top)
		}
		if i == 0 {
			want = text
			continue
		}
		if text != want {
			res.Diverged = true
			return nil
		}
	}
	res.Converged = true
	res.FinalVersion = top
	res.FinalLen = utf8.RuneCountInString(want)
	return nil
}

// ensureDoc creates the document unless it exists: in Postgres directly when
// -database-url is given, else through the REST API next to the WebSocket
// endpoint.
func ensureDoc(ctx context.Context, cfg config) error {
	if cfg.DatabaseURL != "" {
		st, err := store.OpenPG(ctx, cfg.DatabaseURL, store.PGOptions{})
		if err != nil {
			return fmt.Errorf("create document: %w", err)
		}
		defer st.Close()
		_, err = st.CreateDoc(ctx, store.NewDocument{ID: cfg.Doc, Type: "text", Content: textdoc.MustString(cfg.Content)})
		if err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("create document %q: %w", cfg.Doc, err)
		}
		return nil
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return fmt.Errorf("parse -url: %w", err)
	}
	switch u.Scheme {
	case "wss":
		u.Scheme = "https"
	default:
		u.Scheme = "http"
	}
	u.Path, u.RawQuery = "/v1/docs", ""
	body, _ := json.Marshal(map[string]any{"id": cfg.Doc, "type": "text", "content": cfg.Content})
	for {
		wait, err := createDoc(ctx, cfg, u, body)
		if err != nil || wait == 0 {
			return err
		}
		// Over the server's REST rate limit: wait as told.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// createDoc sends one POST /v1/docs; a positive wait means 429 with that
// Retry-After.
func createDoc(ctx context.Context, cfg config, u *url.URL, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("create document: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("create document via %s: %w", u, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusConflict:
		return 0, nil
	case http.StatusTooManyRequests:
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || secs < 1 {
			secs = 1
		}
		return time.Duration(secs) * time.Second, nil
	}
	return 0, fmt.Errorf("create document via %s: HTTP %d: %s", u, resp.StatusCode, bytes.TrimSpace(msg))
}
