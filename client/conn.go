package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/wire"
)

// Subprotocol is the WebSocket subprotocol of the wire contract.
const Subprotocol = "tandem.v1"

// maxFrame bounds what the client reads in one frame: a joined answer carries
// a whole document (8 MiB by default) and the server may batch messages.
const maxFrame = 64 << 20

// Backoff shapes the delay between reconnection attempts: Initial, then
// multiplied by Multiplier after every failure up to Max, each delay spread by
// +/- Jitter (a fraction) so that many clients cut off together do not come
// back together.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	if b.Multiplier < 1 {
		b.Multiplier = 2
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		b.Jitter = 0.5
	} else if b.Jitter == 0 {
		b.Jitter = 0.5
	}
	return b
}

// delay is the wait before attempt n (0-based).
func (b Backoff) delay(n int) time.Duration {
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(n))
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	d *= 1 + b.Jitter*(2*mrand.Float64()-1)
	return time.Duration(d)
}

// Options configures Dial.
type Options struct {
	// URL is the WebSocket endpoint, e.g. ws://localhost:8080/v1/ws.
	URL string
	// FallbackURLs are further endpoints of the same deployment (other
	// nodes). A reconnection whose dial fails moves on to the next one, in
	// turn, so a client of a node that died goes on through another.
	FallbackURLs []string
	// Token is sent as "Authorization: Bearer"; empty in open mode. Renew it
	// before it expires with Conn.Auth.
	Token string
	// SID identifies this client across reconnects (16-64 of [A-Za-z0-9_-]);
	// a random one is made up when empty.
	SID string
	// User is the display identity proposed in hello.
	User User
	// Header is added to the upgrade request.
	Header http.Header
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Backoff shapes reconnection delays; zero fields take defaults.
	Backoff Backoff
	// Dialer dials the WebSocket; nil uses a default dialer. Tests use its
	// NetDialContext to get hold of the raw connection.
	Dialer *websocket.Dialer
	// PingInterval is how often the client pings the server (default 15s).
	PingInterval time.Duration
	// ReadTimeout is how long a silent connection is trusted before it is
	// treated as dead and replaced (default 45s). Pings, pongs and messages
	// all count as activity.
	ReadTimeout time.Duration
	// WriteTimeout bounds one frame write (default 10s).
	WriteTimeout time.Duration
}

// Conn is a client connection to a Tandem server. It reconnects on its own
// after a failure and re-joins every open document; it is safe for concurrent
// use.
type Conn struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	authMu sync.Mutex // held by Auth for its whole exchange (auth.go); taken before mu

	mu        sync.Mutex
	urlIdx    int               // guarded by mu: which of URL, FallbackURLs... the next dial uses
	token     string            // guarded by mu: the token of the next dial (Options.Token, then what Auth renewed)
	authReply chan wire.Message // guarded by mu: where the answer to a pending Auth goes
	sess      *session
	docs      map[string]openDoc
	lastSeq   map[string]int64
	user      User
	sessions  int
	err       error
	closed    bool
}

// session is one WebSocket connection; a Conn has at most one at a time.
type session struct {
	ws   *websocket.Conn
	wto  time.Duration
	mu   sync.Mutex
	q    [][]byte
	wake chan struct{}
	done chan struct{}
	once sync.Once
	err  error
}

func (s *session) enqueue(frame []byte) {
	s.mu.Lock()
	s.q = append(s.q, frame)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// close ends the session once; the socket is closed so the reader wakes up.
func (s *session) close(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		s.q = nil
		s.mu.Unlock()
		close(s.done)
		_ = s.ws.Close()
	})
}

// sendOn queues m, a message about document doc, on sess (a document's
// current session). Nothing is sent when sess is nil or over: the next
// session re-joins and resends what is pending.
func (c *Conn) sendOn(sess *session, doc string, m wire.Message) {
	if sess == nil || sess.isDone() {
		return
	}
	frame, err := wire.EncodeClient(m)
	if err != nil {
		c.log.Error("tandem: cannot encode client message", "doc", doc, "type", m.Type(), "err", err)
		return
	}
	sess.enqueue(frame)
}

func (s *session) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// writer owns all data writes on the socket.
func (s *session) writer() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			q := s.q
			s.q = nil
			s.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, f := range q {
				_ = s.ws.SetWriteDeadline(time.Now().Add(s.wto))
				if err := s.ws.WriteMessage(websocket.BinaryMessage, f); err != nil {
					s.close(fmt.Errorf("client: write: %w", err))
					return
				}
			}
		}
	}
}

// Dial connects to the server and says hello. It fails if that first
// connection fails; afterwards the Conn reconnects by itself until Close.
func Dial(ctx context.Context, opts Options) (*Conn, error) {
	if opts.URL == "" {
		return nil, errors.New("client: Options.URL is empty")
	}
	if opts.SID == "" {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		opts.SID = base64.RawURLEncoding.EncodeToString(b)
	}
	if !wire.ValidSID(opts.SID) {
		return nil, fmt.Errorf("client: sid %q: want 16-64 of [A-Za-z0-9_-]", opts.SID)
	}
	opts.Backoff = opts.Backoff.withDefaults()
	if opts.PingInterval <= 0 {
		opts.PingInterval = 15 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 45 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conn{opts: opts, log: log.With("sid", opts.SID), docs: map[string]openDoc{}, lastSeq: map[string]int64{}, token: opts.Token}
	sess, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.start(sess)
	c.wg.Add(1)
	go c.run(sess)
	return c, nil
}

// SID is the client's session id.
func (c *Conn) SID() string { return c.opts.SID }

// User is the identity the server stated in its last welcome.
func (c *Conn) User() User {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

// Connected reports whether a session is up right now.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil && !c.sess.isDone()
}

// Sessions counts the sessions established so far (1 after Dial); it grows
// with every reconnection.
func (c *Conn) Sessions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions
}

// Err is the fatal error that stopped reconnection (for example an
// unauthorized token), or nil.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// connect dials one socket and completes hello/welcome.
func (c *Conn) connect(ctx context.Context) (*session, error) {
	d := c.opts.Dialer
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	}
	dd := *d
	dd.Subprotocols = []string{Subprotocol}
	h := http.Header{}
	for k, v := range c.opts.Header {
		h[k] = v
	}
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ws, resp, err := dd.DialContext(ctx, c.endpoint(), h)
	if err != nil {
		if resp != nil {
			return nil, &DialError{Status: resp.StatusCode, Err: err}
		}
		return nil, &DialError{Err: err}
	}
	ws.SetReadLimit(maxFrame)
	fail := func(err error) (*session, error) {
		_ = ws.Close()
		return nil, err
	}
	hello := &wire.Hello{Proto: wire.ProtoVersion, SID: c.opts.SID}
	if c.opts.User.Name != "" || c.opts.User.Color != "" {
		hello.User = &wire.UserInfo{Name: c.opts.User.Name, Color: c.opts.User.Color}
	}
	frame, err := wire.EncodeClient(hello)
	if err != nil {
		return fail(fmt.Errorf("client: encode hello: %w", err))
	}
	deadline := time.Now().Add(10 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = ws.SetWriteDeadline(deadline)
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		return fail(&DialError{Err: fmt.Errorf("send hello: %w", err)})
	}
	_ = ws.SetReadDeadline(deadline)
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return fail(&DialError{Err: fmt.Errorf("wait for welcome: %w", err)})
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		msgs, err := wire.DecodeServer(data)
		if err != nil {
			return fail(&DialError{Err: fmt.Errorf("decode welcome: %w", err)})
		}
		for _, m := range msgs {
			switch m := m.(type) {
			case *wire.Welcome:
				c.mu.Lock()
				c.user = User{ID: m.User.ID, Name: m.User.Name, Color: m.User.Color}
				c.mu.Unlock()
				_ = ws.SetReadDeadline(time.Time{})
				return &session{ws: ws, wto: c.opts.WriteTimeout, wake: make(chan struct{}, 1), done: make(chan struct{})}, nil
			case *wire.Error:
				return fail(&ServerError{Code: m.Code, Msg: m.Msg})
			}
		}
	}
}

// DialError is a failure to establish a session. Status is the HTTP status of
// a refused upgrade, 0 when there was no HTTP answer.
type DialError struct {
	Status int
	Err    error
}

// Error renders the status and cause.
func (e *DialError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("client: dial: HTTP %d: %v", e.Status, e.Err)
	}
	return fmt.Sprintf("client: dial: %v", e.Err)
}

// Unwrap exposes the cause.
func (e *DialError) Unwrap() error { return e.Err }

// fatal reports errors that retrying will not fix.
func fatal(err error) bool {
	var de *DialError
	if errors.As(err, &de) && (de.Status == http.StatusUnauthorized || de.Status == http.StatusForbidden || de.Status == http.StatusNotFound || de.Status == http.StatusBadRequest) {
		return true
	}
	return IsCode(err, wire.CodeUnauthorized) || IsCode(err, wire.CodeForbidden)
}

// start makes sess the current session: it starts its writer and pinger and
// re-joins every open document, all under c.mu so that a concurrent Open
// joins exactly once.
func (c *Conn) start(sess *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = sess
	c.sessions++
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		sess.writer()
	}()
	go func() {
		defer c.wg.Done()
		c.pinger(sess)
	}()
	for _, d := range c.docs {
		d.attach(sess)
	}
}

// pinger keeps the connection observably alive in both directions.
func (c *Conn) pinger(sess *session) {
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-sess.done:
			return
		case <-t.C:
			if err := sess.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout)); err != nil {
				sess.close(fmt.Errorf("client: ping: %w", err))
				return
			}
		}
	}
}

// run owns the reconnect loop: it reads the current session until it fails,
// then dials again with back-off, until Close or a fatal error.
func (c *Conn) run(sess *session) {
	defer c.wg.Done()
	for {
		err := c.read(sess)
		sess.close(err)
		c.mu.Lock()
		c.sess = nil
		for _, d := range c.docs {
			d.detach()
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return
		}
		c.log.Info("tandem connection lost; reconnecting", "err", err)
		sess = nil
		for attempt := 0; sess == nil; attempt++ {
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(c.opts.Backoff.delay(attempt)):
			}
			ctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
			s, err := c.connect(ctx)
			cancel()
			if err != nil {
				if c.ctx.Err() != nil {
					return
				}
				if fatal(err) {
					c.log.Error("tandem reconnection refused; giving up", "err", err)
					c.fail(err)
					return
				}
				c.log.Info("tandem reconnection failed", "attempt", attempt+1, "url", c.endpoint(), "err", err)
				c.nextEndpoint()
				continue
			}
			sess = s
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			sess.close(ErrClosed)
			return
		}
		c.mu.Unlock()
		c.start(sess)
	}
}

// fail stops the Conn for good after a fatal error.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	c.err = err
	docs := make([]openDoc, 0, len(c.docs))
	for _, d := range c.docs {
		docs = append(docs, d)
	}
	c.mu.Unlock()
	for _, d := range docs {
		d.kill(err)
	}
}

// maxKeptReadBuffer is the largest read buffer kept from one frame to the next.
const maxKeptReadBuffer = 1 << 20

// read handles incoming frames until the session fails.
func (c *Conn) read(sess *session) error {
	ws := sess.ws
	extend := func() { _ = ws.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout)) }
	extend()
	ws.SetPingHandler(func(data string) error {
		extend()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.opts.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	ws.SetPongHandler(func(string) error { extend(); return nil })
	// One buffer for every frame (decoded messages never alias it) and one
	// decoder whose table of texts spans the session.
	var buf bytes.Buffer
	dec := wire.NewServerDecoder()
	for {
		typ, r, err := ws.NextReader()
		if err == nil {
			if buf.Cap() > maxKeptReadBuffer {
				buf = bytes.Buffer{} // do not hold on to the memory of one huge frame
			}
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			return fmt.Errorf("client: read: %w", err)
		}
		extend()
		if typ != websocket.BinaryMessage {
			continue
		}
		msgs, err := dec.Decode(buf.Bytes())
		if err != nil {
			// A frame we cannot decode may hide an op: resynchronise.
			return fmt.Errorf("client: decode server frame: %w", err)
		}
		for _, m := range msgs {
			c.dispatch(m)
		}
	}
}

// openDoc is a document open on a Conn: a text Doc or a TreeDoc. attach and
// detach are called with c.mu held.
type openDoc interface {
	attach(sess *session)
	detach()
	kill(err error)
	// handle takes a server message about the document, on the reader.
	handle(m wire.Message)
	// lastSeqOf is the document's id and the last seq it used, which a later
	// Open of the same document continues after.
	lastSeqOf() (id string, seq int64)
	setMode(mode string)
}

func (c *Conn) doc(id string) openDoc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.docs[id]
}

func (c *Conn) dispatch(m wire.Message) {
	var doc string
	switch m := m.(type) {
	case *wire.Joined:
		doc = m.Doc
	case *wire.Ack:
		doc = m.Doc
	case *wire.OpBroadcast:
		doc = m.Doc
	case *wire.PresenceMsg:
		doc = m.Doc
	case *wire.Authed:
		c.authAnswer(m)
		return
	case *wire.Error:
		if m.Doc == "" && m.Code == wire.CodeUnauthorized && strings.HasPrefix(m.Msg, wire.RenewalRefused) && c.authAnswer(m) {
			return // a refused renewal: the session goes on
		}
		if m.Doc == "" {
			c.log.Warn("tandem server error", "code", m.Code, "msg", m.Msg)
			if m.Code == wire.CodeUnauthorized {
				c.fail(&ServerError{Code: m.Code, Msg: m.Msg})
			}
			return
		}
		doc = m.Doc
	default:
		return
	}
	if d := c.doc(doc); d != nil {
		d.handle(m)
	}
}

// register adds d unless the Conn is closed or failed or the document is
// already open, after init has set it up with the last seq this connection
// used on the document; it then attaches d to the current session.
func (c *Conn) register(docID string, d openDoc, init func(lastSeq int64)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.err != nil {
		return c.err
	}
	if _, ok := c.docs[docID]; ok {
		return fmt.Errorf("client: document %q is already open on this connection", docID)
	}
	init(c.lastSeq[docID])
	c.docs[docID] = d
	if c.sess != nil && !c.sess.isDone() {
		d.attach(c.sess)
	}
	return nil
}

// Open joins a document and waits for its state. The returned Doc follows the
// document until Close, across reconnections.
func (c *Conn) Open(ctx context.Context, docID string, opts ...DocOption) (*Doc, error) {
	if !wire.ValidDocID(docID) {
		return nil, fmt.Errorf("client: document id %q: want 1-128 of [A-Za-z0-9_-]", docID)
	}
	d := &Doc{c: c, id: docID, joined: make(chan struct{}), watch: newWatch()}
	for _, o := range opts {
		o(&d.opts)
	}
	if err := c.register(docID, d, func(lastSeq int64) { d.st = newDocState(docID, c.opts.SID, lastSeq, d.send) }); err != nil {
		return nil, err
	}
	select {
	case <-d.joined:
		d.mu.Lock()
		err := d.st.dead
		d.mu.Unlock()
		if err != nil {
			c.forget(d)
			return nil, err
		}
		return d, nil
	case <-ctx.Done():
		c.forget(d)
		return nil, fmt.Errorf("client: open %q: %w", docID, ctx.Err())
	}
}

// forget unregisters d, keeping its last seq so that a later Open of the same
// document continues the sequence.
func (c *Conn) forget(d openDoc) {
	id, seq := d.lastSeqOf()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs[id] == d {
		delete(c.docs, id)
	}
	if seq > c.lastSeq[id] {
		c.lastSeq[id] = seq
	}
}

// Close ends the connection and every open document. Unacknowledged edits
// are abandoned: call Doc.WaitSynced first to keep them.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	sess := c.sess
	docs := make([]openDoc, 0, len(c.docs))
	for _, d := range c.docs {
		docs = append(docs, d)
	}
	c.mu.Unlock()
	c.cancel()
	if sess != nil {
		_ = sess.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		sess.close(ErrClosed)
	}
	c.wg.Wait()
	for _, d := range docs {
		d.kill(ErrClosed)
	}
	return nil
}
