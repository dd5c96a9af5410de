package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// compactDoc makes a document of 30 ops ("a" ... at the end, one letter per
// op, through the server), then compacts its log down to the last 10.
func compactDoc(t *testing.T, ts *testServer, id string) {
	t.Helper()
	createDoc(t, ts.st, id, "")
	for v := int64(0); v < 30; v++ {
		if _, err := ts.srv.SubmitOp(context.Background(), id, v, ins(int(v), string(rune('a'+v%26))), "", 0, "u1"); err != nil {
			t.Fatalf("SubmitOp %d: %v", v, err)
		}
	}
	c := ts.st.(store.Compactor)
	res, err := c.Compact(context.Background(), id, store.Retention{MaxAge: time.Nanosecond, MinOps: 10}, time.Now().Add(time.Second))
	if err != nil || res.Oldest != 20 {
		t.Fatalf("Compact = %+v, %v; want oldest 20", res, err)
	}
}

// waitUnloaded waits until id's actor has unloaded.
func waitUnloaded(t *testing.T, ts *testServer, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.hub.isLoaded(id) {
		if time.Now().After(deadline) {
			t.Fatalf("%s stays loaded", id)
		}
		time.Sleep(time.Millisecond)
	}
}

func want410(t *testing.T, r *apiResp, code string, oldest int64) {
	t.Helper()
	p := r.problem(t, http.StatusGone, code)
	if p.OldestV == nil || *p.OldestV != oldest {
		t.Fatalf("410 problem %+v: oldest_v should be %d", p, oldest)
	}
}

// TestCompactedHistory: what each transport answers for versions whose ops
// were dropped, on both engines, with a document loaded before the
// compaction and one loaded after it.
func TestCompactedHistory(t *testing.T) {
	const text = "abcdefghijklmnopqrstuvwxyzabcd"
	for _, e := range stores {
		t.Run(e.name, func(t *testing.T) {
			// A window wider than the kept log: loading reads from the oldest.
			// Actors unload at once, so each check loads the document anew
			// (a loaded actor may serve what its window still holds).
			ts := newTestServer(t, e.open(t), func(c *Config) { c.OpWindow = 50; c.IdleUnload = 5 * time.Millisecond })
			compactDoc(t, ts, "doc")
			for _, id := range []string{"doc"} {
				waitUnloaded(t, ts, id)
				// REST: ?v= and ?from= below the oldest are gone; from it on, as before.
				want410(t, ts.call(t, "GET", "/v1/docs/"+id+"?v=5", "", nil), wire.CodeNotFound, 20)
				want410(t, ts.call(t, "GET", "/v1/docs/"+id+"/ops?from=0", "", nil), wire.CodeNotFound, 20)
				want410(t, ts.call(t, "GET", "/v1/docs/"+id+"/ops?from=19&limit=5", "", nil), wire.CodeNotFound, 20)
				if m := ts.call(t, "GET", "/v1/docs/"+id+"?v=20", "", nil).want(t, 200).obj(t); m["content"] != text[:20] {
					t.Fatalf("%s ?v=20 = %v", id, m["content"])
				}
				if m := ts.call(t, "GET", "/v1/docs/"+id+"/ops?from=20", "", nil).want(t, 200).obj(t); len(m["ops"].([]any)) != 10 {
					t.Fatalf("%s ops from 20 = %v", id, m["ops"])
				}
				// An op made against a dropped version cannot be transformed.
				want410(t, ts.call(t, "POST", "/v1/docs/"+id+"/ops", "", map[string]any{"v": 3, "op": []any{"x"}}), wire.CodeInvalidOp, 20)
				// SSE: resuming below the oldest is gone before the stream starts.
				want410(t, ts.call(t, "GET", "/v1/docs/"+id+"/events?from=3", "", nil), wire.CodeNotFound, 20)
				want410(t, ts.call(t, "GET", "/v1/docs/"+id+"/events", "", nil, "Last-Event-ID", "2"), wire.CodeNotFound, 20)

				// WebSocket: a re-join older than the oldest gets the whole text,
				// a newer one the ops; an op against a dropped version is invalid.
				c := ts.connect(t, "compact-"+id+"-client0")
				j := c.join(id, i64(3))
				if j["text"] != text || num(t, j["v"]) != 30 || j["ops"] != nil {
					t.Fatalf("%s: join at v3 = %v; want the whole text at v30", id, j)
				}
				c.send(&wire.Leave{Doc: id})
				waitUnloaded(t, ts, id)
				j = c.join(id, i64(25))
				if j["text"] != nil || len(j["ops"].([]any)) != 5 {
					t.Fatalf("%s: join at v25 = %v; want 5 ops", id, j)
				}
				c.send(&wire.Op{Doc: id, V: 3, Seq: 1, Op: ins(0, "x")})
				if e := c.expectError(wire.CodeInvalidOp); !strings.Contains(e["msg"].(string), "oldest version kept (20)") {
					t.Fatalf("%s: op at v3: %v", id, e)
				}
			}
			s := ts.openSSE(t, "/v1/docs/doc/events?from=20", "")
			for v := 20; v < 30; v++ {
				if ev := s.nextSkipping(t, 5*time.Second); ev.event != "op" || ev.id != fmt.Sprint(v) {
					t.Fatalf("replay from 20: got %+v at %d", ev, v)
				}
			}
		})
	}
}

// TestCompactionUnderLoad runs the background compaction of the Postgres
// engine every few milliseconds while writers commit through the server and
// a WebSocket client follows: nothing committed is lost or doubled, and the
// follower ends with the store's text.
func TestCompactionUnderLoad(t *testing.T) {
	schema := testkit.Schema(t)
	ctx := context.Background()
	st, err := store.OpenPG(ctx, testkit.DatabaseURL(), store.PGOptions{Schema: schema, Logger: testLogger(),
		Retention: store.Retention{MaxAge: time.Nanosecond, MinOps: 15}, CompactEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ts := newTestServer(t, st, func(c *Config) { c.OpWindow = 8 })
	createDoc(t, st, "load", "")
	follower := ts.connect(t, "follower-0000000000")
	follower.join("load", nil)

	const writers, each = 4, 40
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			sid := fmt.Sprintf("load-writer-%d-000000", w)
			for seq := int64(1); seq <= each; seq++ {
				d, err := st.GetDoc(ctx, "load")
				if err != nil {
					errc <- err
					return
				}
				// Made against the head: compaction keeps at least 15 ops below
				// it, so the transform always finds its history.
				if _, err := ts.srv.SubmitOp(ctx, "load", d.Version, ins(0, string(rune('a'+w))), sid, seq, "u"); err != nil {
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
	got := int64(0)
	for got < writers*each {
		m := follower.next()
		if m["t"] == "op" {
			if v := num(t, m["v"]); v != got {
				t.Fatalf("follower got v%d, want v%d", v, got)
			}
			got++
		}
	}
	text, v := docText(t, st, "load")
	if v != writers*each {
		t.Fatalf("store at v%d, want %d", v, writers*each)
	}
	for w := range writers {
		if n := strings.Count(text, string(rune('a'+w))); n != each {
			t.Fatalf("writer %d has %d letters in the text, want %d", w, n, each)
		}
	}
	// The background pass caught up with the head.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := st.ReadOps(ctx, "load", v-16, 0)
		if err != nil && strings.Contains(err.Error(), "compacted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log was not compacted to the last 15 ops: ReadOps(%d) = %v", v-16, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
