package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testSecret = []byte("tandem-test-secret-0123456789")

func signClaims(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestJWTVerify(t *testing.T) {
	auth, err := NewJWTAuth(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(mut func(*TokenClaims)) *TokenClaims {
		c := &TokenClaims{Name: "Ann", Docs: map[string]string{"a": "rw", "team-*": "r", "*": "r"}, RegisteredClaims: jwt.RegisteredClaims{
			Subject: "u1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}}
		if mut != nil {
			mut(c)
		}
		return c
	}
	hs := func(c jwt.Claims) string { return signClaims(t, jwt.SigningMethodHS256, testSecret, c) }
	cases := []struct {
		name  string
		token string
		why   string // "" means valid
	}{
		{"valid", hs(claims(nil)), ""},
		{"expired", hs(claims(func(c *TokenClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Second)) })), "expired"},
		{"no exp", hs(claims(func(c *TokenClaims) { c.ExpiresAt = nil })), "no exp"},
		{"not yet valid", hs(claims(func(c *TokenClaims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) })), "not valid yet"},
		{"no sub", hs(claims(func(c *TokenClaims) { c.Subject = "" })), "no sub"},
		{"bad mode", hs(claims(func(c *TokenClaims) { c.Docs = map[string]string{"a": "admin"} })), `mode "admin"`},
		{"bad pattern", hs(claims(func(c *TokenClaims) { c.Docs = map[string]string{"a*b": "r"} })), "not a document id"},
		{"bad pattern star in middle", hs(claims(func(c *TokenClaims) { c.Docs = map[string]string{"a b*": "r"} })), "not a document id"},
		{"wrong secret", signClaims(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789"), claims(nil)), "signature is invalid"},
		{"HS384", signClaims(t, jwt.SigningMethodHS384, testSecret, claims(nil)), "signed with HS384, not HS256"},
		{"alg none", signClaims(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), "signed with none, not HS256"},
		{"malformed", "abc.def", "malformed"},
		{"garbage", "!!!", "malformed"},
		{"tampered payload", func() string {
			p := strings.Split(hs(claims(nil)), ".")
			other := strings.Split(hs(claims(func(c *TokenClaims) { c.Admin = true })), ".")
			return p[0] + "." + other[1] + "." + p[2]
		}(), "signature is invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := auth.Verify(tc.token)
			if tc.why == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.UserID != "u1" || p.Name != "Ann" || p.Admin || p.Access("a") != ModeReadWrite ||
					p.Access("team-1") != ModeRead || p.Access("zzz") != ModeRead {
					t.Fatalf("principal %+v", p)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Verify: %v, want ErrUnauthenticated saying %q", err, tc.why)
			}
			if strings.Contains(err.Error(), tc.token) && len(tc.token) > 8 {
				t.Fatalf("the error echoes the token: %v", err)
			}
		})
	}

	t.Run("leeway and clock", func(t *testing.T) {
		a, _ := NewJWTAuth(testSecret)
		tok := hs(claims(func(c *TokenClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-10 * time.Second)) }))
		a.Leeway = 30 * time.Second
		if _, err := a.Verify(tok); err != nil {
			t.Fatalf("within leeway: %v", err)
		}
		a.Leeway = 0
		a.Now = func() time.Time { return now.Add(-time.Minute) }
		if _, err := a.Verify(tok); err != nil {
			t.Fatalf("with an earlier clock: %v", err)
		}
	})
	t.Run("no grants means no access", func(t *testing.T) {
		p, err := auth.Verify(hs(claims(func(c *TokenClaims) { c.Docs = nil; c.Admin = true })))
		if err != nil {
			t.Fatal(err)
		}
		if p.Grants == nil || p.Access("a") != ModeNone || !p.Admin {
			t.Fatalf("a token without docs must grant nothing (nil Grants is open mode): %+v", p)
		}
	})
}

func TestJWTRequestToken(t *testing.T) {
	auth, _ := NewJWTAuth(testSecret)
	tok, err := MintToken(testSecret, "u", "", map[string]string{"*": "rw"}, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		header string
		query  string
		ok     bool
	}{
		{"bearer", "Bearer " + tok, "", true},
		{"lower-case scheme", "bearer " + tok, "", true},
		{"query", "", "?token=" + tok, true},
		{"header wins over query", "Bearer " + tok, "?token=junk", true},
		{"bad header beats a good query", "Token " + tok, "?token=" + tok, false},
		{"basic", "Basic dTpw", "", false},
		{"empty bearer", "Bearer ", "", false},
		{"none", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/docs"+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			p, err := auth.Authenticate(r)
			if tc.ok != (err == nil) || (tc.ok && p.UserID != "u") {
				t.Fatalf("Authenticate: %+v, %v", p, err)
			}
			if err != nil && !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
			}
		})
	}
	if auth.Open() {
		t.Fatal("JWTAuth reports open")
	}
	if _, err := NewJWTAuth([]byte("short")); !errors.Is(err, ErrShortSecret) {
		t.Fatalf("short secret: %v", err)
	}
	_ = http.StatusOK
}

func TestMintToken(t *testing.T) {
	auth, _ := NewJWTAuth(testSecret)
	tok, err := MintToken(testSecret, "u9", "Nine", map[string]string{"p-*": "rw", "x": "r"}, true, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != "u9" || p.Name != "Nine" || !p.Admin || p.Access("p-1") != ModeReadWrite || p.Access("x") != ModeRead || p.Access("y") != ModeNone {
		t.Fatalf("minted principal %+v", p)
	}
	for _, bad := range []struct {
		sub  string
		docs map[string]string
		ttl  time.Duration
	}{{"", nil, time.Minute}, {"u", nil, 0}, {"u", map[string]string{"x": "w"}, time.Minute}, {"u", map[string]string{"a.b": "r"}, time.Minute}} {
		if _, err := MintToken(testSecret, bad.sub, "", bad.docs, false, bad.ttl); err == nil {
			t.Fatalf("MintToken(%q, %v, %v) accepted", bad.sub, bad.docs, bad.ttl)
		}
	}
}
