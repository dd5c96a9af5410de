package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tandem-collab/tandem/wire"
)

// MinSecretBytes is the shortest HS256 secret NewJWTAuth accepts: an HMAC key
// shorter than the hash is easy to brute-force from one captured token.
const MinSecretBytes = 16

// TokenClaims are the claims of a Tandem access token (docs/api.md, "Tokens").
type TokenClaims struct {
	// Name is the display name peers see; it wins over the one a client proposes.
	Name string `json:"name,omitempty"`
	// Docs maps a document id, or a prefix ending in "*", to "rw" or "r".
	Docs map[string]string `json:"docs"`
	// Admin may also create, list, patch and delete documents.
	Admin bool `json:"admin,omitempty"`
	// RegisteredClaims holds sub (the user id, required) and exp (required).
	jwt.RegisteredClaims
}

// JWTAuth authenticates requests with HS256 tokens signed with Secret, taken
// from "Authorization: Bearer <token>" or, for browsers that cannot set
// headers (WebSocket, EventSource), from the "token" query parameter.
type JWTAuth struct {
	secret []byte
	// Leeway tolerates clock skew on exp and nbf.
	Leeway time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// ErrShortSecret is wrapped by NewJWTAuth for a secret shorter than
// MinSecretBytes.
var ErrShortSecret = errors.New("the auth secret is too short")

// NewJWTAuth returns an authenticator for secret, which must be at least
// MinSecretBytes long.
func NewJWTAuth(secret []byte) (*JWTAuth, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("%w: it has %d bytes, want at least %d", ErrShortSecret, len(secret), MinSecretBytes)
	}
	return &JWTAuth{secret: append([]byte(nil), secret...)}, nil
}

// Open reports false: every request needs a token.
func (a *JWTAuth) Open() bool { return false }

// Authenticate reads and verifies the request's token. Every failure wraps
// ErrUnauthenticated and says why (missing, malformed, expired, bad
// signature, bad claims) without echoing the token.
func (a *JWTAuth) Authenticate(r *http.Request) (Principal, error) {
	raw, err := requestToken(r)
	if err != nil {
		return Principal{}, err
	}
	return a.Verify(raw)
}

// Verify checks one token string and returns its principal.
func (a *JWTAuth) Verify(raw string) (Principal, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(a.Leeway),
	}
	if a.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(a.Now))
	}
	var c TokenClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return a.secret, nil }, opts...)
	if err != nil {
		why := tokenProblem(err)
		// The library reports a refused algorithm as a bad signature; say which.
		if tok, _, perr := jwt.NewParser().ParseUnverified(raw, &TokenClaims{}); perr == nil && tok.Method.Alg() != jwt.SigningMethodHS256.Alg() {
			why = fmt.Sprintf("token is signed with %s, not HS256", tok.Method.Alg())
		}
		return Principal{}, fmt.Errorf("%w: %s", ErrUnauthenticated, why)
	}
	if c.Subject == "" {
		return Principal{}, fmt.Errorf("%w: token has no sub (user id)", ErrUnauthenticated)
	}
	p := Principal{UserID: c.Subject, Name: c.Name, Admin: c.Admin, Grants: make(map[string]Mode, len(c.Docs)),
		Expires: c.ExpiresAt.Time.Add(a.Leeway)} // exp is required, so never nil here
	for pat, m := range c.Docs {
		if !validGrantPattern(pat) {
			return Principal{}, fmt.Errorf("%w: token grant %q is not a document id or a prefix ending in *", ErrUnauthenticated, pat)
		}
		switch m {
		case "rw":
			p.Grants[pat] = ModeReadWrite
		case "r":
			p.Grants[pat] = ModeRead
		default:
			return Principal{}, fmt.Errorf("%w: token grant %q has mode %q, want \"rw\" or \"r\"", ErrUnauthenticated, pat, m)
		}
	}
	return p, nil
}

// validGrantPattern: a document id, or a possibly empty id prefix followed by *.
func validGrantPattern(pat string) bool {
	if prefix, ok := strings.CutSuffix(pat, "*"); ok {
		return prefix == "" || wire.ValidDocID(prefix)
	}
	return wire.ValidDocID(pat)
}

// tokenProblem names what is wrong with a token in words a client can act on.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token is expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token has no exp"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "token signature is invalid"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token cannot be verified"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token is malformed"
	}
	return "token is invalid"
}

// requestToken is the bearer token of r: the Authorization header, else the
// token query parameter.
func requestToken(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", fmt.Errorf("%w: Authorization header must be \"Bearer <token>\"", ErrUnauthenticated)
		}
		return strings.TrimSpace(tok), nil
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		return tok, nil
	}
	return "", fmt.Errorf("%w: no token (send Authorization: Bearer <token> or ?token=)", ErrUnauthenticated)
}

// MintToken signs a token for user sub with HS256: the docs grants, admin
// flag and display name, valid for ttl from now. It is what `tandem token`
// and the tests use; production deployments mint tokens in their own backend
// with the same secret.
func MintToken(secret []byte, sub, name string, docs map[string]string, admin bool, ttl time.Duration) (string, error) {
	if sub == "" {
		return "", errors.New("mint token: empty sub")
	}
	if ttl <= 0 {
		return "", errors.New("mint token: ttl must be positive")
	}
	for pat, m := range docs {
		if !validGrantPattern(pat) || (m != "r" && m != "rw") {
			return "", fmt.Errorf("mint token: bad grant %q=%q (want an id or a prefix*, and r or rw)", pat, m)
		}
	}
	if docs == nil {
		docs = map[string]string{}
	}
	now := time.Now()
	c := TokenClaims{Name: name, Docs: docs, Admin: admin, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return s, nil
}
