package client

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-collab/tandem/wire"
)

// Auth renews the connection's token without reconnecting (docs/protocol.md,
// section 16): it sends auth with token and waits for the server's answer.
// On success it returns the new expiry the server states (zero in open mode),
// the token is used for every later reconnection, the join mode of each open
// document follows the new grants, and a document the new token no longer
// grants is closed with a *ServerError forbidden. A refused token returns a
// *ServerError unauthorized and changes nothing: the connection carries on
// with its current token until that expires.
//
// While no session is up, the token is only kept for the next connection
// and Auth returns a zero time and nil. Call Auth before the current token
// expires: at its exp the server ends the session (close code 4401), and the
// Conn, whose token was refused, stops.
func (c *Conn) Auth(ctx context.Context, token string) (time.Time, error) {
	frame, err := wire.EncodeClient(&wire.Auth{Token: token})
	if err != nil {
		return time.Time{}, fmt.Errorf("client: auth: %w", err)
	}
	c.authMu.Lock() // one renewal at a time, so that an answer has one owner
	defer c.authMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return time.Time{}, ErrClosed
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return time.Time{}, err
	}
	sess := c.sess
	if sess == nil || sess.isDone() {
		c.token = token
		c.mu.Unlock()
		return time.Time{}, nil
	}
	reply := make(chan wire.Message, 1)
	c.authReply = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.authReply = nil
		c.mu.Unlock()
	}()
	sess.enqueue(frame)
	select {
	case m := <-reply:
		switch m := m.(type) {
		case *wire.Authed:
			c.authed(token, m)
			if m.Exp == 0 {
				return time.Time{}, nil
			}
			return time.Unix(m.Exp, 0), nil
		case *wire.Error:
			return time.Time{}, &ServerError{Code: m.Code, Msg: m.Msg}
		}
		return time.Time{}, fmt.Errorf("client: auth: unexpected answer %T", m)
	case <-sess.done:
		return time.Time{}, fmt.Errorf("client: auth: the session ended before the server answered")
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("client: auth: %w", ctx.Err())
	}
}

// authAnswer hands the answer to a pending Auth; false when none waits.
func (c *Conn) authAnswer(m wire.Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authReply == nil {
		return false
	}
	select {
	case c.authReply <- m:
	default:
	}
	c.authReply = nil
	return true
}

// authed applies an accepted renewal: the token for later connections, the
// modes of the open documents, and the end of those no longer granted.
func (c *Conn) authed(token string, m *wire.Authed) {
	c.mu.Lock()
	c.token = token
	var lost []openDoc
	for id, d := range c.docs {
		mode, ok := m.Docs[id]
		if !ok {
			lost = append(lost, d)
			continue
		}
		d.setMode(mode)
	}
	c.mu.Unlock()
	for _, d := range lost {
		id, _ := d.lastSeqOf()
		d.kill(&ServerError{Code: wire.CodeForbidden, Msg: "the renewed token does not grant this document", Doc: id})
		c.forget(d)
	}
}
