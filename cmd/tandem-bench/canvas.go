package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// runCanvas is the Figma-style load on one tree document: every client
// creates one object, then drags it, sending a `set` of x and y at R Hz
// (open loop, pipelined: an op is sent on schedule whether or not the
// previous one was acknowledged, as a canvas sends drag positions).
//
// The Go client has no tree document yet, so the scenario speaks the wire
// protocol itself (hello, join, op, ack, op broadcasts; docs/protocol.md
// sections 2 and 13). Remote apply is measured from the moment an op is
// written on one client until its broadcast is read and decoded on each other
// client (the op's (sid, seq) identifies it; the send times are in this
// process), not including applying it to a local tree.
func runCanvas(ctx context.Context, cfg config) (*result, error) {
	if cfg.Rate <= 0 {
		return nil, errors.New("-rate must be > 0")
	}
	if err := ensureTreeDoc(ctx, cfg); err != nil {
		return nil, err
	}
	sent := &sendTimes{at: map[opKey]time.Time{}}
	clients := make([]*canvasClient, 0, cfg.Clients)
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	runID := fmt.Sprintf("%x", time.Now().UnixNano())
	for i := range cfg.Clients {
		c, err := dialCanvas(ctx, cfg.nodeURL(i), cfg, fmt.Sprintf("canvas-%s-%03d", runID, i), sent)
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		clients = append(clients, c)
	}
	// Each client creates its object (not part of the measured window).
	for i, c := range clients {
		key := fmt.Sprintf("a%04d", i)
		if err := c.submit([]any{[]any{"new", c.obj, "", key, map[string]any{"x": 0, "y": 0, "w": 100, "h": 60, "fill": "#3f51b5"}}}); err != nil {
			return nil, err
		}
	}
	for _, c := range clients {
		if err := c.waitAcked(ctx, 30*time.Second); err != nil {
			return nil, fmt.Errorf("creating objects: %w", err)
		}
	}

	var bigIDs []string
	var cold latencies
	if cfg.JoinObjects > 0 {
		var err error
		if bigIDs, cold, err = coldTreeJoins(ctx, cfg); err != nil {
			return nil, err
		}
	}

	var wg sync.WaitGroup
	var lagMax atomic.Int64
	var warm latencies
	var warmErr error
	watch, self := watchServer(cfg.ServerPID), watchServer(os.Getpid())
	start := time.Now()
	end := start.Add(cfg.Duration)
	for _, c := range clients {
		c.mu.Lock()
		c.end, c.measuring = end, true
		c.mu.Unlock()
	}
	for i, c := range clients {
		r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			x, y := r.Float64()*2000, r.Float64()*2000
			schedule(ctx, start, end, cfg.Rate, r.Float64(), &lagMax, func() {
				x += r.Float64()*8 - 4
				y += r.Float64()*8 - 4
				op := []any{[]any{"set", c.obj, "x", x}, []any{"set", c.obj, "y", y}}
				if err := c.submit(op); err != nil {
					c.errs.Add(1)
					cfg.Log.Warn("submit failed", "client", i, "err", err)
				}
			})
		}()
	}
	if len(bigIDs) > 0 && cfg.Joins > 0 {
		// Joins of the loaded big document, spread over the load window.
		wg.Add(1)
		go func() {
			defer wg.Done()
			gap := cfg.Duration / time.Duration(cfg.Joins+1)
			for range cfg.Joins {
				select {
				case <-ctx.Done():
					return
				case <-time.After(gap):
				}
				d, err := joinTree(ctx, cfg, bigIDs[0], cfg.JoinObjects)
				if err != nil {
					warmErr = err
					return
				}
				warm = append(warm, d)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if warmErr != nil {
		return nil, fmt.Errorf("join of the loaded %d-object document: %w", cfg.JoinObjects, warmErr)
	}
	// Let what is in flight land: every op sent must be acknowledged.
	for _, c := range clients {
		if err := c.waitAcked(ctx, 30*time.Second); err != nil {
			cfg.Log.Warn("waiting for the last acks", "err", err)
		}
	}
	usage, err := watch.stop()
	if err != nil {
		return nil, err
	}
	selfUsage, _ := self.stop()
	// Every client must reach the same head version (each has read every
	// op broadcast up to it); give the last broadcasts a moment to land.
	for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
		if sameVersion(clients) {
			break
		}
	}
	res := &result{
		URL: cfg.URL, Doc: cfg.Doc, Clients: cfg.Clients, Rate: cfg.Rate,
		DurationSec: elapsed.Seconds(), Offered: cfg.Rate * float64(cfg.Clients),
		serverUsage: usage, ClientLagSec: time.Duration(lagMax.Load()).Seconds(),
	}
	if selfUsage != nil {
		res.LoadGenCPUCores = selfUsage.CPUCores
	}
	var ack, remote latencies
	var final int64 = -1
	res.Converged = true
	for _, c := range clients {
		c.mu.Lock()
		ack = append(ack, c.ack...)
		remote = append(remote, c.remote...)
		res.CommittedOps += c.committed
		res.SentOps += c.sentMeasured
		res.MissingAcks += int64(len(c.inflight))
		if final >= 0 && c.v != final {
			res.Converged, res.Diverged = false, true
		}
		final = max(final, c.v)
		c.mu.Unlock()
		res.Errors += c.errs.Load()
		res.Reconnects += int(c.drops.Load())
	}
	res.FinalVersion = final
	res.OpsPerSec = float64(res.CommittedOps) / elapsed.Seconds()
	res.setLatencies(ack)
	res.setRemote(remote)
	if cfg.JoinObjects > 0 {
		res.JoinObjects = cfg.JoinObjects
		c := summarize(cold)
		res.JoinColdMs, res.JoinColdMaxMs, res.JoinColdSamples = c.p50, c.max, c.n
		w := summarize(warm)
		res.JoinWarmP50Ms, res.JoinWarmP99Ms, res.JoinWarmMaxMs, res.JoinWarmSamples = w.p50, w.p99, w.max, w.n
	}
	return res, nil
}

// coldTreeJoins creates -cold tree documents of n objects each (canvas-like:
// frames of 100 shapes with six properties) through POST /v1/docs and joins
// each once, while the server has not loaded it.
func coldTreeJoins(ctx context.Context, cfg config) ([]string, latencies, error) {
	ids := make([]string, max(1, cfg.BigCold))
	content := bigTree(cfg.JoinObjects)
	var cold latencies
	for k := range ids {
		ids[k] = fmt.Sprintf("%s-big%d", cfg.Doc, k)
		c := cfg
		c.Doc = ids[k]
		if err := createTreeDoc(ctx, c, content); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range ids {
		d, err := joinTree(ctx, cfg, id, cfg.JoinObjects)
		if err != nil {
			return nil, nil, fmt.Errorf("cold join of %q: %w", id, err)
		}
		cold = append(cold, d)
	}
	return ids, cold, nil
}

// bigTree is a canvas of n objects: frames at the top level, each holding
// up to 100 shapes with position, size, fill and a short text.
func bigTree(n int) map[string]any {
	objs := make(map[string]any, n)
	frame := ""
	for i := range n {
		id := fmt.Sprintf("o%06d", i)
		if i%101 == 0 {
			objs[id] = map[string]any{"parent": "", "key": fmt.Sprintf("a%06d", i),
				"props": map[string]any{"name": "Frame " + id, "x": i, "y": 0, "w": 2000, "h": 2000}}
			frame = id
			continue
		}
		objs[id] = map[string]any{"parent": frame, "key": fmt.Sprintf("a%06d", i),
			"props": map[string]any{"x": i % 1000, "y": i / 1000, "w": 120, "h": 80, "fill": "#ffcc00", "text": "note " + id}}
	}
	return objs
}

// joinTree dials a fresh session and times join to joined on a tree
// document, checking that the answer holds want objects.
func joinTree(ctx context.Context, cfg config, id string, want int) (time.Duration, error) {
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	h := http.Header{}
	if cfg.Token != "" {
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"tandem.v1"}}
	ws, _, err := d.DialContext(dctx, cfg.URL, h)
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", cfg.URL, err)
	}
	c := &canvasClient{ws: ws}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	ws.SetReadLimit(64 << 20)
	sid := fmt.Sprintf("join-%x", time.Now().UnixNano())
	if err := c.write(map[string]any{"t": "hello", "proto": 1, "sid": sid}); err != nil {
		return 0, err
	}
	if err := waitFor(c, "welcome"); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := c.write(map[string]any{"t": "join", "doc": id}); err != nil {
		return 0, err
	}
	for {
		msgs, err := c.read()
		if err != nil {
			return 0, fmt.Errorf("waiting for joined: %w", err)
		}
		for _, m := range msgs {
			switch m.T {
			case "joined":
				took := time.Since(t0)
				if len(m.Tree) != want {
					return 0, fmt.Errorf("joined %q with %d objects, want %d", id, len(m.Tree), want)
				}
				return took, nil
			case "error":
				return 0, fmt.Errorf("server error %s: %s", m.Code, m.Msg)
			}
		}
	}
}

// waitFor reads until a message of type t (an error message fails).
func waitFor(c *canvasClient, t string) error {
	for {
		msgs, err := c.read()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", t, err)
		}
		for _, m := range msgs {
			if m.T == t {
				return nil
			}
			if m.T == "error" {
				return fmt.Errorf("server error %s: %s", m.Code, m.Msg)
			}
		}
	}
}

// sameVersion reports whether every client has seen the same newest version.
func sameVersion(clients []*canvasClient) bool {
	var v int64 = -1
	for _, c := range clients {
		c.mu.Lock()
		cv := c.v
		c.mu.Unlock()
		if v >= 0 && cv != v {
			return false
		}
		v = cv
	}
	return true
}

// opKey names a submitted op across the run.
type opKey struct {
	sid string
	seq int64
}

// sendTimes is when each op was written to its socket, shared by every
// client of the run so receivers can time remote apply without changing the
// op.
type sendTimes struct {
	mu sync.Mutex
	at map[opKey]time.Time
}

func (s *sendTimes) put(k opKey, t time.Time) {
	s.mu.Lock()
	s.at[k] = t
	s.mu.Unlock()
}

func (s *sendTimes) get(k opKey) (time.Time, bool) {
	s.mu.Lock()
	t, ok := s.at[k]
	s.mu.Unlock()
	return t, ok
}

// canvasClient is one raw WebSocket session joined to the tree document.
// Writes are serialised by wmu; the reader goroutine owns nothing but what
// mu guards and stops when the socket is closed.
type canvasClient struct {
	ws   *websocket.Conn
	sid  string
	doc  string
	obj  string
	sent *sendTimes
	done chan struct{}

	wmu sync.Mutex
	seq int64

	mu           sync.Mutex
	cond         *sync.Cond
	v            int64 // newest version seen (joined, ack or op)
	inflight     []submitted
	ack, remote  latencies
	committed    int64 // acks of ops sent in the load window, received by its end
	sentMeasured int64 // ops sent in the load window
	measuring    bool
	end          time.Time
	readErr      error

	errs  atomic.Int64
	drops atomic.Int64
}

// srvMsg is the part of a server message the scenario reads; the op itself
// and the content are skipped by the decoder.
type srvMsg struct {
	T    string `msgpack:"t"`
	Doc  string `msgpack:"doc"`
	SID  string `msgpack:"sid"`
	Seq  int64  `msgpack:"seq"`
	V    int64  `msgpack:"v"`
	Code string `msgpack:"code"`
	Msg  string `msgpack:"msg"`
	// Tree is the content of a joined answer, kept raw only by the join
	// measurement (see joinTree); other reads skip it.
	Tree map[string]msgpack.RawMessage `msgpack:"tree"`
}

func dialCanvas(ctx context.Context, url string, cfg config, sid string, sent *sendTimes) (*canvasClient, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	h := http.Header{}
	if cfg.Token != "" {
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"tandem.v1"}}
	ws, _, err := d.DialContext(dctx, url, h)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &canvasClient{ws: ws, sid: sid, doc: cfg.Doc, obj: sid + ":o", sent: sent, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	ws.SetReadLimit(64 << 20)
	if err := c.write(map[string]any{"t": "hello", "proto": 1, "sid": sid, "user": map[string]any{"name": sid, "color": "#3f51b5"}}); err != nil {
		_ = ws.Close()
		return nil, err
	}
	if err := c.write(map[string]any{"t": "join", "doc": cfg.Doc}); err != nil {
		_ = ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for joined := false; !joined; {
		msgs, err := c.read()
		if err != nil {
			_ = ws.Close()
			return nil, fmt.Errorf("waiting for joined: %w", err)
		}
		for _, m := range msgs {
			switch m.T {
			case "joined":
				c.v, joined = m.V, true
			case "error":
				_ = ws.Close()
				return nil, fmt.Errorf("server error %s: %s", m.Code, m.Msg)
			}
		}
	}
	_ = ws.SetReadDeadline(time.Time{})
	go c.readLoop(cfg)
	return c, nil
}

func (c *canvasClient) write(m map[string]any) error {
	b, err := msgpack.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %v: %w", m["t"], err)
	}
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// read decodes one frame: a map, or an array of maps.
func (c *canvasClient) read() ([]srvMsg, error) {
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if typ != websocket.BinaryMessage {
		return nil, fmt.Errorf("frame of type %d", typ)
	}
	if len(b) > 0 && (b[0]&0xf0 == 0x90 || b[0] == 0xdc || b[0] == 0xdd) {
		var batch []srvMsg
		if err := msgpack.Unmarshal(b, &batch); err != nil {
			return nil, fmt.Errorf("decode batch: %w", err)
		}
		return batch, nil
	}
	var m srvMsg
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return []srvMsg{m}, nil
}

// submit sends op against the newest version this client has seen.
func (c *canvasClient) submit(op []any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.seq++
	c.mu.Lock()
	v := c.v
	if c.readErr != nil {
		err := c.readErr
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()
	at := time.Now()
	c.sent.put(opKey{c.sid, c.seq}, at)
	c.mu.Lock()
	c.inflight = append(c.inflight, submitted{seq: c.seq, at: at})
	if c.measuring && !at.After(c.end) {
		c.sentMeasured++
	}
	c.mu.Unlock()
	return c.write(map[string]any{"t": "op", "doc": c.doc, "v": v, "seq": c.seq, "op": op})
}

func (c *canvasClient) readLoop(cfg config) {
	defer close(c.done)
	for {
		msgs, err := c.read()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		t := time.Now()
		for _, m := range msgs {
			switch m.T {
			case "ack":
				c.mu.Lock()
				c.v = max(c.v, m.V)
				n := 0
				for n < len(c.inflight) && c.inflight[n].seq <= m.Seq {
					if c.measuring {
						c.ack = append(c.ack, t.Sub(c.inflight[n].at))
						if !t.After(c.end) {
							c.committed++
						}
					}
					n++
				}
				c.inflight = c.inflight[n:]
				c.cond.Broadcast()
				c.mu.Unlock()
			case "op":
				at, ok := c.sent.get(opKey{m.SID, m.Seq})
				c.mu.Lock()
				c.v = max(c.v, m.V)
				if ok && c.measuring {
					c.remote = append(c.remote, t.Sub(at))
				}
				c.mu.Unlock()
			case "error":
				c.errs.Add(1)
				cfg.Log.Warn("server error", "sid", c.sid, "code", m.Code, "msg", m.Msg, "seq", m.Seq)
			}
		}
	}
}

// waitAcked waits until every op this client sent is acknowledged.
func (c *canvasClient) waitAcked(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.inflight) > 0 {
		if c.readErr != nil {
			return fmt.Errorf("%s: connection lost with %d ops unacknowledged: %w", c.sid, len(c.inflight), c.readErr)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("%s: %d ops unacknowledged", c.sid, len(c.inflight))
		}
		c.cond.Wait()
	}
	return nil
}

func (c *canvasClient) close() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.ws.Close()
	<-c.done
}

// ensureTreeDoc creates the tree document through POST /v1/docs (409: it
// exists already).
func ensureTreeDoc(ctx context.Context, cfg config) error {
	return createTreeDoc(ctx, cfg, nil)
}

// createTreeDoc creates tree document cfg.Doc with content (nil: empty).
func createTreeDoc(ctx context.Context, cfg config, content map[string]any) error {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return fmt.Errorf("parse -url: %w", err)
	}
	if u.Scheme == "wss" {
		u.Scheme = "https"
	} else {
		u.Scheme = "http"
	}
	u.Path, u.RawQuery = "/v1/docs", ""
	req := map[string]any{"id": cfg.Doc, "type": "tree"}
	if content != nil {
		req["content"] = content
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode content: %w", err)
	}
	for {
		wait, err := createDoc(ctx, cfg, u, bytes.Clone(body))
		if err != nil || wait == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
