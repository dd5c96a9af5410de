package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tandem-collab/tandem/client"
)

// runConns opens N (-clients) connections, each joined to one of D (-docs)
// documents and then idle, and reads the server's memory before and after.
// One source address has about 28,000 ephemeral ports towards one server
// port, so the sockets are spread over 127.0.0.1 .. 127.0.0.K (-source-ips);
// the whole of 127.0.0.0/8 is loopback on Linux.
func runConns(ctx context.Context, cfg config) (*result, error) {
	if cfg.ServerPID <= 0 {
		return nil, errors.New("conns needs -server-pid: memory per connection is read from the server process")
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return nil, err
	}
	if need := uint64(cfg.Clients) + 64; limit < need {
		return nil, fmt.Errorf("file limit %d is below the %d sockets this run needs (ulimit -Hn)", limit, need)
	}
	nDocs := max(1, cfg.Docs)
	for k := range nDocs {
		c := cfg
		c.Doc = docID(cfg.Doc, k, nDocs)
		if err := ensureDoc(ctx, c); err != nil {
			return nil, err
		}
	}
	nIPs := max(1, min(cfg.SourceIPs, 254))
	dialers := make([]*websocket.Dialer, nIPs)
	for k := range dialers {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+k))}, Timeout: 15 * time.Second}
		dialers[k] = &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 15 * time.Second,
			Subprotocols: []string{client.Subprotocol}, ReadBufferSize: 1024, WriteBufferSize: 1024}
	}

	before, err := readProc(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	conns := make([]*client.Conn, cfg.Clients)
	each := make(latencies, cfg.Clients)
	var (
		next     atomic.Int64
		failed   atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	defer func() { closeAll(conns) }()
	start := time.Now()
	for range max(1, cfg.Parallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Clients || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := client.Dial(dctx, client.Options{URL: cfg.nodeURL(i), Token: cfg.Token, Dialer: dialers[i%nIPs],
					User: client.User{Name: fmt.Sprintf("idle-%d", i)}, Logger: cfg.Log})
				if err == nil {
					conns[i] = c
					_, err = c.Open(dctx, docID(cfg.Doc, i%nDocs, nDocs))
				}
				cancel()
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d (from 127.0.0.%d): %w", i, 1+i%nIPs, err) })
					continue
				}
				each[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	connectAll := time.Since(start)
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("%d of %d connections failed; first: %w", n, cfg.Clients, firstErr)
	}
	// Hold them idle, then read the memory: what a joined idle connection costs.
	select {
	case <-time.After(cfg.Hold):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after, err := readProc(cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	res := &result{
		URL: cfg.URL, Clients: cfg.Clients, Docs: nDocs, Conns: cfg.Clients, SourceIPs: nIPs,
		DurationSec: time.Since(start).Seconds(), ConnectAllSec: connectAll.Seconds(),
		serverUsage: usageBetween(before, after), RSSBeforeBytes: before.RSS,
		RSSPerConnBytes: float64(after.RSS-before.RSS) / float64(cfg.Clients),
	}
	s := summarize(each)
	res.ConnectP50Ms, res.ConnectP99Ms = s.p50, s.p99
	for _, c := range conns {
		if !c.Connected() {
			res.Errors++
		}
		res.Reconnects += c.Sessions() - 1
	}
	return res, nil
}

// raiseFileLimit lifts the soft open-file limit to the hard one and returns it.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("read the file limit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("raise the file limit to %d: %w", l.Max, err)
		}
	}
	return l.Cur, nil
}

// closeAll closes many connections a few at a time.
func closeAll(conns []*client.Conn) {
	var wg sync.WaitGroup
	ch := make(chan *client.Conn)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				_ = c.Close()
			}
		}()
	}
	for _, c := range conns {
		if c != nil {
			ch <- c
		}
	}
	close(ch)
	wg.Wait()
}
