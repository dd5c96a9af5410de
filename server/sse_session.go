package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/wire"
)

// Session streams (docs/protocol.md, section 17): an event stream opened with
// ?sid= is a full client's downlink where WebSockets cannot pass. The stream
// is then a presence peer under that sid (its peers see it, with the user the
// token or the name and color parameters give), it starts with a joined
// event, op events carry the author's selection, and errors about what the
// client posted arrive as error events. POST .../ops (with sid and seq) and
// POST .../presence are its uplink.

// streamKey names one session stream: a document and a sid.
type streamKey struct{ doc, sid string }

// sessionStream is what POST .../presence needs of a live session stream.
type sessionStream struct {
	sub    *sseSub
	userID string
}

// sessionStreams maps (document, sid) to the live session stream, so that
// a presence post reaches the actor as that stream's. The latest stream of a
// key wins; a stream removes only its own entry.
type sessionStreams struct {
	mu sync.Mutex
	m  map[streamKey]sessionStream
}

func (s *sessionStreams) put(k streamKey, v sessionStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[streamKey]sessionStream)
	}
	s.m[k] = v
}

func (s *sessionStreams) remove(k streamKey, sub *sseSub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[k]; ok && cur.sub == sub {
		delete(s.m, k)
	}
}

func (s *sessionStreams) get(k streamKey) (sessionStream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok
}

// streamSession is the identity of a session stream, from its query.
type streamSession struct {
	peer wire.PeerInfo
}

// sessionParams reads ?sid= (with name and color) of an event stream; nil
// without sid (a plain stream of ops and presence).
func sessionParams(r *http.Request, p auth.Principal) (*streamSession, *httpError) {
	q := r.URL.Query()
	sid := q.Get("sid")
	if sid == "" {
		if q.Has("name") || q.Has("color") {
			return nil, errInvalid(FieldError{Field: "sid", Message: "is required with name and color"})
		}
		return nil, nil
	}
	if !wire.ValidSID(sid) {
		return nil, errInvalid(FieldError{Field: "sid", Message: "must be 16-64 characters of [A-Za-z0-9_-]"})
	}
	info := &wire.UserInfo{Name: q.Get("name"), Color: q.Get("color")}
	if len(info.Name) > 256 {
		return nil, errInvalid(FieldError{Field: "name", Message: "must be at most 256 bytes"})
	}
	if len(info.Color) > 64 {
		return nil, errInvalid(FieldError{Field: "color", Message: "must be at most 64 bytes"})
	}
	return &streamSession{peer: wire.PeerInfo{SID: sid, User: p.SessionUser(sid, info)}}, nil
}

// joined writes a session stream's joined event: the version the stream is
// at (after the replay), the document's type, the whole content under the
// type's content key when the client asked for no version, the peers and the
// client's own identity.
func (s *sseWriter) joined(ev *Event, withContent bool, user wire.User) error {
	js := ev.joinState()
	jv := map[string]any{
		"v": ev.V, "type": js.DocType, "mode": js.Mode.String(), "peers": peerViews(ev.Peers),
		"user": user,
	}
	if withContent && js.Content != nil {
		typ, err := doctype.Lookup(js.DocType)
		if err != nil {
			return err
		}
		jv[typ.ContentKey()] = js.Content
	}
	return s.write("joined", "", jv)
}

// opSelView is an op event of a session stream: the op as GET .../ops gives
// it, plus its author's selection after it.
type opSelView struct {
	opView
	Sel doctype.Selection `json:"sel,omitempty"`
}

// errorView is a session stream's error event.
type errorView struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
	Seq  int64  `json:"seq,omitempty"`
}

// presenceBody is the body of POST /v1/docs/{id}/presence.
type presenceBody struct {
	SID  string          `json:"sid" validate:"required,sid"`
	V    *int64          `json:"v" validate:"required,min=0"`
	Sel  json.RawMessage `json:"sel"`
	Data json.RawMessage `json:"data"`
}

// postPresence serves POST /v1/docs/{id}/presence: the selection (and data)
// of the client whose session stream is open with that sid, handled like a
// WebSocket presence message. 202: the document's actor applies it; what goes
// wrong there arrives on the stream as an error event.
func (a *restAPI) postPresence(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	id, e := docAccess(r, p, auth.ModeRead)
	if e != nil {
		return e
	}
	var b presenceBody
	if e := decodeBody(w, r, int64(a.srv.cfg.MaxDataBytes)*4+64<<10, &b); e != nil {
		return e
	}
	st, ok := a.sessions.get(streamKey{id, b.SID})
	if !ok {
		return errStatus(http.StatusConflict, wire.CodeBadRequest,
			"no event stream is open on document %q with sid %q: open GET /v1/docs/%s/events?sid=%s first", id, b.SID, id, b.SID)
	}
	if p.UserID != "" && st.userID != p.UserID {
		return errStatus(http.StatusForbidden, wire.CodeForbidden, "the event stream with sid %q belongs to another user", b.SID)
	}
	doc, err := a.srv.store.GetDoc(r.Context(), id)
	if err != nil {
		return storeErr(id, err)
	}
	typ, err := doctype.Lookup(doc.Type)
	if err != nil {
		return errInternal("the document's type is not linked into this server", err)
	}
	sel, e := parseSelJSON(typ, b.Sel)
	if e != nil {
		return e
	}
	var data msgpack.RawMessage
	if raw := b.Data; len(raw) > 0 && string(raw) != "null" {
		enc, err := jsonToMsgpack(raw)
		if err != nil || bytes.IndexByte(bytes.TrimSpace(raw), '{') != 0 {
			return errInvalid(FieldError{Field: "data", Message: "must be an object"})
		}
		if len(enc) > a.srv.cfg.MaxDataBytes {
			return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "data is %d bytes encoded, over the limit of %d", len(enc), a.srv.cfg.MaxDataBytes)
		}
		data = enc
	}
	if _, err := a.srv.hub.send(r.Context(), id, &presenceMsg{sub: st.sub, v: *b.V, sel: sel, data: data}); err != nil {
		return submitErr(id, *b.V, err)
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// parseSelJSON decodes a selection sent as JSON (a REST body's sel) by the
// document's type, through its MessagePack form; nil for none or null.
func parseSelJSON(typ doctype.Type, raw json.RawMessage) (doctype.Selection, *httpError) {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	enc, err := jsonToMsgpack(raw)
	if err != nil {
		return nil, errInvalid(FieldError{Field: "sel", Message: err.Error()})
	}
	sel, err := typ.DecodeSelection(enc)
	if err != nil {
		return nil, errInvalid(FieldError{Field: "sel", Message: err.Error()})
	}
	return sel, nil
}

// jsonToMsgpack re-encodes a JSON value as MessagePack, integers as integers.
func jsonToMsgpack(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return msgpack.Marshal(withInts(v))
}

// withInts turns the json.Numbers of a decoded JSON value into int64 where
// integral, float64 otherwise.
func withInts(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = withInts(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = withInts(x[k])
		}
	}
	return v
}
