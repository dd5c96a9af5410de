package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/doctype"
	// The default document type, always linked.
	_ "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// Subprotocol is the WebSocket subprotocol a client must offer.
const Subprotocol = "tandem.v1"

// connKey is the melody session key holding the *conn.
const connKey = "tandem.conn"

// wsReadBuffer is the size of a connection's read buffer (see newMelody).
// (gorilla/websocket raises anything below 125 bytes, a control frame's
// largest payload, to that.)
const wsReadBuffer = 512

// Server is one Tandem node: it owns the document actors, the WebSocket
// sessions and the metrics registry. Create it with New, serve Handler, and
// call Shutdown before closing the store.
type Server struct {
	cfg     Config
	store   store.Store
	log     *slog.Logger
	auth    Authenticator
	metrics *metrics
	limits  wire.Limits
	hub     *hub
	mel     *melody.Melody
	mux     *http.ServeMux
	bus     *serverBus   // the other nodes (actor_bus.go)
	rest    *restAPI     // REST routes and event streams (rest.go, sse.go)
	handler http.Handler // mux behind CORS (cors.go)

	// inlineAppends: the store's appends never wait on I/O (inlineAppender),
	// so an actor calls them on its own goroutine (actor_commit.go launch).
	inlineAppends bool
	// appends makes the other stores' appends for every actor
	// (appendpool.go).
	appends *appendPool

	restLimit *restLimiter  // nil without a REST rate limit (ratelimit.go)
	budget    *outboxBudget // all outboxes together (outbox.go)
	pacer     *pacer        // re-checks the paced connections (pacing.go)

	// baseCtx bounds every store call and every wait of a session; it is
	// cancelled when Shutdown gives up waiting.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	connMu   sync.Mutex
	conns    map[*conn]struct{} // guarded by connMu
	stopping bool               // guarded by connMu
	connWG   sync.WaitGroup     // one per WebSocket handler call
}

// inlineAppender is a store that can say its AppendOps never waits on I/O:
// it returns in microseconds, holding at most a short lock, whatever the
// load. An actor then makes the append on its own goroutine and takes its
// outcome at once (actor_commit.go launch) instead of handing it to the
// append pool: the pipeline that serves presence while Postgres commits has
// nothing to overlap with such a store, and its two hand-offs per append
// cost more than the append. A store that may wait (on a disk, a network,
// a pool) must not implement it, or report false.
type inlineAppender interface {
	AppendsInline() bool
}

var _ inlineAppender = (*store.MemStore)(nil)

// New builds a server on st, which the caller opened and closes after Shutdown.
func New(cfg Config, st store.Store, logger *slog.Logger) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrConfig)
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg,
		store:   st,
		log:     logger,
		auth:    cfg.Authenticator,
		metrics: newMetrics(),
		limits:  wire.Limits{MaxOpBytes: cfg.MaxOpBytes, MaxDataBytes: cfg.MaxDataBytes},
		conns:   make(map[*conn]struct{}),

		restLimit: newRESTLimiter(cfg.RESTRate, cfg.RESTBurst, cfg.TrustedProxies),
	}
	if s.auth == nil {
		s.auth = auth.OpenAuth{}
	}
	if ia, ok := st.(inlineAppender); ok {
		s.inlineAppends = ia.AppendsInline()
	}
	s.appends = newAppendPool(st, cfg.AppendWorkers)
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.budget = newOutboxBudget(s, cfg.OutboxBudget)
	s.metrics.watchBudget(s.budget)
	s.pacer = newPacer(s)
	s.bus = newServerBus(s)
	s.hub = newHub(s)
	s.mel = s.newMelody()
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /v1/ws", s.serveWS)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	s.rest = newREST(s)
	s.handler = restCORS(cfg.AllowedOrigins, s.mux)
	return s, nil
}

// Handler serves every route: /v1/ws, the REST API and event streams under
// /v1/docs, /healthz, /readyz, /metrics (and the demo page when built in).
func (s *Server) Handler() http.Handler { return s.handler }

// Mux is the router, for the binary to mount what is not the API on it (the
// demo page, the landing page and the docs); the API's own routes are
// registered by New.
func (s *Server) Mux() *http.ServeMux { return s.mux }

func (s *Server) newMelody() *melody.Melody {
	m := melody.New()
	m.Config.MaxMessageSize = s.cfg.MaxFrameBytes
	m.Config.MessageBufferSize = melodyBuffer
	m.Config.PingPeriod = s.cfg.PingPeriod
	m.Config.PongWait = s.cfg.PongWait
	m.Config.WriteWait = s.cfg.WriteWait
	m.Upgrader.Subprotocols = []string{Subprotocol}
	m.Upgrader.CheckOrigin = s.checkOrigin
	// An idle connection holds a 512-byte read buffer of its own and no write
	// buffer: writes borrow one from the pool. net/http's 4 KiB reader and
	// writer, which gorilla would otherwise keep using, are freed once the
	// handler has returned (serveWS). Client frames are small; a bigger one
	// is read past the buffer straight into the message.
	m.Upgrader.ReadBufferSize = wsReadBuffer
	m.Upgrader.WriteBufferPool = &sync.Pool{}
	connOf := func(ms *melody.Session) *conn {
		v, _ := ms.Get(connKey)
		c, _ := v.(*conn)
		return c
	}
	m.HandleConnect(func(ms *melody.Session) {
		c := connOf(ms)
		s.boundSendBuffer(ms)
		c.attach(ms)
		s.metrics.connections.Inc()
		c.onOpen()
	})
	m.HandleDisconnect(func(ms *melody.Session) {
		s.metrics.connections.Dec()
		connOf(ms).onClose()
	})
	m.HandleMessage(func(ms *melody.Session, _ []byte) { connOf(ms).onText() })
	m.HandleMessageBinary(func(ms *melody.Session, b []byte) { connOf(ms).onBinary(b) })
	m.HandleSentMessageBinary(func(ms *melody.Session, b []byte) { connOf(ms).onSent(b) })
	m.HandleError(func(ms *melody.Session, err error) {
		if errors.Is(err, melody.ErrMessageBufferFull) {
			// Cannot happen while inflight stays below the buffer; if it does,
			// a frame was lost, so the connection must not stay open.
			s.metrics.slowCloses.Inc()
			s.log.Error("melody buffer full; dropping the connection", "remote", ms.RemoteAddr())
			_ = ms.WebsocketConnection().Close()
			return
		}
		s.log.Debug("websocket error", "remote", ms.RemoteAddr(), "err", err)
	})
	return m
}

// DefaultSocketSendBuffer is the default Config.SocketSendBuffer. Linux
// doubles what is asked for its bookkeeping, so a socket whose client stops
// reading takes about twice this, plus the client's receive window, before a
// write blocks and the connection's frames start waiting in its outbox, where
// the outbox bounds and budget see them. At 64 KiB over a 100 ms round trip a
// connection still moves over a megabyte a second (a 1 MiB document's join
// in under a second); on a LAN or loopback the buffer is never what limits it
// (docs/benchmarks.md, issue 18).
const DefaultSocketSendBuffer = 64 << 10

// boundSendBuffer bounds what the kernel takes for a WebSocket's connection
// before a write blocks: its send buffer (Config.SocketSendBuffer) and the
// unsent bytes it queues (Config.SocketNotSentLowat), set before anything is
// written to it. It reaches the TCP connection through TLS and any wrapper
// that has NetConn. Failing only costs the bound, so it is logged and the
// connection goes on.
func (s *Server) boundSendBuffer(ms *melody.Session) {
	if s.cfg.SocketSendBuffer <= 0 && s.cfg.SocketNotSentLowat <= 0 {
		return
	}
	tc := tcpConnOf(ms.WebsocketConnection().NetConn())
	if tc == nil {
		return
	}
	if n := s.cfg.SocketSendBuffer; n > 0 {
		if err := tc.SetWriteBuffer(n); err != nil {
			s.log.Debug("setting a WebSocket's send buffer failed", "remote", ms.RemoteAddr(), "bytes", n, "err", err)
		}
	}
	if n := s.cfg.SocketNotSentLowat; n > 0 {
		if err := setNotSentLowat(tc, n); err != nil {
			s.log.Debug("setting a WebSocket's TCP_NOTSENT_LOWAT failed", "remote", ms.RemoteAddr(), "bytes", n, "err", err)
		}
	}
}

// tcpConnOf is the TCP connection under nc (through TLS and other wrappers
// that have NetConn), or nil.
func tcpConnOf(nc net.Conn) *net.TCPConn {
	for range 8 { // a few layers of wrapping at most
		if tc, ok := nc.(*net.TCPConn); ok {
			return tc
		}
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = w.NetConn()
	}
	return nil
}

// checkOrigin accepts requests without an Origin (non-browser clients), any
// origin with "*", the listed origins, and by default the request's own host.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		return sameHost(r, origin)
	}
	return originListed(s.cfg.AllowedOrigins, origin)
}

func offersSubprotocol(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == Subprotocol {
			return true
		}
	}
	return false
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this endpoint speaks WebSocket (subprotocol "+Subprotocol+")", http.StatusBadRequest)
		return
	}
	if !offersSubprotocol(r) {
		http.Error(w, "the WebSocket subprotocol "+Subprotocol+" is required", http.StatusBadRequest)
		return
	}
	p, authErr := s.auth.Authenticate(r)
	c := newConn(s, p, authErr)
	s.connMu.Lock()
	if s.stopping {
		s.connMu.Unlock()
		c.cancel()
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.connMu.Unlock()
	// The connection runs on a goroutine of its own, owned by the Server
	// (connWG, Shutdown), and this handler returns as soon as the socket is
	// hijacked. melody would otherwise run its read loop here, keeping net/http's
	// connection, response and request context, and this goroutine's deep
	// stack (it served the HTTP request), alive for the life of the socket:
	// about a third of an idle connection's memory (docs/benchmarks.md, conns).
	// Until the hijack, the handler waits, so w is only ever used while it runs.
	hw := &hijackSignal{ResponseWriter: w, hijacked: make(chan struct{})}
	done := make(chan struct{})
	go s.runConn(c, hw, upgradeRequest(r), done)
	select {
	case <-hw.hijacked:
	case <-done: // the upgrade failed and answered through w
	}
}

// runConn is a connection's goroutine (see serveWS): melody's read loop for
// its whole life. Its frame is kept small: an idle connection parks here, and
// its stack can only shrink to twice what it uses.
func (s *Server) runConn(c *conn, w http.ResponseWriter, r *http.Request, done chan struct{}) {
	defer s.connEnded(c, r.RemoteAddr, done)
	if err := s.mel.HandleRequestWithKeys(w, r, map[string]any{connKey: c}); err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
	}
}

// connEnded forgets a connection whose goroutine is ending. As net/http does
// for a handler, a panic there ends that connection only.
func (s *Server) connEnded(c *conn, remote string, done chan struct{}) {
	if v := recover(); v != nil {
		s.log.Error("panic in a websocket connection", "remote", remote, "panic", v, "stack", string(debug.Stack()))
	}
	s.connMu.Lock()
	delete(s.conns, c)
	s.connMu.Unlock()
	c.cancel()
	s.connWG.Done()
	close(done)
}

// upgradeRequest is the part of r that the upgrade reads, and all that melody
// keeps for the life of the session: r itself, with every header and a
// context that ends with the handler, would stay referenced by it.
func upgradeRequest(r *http.Request) *http.Request {
	h := make(http.Header, len(upgradeHeaders))
	for _, k := range upgradeHeaders {
		if v, ok := r.Header[k]; ok {
			h[k] = v
		}
	}
	return &http.Request{Method: r.Method, URL: r.URL, Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		Header: h, Host: r.Host, RemoteAddr: r.RemoteAddr, RequestURI: r.RequestURI}
}

// upgradeHeaders are the request headers gorilla/websocket's Upgrade and
// checkOrigin read (canonical form).
var upgradeHeaders = []string{"Connection", "Upgrade", "Sec-Websocket-Version", "Sec-Websocket-Key",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Origin"}

// hijackSignal is the ResponseWriter melody upgrades through: it closes
// hijacked once the connection has been taken over, after which net/http no
// longer owns it and the handler may return.
type hijackSignal struct {
	http.ResponseWriter
	hijacked chan struct{}
}

// Hijack implements http.Hijacker.
func (h *hijackSignal) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		close(h.hijacked)
	}
	return conn, brw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (h *hijackSignal) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	s.connMu.Lock()
	stopping := s.stopping
	s.connMu.Unlock()
	if stopping {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		http.Error(w, "store unreachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// Shutdown drains the server: new connections get 503, every document actor
// commits and answers what it has accepted, then every socket is closed with
// 1001 after the frames queued for it. It returns when all connections are
// gone, or with ctx's error after dropping the rest. The caller then closes the
// store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.connMu.Lock()
	s.stopping = true
	s.connMu.Unlock()

	hubErr := s.hub.shutdown(ctx)
	s.appends.close()
	if hubErr == nil {
		// Every actor has exited, so no append is in flight or queued.
		hubErr = s.appends.waitClosed(ctx)
	}
	s.bus.close()

	s.connMu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connMu.Unlock()
	for _, c := range conns {
		c.closeWith(melody.CloseGoingAway, "server shutting down")
	}
	err := waitGroup(ctx, &s.connWG, "connections to close")
	if err != nil {
		for _, c := range conns {
			if ms := c.session(); ms != nil {
				_ = ms.WebsocketConnection().Close()
			}
		}
	}
	s.cancelBase()
	_ = s.mel.Close()
	s.budget.close()
	s.pacer.close()
	return errors.Join(hubErr, err)
}

// SubmitOp commits op, made against version v, exactly as a WebSocket op. The
// op is of the document's type, decoded (and so validated) by it; it is
// checked against the document at v (as given: pass the op as its author sent
// it, trailing retain included), deduplicated by (sid, seq) when seq is
// positive, transformed (ties by sid), stored and broadcast. An op without a
// sid is given one made up by the server (NewServerSID), which the log and the
// broadcasts carry; with seq 0 it is not deduplicated. It returns the version
// the op was committed as (for a duplicate, the original one). Failures the
// protocol names are *wire.Error (errors.As gives its Code). If ctx ends first the op
// may still be committed.
func (s *Server) SubmitOp(ctx context.Context, docID string, v int64, op doctype.Op, sid string, seq int64, userID string) (int64, error) {
	return s.submitOpSel(ctx, docID, v, op, sid, seq, userID, nil)
}

// submitOpSel is SubmitOp with the author's selection after the op (nil:
// none), which the op's broadcast carries and the author's peer takes.
func (s *Server) submitOpSel(ctx context.Context, docID string, v int64, op doctype.Op, sid string, seq int64, userID string, sel doctype.Selection) (int64, error) {
	if !wire.ValidDocID(docID) {
		return 0, &wire.Error{Code: wire.CodeBadRequest, Msg: "invalid document id", Doc: docID}
	}
	if op == nil {
		return 0, &wire.Error{Code: wire.CodeBadRequest, Msg: "no op", Doc: docID, Seq: seq}
	}
	// A type's decoders validate what they return; an op built in Go may
	// not have been through one.
	if v, ok := op.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return 0, &wire.Error{Code: codeForOpErr(err), Msg: err.Error(), Doc: docID, Seq: seq, Err: err}
		}
	}
	if seq < 0 || sid == "" && seq != 0 {
		return 0, &wire.Error{Code: wire.CodeBadRequest, Msg: "seq must be positive, and only with a sid", Doc: docID}
	}
	if sid == "" {
		sid = NewServerSID()
	}
	reply := make(chan opResult, 1)
	m := &opMsg{reply: reply, v: v, seq: seq, sid: sid, userID: userID, op: op, sel: sel}
	a, err := s.hub.send(ctx, docID, m)
	if err != nil {
		return 0, err
	}
	select {
	case r := <-reply:
		return r.v, r.err
	case <-a.done:
		select {
		case r := <-reply:
			return r.v, r.err
		default:
		}
		return 0, fmt.Errorf("document %q: %w", docID, ErrShuttingDown)
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting for op commit on %q: %w", docID, ctx.Err())
	}
}

// SubscribeOptions says where a subscription starts.
type SubscribeOptions struct {
	// From, when set, is the version the subscriber already holds: the joined
	// event then carries the ops since it when the server has them at hand.
	From *int64
	// Mode is reported back in the joined event.
	Mode auth.Mode
	// Peer, when set, makes the subscriber a presence peer under Peer.SID
	// (a session stream, docs/protocol.md section 17): its peers see it until
	// it unsubscribes, and it may send presence.
	Peer *wire.PeerInfo
}

// Subscribe attaches a non-WebSocket subscriber (an SSE stream) to docID. Its
// first event is EventJoined (or EventError with JoinFailed); afterwards it
// gets every committed op as EventOp, presence as EventPresence and, on
// deletion, EventDeleted. It is not a presence peer.
func (s *Server) Subscribe(ctx context.Context, docID string, sub Subscriber, opts SubscribeOptions) error {
	if opts.Mode == auth.ModeNone {
		opts.Mode = auth.ModeRead
	}
	_, err := s.hub.send(ctx, docID, &joinMsg{sub: sub, v: opts.From, mode: opts.Mode, peer: opts.Peer})
	return err
}

// Unsubscribe detaches sub from docID; it gets no event after the actor has
// processed this.
func (s *Server) Unsubscribe(ctx context.Context, docID string, sub Subscriber) error {
	_, err := s.hub.sendLoaded(ctx, docID, &leaveMsg{sub: sub})
	return err
}

// DeleteDoc deletes the document from the store, then tells its actor (if
// loaded): joined clients get error deleted and are detached.
func (s *Server) DeleteDoc(ctx context.Context, docID string) error {
	if err := s.store.DeleteDoc(ctx, docID); err != nil {
		return fmt.Errorf("delete document %q: %w", docID, err)
	}
	return s.NotifyDeleted(ctx, docID)
}

// NotifyDeleted tells docID's actor, if loaded, that the document is gone from
// the store (deleted here or by another node), and tells the other nodes over
// the bus, so that their joined clients get error deleted too.
func (s *Server) NotifyDeleted(ctx context.Context, docID string) error {
	s.publishDeleted(docID)
	if _, err := s.hub.sendLoaded(ctx, docID, &deleteMsg{}); err != nil {
		return fmt.Errorf("notify deletion of %q: %w", docID, err)
	}
	return nil
}
