package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// testSecret signs the tokens of the REST and authorisation tests.
var testSecret = []byte("tandem-test-secret-0123456789")

// newAuthServer is newTestServer with token authentication on.
func newAuthServer(t testing.TB, st store.Store, tweak func(*Config)) *testServer {
	t.Helper()
	ja, err := auth.NewJWTAuth(testSecret)
	if err != nil {
		t.Fatalf("auth.NewJWTAuth: %v", err)
	}
	return newTestServer(t, st, func(c *Config) {
		c.Authenticator = ja
		if tweak != nil {
			tweak(c)
		}
	})
}

// signToken signs claims with secret (any exp, including past ones).
func signToken(t testing.TB, secret []byte, sub string, docs map[string]string, admin bool, exp time.Time) string {
	t.Helper()
	c := auth.TokenClaims{Docs: docs, Admin: admin, Name: "name-" + sub, RegisteredClaims: jwt.RegisteredClaims{
		Subject: sub, ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(exp.Add(-time.Hour)),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

func mint(t testing.TB, sub string, docs map[string]string, admin bool) string {
	t.Helper()
	return signToken(t, testSecret, sub, docs, admin, time.Now().Add(time.Hour))
}

// apiResp is one REST answer.
type apiResp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as an object.
func (r *apiResp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

// call sends one REST request. body: nil for none, a string or []byte as is,
// anything else as JSON. A body is labelled application/json unless hdr says
// otherwise.
func (ts *testServer) call(t testing.TB, method, path, token string, body any, hdr ...string) *apiResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := ts.send(ctx, method, path, token, rd, body != nil, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &apiResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// getProblems GETs each path with tok and wants the problem status and code
// from every one: the cases an endpoint must refuse rather than answer.
func (ts *testServer) getProblems(t testing.TB, tok string, status int, code string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		ts.call(t, "GET", p, tok, nil).problem(t, status, code)
	}
}

// send makes one request to path: labelled application/json when jsonBody,
// with the bearer token when there is one, then the hdr pairs, set last so
// that a test can override either.
func (ts *testServer) send(ctx context.Context, method, path, token string, body io.Reader, jsonBody bool, hdr []string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, ts.ts.URL+path, body)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	if jsonBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return ts.ts.Client().Do(req)
}

// want checks the status.
func (r *apiResp) want(t testing.TB, status int) *apiResp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
	return r
}

// problem checks that r is an RFC 9457 problem with status and code and a
// detail, and returns it.
func (r *apiResp) problem(t testing.TB, status int, code string) Problem {
	t.Helper()
	r.want(t, status)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body:\n%s", ct, r.body)
	}
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body: %v\n%s", err, r.body)
	}
	if p.Status != status || p.Title != http.StatusText(status) || p.Type != "about:blank" || p.Detail == "" || p.Code != code {
		t.Fatalf("problem %+v, want status %d (%q), code %q and a detail", p, status, http.StatusText(status), code)
	}
	if (status == http.StatusUnprocessableEntity) != (len(p.Errors) > 0) {
		t.Fatalf("problem %+v: errors must be present exactly for 422", p)
	}
	return p
}

// fieldErr checks a 422 names field.
func fieldErr(t testing.TB, p Problem, field string) {
	t.Helper()
	for _, f := range p.Errors {
		if f.Field == field && f.Message != "" {
			return
		}
	}
	t.Fatalf("422 errors %+v do not name field %q", p.Errors, field)
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

// sseStream reads an event stream.
type sseStream struct {
	resp     *http.Response
	sc       *bufio.Scanner
	comments int
	cancel   context.CancelFunc
}

// openSSE starts GET path with hdr pairs; the caller checks the status.
func (ts *testServer) openSSE(t testing.TB, path, token string, hdr ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := ts.send(ctx, "GET", path, token, nil, false, hdr)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	s := &sseStream{resp: resp, sc: bufio.NewScanner(resp.Body), cancel: cancel}
	s.sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next reads the next event (comments are counted, not returned); io.EOF at
// the end of the stream. The caller bounds the wait by closing the stream.
func (s *sseStream) next() (sseEvent, error) {
	var ev sseEvent
	seen := false
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if seen {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			s.comments++
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			seen = true
			switch k {
			case "id":
				ev.id = v
			case "event":
				ev.event = v
			case "data":
				ev.data += v
			}
		}
	}
	if err := s.sc.Err(); err != nil {
		return ev, err
	}
	return ev, io.EOF
}

// nextWithin is next with a deadline after which the stream is closed.
func (s *sseStream) nextWithin(t testing.TB, d time.Duration) sseEvent {
	t.Helper()
	timer := time.AfterFunc(d, s.close)
	defer timer.Stop()
	ev, err := s.next()
	if err != nil {
		t.Fatalf("reading the event stream: %v (no event within %v?)", err, d)
	}
	return ev
}

// nextSkipping is nextWithin, skipping presence events.
func (s *sseStream) nextSkipping(t testing.TB, d time.Duration) sseEvent {
	t.Helper()
	for {
		if ev := s.nextWithin(t, d); ev.event != "presence" {
			return ev
		}
	}
}

// authDial opens a WebSocket with the given headers and says hello; it
// returns the client and the first answer (welcome, or the error).
func (ts *testServer) authDial(t testing.TB, sid string, header http.Header, query string) (*wsClient, map[string]any) {
	t.Helper()
	url := ts.wsURL() + query
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(url, header)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	wc := &wsClient{t: t, c: c}
	wc.send(&wire.Hello{Proto: 1, SID: sid})
	m, err := wc.read(5 * time.Second)
	if err != nil {
		t.Fatalf("read the answer to hello: %v", err)
	}
	return wc, m
}

// nextNot returns the next message whose type is not in skip.
func (c *wsClient) nextNot(skip ...string) map[string]any {
	c.t.Helper()
	for {
		m := c.next()
		if !slices.Contains(skip, m["t"].(string)) {
			return m
		}
	}
}

func bearer(token string) http.Header {
	if token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + token}}
}

// newStreamServer is a server whose event streams use a short heartbeat and
// the given buffer, set before it serves anything.
func newStreamServer(t testing.TB, st store.Store, heartbeat time.Duration, buffer int, tweak func(*Config)) *testServer {
	t.Helper()
	return serveTest(t, st, tweak, func(srv *Server) {
		srv.rest.heartbeat = heartbeat
		srv.rest.sseBuffer = buffer
	})
}

// httptestServer serves srv; closed at the end of the test.
func httptestServer(t testing.TB, srv *Server) *httptest.Server {
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}
