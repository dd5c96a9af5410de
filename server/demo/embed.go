// Package demo serves the multiplayer demo pages: at /demo/ a shared
// CodeMirror editor with everyone's named carets, selections and mouse
// pointers, at /demo/rich/ a shared Tiptap rich-text editor with a toolbar and
// named carets, and at /demo/canvas/ a whiteboard on a tree document with live
// cursors; all built from client-sdk/demo.
//
// The page is a committed, minified bundle in dist/ (rebuild it with
// `npm run build:demo` in client-sdk/), embedded in the binary so that
// `go build` needs no npm. Every path under /demo/ that is not a file of the
// bundle gets the page itself, which reads the document id from the address
// (/demo/<id>), so a document's link can be shared and reloaded; a bare
// /demo/ opens the shared document "welcome", so that two windows meet. A
// page in a folder of the bundle (rich/index.html, canvas/index.html) is
// served the same way for /demo/rich/<id> and /demo/canvas/<board>.
package demo

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var distFS embed.FS

// Prefix is where the demo is mounted; the bundle's asset URLs start with it
// (vite's `base`), so it cannot move without rebuilding the bundle.
const Prefix = "/demo/"

// csp allows only what the page uses: its own scripts and styles (CodeMirror
// injects style elements and style attributes, hence 'unsafe-inline' for
// styles), WebSocket and fetch to this server, and the inline SVG favicon.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// file is one bundle file, held in memory with its gzip form and ETag.
type file struct {
	name  string
	ctype string
	body  []byte
	etag  string

	gzOnce sync.Once
	gz     []byte // nil when compressing does not pay
}

// gzipped returns the compressed body, computed on first use.
func (f *file) gzipped() []byte {
	f.gzOnce.Do(func() {
		if len(f.body) < 1024 || !compressible(f.ctype) {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid: no error
		_, _ = zw.Write(f.body)                                // writes to a bytes.Buffer cannot fail
		_ = zw.Close()
		if b.Len() < len(f.body)*9/10 {
			f.gz = b.Bytes()
		}
	})
	return f.gz
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

// Handler serves the embedded bundle under Prefix.
type Handler struct {
	files map[string]*file // by path relative to dist, e.g. "assets/index-abc.js"
	index *file
}

// New loads the embedded bundle. It fails only if the bundle was committed
// without its index.html, which the package test catches.
func New() (*Handler, error) {
	return newHandler(distFS, "dist")
}

func newHandler(fsys fs.FS, root string) (*Handler, error) {
	sub, err := fs.Sub(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("demo bundle: %w", err)
	}
	h := &Handler{files: make(map[string]*file)}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = http.DetectContentType(body)
		}
		h.files[p] = &file{name: p, ctype: ctype, body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("demo bundle: %w", err)
	}
	h.index = h.files["index.html"]
	if h.index == nil {
		return nil, fmt.Errorf("demo bundle: no index.html in %s (run `npm run build:demo` in client-sdk)", root)
	}
	for name, f := range h.files {
		if path.Base(name) == "index.html" {
			f.ctype = "text/html; charset=utf-8"
		}
	}
	return h, nil
}

// Mount registers the demo on mux: GET (and HEAD) /demo/... and a redirect
// from /demo to /demo/.
func Mount(mux *http.ServeMux) error {
	h, err := New()
	if err != nil {
		return err
	}
	mux.Handle("GET "+Prefix, h)
	mux.Handle("GET "+strings.TrimSuffix(Prefix, "/"), http.RedirectHandler(Prefix, http.StatusMovedPermanently))
	return nil
}

// ServeHTTP serves a bundle file, or the page for any other path (a document
// id). A path that could not be a document id (it has a '.' or a '/') and is
// not in the bundle is a 404, so that a stale asset URL fails visibly instead
// of returning HTML.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	if h.files[rel+"/index.html"] != nil {
		// A page of its own (/demo/rich): its documents live under it.
		http.Redirect(w, r, Prefix+rel+"/", http.StatusMovedPermanently)
		return
	}
	f := h.files[rel]
	page := h.index
	if f == nil {
		// /demo/<page>/<id> (or /demo/<page>/): the page <page>/index.html, for document <id>.
		if dir, id, ok := strings.Cut(rel, "/"); ok && !strings.ContainsAny(id, "./") && h.files[dir+"/index.html"] != nil {
			page = h.files[dir+"/index.html"]
			rel = id
		}
	}
	switch {
	case f != nil && !h.isPage(f):
		// Asset names carry a content hash: they never change.
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	case f == nil && strings.ContainsAny(rel, "./"):
		// A document id has neither '.' nor '/': this is a missing file.
		http.NotFound(w, r)
		return
	default:
		if f == nil {
			f = page
		}
		// The page names the current asset hashes: always revalidate it.
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Security-Policy", csp)
		hdr.Set("Referrer-Policy", "no-referrer") // the address may hold ?token=
	}
	h.serveFile(w, r, f)
}

// isPage reports whether f is one of the bundle's pages (an index.html).
func (h *Handler) isPage(f *file) bool {
	return path.Base(f.name) == "index.html"
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, f *file) {
	hdr := w.Header()
	hdr.Set("Content-Type", f.ctype)
	body := f.body
	etag := f.etag
	if gz := f.gzipped(); gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body = gz
			etag = strings.TrimSuffix(f.etag, `"`) + `-gz"`
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	// ServeContent answers HEAD, If-None-Match and Range requests.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (a q=0
// entry refuses it).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
