package server

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/wire"
)

// restLimiter is the REST API's rate limit: one token bucket per client key
// (a token's subject, or in open mode and for requests without a valid token
// the client's address). Buckets that have refilled are forgotten, so memory
// follows the clients active in the last few seconds, not every client ever.
//
// mu guards buckets and lastSweep; it is a leaf lock.
type restLimiter struct {
	limit   rate.Limit
	burst   int
	trusted []netip.Prefix

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// restSweepEvery is how often (at most) the limiter forgets full buckets.
const restSweepEvery = time.Minute

func newRESTLimiter(perSecond float64, burst int, trusted []netip.Prefix) *restLimiter {
	if perSecond <= 0 {
		return nil // no limit
	}
	return &restLimiter{limit: rate.Limit(perSecond), burst: burst, trusted: trusted,
		buckets: make(map[string]*rate.Limiter), lastSweep: time.Now()}
}

// wait reports how long the client with key must wait before its request is
// allowed: 0 means go ahead (a token was taken).
func (l *restLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= restSweepEvery {
		l.sweepLocked(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request costs no token
		return d
	}
	return 0
}

// sweepLocked forgets buckets that are full again: a new bucket for the same
// key would be identical, so nothing is lost.
func (l *restLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// key is who a request counts against: the token's subject when it has one,
// else the client's address (an IPv6 client by its /64, which is what one
// host or subscriber usually gets).
func (l *restLimiter) key(r *http.Request, p auth.Principal) string {
	if p.UserID != "" {
		return "sub:" + p.UserID
	}
	ip := clientIP(r, l.trusted)
	if !ip.IsValid() {
		return "addr:" + r.RemoteAddr
	}
	if ip.Is6() && !ip.Is4In6() {
		pfx, _ := ip.Prefix(64)
		return "ip6:" + pfx.String()
	}
	return "ip:" + ip.Unmap().String()
}

// clientIP is the address of the client that made r. It is the peer's
// address, unless the peer is a trusted proxy: then X-Forwarded-For is read
// from the right (the entry the nearest proxy appended) past every trusted
// address, and the first untrusted one is the client. Entries left of it
// were written by the client itself and prove nothing, so they are never
// used; without trusted proxies the header is ignored altogether.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed entry: nothing left of it can be trusted
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			break
		}
	}
	return client
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR
// prefixes ("10.0.0.0/8, 192.168.1.7, fd00::/8").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// limitREST answers 429 when the request's client is over its rate, with
// Retry-After in whole seconds (rounded up) and a problem document; nil lets
// the request through.
func (a *restAPI) limitREST(r *http.Request, p auth.Principal) *httpError {
	l := a.srv.restLimit
	if l == nil {
		return nil
	}
	d := l.wait(l.key(r, p), time.Now())
	if d == 0 {
		return nil
	}
	a.srv.metrics.restLimited.Inc()
	secs := int(math.Ceil(d.Seconds()))
	e := errStatus(http.StatusTooManyRequests, wire.CodeRateLimited,
		"too many requests: over %g per second (burst %d) for this client; retry in %d s", float64(l.limit), l.burst, secs)
	e.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return e
}
