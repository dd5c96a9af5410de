package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"
)

// corsMaxAge is how long a browser may cache a preflight answer, in seconds.
// Browsers cap it themselves (Chromium at 2 hours, Firefox at 24).
const corsMaxAge = 600

// restCORS answers Cross-Origin Resource Sharing for the REST API and event
// streams (every path under /v1/docs) for the origins in
// Config.AllowedOrigins, preflights included, so that a browser app served
// from another origin can call them with an Authorization header. The
// WebSocket endpoint does not use CORS: browsers send Origin on the upgrade
// and checkOrigin decides with the same list and the same matching.
//
// rs/cors defaults are not what Tandem wants, so every one is set: with no
// AllowedOrigins it would allow every origin (here: no CORS at all, the
// default same-host setting needs none), its default headers lack
// Authorization and Last-Event-ID, its default methods lack PATCH and DELETE,
// it sets no Max-Age, and it exposes no headers.
//
// Credentials (cookies, which Tandem itself never uses, and HTTP
// authentication) are allowed for listed origins. With "*" the answer is
// Access-Control-Allow-Origin: * without credentials, as the Fetch standard
// requires; the Authorization header works either way.
func restCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	wildcard := false
	for _, o := range origins {
		wildcard = wildcard || o == "*"
	}
	opts := cors.Options{
		AllowedMethods:   []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept", "Last-Event-ID", "Cache-Control"},
		ExposedHeaders:   []string{"Location", "Retry-After", "WWW-Authenticate", "Allow"},
		MaxAge:           corsMaxAge,
		AllowCredentials: !wildcard,
	}
	if wildcard {
		opts.AllowedOrigins = []string{"*"}
	} else {
		opts.AllowOriginFunc = func(origin string) bool { return originListed(origins, origin) }
	}
	c := cors.New(opts).Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/docs" || strings.HasPrefix(r.URL.Path, "/v1/docs/") {
			c.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originListed reports whether origin (scheme://host[:port]) is in list: an
// exact match, ignoring case and a trailing slash in the list, or "*".
func originListed(list []string, origin string) bool {
	for _, o := range list {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// sameHost reports whether origin names the host the request was sent to.
func sameHost(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
