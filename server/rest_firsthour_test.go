package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// What a newcomer meets first with the REST API (issue 20): reading the op
// log past its end, text that looks like HTML, made-up ids and the code of a
// taken id. Each runs on both stores, which must answer alike.

func forBothStores(t *testing.T, run func(t *testing.T, st store.Store)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) { run(t, memStore(t)) })
	t.Run("postgres", func(t *testing.T) { run(t, pgStore(t)) })
}

// TestRESTOpsPastTheEnd: GET .../ops?from=N with N at or past the document's
// version is an empty page, as docs/api.md says (it was a 500 "the store
// failed" when N > v), for a new document and one with history.
func TestRESTOpsPastTheEnd(t *testing.T) {
	forBothStores(t, func(t *testing.T, st store.Store) {
		ts := newTestServer(t, st, nil)
		createDoc(t, st, "empty", "")
		createDoc(t, st, "three", "")
		for i := range 3 {
			if _, err := ts.srv.SubmitOp(context.Background(), "three", int64(i), ins(i, "x"), "", 0, "u"); err != nil {
				t.Fatal(err)
			}
		}
		for _, path := range []string{
			"/v1/docs/empty/ops?from=0", "/v1/docs/empty/ops?from=1", "/v1/docs/empty/ops?from=1000",
			"/v1/docs/three/ops?from=3", "/v1/docs/three/ops?from=4", "/v1/docs/three/ops?from=4&limit=1",
			"/v1/docs/three/ops?from=9223372036854775807",
		} {
			r := ts.call(t, "GET", path, "", nil).want(t, 200)
			if got := strings.TrimSpace(string(r.body)); got != `{"ops":[]}` {
				t.Errorf("GET %s = %s, want {\"ops\":[]}", path, got)
			}
		}
		if n := len(ts.call(t, "GET", "/v1/docs/three/ops?from=2", "", nil).want(t, 200).obj(t)["ops"].([]any)); n != 1 {
			t.Errorf("from=2 of 3 ops: %d ops, want 1", n)
		}
		// Past the end of a document that does not exist is still a 404.
		ts.getProblems(t, "", 404, "not_found", "/v1/docs/ghost/ops?from=5")
	})
}

// TestRESTContentNotHTMLEscaped: document text comes back byte for byte in
// every JSON answer and event ("<", ">" and "&" are not turned into \u003c
// escapes), and those answers are marked nosniff so that no browser reads
// them as HTML.
func TestRESTContentNotHTMLEscaped(t *testing.T) {
	forBothStores(t, func(t *testing.T, st store.Store) {
		ts := newTestServer(t, st, nil)
		const text = ">> Hello <b>world</b> & \"friends\" \u2028"
		const raw = `">> Hello <b>world</b> & \"friends\" \u2028"` // how encoding/json must write it
		r := ts.call(t, "POST", "/v1/docs", "", map[string]any{"id": "html", "content": text, "title": "<T&>"}).want(t, 201)
		checkRaw := func(what string, body []byte, wants ...string) {
			t.Helper()
			for _, w := range wants {
				if !strings.Contains(string(body), w) {
					t.Errorf("%s does not hold %s literally:\n%s", what, w, body)
				}
			}
			if strings.Contains(string(body), `\u003c`) || strings.Contains(string(body), `\u0026`) || strings.Contains(string(body), `\u003e`) {
				t.Errorf("%s escapes HTML characters:\n%s", what, body)
			}
		}
		checkRaw("POST /v1/docs", r.body, raw, `"title":"<T&>"`)
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("JSON answer without X-Content-Type-Options: nosniff")
		}
		get := ts.call(t, "GET", "/v1/docs/html", "", nil).want(t, 200)
		checkRaw("GET /v1/docs/html", get.body, raw)
		if get.obj(t)["content"] != text {
			t.Errorf("content decodes to %q", get.obj(t)["content"])
		}

		sse := ts.openSSE(t, "/v1/docs/html/events?from=0", "")
		ts.call(t, "POST", "/v1/docs/html/ops", "", map[string]any{"v": 0, "op": []any{"<i>&</i>"}}).want(t, 200)
		ops := ts.call(t, "GET", "/v1/docs/html/ops", "", nil).want(t, 200)
		checkRaw("GET .../ops", ops.body, `"op":["<i>&</i>"]`)
		ev := sse.nextSkipping(t, 10*time.Second)
		checkRaw("the op event", []byte(ev.data), `"op":["<i>&</i>"]`)
		var view struct{ Ops []json.RawMessage }
		if err := json.Unmarshal(ops.body, &view); err != nil || len(view.Ops) != 1 || string(view.Ops[0]) != ev.data {
			t.Errorf("the event's data %s is not the op as GET .../ops gives it: %s (%v)", ev.data, ops.body, err)
		}
		if sse.resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("event stream without X-Content-Type-Options: nosniff")
		}
	})
}

// TestRESTMadeUpIDs: an id the server makes up never starts with "-" or "_"
// (a shell would take "-UWDN..." for a flag), is valid and 16 characters long.
func TestRESTMadeUpIDs(t *testing.T) {
	seen := map[string]bool{}
	first := map[byte]bool{}
	for range 20000 {
		id := newDocID()
		if len(id) != 16 || !wire.ValidDocID(id) || id[0] == '-' || id[0] == '_' {
			t.Fatalf("made-up id %q: want 16 characters of [A-Za-z0-9_-], not starting with - or _", id)
		}
		if seen[id] {
			t.Fatalf("id %q made up twice", id)
		}
		seen[id] = true
		first[id[0]] = true
	}
	// Every letter and digit can come first (20,000 draws miss one of 62 with
	// probability below 1e-100): the first character is not biased away.
	if len(first) != 62 {
		t.Errorf("%d different first characters in 20,000 ids, want all 62 letters and digits", len(first))
	}
	ts := newTestServer(t, memStore(t), nil)
	for range 50 {
		id, _ := ts.call(t, "POST", "/v1/docs", "", nil).want(t, 201).obj(t)["id"].(string)
		if !wire.ValidDocID(id) || strings.HasPrefix(id, "-") || strings.HasPrefix(id, "_") {
			t.Fatalf("POST /v1/docs made up %q", id)
		}
	}
}

// TestRESTTakenIDCode: a taken id is 409 with a code of its own, on both
// stores, so that a client that creates-if-missing can tell it from a bad request.
func TestRESTTakenIDCode(t *testing.T) {
	forBothStores(t, func(t *testing.T, st store.Store) {
		ts := newTestServer(t, st, nil)
		ts.call(t, "POST", "/v1/docs", "", map[string]any{"id": "taken"}).want(t, 201)
		p := ts.call(t, "POST", "/v1/docs", "", map[string]any{"id": "taken"}).problem(t, 409, "already_exists")
		if !strings.Contains(p.Detail, `"taken" already exists`) {
			t.Errorf("detail %q", p.Detail)
		}
	})
}
