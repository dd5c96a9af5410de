package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// Handler tests: every REST route and every error status it can give, on the
// Postgres store, with an admin token that may read and write everything
// (the authorisation matrix is in authz_test.go).

func smallLimits(c *Config) {
	c.MaxDocBytes = 4096
	c.MaxOpBytes = 1024
}

func TestRESTCreate(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), smallLimits)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)

	t.Run("with id", func(t *testing.T) {
		r := ts.call(t, "POST", "/v1/docs", tok, map[string]any{"id": "c-1", "type": "text", "content": "héllo 😀", "title": "T", "metadata": map[string]any{"k": "v"}}).want(t, 201)
		if loc := r.header.Get("Location"); loc != "/v1/docs/c-1" {
			t.Fatalf("Location %q", loc)
		}
		d := r.obj(t)
		if d["id"] != "c-1" || d["type"] != "text" || d["v"] != 0.0 || d["content"] != "héllo 😀" || d["title"] != "T" ||
			d["metadata"].(map[string]any)["k"] != "v" || d["created_at"] == nil || d["updated_at"] == nil {
			t.Fatalf("created %v", d)
		}
		got := ts.call(t, "GET", "/v1/docs/c-1", tok, nil).want(t, 200).obj(t)
		if got["content"] != "héllo 😀" || got["v"] != 0.0 {
			t.Fatalf("GET after create: %v", got)
		}
	})
	t.Run("without id or body", func(t *testing.T) {
		for _, body := range []any{nil, map[string]any{"content": "x"}} {
			r := ts.call(t, "POST", "/v1/docs", tok, body).want(t, 201)
			id, _ := r.obj(t)["id"].(string)
			if !wire.ValidDocID(id) || r.header.Get("Location") != "/v1/docs/"+id {
				t.Fatalf("made-up id %q, Location %q", id, r.header.Get("Location"))
			}
			ts.call(t, "GET", "/v1/docs/"+id, tok, nil).want(t, 200)
		}
	})
	t.Run("409 existing id", func(t *testing.T) {
		p := ts.call(t, "POST", "/v1/docs", tok, map[string]any{"id": "c-1"}).problem(t, 409, CodeAlreadyExists)
		if !strings.Contains(p.Detail, `"c-1"`) {
			t.Fatalf("detail %q does not name the id", p.Detail)
		}
	})
	bad := []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
		field  string
	}{
		{"malformed JSON", `{"id":`, nil, 400, "bad_request", ""},
		{"not an object", `[1,2]`, nil, 400, "bad_request", ""},
		{"unknown field", `{"id":"u-1","bogus":1}`, nil, 400, "bad_request", ""},
		{"trailing data", `{"id":"u-2"} {}`, nil, 400, "bad_request", ""},
		{"invalid UTF-8", "{\"content\":\"\xff\"}", nil, 400, "bad_request", ""},
		{"lone surrogate", `{"content":"a\ud800b"}`, nil, 400, "bad_request", ""},
		{"lone low surrogate", `{"title":"\udc00"}`, nil, 400, "bad_request", ""},
		{"not JSON content type", `{}`, []string{"Content-Type", "text/plain"}, 415, "bad_request", ""},
		{"bad id", map[string]any{"id": "a b"}, nil, 422, "bad_request", "id"},
		{"empty id", map[string]any{"id": ""}, nil, 422, "bad_request", "id"},
		{"long id", map[string]any{"id": strings.Repeat("a", 129)}, nil, 422, "bad_request", "id"},
		{"bad type", map[string]any{"type": "no-such-type"}, nil, 422, "bad_request", "type"},
		{"title type", map[string]any{"title": 5}, nil, 422, "bad_request", "title"},
		{"title too long", map[string]any{"title": strings.Repeat("é", MaxTitleChars+1)}, nil, 422, "bad_request", "title"},
		{"metadata not an object", map[string]any{"metadata": []int{1}}, nil, 422, "bad_request", "metadata"},
		{"content over the document limit", map[string]any{"content": strings.Repeat("x", 4097)}, nil, 413, "too_large", ""},
		{"metadata over its limit", map[string]any{"metadata": map[string]any{"k": strings.Repeat("x", MaxMetadataBytes)}}, nil, 413, "too_large", ""},
		{"body over the limit", `{"content":"` + strings.Repeat("x", 2*4096+bodySlack) + `"}`, nil, 413, "too_large", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := ts.call(t, "POST", "/v1/docs", tok, tc.body, tc.hdr...).problem(t, tc.status, tc.code)
			if tc.field != "" {
				fieldErr(t, p, tc.field)
			}
		})
	}
	// A surrogate pair is fine, and escaped backslashes are not escapes.
	r := ts.call(t, "POST", "/v1/docs", tok, `{"id":"c-pair","content":"\ud83d\ude00 \\ud800"}`).want(t, 201)
	if c := r.obj(t)["content"]; c != `😀 \ud800` {
		t.Fatalf("content %q", c)
	}
	// Nothing was created by the failures.
	page, err := ts.st.ListDocs(context.Background(), store.ListOptions{Prefix: "u-"})
	if err != nil || len(page.Docs) != 0 {
		t.Fatalf("failed creates left documents: %v %v", page.Docs, err)
	}
}

func TestRESTList(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("p-%02d", i)
		want = append(want, id)
		createDoc(t, ts.st, id, "content of "+id)
	}
	createDoc(t, ts.st, "other", "x")
	createDoc(t, ts.st, "q-1", "x")

	list := func(q string) ([]string, *string) {
		t.Helper()
		var page struct {
			Docs       []map[string]any `json:"docs"`
			NextCursor *string          `json:"next_cursor"`
		}
		r := ts.call(t, "GET", "/v1/docs"+q, tok, nil).want(t, 200)
		if !strings.Contains(string(r.body), `"next_cursor":`) {
			t.Fatalf("no next_cursor key: %s", r.body)
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range page.Docs {
			if _, has := d["content"]; has {
				t.Fatalf("list has content: %v", d)
			}
			for _, k := range []string{"id", "type", "v", "title", "metadata", "created_at", "updated_at"} {
				if _, has := d[k]; !has {
					t.Fatalf("list entry lacks %q: %v", k, d)
				}
			}
			ids = append(ids, d["id"].(string))
		}
		return ids, page.NextCursor
	}

	t.Run("prefix and pages", func(t *testing.T) {
		var got []string
		cursor := ""
		pages := 0
		for {
			q := "?prefix=p-&limit=3"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			ids, next := list(q)
			got = append(got, ids...)
			pages++
			if pages == 1 {
				// Documents created and deleted between pages shift nothing:
				// one before the cursor is not seen, the rest all are.
				createDoc(t, ts.st, "p-00a", "late")
				if err := ts.st.DeleteDoc(context.Background(), "p-06"); err != nil {
					t.Fatal(err)
				}
			}
			if next == nil {
				break
			}
			cursor = *next
		}
		if wantNow := want[:6]; !slices.Equal(got, wantNow) || pages != 2 {
			t.Fatalf("pages %d gave %v, want %v", pages, got, wantNow)
		}
	})
	t.Run("default limit and order", func(t *testing.T) {
		ids, next := list("")
		if next != nil || !slices.IsSorted(ids) || len(ids) != 9 {
			t.Fatalf("ids %v next %v", ids, next)
		}
	})
	for _, q := range []string{"?limit=0", "?limit=201", "?limit=x", "?limit=1&limit=2", "?cursor=%21%21", "?prefix=a.b"} {
		t.Run("400 "+q, func(t *testing.T) {
			ts.call(t, "GET", "/v1/docs"+q, tok, nil).problem(t, 400, "bad_request")
		})
	}
}

func TestRESTGetAndTimeTravel(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)
	createDoc(t, ts.st, "g", "ab")
	texts := []string{"ab"}
	cur := "ab"
	for i, op := range []ot.Op{ins(1, "😀"), ins(0, "x"), {{Retain: 1}, {Delete: 2}}, ins(2, "end")} {
		v, err := ts.srv.SubmitOp(context.Background(), "g", int64(i), op, "", 0, "u")
		if err != nil || v != int64(i) {
			t.Fatalf("SubmitOp %d: v %d, %v", i, v, err)
		}
		if cur, err = ot.Apply(cur, op); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, cur)
	}
	d := ts.call(t, "GET", "/v1/docs/g", tok, nil).want(t, 200).obj(t)
	if d["v"] != 4.0 || d["content"] != cur {
		t.Fatalf("GET: %v, want v4 %q", d, cur)
	}
	for v, want := range texts {
		d := ts.call(t, "GET", fmt.Sprintf("/v1/docs/g?v=%d", v), tok, nil).want(t, 200).obj(t)
		if d["v"] != float64(v) || d["content"] != want || d["id"] != "g" {
			t.Fatalf("?v=%d: %v, want %q", v, d, want)
		}
	}
	ts.getProblems(t, tok, 404, "not_found", "/v1/docs/g?v=5", "/v1/docs/ghost", "/v1/docs/ghost?v=0")
	ts.getProblems(t, tok, 400, "bad_request", "/v1/docs/g?v=-1", "/v1/docs/g?v=x", "/v1/docs/g?v=1&v=2", "/v1/docs/a.b")
}

func TestRESTPatch(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)
	createDoc(t, ts.st, "m", "body")
	before, _ := ts.st.GetDoc(context.Background(), "m")
	time.Sleep(2 * time.Millisecond)

	d := ts.call(t, "PATCH", "/v1/docs/m", tok, map[string]any{"title": "New"}).want(t, 200).obj(t)
	if d["title"] != "New" || d["content"] != "body" || len(d["metadata"].(map[string]any)) != 0 {
		t.Fatalf("after title patch: %v", d)
	}
	if u, _ := time.Parse(time.RFC3339Nano, d["updated_at"].(string)); !u.After(before.UpdatedAt) {
		t.Fatalf("updated_at %v not after %v", u, before.UpdatedAt)
	}
	d = ts.call(t, "PATCH", "/v1/docs/m", tok, map[string]any{"metadata": map[string]any{"a": 1, "b": []any{"x"}}}).want(t, 200).obj(t)
	if d["title"] != "New" || d["metadata"].(map[string]any)["a"] != 1.0 {
		t.Fatalf("after metadata patch: %v", d)
	}
	// Metadata is replaced whole.
	d = ts.call(t, "PATCH", "/v1/docs/m", tok, map[string]any{"metadata": map[string]any{"c": true}}).want(t, 200).obj(t)
	if m := d["metadata"].(map[string]any); len(m) != 1 || m["c"] != true {
		t.Fatalf("metadata %v, want only c", m)
	}
	ts.call(t, "PATCH", "/v1/docs/ghost", tok, map[string]any{"title": "x"}).problem(t, 404, "not_found")
	ts.call(t, "PATCH", "/v1/docs/a.b", tok, map[string]any{"title": "x"}).problem(t, 400, "bad_request")
	ts.call(t, "PATCH", "/v1/docs/m", tok, `{"content":"sneaky"}`).problem(t, 400, "bad_request")
	fieldErr(t, ts.call(t, "PATCH", "/v1/docs/m", tok, map[string]any{"title": strings.Repeat("t", MaxTitleChars+1)}).problem(t, 422, "bad_request"), "title")
	fieldErr(t, ts.call(t, "PATCH", "/v1/docs/m", tok, map[string]any{"metadata": "x"}).problem(t, 422, "bad_request"), "metadata")
	ts.call(t, "PATCH", "/v1/docs/m", tok, `{"metadata":{"k":"`+strings.Repeat("x", patchBodyLimit)+`"}}`).problem(t, 413, "too_large")
	ts.call(t, "PATCH", "/v1/docs/m", tok, `{}`, "Content-Type", "application/xml").problem(t, 415, "bad_request")
	if got := ts.call(t, "GET", "/v1/docs/m", tok, nil).want(t, 200).obj(t); got["content"] != "body" || got["title"] != "New" {
		t.Fatalf("failed patches changed the document: %v", got)
	}
}

func TestRESTDeleteAndRecreate(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)
	createDoc(t, ts.st, "del", "old text")

	ws, m := ts.authDial(t, "delete-test-sid-0001", bearer(tok), "")
	if m["t"] != "welcome" {
		t.Fatalf("hello answered %v", m)
	}
	ws.join("del", nil)
	sse := ts.openSSE(t, "/v1/docs/del/events", tok)
	if sse.resp.StatusCode != 200 {
		t.Fatalf("events: %d", sse.resp.StatusCode)
	}

	ts.call(t, "DELETE", "/v1/docs/del", tok, nil).want(t, 204)
	if e := ws.expectError(wire.CodeDeleted); e["doc"] != "del" {
		t.Fatalf("deleted error %v", e)
	}
	if ev := sse.nextSkipping(t, 5*time.Second); ev.event != "deleted" || ev.data != `{"id":"del"}` {
		t.Fatalf("stream got %+v, want deleted", ev)
	}
	if _, err := sse.next(); err == nil {
		t.Fatalf("the stream went on after deleted")
	}
	// Detached: an op is refused as not joined.
	ws.send(&wire.Op{Doc: "del", V: 0, Seq: 1, Op: ins(0, "x")})
	ws.expectError(wire.CodeBadRequest)

	ts.call(t, "GET", "/v1/docs/del", tok, nil).problem(t, 404, "not_found")
	ts.call(t, "GET", "/v1/docs/del/ops", tok, nil).problem(t, 404, "not_found")
	ts.call(t, "DELETE", "/v1/docs/del", tok, nil).problem(t, 404, "not_found")
	ts.call(t, "DELETE", "/v1/docs/a.b", tok, nil).problem(t, 400, "bad_request")
	ws.send(&wire.Join{Doc: "del"})
	ws.expectError(wire.CodeNotFound)

	// The id can be created again, with a fresh history.
	d := ts.call(t, "POST", "/v1/docs", tok, map[string]any{"id": "del", "content": "new"}).want(t, 201).obj(t)
	if d["v"] != 0.0 || d["content"] != "new" {
		t.Fatalf("re-created %v", d)
	}
	j := ws.join("del", nil)
	if j["text"] != "new" || num(t, j["v"]) != 0 {
		t.Fatalf("joined the new incarnation with %v", j)
	}
	ws.send(&wire.Op{Doc: "del", V: 0, Seq: 2, Op: ins(3, "!")})
	if a := ws.expectSkipping("ack", "presence"); num(t, a["v"]) != 0 {
		t.Fatalf("ack %v", a)
	}
	ops := ts.call(t, "GET", "/v1/docs/del/ops", tok, nil).want(t, 200).obj(t)["ops"].([]any)
	if len(ops) != 1 {
		t.Fatalf("new incarnation history %v", ops)
	}
}

func TestRESTOpHistory(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)
	createDoc(t, ts.st, "h", "")
	sid := "history-sid-00001"
	for i := range 5 {
		if _, err := ts.srv.SubmitOp(context.Background(), "h", int64(i), ins(i, string(rune('a'+i))), sid, int64(i+1), "user-h"); err != nil {
			t.Fatal(err)
		}
	}
	var all opsJSON
	if err := json.Unmarshal(ts.call(t, "GET", "/v1/docs/h/ops", tok, nil).want(t, 200).body, &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Ops) != 5 {
		t.Fatalf("%d ops", len(all.Ops))
	}
	for i, o := range all.Ops {
		want := ins(i, string(rune('a'+i)))
		if o.V != int64(i) || !slices.Equal(o.Op, want) || o.SID != sid || o.Seq != int64(i+1) || o.UserID != "user-h" || o.CreatedAt.IsZero() {
			t.Fatalf("op %d: %+v", i, o)
		}
	}
	var page opsJSON
	if err := json.Unmarshal(ts.call(t, "GET", "/v1/docs/h/ops?from=2&limit=2", tok, nil).want(t, 200).body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Ops) != 2 || page.Ops[0].V != 2 || page.Ops[1].V != 3 {
		t.Fatalf("page %+v", page.Ops)
	}
	if r := ts.call(t, "GET", "/v1/docs/h/ops?from=5", tok, nil).want(t, 200); strings.TrimSpace(string(r.body)) != `{"ops":[]}` {
		t.Fatalf("past the end: %s", r.body)
	}
	ts.getProblems(t, tok, 400, "bad_request", "/v1/docs/h/ops?from=-1", "/v1/docs/h/ops?from=x", "/v1/docs/h/ops?limit=0", "/v1/docs/h/ops?limit=1001")
	ts.getProblems(t, tok, 404, "not_found", "/v1/docs/ghost/ops")
}

func TestRESTSubmitOp(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), smallLimits)
	tok := mint(t, "bot", map[string]string{"*": "rw"}, true)
	createDoc(t, ts.st, "s", "hello")
	ws, _ := ts.authDial(t, "submit-test-sid-001", bearer(tok), "")
	ws.join("s", nil)

	r := ts.call(t, "POST", "/v1/docs/s/ops", tok, map[string]any{"v": 0, "op": []any{5, " world"}}).want(t, 200).obj(t)
	if r["v"] != 0.0 || !strings.HasPrefix(r["sid"].(string), "srv-") || len(r) != 2 {
		t.Fatalf("answer %v, want v and the sid the server made up", r)
	}
	b := ws.expectSkipping("op", "presence")
	if num(t, b["v"]) != 0 || b["sid"] != r["sid"] {
		t.Fatalf("broadcast %v", b)
	}
	// Against a stale version: transformed like any other op.
	if r := ts.call(t, "POST", "/v1/docs/s/ops", tok, map[string]any{"v": 0, "op": []any{"¡"}, "sid": "rest-bot-session-1", "seq": 1}).want(t, 200).obj(t); r["v"] != 1.0 {
		t.Fatalf("stale op committed as %v", r)
	}
	ws.expectSkipping("op", "presence")
	// Exactly once: the same (sid, seq) answers the original version.
	if r := ts.call(t, "POST", "/v1/docs/s/ops", tok, map[string]any{"v": 2, "op": []any{"¡"}, "sid": "rest-bot-session-1", "seq": 1}).want(t, 200).obj(t); r["v"] != 1.0 {
		t.Fatalf("resubmission answered %v", r)
	}
	if text, v := docText(t, ts.st, "s"); text != "¡hello world" || v != 2 {
		t.Fatalf("store holds %q v%d", text, v)
	}
	ops := ts.call(t, "GET", "/v1/docs/s/ops?from=1", tok, nil).want(t, 200).obj(t)["ops"].([]any)
	if o := ops[0].(map[string]any); o["user_id"] != "bot" || o["sid"] != "rest-bot-session-1" || o["seq"] != 1.0 {
		t.Fatalf("stored op %v", o)
	}

	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"future version", map[string]any{"v": 9, "op": []any{"x"}}, 409, "invalid_op", ""},
		{"does not fit", map[string]any{"v": 2, "op": []any{99, "x"}}, 422, "invalid_op", "op"},
		{"trailing retain past the end", map[string]any{"v": 2, "op": []any{3, "a", 4, "b", 99}}, 422, "invalid_op", "op"},
		{"invalid op", map[string]any{"v": 2, "op": []any{0}}, 422, "bad_request", "op"},
		{"op not an array", map[string]any{"v": 2, "op": "x"}, 422, "bad_request", "op"},
		{"op null", `{"v":2,"op":null}`, 422, "bad_request", "op"},
		{"missing v", map[string]any{"op": []any{"x"}}, 422, "bad_request", "v"},
		{"missing op", map[string]any{"v": 1}, 422, "bad_request", "op"},
		{"negative v", map[string]any{"v": -1, "op": []any{"x"}}, 422, "bad_request", "v"},
		{"v not an integer", map[string]any{"v": 1.5, "op": []any{"x"}}, 422, "bad_request", "v"},
		{"sid without seq", map[string]any{"v": 2, "op": []any{"x"}, "sid": "rest-bot-session-2"}, 422, "bad_request", "seq"},
		{"seq without sid", map[string]any{"v": 2, "op": []any{"x"}, "seq": 3}, 422, "bad_request", "sid"},
		{"bad sid", map[string]any{"v": 2, "op": []any{"x"}, "sid": "short", "seq": 1}, 422, "bad_request", "sid"},
		{"negative seq", map[string]any{"v": 2, "op": []any{"x"}, "sid": "rest-bot-session-2", "seq": -1}, 422, "bad_request", "seq"},
		{"unknown field", map[string]any{"v": 2, "op": []any{"x"}, "bogus": 1}, 400, "bad_request", ""},
		{"lone surrogate insert", `{"v":2,"op":["\ud800"]}`, 400, "bad_request", ""},
		{"op over the limit", map[string]any{"v": 2, "op": []any{strings.Repeat("x", 1100)}}, 413, "too_large", ""},
		{"body over the limit", `{"v":2,"op":["` + strings.Repeat("x", 2*1024+bodySlack) + `"]}`, 413, "too_large", ""},
		{"document over the limit", map[string]any{"v": 2, "op": []any{strings.Repeat("x", 1000)}}, 0, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.status == 0 {
				// Fill the document to its limit (4096 bytes) with ops under
				// the op limit, then one more is too large.
				v := int64(2)
				for {
					r := ts.call(t, "POST", "/v1/docs/s/ops", tok, tc.body)
					if r.status == 413 {
						r.problem(t, 413, "too_large")
						return
					}
					r.want(t, 200)
					v++
					tc.body = map[string]any{"v": v, "op": []any{strings.Repeat("x", 1000)}}
					if v > 10 {
						t.Fatal("the document limit never applied")
					}
				}
			}
			p := ts.call(t, "POST", "/v1/docs/s/ops", tok, tc.body).problem(t, tc.status, tc.code)
			if tc.field != "" {
				fieldErr(t, p, tc.field)
			}
		})
	}
	ts.call(t, "POST", "/v1/docs/ghost/ops", tok, map[string]any{"v": 0, "op": []any{"x"}}).problem(t, 404, "not_found")
	ts.call(t, "POST", "/v1/docs/a.b/ops", tok, map[string]any{"v": 0, "op": []any{"x"}}).problem(t, 400, "bad_request")
}

func TestRESTEventsErrors(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)
	createDoc(t, ts.st, "e", "x")
	ts.call(t, "GET", "/v1/docs/ghost/events", tok, nil).problem(t, 404, "not_found")
	ts.call(t, "GET", "/v1/docs/e/events?from=3", tok, nil).problem(t, 409, "bad_request")
	ts.call(t, "GET", "/v1/docs/e/events", tok, nil, "Last-Event-ID", "4").problem(t, 409, "bad_request")
	for _, h := range []string{"x", "-1"} {
		ts.call(t, "GET", "/v1/docs/e/events", tok, nil, "Last-Event-ID", h).problem(t, 400, "bad_request")
	}
	ts.call(t, "GET", "/v1/docs/e/events?from=-2", tok, nil).problem(t, 400, "bad_request")
	ts.call(t, "GET", "/v1/docs/a.b/events", tok, nil).problem(t, 400, "bad_request")
}

func TestRESTRouting(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	tok := mint(t, "root", map[string]string{"*": "rw"}, true)
	r := ts.call(t, "PUT", "/v1/docs/x", tok, nil)
	r.problem(t, 405, "bad_request")
	if a := r.header.Get("Allow"); a != "GET, PATCH, DELETE" {
		t.Fatalf("Allow %q", a)
	}
	if a := ts.call(t, "DELETE", "/v1/docs", tok, nil).header.Get("Allow"); a != "GET, POST" {
		t.Fatalf("Allow %q", a)
	}
	ts.call(t, "GET", "/v1/nothing", tok, nil).problem(t, 404, "not_found")
	ts.call(t, "GET", "/v1/docs/x/y", tok, nil).problem(t, 404, "not_found")
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		// Health and metrics are for probes and scrapers: no token.
		ts.call(t, "GET", p, "", nil).want(t, 200)
	}
	// The error count by code is exported.
	if !strings.Contains(string(ts.call(t, "GET", "/metrics", "", nil).body), "tandem_") {
		t.Fatal("metrics without tandem_ series")
	}
}

// TestRESTOpenMode: without a secret every request may do everything, with
// no token.
func TestRESTOpenMode(t *testing.T) {
	ts := newTestServer(t, pgStore(t), nil)
	ts.call(t, "POST", "/v1/docs", "", map[string]any{"id": "open", "content": "o"}).want(t, 201)
	ts.call(t, "GET", "/v1/docs", "", nil).want(t, 200)
	ts.call(t, "PATCH", "/v1/docs/open", "", map[string]any{"title": "t"}).want(t, 200)
	if r := ts.call(t, "POST", "/v1/docs/open/ops", "", map[string]any{"v": 0, "op": []any{"x"}}).want(t, 200).obj(t); r["v"] != 0.0 {
		t.Fatalf("op %v", r)
	}
	ops := ts.call(t, "GET", "/v1/docs/open/ops", "", nil).want(t, 200).obj(t)["ops"].([]any)
	if u := ops[0].(map[string]any)["user_id"]; u != "anonymous" {
		t.Fatalf("open-mode REST op user %v", u)
	}
	ts.call(t, "DELETE", "/v1/docs/open", "", nil).want(t, 204)
	if !(auth.OpenAuth{}).Open() {
		t.Fatal("auth.OpenAuth must report open")
	}
	if _, err := http.Get(ts.ts.URL + "/healthz"); err != nil {
		t.Fatal(err)
	}
}
