package server

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/wire"
)

// CloseTokenExpired is the WebSocket close code of a connection whose token
// expired without being renewed (docs/protocol.md, section 16). It follows
// an error with code unauthorized. A token refused when the connection opens
// closes with 1008 instead, as before.
const CloseTokenExpired = 4401

// Token expiry and renewal of a WebSocket connection.
//
// The expiry costs nothing per message: one timer per connection that has an
// expiring principal, armed when the socket opens, moved by every accepted
// auth and stopped when the socket closes. When it fires, the connection gets
// error unauthorized and is closed with CloseTokenExpired after what is
// already queued for it.
//
// Locking: authMu guards principal and expiry against the timer's goroutine.
// Only the read goroutine writes principal (under authMu), so it reads it
// without the lock; the timer reads it under authMu. authMu is a leaf: it is
// never held while another lock is taken.

// armExpiry starts the expiry timer of a connection whose principal expires.
// It runs on the read goroutine before any frame is read.
func (c *conn) armExpiry() {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if exp := c.principal.Expires; !exp.IsZero() && !c.authDone {
		c.expiry = time.AfterFunc(time.Until(exp), c.expire)
	}
}

// stopExpiry stops the timer for good (the socket is gone).
func (c *conn) stopExpiry() {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	c.authDone = true
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// expire runs on the timer's goroutine: unless the token was renewed in the
// meantime, the connection is told and closed.
func (c *conn) expire() {
	c.authMu.Lock()
	exp, user, done := c.principal.Expires, c.principal.UserID, c.authDone
	if left := time.Until(exp); !done && !exp.IsZero() && left > 0 {
		// Renewed (auth moved the timer already), or the wall clock was
		// adjusted since the timer was armed: wait for the rest.
		c.expiry.Reset(left)
		done = true
	}
	c.authMu.Unlock()
	if done || exp.IsZero() || c.ctx.Err() != nil {
		return
	}
	c.srv.metrics.tokens.WithLabelValues("expired").Inc()
	c.log.Info("closing a connection whose token expired", "user", user, "exp", exp)
	c.sendError(wire.CodeUnauthorized, fmt.Sprintf("token expired at %s: renew it with an auth message before it expires, or reconnect with a new token", exp.UTC().Format(time.RFC3339)), "", 0)
	c.closeWith(CloseTokenExpired, "token expired")
}

// auth handles a renewal (read goroutine). The new token must be valid and for
// the same user (sub); otherwise it is refused with error unauthorized and the
// connection carries on with the token it has, until that one expires. An
// accepted token replaces the grants: a joined document it no longer grants
// gets error forbidden and is left, a changed mode applies to the next op.
// The answer is authed with the new expiry and the mode of every document
// still joined.
func (c *conn) auth(m *wire.Auth) {
	p, err := c.srv.auth.Authenticate(bearerRequest(m.Token))
	if err == nil && p.UserID != c.principal.UserID {
		err = fmt.Errorf("the new token is for user %q, this connection is user %q; reconnect to change users", p.UserID, c.principal.UserID)
	}
	if err != nil {
		c.srv.metrics.tokens.WithLabelValues("refused").Inc()
		c.sendError(wire.CodeUnauthorized, wire.RenewalRefused+": "+err.Error()+" (the connection keeps its current token until that expires)", "", 0)
		return
	}
	c.srv.metrics.tokens.WithLabelValues("renewed").Inc()
	c.authMu.Lock()
	c.principal = p
	switch {
	case c.authDone:
	case p.Expires.IsZero():
		if c.expiry != nil {
			c.expiry.Stop()
		}
	case c.expiry == nil:
		c.expiry = time.AfterFunc(time.Until(p.Expires), c.expire)
	default:
		c.expiry.Reset(time.Until(p.Expires))
	}
	c.authMu.Unlock()

	reply := &wire.Authed{Docs: map[string]string{}}
	if !p.Expires.IsZero() {
		reply.Exp = p.Expires.Unix()
	}
	var lost []*wsSub
	c.joinMu.Lock()
	for doc, s := range c.joined {
		mode := p.Access(doc)
		if mode == auth.ModeNone {
			lost = append(lost, s)
			delete(c.joined, doc)
			continue
		}
		s.mode = mode
		reply.Docs[doc] = mode.String()
	}
	c.joinMu.Unlock()
	for _, s := range lost {
		c.sendError(wire.CodeForbidden, "the renewed token does not grant this document: it was left", s.doc, 0)
		if _, err := c.srv.hub.send(c.ctx, s.doc, &leaveMsg{sub: s}); err != nil {
			c.postFailed(s.doc, 0, err)
		}
	}
	c.sendMsg(reply)
}

// bearerRequest is a request carrying tok as its bearer token, so that a
// renewal is checked by the same Authenticator, with the same rules, as the
// upgrade request was.
func bearerRequest(tok string) *http.Request {
	return &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/v1/ws"}, Header: http.Header{"Authorization": {"Bearer " + tok}}}
}
