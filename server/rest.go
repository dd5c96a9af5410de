package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// Limits of the REST API (docs/api.md, "Errors"). Bodies may be
// larger than the text they carry because JSON escapes characters (up to six
// bytes for one), hence the factor of two plus room for the other fields; the
// text itself is then held to the document and op limits of Config.
const (
	// MaxTitleChars bounds a document title, in code points.
	MaxTitleChars = 1024
	// MaxMetadataBytes bounds a document's metadata, encoded as JSON.
	MaxMetadataBytes = 64 << 10
	// patchBodyLimit bounds PATCH /v1/docs/{id}: a title and metadata.
	patchBodyLimit = 2*MaxMetadataBytes + 16<<10
	// bodySlack is what create and op bodies may hold beside their text.
	bodySlack = 2*MaxMetadataBytes + 16<<10

	// DefaultOpsLimit and MaxOpsLimit bound a page of GET /v1/docs/{id}/ops.
	DefaultOpsLimit = 100
	MaxOpsLimit     = 1000

	// DefaultSSEHeartbeat is how often an idle event stream gets a comment line,
	// below the 30-60 s idle timeouts common in proxies and load balancers.
	DefaultSSEHeartbeat = 15 * time.Second
)

// CodeAlreadyExists is the problem code of a 409 to POST /v1/docs with an id
// that is taken. It is a REST code only: the WebSocket protocol never creates
// documents, so its error codes (wire.Code*) do not have it.
const CodeAlreadyExists = "already_exists"

// errVersionAhead marks (as the cause of an invalid_op *Error) an op made
// against a version the document has not reached; REST answers it with 409.
var errVersionAhead = errors.New("op version is ahead of the document")

// restAPI serves the REST routes and the event streams of docs/api.md on the
// server's mux.
type restAPI struct {
	srv *Server
	// heartbeat is the SSE comment interval (tests shorten it).
	heartbeat time.Duration
	// sseBuffer is how many events may wait for one slow event stream before
	// the server ends it (the client resumes with Last-Event-ID).
	sseBuffer int
	routes    []route
	// sessions are the live session streams, for POST .../presence.
	sessions sessionStreams
}

// handlerFunc is a REST handler: it gets the authenticated principal and
// returns nil after writing its answer, or the error to answer with.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError

// route is one registered REST route; the table is what docs/api.md is
// checked against.
type route struct {
	method, path string
	h            handlerFunc
}

// Pattern is the ServeMux pattern of the route.
func (rt route) pattern() string { return rt.method + " " + rt.path }

func newREST(s *Server) *restAPI {
	a := &restAPI{srv: s, heartbeat: DefaultSSEHeartbeat, sseBuffer: 4096}
	a.routes = []route{
		{"POST", "/v1/docs", a.createDoc},
		{"GET", "/v1/docs", a.listDocs},
		{"GET", "/v1/docs/{id}", a.getDoc},
		{"PATCH", "/v1/docs/{id}", a.patchDoc},
		{"DELETE", "/v1/docs/{id}", a.deleteDoc},
		{"GET", "/v1/docs/{id}/ops", a.listOps},
		{"POST", "/v1/docs/{id}/ops", a.submitOp},
		{"GET", "/v1/docs/{id}/events", a.events},
		{"POST", "/v1/docs/{id}/presence", a.postPresence},
	}
	for _, rt := range a.routes {
		s.mux.Handle(rt.pattern(), a.wrap(rt.h))
	}
	// Everything else under /v1/ gets a problem document too (404, or 405
	// with Allow), instead of the mux's plain-text answers.
	s.mux.HandleFunc("/v1/", a.notFound)
	return a
}

// wrap authenticates the request and renders a handler's error.
func (a *restAPI) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.srv.auth.Authenticate(r)
		// Requests with a bad token count against the client's address, so
		// that guessing tokens is limited too.
		if e := a.limitREST(r, p); e != nil {
			writeProblem(w, r, e)
			return
		}
		if err != nil {
			e := &httpError{status: http.StatusUnauthorized, code: wire.CodeUnauthorized, detail: err.Error(),
				header: http.Header{"Www-Authenticate": {`Bearer realm="tandem", error="invalid_token"`}}}
			writeProblem(w, r, e)
			return
		}
		if e := h(w, r, p); e != nil {
			if e.status >= 500 {
				a.srv.log.Error("REST request failed", "method", r.Method, "path", r.URL.Path, "status", e.status, "err", e)
			}
			writeProblem(w, r, e)
		}
	})
}

func (a *restAPI) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pat := a.srv.mux.Handler(probe); pat != "" && pat != "/v1/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		e := errStatus(http.StatusMethodNotAllowed, wire.CodeBadRequest, "%s is not allowed on %s", r.Method, r.URL.Path)
		e.header = http.Header{"Allow": {strings.Join(allow, ", ")}}
		writeProblem(w, r, e)
		return
	}
	writeProblem(w, r, errStatus(http.StatusNotFound, wire.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
}

// ---- views ----

// docView is the document resource. Content is omitted in lists.
type docView struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	V         int64           `json:"v"`
	Content   doctype.Content `json:"content,omitempty"`
	Title     string          `json:"title"`
	Metadata  map[string]any  `json:"metadata"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func viewDoc(d store.Document, content doctype.Content) docView {
	meta := d.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	return docView{ID: d.ID, Type: d.Type, V: d.Version, Content: content, Title: d.Title, Metadata: meta,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

// opView is one op as GET .../ops and the event stream give it. Times are
// truncated to microseconds, the precision Postgres keeps, so that an op
// streamed live reads exactly as the stored one.
type opView struct {
	V         int64      `json:"v"`
	Op        doctype.Op `json:"op"`
	SID       string     `json:"sid"`
	Seq       int64      `json:"seq"`
	UserID    string     `json:"user_id"`
	CreatedAt time.Time  `json:"created_at"`
}

func viewOp(r store.OpRecord) opView {
	return opView{V: r.Version, Op: r.Op, SID: r.SID, Seq: r.Seq, UserID: r.UserID,
		CreatedAt: r.CreatedAt.UTC().Truncate(time.Microsecond)}
}

// ---- shared checks ----

func needAdmin(p auth.Principal, what string) *httpError {
	if !p.Admin {
		return errStatus(http.StatusForbidden, wire.CodeForbidden, "%s needs an admin token", what)
	}
	return nil
}

// adminDoc is docAccess for the management routes: p must be an admin, for
// what, and the path's document id valid.
func adminDoc(r *http.Request, p auth.Principal, what string) (string, *httpError) {
	if e := needAdmin(p, what); e != nil {
		return "", e
	}
	id := r.PathValue("id")
	if e := checkDocID(id); e != nil {
		return "", e
	}
	return id, nil
}

// docAccess checks the path's document id and that p has at least need on it.
// It answers before looking the document up, so a caller without access
// learns nothing about whether it exists.
func docAccess(r *http.Request, p auth.Principal, need auth.Mode) (string, *httpError) {
	id := r.PathValue("id")
	switch got := p.Access(id); {
	case got == auth.ModeNone:
		return "", errStatus(http.StatusForbidden, wire.CodeForbidden, "the token has no access to document %q", id)
	case got < need:
		return "", errStatus(http.StatusForbidden, wire.CodeForbidden, "the token has read-only access to document %q", id)
	}
	if e := checkDocID(id); e != nil {
		return "", e
	}
	return id, nil
}

// checkDocID answers 400 for an id outside the contract's pattern.
func checkDocID(id string) *httpError {
	if !wire.ValidDocID(id) {
		return errBadRequest("document id %q does not match ^[A-Za-z0-9_-]{1,128}$", id)
	}
	return nil
}

// storeErr maps a store failure to an answer.
func storeErr(id string, err error) *httpError {
	if e := compactedErr(err, wire.CodeNotFound); e != nil {
		return e
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errStatus(http.StatusNotFound, wire.CodeNotFound, "no document %q", id)
	case errors.Is(err, store.ErrExists):
		return errStatus(http.StatusConflict, CodeAlreadyExists, "a document %q already exists", id)
	case errors.Is(err, store.ErrInvalidArgument):
		return errBadRequest("%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errStatus(http.StatusServiceUnavailable, wire.CodeInternal, "the request ended before the store answered")
	case errors.Is(err, store.ErrUnavailable):
		return &httpError{status: http.StatusServiceUnavailable, code: wire.CodeInternal, detail: "the store is unavailable", cause: err}
	}
	return errInternal("the store failed", err)
}

// queryInt parses an optional integer query parameter in [lo, hi].
func queryInt(q url.Values, name string, def, lo, hi int64) (int64, *httpError) {
	s, ok := q[name]
	if !ok {
		return def, nil
	}
	if len(s) != 1 {
		return 0, errBadRequest("query parameter %s is given %d times", name, len(s))
	}
	n, err := strconv.ParseInt(s[0], 10, 64)
	if err != nil || n < lo || n > hi {
		if hi == maxVersion {
			return 0, errBadRequest("query parameter %s=%q must be an integer >= %d", name, s[0], lo)
		}
		return 0, errBadRequest("query parameter %s=%q must be an integer from %d to %d", name, s[0], lo, hi)
	}
	return n, nil
}

const maxVersion = 1<<63 - 1

func checkMetadata(m map[string]any) *httpError {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return errInvalid(FieldError{Field: "metadata", Message: "must be a JSON object"})
	}
	if len(b) > MaxMetadataBytes {
		return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge,
			"metadata is %d bytes encoded, over the limit of %d", len(b), MaxMetadataBytes)
	}
	return nil
}

// ---- handlers ----

type createBody struct {
	ID       *string         `json:"id" validate:"omitnil,docid"`
	Type     *string         `json:"type"`
	Content  json.RawMessage `json:"content"`
	Title    *string         `json:"title" validate:"omitnil,max=1024"`
	Metadata map[string]any  `json:"metadata"`
}

func (a *restAPI) createDoc(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	if e := needAdmin(p, "creating documents"); e != nil {
		return e
	}
	var b createBody
	if e := decodeBody(w, r, int64(2*a.srv.cfg.MaxDocBytes+bodySlack), &b); e != nil {
		return e
	}
	nd := store.NewDocument{Type: store.DefaultType, Metadata: b.Metadata}
	if b.Type != nil {
		nd.Type = *b.Type
	}
	typ, err := doctype.Lookup(nd.Type)
	if err != nil {
		return errInvalid(FieldError{Field: "type", Message: fmt.Sprintf("must be one of %v", doctype.Names())})
	}
	nd.Content = typ.NewContent()
	if len(b.Content) > 0 {
		c, err := typ.ParseContentJSON(b.Content)
		if errors.Is(err, doctype.ErrTooLarge) {
			return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "content: %v", err)
		}
		if err != nil {
			return errInvalid(FieldError{Field: "content", Message: err.Error()})
		}
		if n := c.Size(); n > a.srv.cfg.MaxDocBytes {
			return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge,
				"content is %d bytes, over the document limit of %d", n, a.srv.cfg.MaxDocBytes)
		}
		nd.Content = c
	}
	if b.Title != nil {
		nd.Title = *b.Title
	}
	if e := checkMetadata(b.Metadata); e != nil {
		return e
	}
	var d store.Document
	if b.ID != nil {
		nd.ID = *b.ID
		d, err = a.srv.store.CreateDoc(r.Context(), nd)
	} else {
		// 96 random bits: a collision is practically impossible, but an id is
		// never handed out twice even then.
		for range 3 {
			nd.ID = newDocID()
			if d, err = a.srv.store.CreateDoc(r.Context(), nd); !errors.Is(err, store.ErrExists) {
				break
			}
		}
	}
	if err != nil {
		return storeErr(nd.ID, err)
	}
	w.Header().Set("Location", "/v1/docs/"+d.ID)
	writeJSON(w, http.StatusCreated, viewDoc(d, nd.Content))
	return nil
}

// NewServerSID makes up the sid of an op submitted without one (over REST):
// "srv-" and 128 random bits, a valid sid that no client has. Concurrent
// inserts are ordered by their authors' sids, so even an anonymous op needs
// one, and the log and every broadcast carry it.
func NewServerSID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "srv-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// newDocID makes up a document id: 16 characters of [A-Za-z0-9_-] (about 96
// random bits) that start with a letter or a digit, so that the id is never
// taken for a flag when it is passed to a command (`curl ... -UWDN...`).
func newDocID() string {
	var b [12]byte
	for {
		_, _ = rand.Read(b[:])
		// The first character holds the top six bits of b[0]: 62 and 63 are
		// '-' and '_'. Drawing again keeps the ids uniform over the rest.
		if b[0]>>2 < 62 {
			return base64.RawURLEncoding.EncodeToString(b[:])
		}
	}
}

type listView struct {
	Docs       []docView `json:"docs"`
	NextCursor *string   `json:"next_cursor"`
}

func (a *restAPI) listDocs(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	if e := needAdmin(p, "listing documents"); e != nil {
		return e
	}
	q := r.URL.Query()
	limit, e := queryInt(q, "limit", store.DefaultListLimit, 1, store.MaxListLimit)
	if e != nil {
		return e
	}
	prefix := q.Get("prefix")
	if prefix != "" && !wire.ValidDocID(prefix) {
		return errBadRequest("query parameter prefix=%q must be 1-128 characters of [A-Za-z0-9_-]", prefix)
	}
	page, err := a.srv.store.ListDocs(r.Context(), store.ListOptions{Limit: int(limit), Cursor: q.Get("cursor"), Prefix: prefix})
	if errors.Is(err, store.ErrInvalidArgument) {
		return errBadRequest("query parameter cursor=%q is not a cursor this server handed out", q.Get("cursor"))
	}
	if err != nil {
		return storeErr("", err)
	}
	out := listView{Docs: make([]docView, len(page.Docs))}
	for i, d := range page.Docs {
		out.Docs[i] = viewDoc(d, nil)
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *restAPI) getDoc(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	id, e := docAccess(r, p, auth.ModeRead)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	if _, ok := q["v"]; !ok {
		d, snap, err := a.srv.store.Load(r.Context(), id)
		if err != nil {
			return storeErr(id, err)
		}
		writeJSON(w, http.StatusOK, viewDoc(d, snap.Content))
		return nil
	}
	v, e := queryInt(q, "v", 0, 0, maxVersion)
	if e != nil {
		return e
	}
	d, err := a.srv.store.GetDoc(r.Context(), id)
	if err != nil {
		return storeErr(id, err)
	}
	if v > d.Version {
		return errStatus(http.StatusNotFound, wire.CodeNotFound, "document %q has no version %d (it is at version %d)", id, v, d.Version)
	}
	snap, err := a.srv.store.SnapshotAt(r.Context(), id, v)
	if err != nil {
		return storeErr(id, err)
	}
	d.Version = v
	writeJSON(w, http.StatusOK, viewDoc(d, snap.Content))
	return nil
}

type patchBody struct {
	Title    *string        `json:"title" validate:"omitnil,max=1024"`
	Metadata map[string]any `json:"metadata"`
}

func (a *restAPI) patchDoc(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	id, e := adminDoc(r, p, "changing documents")
	if e != nil {
		return e
	}
	var b patchBody
	if e := decodeBody(w, r, patchBodyLimit, &b); e != nil {
		return e
	}
	if e := checkMetadata(b.Metadata); e != nil {
		return e
	}
	d, err := a.srv.store.UpdateDoc(r.Context(), id, store.MetaPatch{Title: b.Title, Metadata: b.Metadata})
	if err != nil {
		return storeErr(id, err)
	}
	// Admin is a management right: the content comes back only to a token
	// that may read the document.
	var content doctype.Content
	if p.Access(id) >= auth.ModeRead {
		cur, snap, err := a.srv.store.Load(r.Context(), id)
		if err != nil {
			return storeErr(id, err)
		}
		d, content = cur, snap.Content
	}
	writeJSON(w, http.StatusOK, viewDoc(d, content))
	return nil
}

func (a *restAPI) deleteDoc(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	id, e := adminDoc(r, p, "deleting documents")
	if e != nil {
		return e
	}
	if err := a.srv.DeleteDoc(r.Context(), id); err != nil {
		if errors.Is(err, ErrShuttingDown) {
			return errStatus(http.StatusServiceUnavailable, wire.CodeInternal, "the server is shutting down; the document was deleted, joined clients are being disconnected")
		}
		return storeErr(id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type opsView struct {
	Ops []opView `json:"ops"`
}

func (a *restAPI) listOps(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	id, e := docAccess(r, p, auth.ModeRead)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	from, e := queryInt(q, "from", 0, 0, maxVersion)
	if e != nil {
		return e
	}
	limit, e := queryInt(q, "limit", DefaultOpsLimit, 1, MaxOpsLimit)
	if e != nil {
		return e
	}
	ops, err := a.srv.store.ReadOps(r.Context(), id, from, int(limit))
	switch {
	case errors.Is(err, store.ErrVersion):
		// from is past the document's version (the store found the document):
		// nothing has been committed there yet.
		ops = nil
	case err != nil:
		return storeErr(id, err)
	}
	out := opsView{Ops: make([]opView, len(ops))}
	for i, o := range ops {
		out.Ops[i] = viewOp(o)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type opBody struct {
	V   *int64          `json:"v" validate:"required,min=0"`
	Op  json.RawMessage `json:"op" validate:"required"`
	SID string          `json:"sid" validate:"omitempty,sid"`
	Seq int64           `json:"seq" validate:"min=0"`
	// Sel is the author's selection after the op, in its own coordinates
	// (as the WebSocket op's sel); it moves the author's caret for its peers.
	Sel json.RawMessage `json:"sel"`
}

// submittedView answers POST .../ops: the version the op was committed as,
// and its sid (the one the server made up when the body had none).
type submittedView struct {
	V   int64  `json:"v"`
	SID string `json:"sid"`
}

func (a *restAPI) submitOp(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	id, e := docAccess(r, p, auth.ModeReadWrite)
	if e != nil {
		return e
	}
	var b opBody
	if e := decodeBody(w, r, int64(2*a.srv.cfg.MaxOpBytes+bodySlack), &b); e != nil {
		return e
	}
	switch {
	case b.SID != "" && b.Seq == 0:
		return errInvalid(FieldError{Field: "seq", Message: "is required (a positive integer) when sid is set"})
	case b.SID == "" && b.Seq != 0:
		return errInvalid(FieldError{Field: "sid", Message: "is required when seq is set"})
	}
	// The op is parsed by the document's type.
	doc, err := a.srv.store.GetDoc(r.Context(), id)
	if err != nil {
		return storeErr(id, err)
	}
	typ, err := doctype.Lookup(doc.Type)
	if err != nil {
		return errInternal("the document's type is not linked into this server", err)
	}
	// As sent, not normalised: the actor checks the whole op, trailing
	// retain included, against the document at its version.
	op, err := typ.ParseOpJSON(b.Op)
	if err != nil {
		if errors.Is(err, doctype.ErrTooLarge) {
			return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "op: %v", err)
		}
		return errInvalid(FieldError{Field: "op", Message: err.Error()})
	}
	if n := op.Size(); n > a.srv.cfg.MaxOpBytes {
		return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "op: %d bytes encoded, over the limit of %d", n, a.srv.cfg.MaxOpBytes)
	}
	sel, e := parseSelJSON(typ, b.Sel)
	if e != nil {
		return e
	}
	user := p.UserIDFor(b.SID)
	sid := b.SID
	if sid == "" {
		sid = NewServerSID()
	}
	v, err := a.srv.submitOpSel(r.Context(), id, *b.V, op, sid, b.Seq, user, sel)
	if err != nil {
		return submitErr(id, *b.V, err)
	}
	writeJSON(w, http.StatusOK, submittedView{V: v, SID: sid})
	return nil
}

// submitErr maps a SubmitOp failure to an answer.
func submitErr(id string, v int64, err error) *httpError {
	if errors.Is(err, ErrShuttingDown) {
		return errStatus(http.StatusServiceUnavailable, wire.CodeInternal, "the server is shutting down; retry with the same sid and seq")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errStatus(http.StatusServiceUnavailable, wire.CodeInternal, "the request ended before the op was committed; it may still be: retry with the same sid and seq")
	}
	if e := compactedErr(err, wire.CodeInvalidOp); e != nil {
		return e
	}
	var pe *wire.Error
	if !errors.As(err, &pe) {
		return errInternal("submitting the op failed", err)
	}
	switch pe.Code {
	case wire.CodeInvalidOp:
		if errors.Is(err, errVersionAhead) {
			return errStatus(http.StatusConflict, wire.CodeInvalidOp, "%s", pe.Msg)
		}
		return &httpError{status: http.StatusUnprocessableEntity, code: wire.CodeInvalidOp,
			detail: fmt.Sprintf("op made against version %d: %s", v, pe.Msg), fields: []FieldError{{Field: "op", Message: pe.Msg}}}
	case wire.CodeTooLarge:
		return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "%s", pe.Msg)
	case wire.CodeNotFound:
		return errStatus(http.StatusNotFound, wire.CodeNotFound, "no document %q", id)
	case wire.CodeBadRequest:
		return errBadRequest("%s", pe.Msg)
	case wire.CodeRateLimited:
		return errStatus(http.StatusTooManyRequests, wire.CodeRateLimited, "%s", pe.Msg)
	case wire.CodeForbidden:
		return errStatus(http.StatusForbidden, wire.CodeForbidden, "%s", pe.Msg)
	}
	return errInternal(pe.Msg, err)
}
