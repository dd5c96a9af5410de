package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// sseSub is an event stream's subscription to a document actor. Deliver runs
// on the actor goroutine and never blocks: the events wait in a bounded
// channel for the HTTP handler's goroutine, which owns the stream. When the
// channel is full the subscription overflows: the actor detaches it and the
// handler ends the stream after what it already has, and the client resumes
// with Last-Event-ID, so that no op is ever skipped silently.
type sseSub struct {
	ch       chan *Event
	overflow chan struct{}
	once     sync.Once
}

func newSSESub(n int) *sseSub {
	return &sseSub{ch: make(chan *Event, n), overflow: make(chan struct{})}
}

// Deliver implements Subscriber.
func (s *sseSub) Deliver(ev *Event) bool {
	select {
	case s.ch <- ev:
		return true
	default:
		s.once.Do(func() { close(s.overflow) })
		return false
	}
}

// resumePoint is the version an event stream starts after: Last-Event-ID (the
// version of the last op the client got, so it wants the next one) wins over
// ?from= (the version the client holds), because a browser's EventSource
// sends the header on reconnection while its URL still has the first from.
func resumePoint(r *http.Request) (*int64, *httpError) {
	if h := strings.TrimSpace(r.Header.Get("Last-Event-ID")); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 || n == maxVersion {
			return nil, errBadRequest("Last-Event-ID %q must be the version of an op (an integer >= 0)", h)
		}
		n++
		return &n, nil
	}
	if _, ok := r.URL.Query()["from"]; ok {
		n, e := queryInt(r.URL.Query(), "from", 0, 0, maxVersion)
		if e != nil {
			return nil, e
		}
		return &n, nil
	}
	return nil, nil
}

// events serves GET /v1/docs/{id}/events.
func (a *restAPI) events(w http.ResponseWriter, r *http.Request, p auth.Principal) *httpError {
	id, e := docAccess(r, p, auth.ModeRead)
	if e != nil {
		return e
	}
	from, e := resumePoint(r)
	if e != nil {
		return e
	}
	sess, e := sessionParams(r, p)
	if e != nil {
		return e
	}
	// The stream ends when the client goes away or the server stops.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(a.srv.baseCtx, cancel)
	defer stop()

	sub := newSSESub(a.sseBuffer)
	opts := SubscribeOptions{From: from, Mode: auth.ModeRead}
	if sess != nil {
		opts.Mode = p.Access(id)
		opts.Peer = &sess.peer
		key := streamKey{id, sess.peer.SID}
		a.sessions.put(key, sessionStream{sub: sub, userID: p.UserID})
		defer a.sessions.remove(key, sub)
	}
	if err := a.srv.Subscribe(ctx, id, sub, opts); err != nil {
		if errors.Is(err, ErrShuttingDown) {
			return errStatus(http.StatusServiceUnavailable, wire.CodeInternal, "the server is shutting down")
		}
		return errStatus(http.StatusServiceUnavailable, wire.CodeInternal, "the request ended before the document answered")
	}
	defer func() {
		uctx, cancel := context.WithTimeout(a.srv.baseCtx, 5*time.Second)
		defer cancel()
		if err := a.srv.Unsubscribe(uctx, id, sub); err != nil {
			a.srv.log.Debug("detaching an event stream failed", "doc", id, "err", err)
		}
	}()

	var joined *Event
	select {
	case joined = <-sub.ch:
	case <-ctx.Done():
		return nil
	}
	if joined.Kind != EventJoined {
		if joined.failure().Code == wire.CodeNotFound {
			return errStatus(http.StatusNotFound, wire.CodeNotFound, "no document %q", id)
		}
		return errInternal("following the document failed: "+joined.failure().Msg, nil)
	}
	if from != nil && *from > joined.V {
		return errStatus(http.StatusConflict, wire.CodeBadRequest,
			"cannot resume from version %d: document %q is at version %d", *from, id, joined.V)
	}

	if from != nil && joined.joinState().Content != nil && *from < joined.V {
		// The replay comes from the store: a resume point whose history was
		// compacted away gets 410 (with the oldest version kept) now, while
		// an answer can still say so.
		if _, err := a.srv.store.ReadOps(ctx, id, *from, 1); err != nil {
			return storeErr(id, err)
		}
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	st := &sseWriter{rc: http.NewResponseController(w), bw: bufio.NewWriter(w), wait: a.srv.cfg.WriteWait, session: sess != nil}
	if err := st.flush(); err != nil {
		return nil
	}

	// Replay what the client missed, then go live: the joined event promises
	// that every op after joined.V arrives on the channel.
	if from != nil {
		if err := a.replay(ctx, st, id, *from, joined); err != nil {
			a.srv.log.Debug("event stream replay ended", "doc", id, "err", err)
			return nil
		}
	}
	if sess != nil {
		if st.joined(joined, from == nil, sess.peer.User) != nil || st.flush() != nil {
			return nil
		}
	} else if len(joined.Peers) > 0 {
		if st.presence(joined.V, joined.Peers, nil) != nil || st.flush() != nil {
			return nil
		}
	}

	tick := time.NewTicker(a.heartbeat)
	defer tick.Stop()
	expired := expiryTimer(p.Expires)
	defer expired.Stop()
	for {
		select {
		case ev := <-sub.ch:
			if err := st.event(ev); err != nil {
				return nil
			}
			// Write what is queued together, then flush once.
			for more := true; more; {
				select {
				case ev := <-sub.ch:
					if err := st.event(ev); err != nil {
						return nil
					}
				default:
					more = false
				}
			}
			if st.flush() != nil || st.ended {
				return nil
			}
		case <-sub.overflow:
			// Send what was queued before the overflow, then end: the client
			// resumes from its Last-Event-ID.
			for {
				select {
				case ev := <-sub.ch:
					if st.event(ev) != nil {
						return nil
					}
					continue
				default:
				}
				break
			}
			_ = st.flush()
			return nil
		case <-tick.C:
			if st.comment("ping") != nil || st.flush() != nil {
				return nil
			}
		case <-expired.C:
			// A token is checked when the stream starts and holds until its
			// exp: then the stream says so and ends. EventSource would
			// reconnect with the same (expired) token and get 401; the client
			// opens a new stream with a new token (docs/api.md, "Event streams").
			a.srv.metrics.tokens.WithLabelValues("expired").Inc()
			_ = st.write("unauthorized", "", map[string]any{"code": wire.CodeUnauthorized, "exp": p.Expires.Unix(),
				"msg": fmt.Sprintf("token expired at %s: open a new stream with a new token, resuming with ?from= or Last-Event-ID", p.Expires.UTC().Format(time.RFC3339))})
			_ = st.flush()
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// expiryTimer fires at exp; a zero exp (open mode) never fires.
func expiryTimer(exp time.Time) *time.Timer {
	if exp.IsZero() {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return t
	}
	return time.NewTimer(time.Until(exp))
}

// replay writes the ops [from, joined.V): from the joined event when the
// actor had them at hand, else from the store page by page.
func (a *restAPI) replay(ctx context.Context, st *sseWriter, id string, from int64, joined *Event) error {
	if joined.joinState().Content == nil {
		for _, r := range joined.joinState().Ops {
			if err := st.op(r); err != nil {
				return err
			}
		}
		return st.flush()
	}
	for cur := from; cur < joined.V; {
		n := min(joined.V-cur, MaxOpsLimit)
		ops, err := a.srv.store.ReadOps(ctx, id, cur, int(n))
		if err != nil {
			return fmt.Errorf("replay %q from %d: %w", id, cur, err)
		}
		if len(ops) == 0 || ops[0].Version != cur {
			return fmt.Errorf("replay %q from %d: the store returned no ops", id, cur)
		}
		for _, r := range ops {
			if r.Version >= joined.V {
				break
			}
			if err := st.op(r); err != nil {
				return err
			}
			cur = r.Version + 1
		}
		if err := st.flush(); err != nil {
			return err
		}
	}
	return nil
}

// sseWriter formats events onto one stream. Every flush has a write
// deadline, so a client that stops reading is dropped instead of holding the
// handler forever.
type sseWriter struct {
	rc    *http.ResponseController
	bw    *bufio.Writer
	wait  time.Duration
	ended bool // the document was deleted: nothing follows
	// session: a session stream (sse_session.go): op events carry the
	// author's selection and errors are written as error events.
	session bool
}

func (s *sseWriter) flush() error {
	// A writer without deadlines (some middlewares) still works, without the bound.
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.wait))
	if err := s.bw.Flush(); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseWriter) write(event, id string, data any) error {
	b, err := marshalJSON(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", event, err)
	}
	if id != "" {
		s.bw.WriteString("id: " + id + "\n")
	}
	s.bw.WriteString("event: " + event + "\ndata: ")
	s.bw.Write(b) // JSON from encoding/json has no raw newline
	_, err = s.bw.WriteString("\n\n")
	return err
}

func (s *sseWriter) comment(text string) error {
	_, err := s.bw.WriteString(": " + text + "\n\n")
	return err
}

func (s *sseWriter) op(r store.OpRecord) error {
	return s.write("op", strconv.FormatInt(r.Version, 10), viewOp(r))
}

// event writes one actor event; joined and ack events are not for streams
// (a stream sends nothing) and are skipped, and so are errors except on a
// session stream (about the presence its client posted).
func (s *sseWriter) event(ev *Event) error {
	switch ev.Kind {
	case EventOp:
		if s.session && ev.Sel != nil {
			return s.write("op", strconv.FormatInt(ev.Op.Version, 10), opSelView{opView: viewOp(*ev.Op), Sel: ev.Sel})
		}
		return s.op(*ev.Op)
	case EventError:
		if s.session {
			return s.write("error", "", errorView{Code: ev.failure().Code, Msg: ev.failure().Msg, Seq: ev.Seq})
		}
	case EventPresence:
		return s.presence(ev.V, ev.Peers, ev.Gone)
	case EventDeleted:
		s.ended = true
		return s.write("deleted", "", map[string]string{"id": ev.Doc})
	}
	return nil
}

// presenceView is the data of a presence event.
type presenceView struct {
	V     int64      `json:"v"`
	Peers []peerView `json:"peers"`
	Gone  []string   `json:"gone"`
}

type peerView struct {
	SID  string            `json:"sid"`
	User wire.User         `json:"user"`
	Sel  doctype.Selection `json:"sel"`
	Data any               `json:"data"`
}

func (s *sseWriter) presence(v int64, peers []wire.PeerInfo, gone []string) error {
	pv := presenceView{V: v, Peers: peerViews(peers), Gone: gone}
	if pv.Gone == nil {
		pv.Gone = []string{}
	}
	return s.write("presence", "", pv)
}

// peerViews is the JSON form of a peer list.
func peerViews(peers []wire.PeerInfo) []peerView {
	out := make([]peerView, len(peers))
	for i, p := range peers {
		out[i] = peerView{SID: p.SID, User: p.User,
			Sel: p.Sel, Data: dataJSON(p.Data)}
	}
	return out
}

// dataJSON turns a peer's MessagePack data map into a JSON-encodable value;
// nil when absent or not decodable (the server checked its size, not its
// content).
func dataJSON(raw msgpack.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := msgpack.Unmarshal(raw, &v); err != nil {
		return nil
	}
	if _, err := json.Marshal(v); err != nil {
		return nil
	}
	return v
}
