package home

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func mounted(t *testing.T, info Info) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	if err := Mount(mux, info); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	return mux
}

func get(t *testing.T, h http.Handler, target string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	req.Host = "tandem.test:8080"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestLandingPage: / says what is running and leads to the demo, the API
// and the documentation, with this server's own addresses.
func TestLandingPage(t *testing.T) {
	open := mounted(t, Info{Version: "tandem test", Open: true, Store: "in-memory (not durable)", Demo: true})
	res, body := get(t, open, "/")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no CSP or nosniff on the landing page: %v", res.Header)
	}
	for _, want := range []string{
		`href="/demo/"`, `href="/demo/canvas/"`, "http://tandem.test:8080/demo/", "in two browser windows", "<code>welcome</code>", "Copy link",
		"ws://tandem.test:8080/v1/ws", "http://tandem.test:8080/v1/docs", `href="/docs/api.md"`, `href="/docs/protocol.md"`,
		`href="/healthz"`, "open mode", "in-memory (not durable)", "tandem test", "doc.whenSynced()",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the landing page lacks %q", want)
		}
	}
	if strings.Contains(body, "Authorization") {
		t.Errorf("an open server's page tells to send a token")
	}

	secured := mounted(t, Info{Version: "tandem test", Store: "Postgres", Durable: true, Demo: true})
	_, body = get(t, secured, "/", "X-Forwarded-Proto", "https")
	for _, want := range []string{"tokens required", "tandem token -sub", "?token=$TOKEN", `-H "Authorization: Bearer $TOKEN"`, "wss://tandem.test:8080/v1/ws", "https://tandem.test:8080/v1/docs"} {
		if !strings.Contains(body, want) {
			t.Errorf("the landing page of a server with tokens lacks %q", want)
		}
	}
	if strings.Contains(body, "open mode") {
		t.Errorf("a server with tokens claims open mode")
	}
	// Only / itself: other paths stay 404.
	if res, _ := get(t, open, "/nothing-here"); res.StatusCode != 404 {
		t.Errorf("GET /nothing-here = %d, want 404", res.StatusCode)
	}
}

// TestDocsPages: /docs/ lists the embedded documentation, each page renders
// as HTML (tables, heading anchors that in-page links use), relative links
// between pages work, and nothing outside the folder is served.
func TestDocsPages(t *testing.T) {
	mux := mounted(t, Info{Version: "v", Open: true, Store: "x", Demo: true})
	res, body := get(t, mux, "/docs/")
	if res.StatusCode != 200 {
		t.Fatalf("GET /docs/ = %d", res.StatusCode)
	}
	links := regexp.MustCompile(`href="/docs/([a-z0-9-]+\.md)"`).FindAllStringSubmatch(body, -1)
	names := map[string]bool{}
	for _, l := range links {
		names[l[1]] = true
	}
	for _, want := range []string{"api.md", "protocol.md", "architecture.md", "benchmarks.md"} {
		if !names[want] {
			t.Errorf("/docs/ does not list %s (lists %v)", want, names)
		}
	}
	for name := range names {
		res, page := get(t, mux, "/docs/"+name)
		if res.StatusCode != 200 || !strings.Contains(page, "<h1") || !strings.Contains(page, "</html>") {
			t.Errorf("GET /docs/%s = %d, not a rendered page", name, res.StatusCode)
		}
		// Raw HTML in the Markdown is not passed through, and no script runs.
		if strings.Contains(page, "<script") {
			t.Errorf("/docs/%s has a script", name)
		}
	}
	_, api := get(t, mux, "/docs/api.md")
	for _, want := range []string{"<table>", `<a href="protocol.md">`, `id="tokens"`} {
		if !strings.Contains(api, want) {
			t.Errorf("/docs/api.md lacks %q", want)
		}
	}
	for _, p := range []string{"/docs/nope.md", "/docs/docs.go", "/docs/../go.mod", "/docs/a/api.md"} {
		// (The mux answers a path with ".." with a redirect to its clean form.)
		if res, _ := get(t, mux, p); res.StatusCode == 200 {
			t.Errorf("GET %s = 200, want it refused", p)
		}
	}
	if res, _ := get(t, mux, "/docs"); res.StatusCode != 301 || res.Header.Get("Location") != "/docs/" {
		t.Errorf("GET /docs = %d to %q, want 301 to /docs/", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestDocsUnlisted: a Markdown page that docTitles does not name is still
// listed, under its first heading, and raw HTML in it is not passed through.
func TestDocsUnlisted(t *testing.T) {
	h, err := newHandler(Info{}, fstest.MapFS{
		"api.md":   {Data: []byte("# API\n")},
		"extra.md": {Data: []byte("# Extra page\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.index) != 2 || h.index[0].File != "api.md" || h.index[1].Title != "Extra page" {
		t.Fatalf("index %+v", h.index)
	}
	d, err := h.doc("extra.md")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(d.body), "<script>alert") || strings.Contains(string(d.body), "javascript:") {
		t.Errorf("raw HTML or a javascript: link passed through:\n%s", d.body)
	}
}
