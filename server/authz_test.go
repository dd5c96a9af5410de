package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// The authorisation matrix: every REST route and every WebSocket message,
// for each kind of token, gives the right answer, and no answer to a token
// that cannot read a document carries any of its content.

// Content that must never reach a token without read access: doc-a's text
// and what its history inserted, team-x's text.
const (
	secretA    = "SECRET-ALPHA"
	secretAOp  = "SECRET-ALPHA-HISTORY"
	secretTeam = "SECRET-TEAM"
)

type tokenCase struct {
	name  string
	token string
	// readA, writeA, readTeam, writeTeam, admin: what the token may do.
	readA, writeA, readTeam, writeTeam, admin bool
	// unauth: the token is missing or invalid (401 / unauthorized).
	unauth bool
}

func matrixTokens(t *testing.T) []tokenCase {
	now := time.Now()
	return []tokenCase{
		{name: "missing", token: "", unauth: true},
		{name: "malformed", token: "not-a.jwt.token", unauth: true},
		{name: "expired", token: signToken(t, testSecret, "late", map[string]string{"*": "rw"}, true, now.Add(-time.Minute)), unauth: true},
		{name: "bad-signature", token: signToken(t, []byte("some-other-secret-0123456789"), "evil", map[string]string{"*": "rw"}, true, now.Add(time.Hour)), unauth: true},
		{name: "bad-grant-mode", token: signToken(t, testSecret, "odd", map[string]string{"doc-a": "write"}, false, now.Add(time.Hour)), unauth: true},
		{name: "no-access", token: mint(t, "nobody", map[string]string{"doc-b": "rw"}, false)},
		{name: "read", token: mint(t, "reader", map[string]string{"doc-a": "r"}, false), readA: true},
		{name: "write", token: mint(t, "writer", map[string]string{"doc-a": "rw"}, false), readA: true, writeA: true},
		// The prefix grants team-* read-write; the exact id doc-a read-only
		// wins over the all-documents "*" pattern.
		{name: "prefix", token: mint(t, "teamer", map[string]string{"team-*": "rw", "*": "r", "doc-a": "r"}, false), readA: true, readTeam: true, writeTeam: true},
		{name: "prefix-only", token: mint(t, "teamonly", map[string]string{"team-*": "rw"}, false), readTeam: true, writeTeam: true},
		{name: "admin", token: mint(t, "manager", nil, true), admin: true},
		{name: "admin-all", token: mint(t, "root", map[string]string{"*": "rw"}, true), readA: true, writeA: true, readTeam: true, writeTeam: true, admin: true},
	}
}

func TestAuthorizationMatrixREST(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	createDoc(t, ts.st, "doc-a", secretA)
	createDoc(t, ts.st, "team-x", secretTeam)
	if _, err := ts.srv.SubmitOp(context.Background(), "doc-a", 0, ins(len(secretA), secretAOp), "", 0, "setup"); err != nil {
		t.Fatal(err)
	}

	for _, tk := range matrixTokens(t) {
		t.Run(tk.name, func(t *testing.T) {
			createDoc(t, ts.st, "del-"+tk.name, "to delete")
			type req struct {
				method, path string
				body         any
				allowed      bool
				ok           int // status when allowed
				// notFound: the route is allowed but the document does not exist.
				notFound bool
			}
			reqs := []req{
				{"POST", "/v1/docs", map[string]any{"id": "new-" + tk.name}, tk.admin, 201, false},
				{"GET", "/v1/docs", nil, tk.admin, 200, false},
				{"GET", "/v1/docs/doc-a", nil, tk.readA, 200, false},
				{"GET", "/v1/docs/doc-a?v=1", nil, tk.readA, 200, false},
				{"GET", "/v1/docs/team-x", nil, tk.readTeam, 200, false},
				{"GET", "/v1/docs/ghost", nil, tk.readA && tk.readTeam, 404, true},
				{"PATCH", "/v1/docs/doc-a", map[string]any{"title": "by " + tk.name}, tk.admin, 200, false},
				{"DELETE", "/v1/docs/del-" + tk.name, nil, tk.admin, 204, false},
				{"GET", "/v1/docs/doc-a/ops", nil, tk.readA, 200, false},
				{"GET", "/v1/docs/team-x/ops", nil, tk.readTeam, 200, false},
				{"POST", "/v1/docs/doc-a/ops", map[string]any{"v": 0, "op": []any{"w"}}, tk.writeA, 200, false},
				{"POST", "/v1/docs/team-x/ops", map[string]any{"v": 0, "op": []any{"w"}}, tk.writeTeam, 200, false},
				{"POST", "/v1/docs/ghost/ops", map[string]any{"v": 0, "op": []any{"w"}}, tk.writeA && tk.writeTeam, 404, true},
				{"GET", "/v1/docs/ghost/events", nil, tk.readA && tk.readTeam, 404, true},
			}
			for _, rq := range reqs {
				r := ts.call(t, rq.method, rq.path, tk.token, rq.body)
				what := rq.method + " " + rq.path
				switch {
				case tk.unauth:
					r.problem(t, 401, wire.CodeUnauthorized)
					if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("%s: 401 without WWW-Authenticate: Bearer", what)
					}
				case !rq.allowed:
					r.problem(t, 403, wire.CodeForbidden)
				case rq.notFound:
					r.problem(t, 404, wire.CodeNotFound)
				default:
					if r.status != rq.ok {
						t.Fatalf("%s: %d, want %d: %s", what, r.status, rq.ok, r.body)
					}
				}
				body := string(r.body)
				if !tk.readA && (strings.Contains(body, secretA) || strings.Contains(body, secretAOp)) {
					t.Fatalf("%s answered a token without read access to doc-a with its content: %s", what, body)
				}
				if !tk.readTeam && strings.Contains(body, secretTeam) {
					t.Fatalf("%s answered a token without read access to team-x with its content: %s", what, body)
				}
				if rq.method == "GET" && rq.path == "/v1/docs" && r.status == 200 && strings.Contains(body, "SECRET") {
					t.Fatalf("the list carries content: %s", body)
				}
			}
			// The event stream: 403 before anything is streamed, or a stream.
			for _, doc := range []struct {
				id   string
				read bool
			}{{"doc-a", tk.readA}, {"team-x", tk.readTeam}} {
				s := ts.openSSE(t, "/v1/docs/"+doc.id+"/events?from=0", tk.token)
				switch {
				case tk.unauth && s.resp.StatusCode != 401, !tk.unauth && !doc.read && s.resp.StatusCode != 403:
					t.Fatalf("events of %s: %d", doc.id, s.resp.StatusCode)
				case doc.read:
					if s.resp.StatusCode != 200 || s.resp.Header.Get("Content-Type") != "text/event-stream" {
						t.Fatalf("events of %s: %d %q", doc.id, s.resp.StatusCode, s.resp.Header.Get("Content-Type"))
					}
					if ev := s.nextWithin(t, 5*time.Second); ev.event != "op" || ev.id != "0" {
						t.Fatalf("first replayed event %+v", ev)
					}
				default:
					buf := make([]byte, 4096)
					n, _ := s.resp.Body.Read(buf)
					if strings.Contains(string(buf[:n]), "SECRET") || s.resp.Header.Get("Content-Type") != "application/problem+json" {
						t.Fatalf("refused stream of %s leaked: %q", doc.id, buf[:n])
					}
				}
				s.close()
			}
		})
	}
	// The token may also come as ?token= (browsers' EventSource and WebSocket).
	rd := mint(t, "reader", map[string]string{"doc-a": "r"}, false)
	ts.call(t, "GET", "/v1/docs/doc-a?token="+rd, "", nil).want(t, 200)
	ts.call(t, "GET", "/v1/docs/team-x?token="+rd, "", nil).problem(t, 403, wire.CodeForbidden)
	// A malformed Authorization header is not a token.
	ts.call(t, "GET", "/v1/docs/doc-a", "", nil, "Authorization", "Basic dTpw").problem(t, 401, wire.CodeUnauthorized)
	// A patch by an admin without read access answers without content.
	p := ts.call(t, "PATCH", "/v1/docs/doc-a", mint(t, "manager", nil, true), map[string]any{"title": "t"}).want(t, 200).obj(t)
	if _, has := p["content"]; has {
		t.Fatalf("patch answered content to an admin without read access: %v", p)
	}
}

func TestAuthorizationMatrixWebSocket(t *testing.T) {
	ts := newAuthServer(t, pgStore(t), nil)
	createDoc(t, ts.st, "doc-a", secretA)
	createDoc(t, ts.st, "team-x", secretTeam)

	for i, tk := range matrixTokens(t) {
		for _, via := range []string{"header", "query"} {
			t.Run(tk.name+"/"+via, func(t *testing.T) {
				var (
					hdr   http.Header
					query string
				)
				if via == "header" {
					hdr = bearer(tk.token)
				} else if tk.token != "" {
					query = "?token=" + tk.token
				}
				sid := fmt.Sprintf("matrix-%02d-%s-sid", i, via)
				c, first := ts.authDial(t, sid, hdr, query)
				if tk.unauth {
					if first["t"] != "error" || first["code"] != wire.CodeUnauthorized {
						t.Fatalf("invalid token answered %v, want error unauthorized", first)
					}
					if code := c.expectClose(5 * time.Second); code != websocket.ClosePolicyViolation {
						t.Fatalf("close code %d, want 1008", code)
					}
					return
				}
				if first["t"] != "welcome" {
					t.Fatalf("hello answered %v", first)
				}
				if u := first["user"].(map[string]any); u["id"] == "" || u["name"] != "name-"+u["id"].(string) {
					t.Fatalf("welcome user %v does not come from the token", u)
				}
				var seq int64
				for _, doc := range []struct {
					id          string
					read, write bool
					secret      string
				}{{"doc-a", tk.readA, tk.writeA, secretA}, {"team-x", tk.readTeam, tk.writeTeam, secretTeam}} {
					c.send(&wire.Join{Doc: doc.id})
					m := c.nextNot("presence")
					if !doc.read {
						if m["t"] != "error" || m["code"] != wire.CodeForbidden {
							t.Fatalf("join %s answered %v, want forbidden", doc.id, m)
						}
						if strings.Contains(fmt.Sprint(m), doc.secret) {
							t.Fatalf("forbidden join leaked content: %v", m)
						}
						// Messages for a document not joined stay refused.
						seq++
						c.send(&wire.Op{Doc: doc.id, V: 0, Seq: seq, Op: ins(0, "x")})
						c.expectError(wire.CodeBadRequest)
						c.send(&wire.Presence{Doc: doc.id, V: 0, Sel: ot.Selection{{Anchor: 0, Head: 0}}})
						c.expectError(wire.CodeBadRequest)
						continue
					}
					wantMode := "r"
					if doc.write {
						wantMode = "rw"
					}
					if m["t"] != "joined" || m["mode"] != wantMode || m["text"] == nil {
						t.Fatalf("join %s answered %v, want joined mode %s", doc.id, m, wantMode)
					}
					// A caret is fine for a viewer too.
					c.send(&wire.Presence{Doc: doc.id, V: num(t, m["v"]), Sel: ot.Selection{{Anchor: 1, Head: 1}}})
					seq++
					c.send(&wire.Op{Doc: doc.id, V: num(t, m["v"]), Seq: seq, Op: ins(0, "w")})
					if doc.write {
						if a := c.expectSkipping("ack", "presence"); num(t, a["seq"]) != seq {
							t.Fatalf("ack %v", a)
						}
					} else {
						if e := c.expectError(wire.CodeForbidden); num(t, e["seq"]) != seq {
							t.Fatalf("forbidden error %v does not name seq %d", e, seq)
						}
					}
					c.send(&wire.Leave{Doc: doc.id})
				}
			})
		}
	}
}
