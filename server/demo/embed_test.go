package demo

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// assetPaths returns the script and stylesheet URLs the embedded pages name.
func assetPaths(t *testing.T, h *Handler) []string {
	t.Helper()
	re := regexp.MustCompile(`(?:src|href)="(/demo/assets/[^"]+)"`)
	var out []string
	for _, page := range pages {
		f := h.files[page]
		if f == nil {
			t.Fatalf("the bundle has no %s", page)
		}
		for _, m := range re.FindAllStringSubmatch(string(f.body), -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// pages are the demo's pages: the text demo, the rich-text demo and the canvas.
var pages = []string{"index.html", "rich/index.html", "canvas/index.html"}

func mounted(t *testing.T) (*http.ServeMux, *Handler) {
	t.Helper()
	mux := http.NewServeMux()
	if err := Mount(mux); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	h, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return mux, h
}

func do(mux http.Handler, method, target string, hdr map[string]string) *http.Response {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Result()
}

// The committed bundle is complete: the page exists and every asset it names is embedded.
func TestEmbeddedBundleIsComplete(t *testing.T) {
	_, h := mounted(t)
	assets := assetPaths(t, h)
	var js, css bool
	for _, a := range assets {
		rel := strings.TrimPrefix(a, Prefix)
		if h.files[rel] == nil {
			t.Errorf("index.html names %s, which is not in the bundle", a)
		}
		js = js || strings.HasSuffix(a, ".js")
		css = css || strings.HasSuffix(a, ".css")
	}
	if !js || !css {
		t.Fatalf("index.html names no script or no stylesheet under /demo/assets/: %v", assets)
	}
	for name, f := range h.files {
		// Minified: a bundle of the SDK and CodeMirror is a few hundred KiB; far more means a debug build.
		if len(f.body) > 1<<20 {
			t.Errorf("%s is %d bytes: build the demo minified (npm run build:demo)", name, len(f.body))
		}
	}
}

func TestServe(t *testing.T) {
	mux, h := mounted(t)
	assets := assetPaths(t, h)
	var js, css string
	for _, a := range assets {
		switch {
		case strings.HasSuffix(a, ".js"):
			js = a
		case strings.HasSuffix(a, ".css"):
			css = a
		}
	}
	tests := []struct {
		name     string
		method   string
		target   string
		status   int
		ctype    string
		cache    string
		location string
		page     bool // the body is the page
		rich     bool // the body is the rich-text page
		canvas   bool // the body is the canvas page
	}{
		{name: "root", method: "GET", target: "/demo/", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", page: true},
		{name: "document id", method: "GET", target: "/demo/my-doc_1", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", page: true},
		{name: "document id with token", method: "GET", target: "/demo/notes?token=abc", status: 200, ctype: "text/html; charset=utf-8", page: true},
		{name: "index.html", method: "GET", target: "/demo/index.html", status: 200, ctype: "text/html; charset=utf-8", page: true},
		{name: "head", method: "HEAD", target: "/demo/x", status: 200, ctype: "text/html; charset=utf-8"},
		{name: "script", method: "GET", target: js, status: 200, ctype: "text/javascript; charset=utf-8", cache: "public, max-age=31536000, immutable"},
		{name: "stylesheet", method: "GET", target: css, status: 200, ctype: "text/css; charset=utf-8", cache: "public, max-age=31536000, immutable"},
		{name: "missing asset", method: "GET", target: "/demo/assets/index-00000000.js", status: 404},
		{name: "missing file", method: "GET", target: "/demo/favicon.ico", status: 404},
		{name: "nested path", method: "GET", target: "/demo/a/b", status: 404},
		{name: "no slash", method: "GET", target: "/demo", status: 301, location: "/demo/"},
		{name: "rich page", method: "GET", target: "/demo/rich/", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", rich: true},
		{name: "rich document", method: "GET", target: "/demo/rich/notes-1?token=abc", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", rich: true},
		{name: "rich index.html", method: "GET", target: "/demo/rich/index.html", status: 200, ctype: "text/html; charset=utf-8", rich: true},
		{name: "rich no slash", method: "GET", target: "/demo/rich", status: 301, location: "/demo/rich/"},
		{name: "rich nested path", method: "GET", target: "/demo/rich/a/b", status: 404},
		{name: "rich missing file", method: "GET", target: "/demo/rich/x.js", status: 404},
		{name: "canvas", method: "GET", target: "/demo/canvas/", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", canvas: true},
		{name: "canvas board", method: "GET", target: "/demo/canvas/board-1?token=abc", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", canvas: true},
		{name: "canvas index.html", method: "GET", target: "/demo/canvas/index.html", status: 200, canvas: true},
		{name: "canvas no slash", method: "GET", target: "/demo/canvas", status: 301, location: "/demo/canvas/"},
		{name: "canvas missing file", method: "GET", target: "/demo/canvas/x.png", status: 404},
		{name: "canvas nested path", method: "GET", target: "/demo/canvas/a/b", status: 404},
		{name: "post", method: "POST", target: "/demo/", status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(mux, tc.method, tc.target, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d (%s)", tc.method, tc.target, res.StatusCode, tc.status, body)
			}
			if tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.ctype)
			}
			if tc.cache != "" && res.Header.Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control %q, want %q", res.Header.Get("Cache-Control"), tc.cache)
			}
			if tc.location != "" && res.Header.Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", res.Header.Get("Location"), tc.location)
			}
			if tc.page || tc.rich || tc.canvas {
				want := h.index
				if tc.rich {
					want = h.files["rich/index.html"]
				}
				if tc.canvas {
					want = h.files["canvas/index.html"]
				}
				if !bytes.Equal(body, want.body) {
					t.Errorf("body is not the page (%d bytes)", len(body))
				}
				if res.Header.Get("Content-Security-Policy") == "" {
					t.Error("the page has no Content-Security-Policy")
				}
			}
			if tc.status == 200 && res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
		})
	}
}

func TestGzipAndETag(t *testing.T) {
	mux, h := mounted(t)
	var js string
	for _, a := range assetPaths(t, h) {
		if strings.HasSuffix(a, ".js") {
			js = a
		}
	}
	plain := h.files[strings.TrimPrefix(js, Prefix)].body

	res := do(mux, "GET", js, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("gunzipped body differs from the file (err %v)", err)
	}
	if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Error("no Vary: Accept-Encoding")
	}
	gzTag := res.Header.Get("ETag")

	for _, ae := range []string{"", "gzip;q=0", "identity"} {
		res = do(mux, "GET", js, map[string]string{"Accept-Encoding": ae})
		body, _ := io.ReadAll(res.Body)
		if res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, plain) {
			t.Errorf("Accept-Encoding %q: got an encoded body", ae)
		}
		if res.Header.Get("ETag") == gzTag || res.Header.Get("ETag") == "" {
			t.Errorf("Accept-Encoding %q: ETag %q must differ from the gzip one %q", ae, res.Header.Get("ETag"), gzTag)
		}
	}

	res = do(mux, "GET", js, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", res.StatusCode)
	}
}

func TestNewWithoutIndex(t *testing.T) {
	_, err := newHandler(fstest.MapFS{"dist/assets/a.js": {Data: []byte("x")}}, "dist")
	if err == nil || !strings.Contains(err.Error(), "index.html") {
		t.Fatalf("err = %v, want one naming index.html", err)
	}
}

// Each demo links to the others, so that a visitor finds them all.
func TestDemosLinkEachOther(t *testing.T) {
	_, h := mounted(t)
	links := map[string]string{"index.html": `href="/demo/"`, "rich/index.html": `href="/demo/rich/"`, "canvas/index.html": `href="/demo/canvas/"`}
	for _, from := range pages {
		for to, link := range links {
			if to == from {
				continue
			}
			if !bytes.Contains(h.files[from].body, []byte(link)) {
				t.Errorf("%s does not link to %s", from, to)
			}
		}
	}
}
