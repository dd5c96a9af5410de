// Package home serves what a browser finds at a Tandem server's own address:
// a landing page at / that says what is running and links the demo, the API
// and the documentation, and the documentation itself (docs/*.md, embedded
// by package docs) rendered as HTML under /docs/.
package home

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"

	"github.com/tandem-collab/tandem/docs"
)

// Info describes the running server to the landing page.
type Info struct {
	// Version is the server's version string ("tandem v1.2.3 (abc)").
	Version string
	// Open is true when the server runs without an auth secret.
	Open bool
	// Store names the store in words ("in-memory (not durable)", "Postgres").
	Store string
	// Durable is false for a store that loses everything when the process stops.
	Durable bool
	// Demo is true when the /demo/ page is mounted.
	Demo bool
}

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// csp: the pages run no script at all; styles are inline.
const csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docTitles names the documentation pages in the order the index lists
// them; a Markdown file of package docs that is not here is listed after
// them under its own first heading.
var docTitles = []struct{ file, blurb string }{
	{"api.md", "REST API, Server-Sent Events, tokens and errors"},
	{"protocol.md", "the WebSocket wire protocol: ops, presence, ordering, limits"},
	{"architecture.md", "how a keystroke flows through the server, and who owns what"},
	{"benchmarks.md", "measured throughput and latency, with the commands to re-run them"},
}

// Handler serves the landing page and the documentation.
type Handler struct {
	info  Info
	docs  fs.FS
	index []docLink
	md    goldmark.Markdown

	mu       sync.Mutex
	rendered map[string]*renderedDoc // by file name
}

type docLink struct {
	File, Title, Blurb string
}

type renderedDoc struct {
	title string
	body  []byte // the whole page
}

// New builds the handler over the embedded documentation.
func New(info Info) (*Handler, error) {
	return newHandler(info, docs.FS)
}

func newHandler(info Info, docFS fs.FS) (*Handler, error) {
	h := &Handler{
		info: info,
		docs: docFS,
		md: goldmark.New(
			goldmark.WithExtensions(extension.GFM),
			goldmark.WithParserOptions(parser.WithAutoHeadingID()),
		),
		rendered: map[string]*renderedDoc{},
	}
	files, err := fs.Glob(docFS, "*.md")
	if err != nil {
		return nil, fmt.Errorf("list documentation: %w", err)
	}
	listed := map[string]bool{}
	for _, d := range docTitles {
		if b, err := fs.ReadFile(docFS, d.file); err == nil {
			h.index = append(h.index, docLink{File: d.file, Title: firstHeading(b, d.file), Blurb: d.blurb})
			listed[d.file] = true
		}
	}
	sort.Strings(files)
	for _, f := range files {
		if listed[f] {
			continue
		}
		b, err := fs.ReadFile(docFS, f)
		if err != nil {
			return nil, fmt.Errorf("read documentation %s: %w", f, err)
		}
		h.index = append(h.index, docLink{File: f, Title: firstHeading(b, f)})
	}
	return h, nil
}

var headingRE = regexp.MustCompile(`(?m)^#\s+(.+?)\s*$`)

func firstHeading(md []byte, fallback string) string {
	if m := headingRE.FindSubmatch(md); m != nil {
		return string(m[1])
	}
	return fallback
}

// Mount registers the landing page at exactly / and the documentation at
// /docs/ on mux. Other paths are left to the mux (a 404).
func Mount(mux *http.ServeMux, info Info) error {
	h, err := New(info)
	if err != nil {
		return err
	}
	mux.Handle("GET /{$}", http.HandlerFunc(h.serveHome))
	mux.Handle("GET /docs/", http.HandlerFunc(h.serveDocs))
	mux.Handle("GET /docs", http.RedirectHandler("/docs/", http.StatusMovedPermanently))
	return nil
}

// homeData is what templates/home.html shows.
type homeData struct {
	Info
	HTTP, WS string // this server's base URLs as the browser reached it
	Docs     []docLink
}

func (h *Handler) serveHome(w http.ResponseWriter, r *http.Request) {
	httpBase, wsBase := baseURLs(r)
	h.render(w, "home.html", homeData{Info: h.info, HTTP: httpBase, WS: wsBase, Docs: h.index})
}

// baseURLs are the http(s) and ws(s) addresses of this server as the browser
// reached it (behind a TLS-terminating proxy that sets X-Forwarded-Proto too).
func baseURLs(r *http.Request) (string, string) {
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	if secure {
		return "https://" + r.Host, "wss://" + r.Host
	}
	return "http://" + r.Host, "ws://" + r.Host
}

type docsData struct {
	Info
	Docs  []docLink
	Title string
	Body  template.HTML
}

func (h *Handler) serveDocs(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/docs/")
	if name == "" {
		h.render(w, "docs.html", docsData{Info: h.info, Docs: h.index, Title: "Documentation"})
		return
	}
	if strings.Contains(name, "/") || path.Ext(name) != ".md" {
		http.NotFound(w, r)
		return
	}
	d, err := h.doc(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	writePage(w, d.body)
}

// doc renders one documentation page once and keeps it.
func (h *Handler) doc(name string) (*renderedDoc, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d, ok := h.rendered[name]; ok {
		return d, nil
	}
	src, err := fs.ReadFile(h.docs, name)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := h.md.Convert(src, &body); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	var page bytes.Buffer
	data := docsData{Info: h.info, Docs: h.index, Title: firstHeading(src, name), Body: template.HTML(body.String())} //nolint:gosec // our own Markdown, rendered without raw HTML
	if err := pages.ExecuteTemplate(&page, "doc.html", data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	d := &renderedDoc{title: data.Title, body: page.Bytes()}
	h.rendered[name] = d
	return d, nil
}

func (h *Handler) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		// The templates are fixed and tested; a failure is a bug.
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	writePage(w, b.Bytes())
}

func writePage(w http.ResponseWriter, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	_, _ = w.Write(body)
}
