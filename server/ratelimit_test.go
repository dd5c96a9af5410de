package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/wire"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.7, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		trusted      []netip.Prefix
		want         string
	}{
		{"no proxy", "203.0.113.5:4000", nil, trusted, "203.0.113.5"},
		{"header from an untrusted peer is ignored", "203.0.113.5:4000", []string{"1.2.3.4"}, trusted, "203.0.113.5"},
		{"no trusted proxies: header ignored", "10.0.0.2:4000", []string{"1.2.3.4"}, nil, "10.0.0.2"},
		{"one trusted proxy", "10.0.0.2:4000", []string{"1.2.3.4"}, trusted, "1.2.3.4"},
		{"a spoofed entry left of the real one", "10.0.0.2:4000", []string{"6.6.6.6, 1.2.3.4"}, trusted, "1.2.3.4"},
		{"two trusted proxies", "10.0.0.2:4000", []string{"1.2.3.4, 192.168.1.7"}, trusted, "1.2.3.4"},
		{"the header given twice", "10.0.0.2:4000", []string{"6.6.6.6", "1.2.3.4, 10.1.1.1"}, trusted, "1.2.3.4"},
		{"every hop trusted: the leftmost", "10.0.0.2:4000", []string{"10.9.9.9, 10.1.1.1"}, trusted, "10.9.9.9"},
		{"a malformed entry stops the walk", "10.0.0.2:4000", []string{"1.2.3.4, junk, 10.1.1.1"}, trusted, "10.1.1.1"},
		{"no header from a trusted proxy", "10.0.0.2:4000", nil, trusted, "10.0.0.2"},
		{"IPv6 through a trusted proxy", "[fd00::1]:4000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:4000", []string{"1.2.3.4"}, trusted, "1.2.3.4"},
	} {
		r := httptest.NewRequest("GET", "/v1/docs", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientIP(r, tc.trusted); got.String() != tc.want {
			t.Errorf("%s: clientIP = %s, want %s", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "1.2.3.4/x"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted it", bad)
		}
	}
}

func TestRESTLimiterKeysAndSweep(t *testing.T) {
	l := newRESTLimiter(10, 2, nil)
	req := func(remote string) *http.Request {
		r := httptest.NewRequest("GET", "/v1/docs", nil)
		r.RemoteAddr = remote
		return r
	}
	for _, tc := range []struct {
		remote string
		p      auth.Principal
		want   string
	}{
		{"1.2.3.4:5", auth.Principal{UserID: "alice"}, "sub:alice"},
		{"1.2.3.4:5", auth.Principal{}, "ip:1.2.3.4"},
		{"[2001:db8:1:2:3::9]:5", auth.Principal{}, "ip6:2001:db8:1:2::/64"},
		{"[::ffff:1.2.3.4]:5", auth.Principal{}, "ip:1.2.3.4"},
	} {
		if got := l.key(req(tc.remote), tc.p); got != tc.want {
			t.Errorf("key(%s, %+v) = %q, want %q", tc.remote, tc.p, got, tc.want)
		}
	}
	now := time.Now()
	if l.wait("a", now) != 0 || l.wait("a", now) != 0 {
		t.Fatal("the burst was refused")
	}
	if d := l.wait("a", now); d <= 0 || d > 100*time.Millisecond {
		t.Fatalf("third request at once: wait %v, want up to 100ms", d)
	}
	if l.wait("b", now) != 0 {
		t.Fatal("another key shares the bucket")
	}
	// A refused request takes no token: after 100 ms exactly one more is allowed.
	if l.wait("a", now.Add(100*time.Millisecond)) != 0 || l.wait("a", now.Add(100*time.Millisecond)) == 0 {
		t.Fatal("refill after 100 ms is not one token")
	}
	// The sweep forgets full buckets only.
	l.mu.Lock()
	l.sweepLocked(now.Add(150 * time.Millisecond))
	_, a := l.buckets["a"]
	_, b := l.buckets["b"]
	l.sweepLocked(now.Add(time.Second))
	n := len(l.buckets)
	l.mu.Unlock()
	if !a || b || n != 0 {
		t.Fatalf("sweep: a kept %v (want true), b kept %v (want false), %d left after a second (want 0)", a, b, n)
	}
	if newRESTLimiter(0, 10, nil) != nil {
		t.Fatal("rate 0 should mean no limiter")
	}
}

// TestRESTRateLimit: per token subject with a secret, per address in open
// mode; a 429 is a problem document with Retry-After.
func TestRESTRateLimit(t *testing.T) {
	ts := newAuthServer(t, memStore(t), func(c *Config) { c.RESTRate, c.RESTBurst = 2, 3 })
	createDoc(t, ts.st, "rl", "x")
	alice := mint(t, "alice", map[string]string{"*": "rw"}, false)
	bob := mint(t, "bob", map[string]string{"*": "rw"}, false)
	for i := range 3 {
		ts.call(t, "GET", "/v1/docs/rl", alice, nil).want(t, 200)
		_ = i
	}
	r := ts.call(t, "GET", "/v1/docs/rl/ops", alice, nil)
	r.problem(t, http.StatusTooManyRequests, wire.CodeRateLimited)
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra != 1 {
		t.Fatalf("Retry-After %q, want 1", r.header.Get("Retry-After"))
	}
	// Another subject from the same address has its own bucket.
	ts.call(t, "GET", "/v1/docs/rl", bob, nil).want(t, 200)
	// Bad tokens count against the address: guessing is limited too.
	for range 3 {
		ts.call(t, "GET", "/v1/docs/rl", "bad-token", nil).want(t, http.StatusUnauthorized)
	}
	ts.call(t, "GET", "/v1/docs/rl", "bad-token", nil).problem(t, http.StatusTooManyRequests, wire.CodeRateLimited)
	// After Retry-After alice may go on.
	time.Sleep(time.Second)
	ts.call(t, "GET", "/v1/docs/rl", alice, nil).want(t, 200)
	if n := counterValue(t, ts.srv.metrics.restLimited); n != 2 {
		t.Fatalf("tandem_rest_rate_limited_total = %v, want 2", n)
	}
	// Health, readiness and metrics are never limited.
	for range 10 {
		ts.call(t, "GET", "/healthz", "", nil).want(t, 200)
	}
}

func TestRESTRateLimitOpenMode(t *testing.T) {
	trusted, _ := ParseTrustedProxies("127.0.0.1")
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		// whether two clients behind the proxy get buckets of their own
		separate bool
	}{
		{"header ignored without trusted proxies", nil, false},
		{"header read from a trusted proxy", trusted, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, memStore(t), func(c *Config) {
				c.RESTRate, c.RESTBurst, c.TrustedProxies = 1, 2, tc.trusted
			})
			createDoc(t, ts.st, "rl", "x")
			for range 2 {
				ts.call(t, "GET", "/v1/docs/rl", "", nil, "X-Forwarded-For", "198.51.100.1").want(t, 200)
			}
			ts.call(t, "GET", "/v1/docs/rl", "", nil, "X-Forwarded-For", "198.51.100.1").want(t, 429)
			want := 429
			if tc.separate {
				want = 200
			}
			ts.call(t, "GET", "/v1/docs/rl", "", nil, "X-Forwarded-For", "198.51.100.2").want(t, want)
		})
	}
	// RESTRate 0 turns it off.
	ts := newTestServer(t, memStore(t), func(c *Config) { c.RESTRate = 0 })
	createDoc(t, ts.st, "rl", "x")
	for range 300 {
		ts.call(t, "GET", "/v1/docs/rl", "", nil).want(t, 200)
	}
}
