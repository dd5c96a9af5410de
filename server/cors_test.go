package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	ts := newAuthServer(t, memStore(t), func(c *Config) {
		c.AllowedOrigins = []string{app + "/", "https://other.example.com"}
	})
	createDoc(t, ts.st, "c", "hi")
	tok := mint(t, "u", map[string]string{"*": "rw"}, true)

	// Preflight: answered without a token, for the methods and headers an app needs.
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		r := ts.call(t, "OPTIONS", "/v1/docs/c", "", nil, "Origin", app, "Access-Control-Request-Method", m,
			"Access-Control-Request-Headers", "authorization,content-type")
		r.want(t, http.StatusNoContent)
		h := r.header
		if h.Get("Access-Control-Allow-Origin") != app || h.Get("Access-Control-Allow-Credentials") != "true" ||
			h.Get("Access-Control-Allow-Methods") != m || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "authorization") ||
			h.Get("Access-Control-Max-Age") != "600" || !strings.Contains(h.Get("Vary"), "Origin") {
			t.Fatalf("preflight %s: headers %v", m, h)
		}
	}
	// SSE polyfills send Last-Event-ID; lists and the collection route too.
	// (Browsers send the requested headers lower-case and sorted, as the
	// Fetch standard says, which is what rs/cors matches against.)
	r := ts.call(t, "OPTIONS", "/v1/docs", "", nil, "Origin", app, "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "authorization,last-event-id")
	if r.header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("preflight of /v1/docs: %v", r.header)
	}
	// An origin not in the list, a method or header not allowed: no grant.
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example.com", "Access-Control-Request-Method", "GET"},
		{"Origin", app, "Access-Control-Request-Method", "PUT"},
		{"Origin", app, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-secret"},
	} {
		if r := ts.call(t, "OPTIONS", "/v1/docs/c", "", nil, hdr...); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight %v was granted: %v", hdr, r.header)
		}
	}

	// Actual requests carry the grant, errors included, and expose Location.
	r = ts.call(t, "POST", "/v1/docs", tok, map[string]any{"id": "made"}, "Origin", app)
	r.want(t, http.StatusCreated)
	if r.header.Get("Access-Control-Allow-Origin") != app || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("POST headers %v", r.header)
	}
	r = ts.call(t, "GET", "/v1/docs/c", "", nil, "Origin", app)
	r.want(t, http.StatusUnauthorized)
	if r.header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("a 401 without the grant cannot be read by the app: %v", r.header)
	}
	if r := ts.call(t, "GET", "/v1/docs/c", tok, nil, "Origin", "https://evil.example.com"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("unlisted origin granted: %v", r.header)
	}
	// Event streams too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := ts.send(ctx, "GET", "/v1/docs/c/events", tok, nil, false, []string{"Origin", app})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("event stream: %d %v", resp.StatusCode, resp.Header)
	}
	// Not the probes.
	if r := ts.call(t, "GET", "/healthz", "", nil, "Origin", app); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("/healthz has CORS headers: %v", r.header)
	}
}

func TestCORSWildcardAndDefault(t *testing.T) {
	ts := newTestServer(t, memStore(t), func(c *Config) { c.AllowedOrigins = []string{"*"} })
	createDoc(t, ts.st, "c", "hi")
	r := ts.call(t, "OPTIONS", "/v1/docs/c/ops", "", nil, "Origin", "https://any.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type")
	if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("wildcard preflight: %v (want *, without credentials)", r.header)
	}
	if r := ts.call(t, "GET", "/v1/docs/c", "", nil, "Origin", "https://any.example").want(t, 200); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("wildcard GET: %v", r.header)
	}

	// The default (same host only) answers no CORS at all: rs/cors would allow
	// every origin with an empty list.
	ts = newTestServer(t, memStore(t), nil)
	createDoc(t, ts.st, "c", "hi")
	r = ts.call(t, "OPTIONS", "/v1/docs/c", "", nil, "Origin", "https://any.example", "Access-Control-Request-Method", "GET")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("default config granted a preflight: %v", r.header)
	}
	if r := ts.call(t, "GET", "/v1/docs/c", "", nil, "Origin", "https://any.example").want(t, 200); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("default config granted a GET: %v", r.header)
	}
}
