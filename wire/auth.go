package wire

import (
	"sort"

	"github.com/tandem-collab/tandem/internal/mpack"
)

// Token renewal on a live connection (docs/protocol.md, section 16): the
// client sends Auth with a new token, the server answers Authed or an Error
// with CodeUnauthorized.

// Message types of token renewal.
const (
	// TypeAuth is the client's renewal message.
	TypeAuth = "auth"
	// TypeAuthed is the server's answer to an accepted Auth.
	TypeAuthed = "authed"
)

// RenewalRefused starts the message of the Error (CodeUnauthorized) that
// refuses an Auth, so that a client tells it from the expiry of the
// connection's token, which is also CodeUnauthorized but ends the connection.
const RenewalRefused = "token renewal refused"

// MaxTokenBytes bounds the token of an Auth message; a larger one is
// CodeTooLarge. A Tandem token is a few hundred bytes; a token granting many
// documents one by one stays well below this.
const MaxTokenBytes = 16 << 10

// Auth carries a new access token for the connection.
type Auth struct {
	// Token is the new JWT, as it would be sent on the upgrade request.
	Token string `msgpack:"token" validate:"required"`
}

// Authed tells the client that the token of its Auth now rules the
// connection.
type Authed struct {
	// Exp is when the server ends the connection unless renewed again, in Unix
	// seconds (the token's exp plus the server's clock-skew leeway); 0 (the
	// key omitted) when the server runs without authentication.
	Exp int64 `msgpack:"exp,omitempty"`
	// Docs is the mode ("rw" or "r") the new token gives on every document
	// the connection still has joined. A document it no longer grants got an
	// Error with CodeForbidden and was left before this message.
	Docs map[string]string `msgpack:"docs"`
}

// Type implements Message.
func (*Auth) Type() string { return TypeAuth }

// Type implements Message.
func (*Authed) Type() string { return TypeAuthed }

func (d *clientDec) auth() (Message, *DecodeError) {
	v, err := d.need(fToken)
	if err != nil {
		return nil, err
	}
	if len(v) > MaxTokenBytes+5 { // checked before the string is copied
		return nil, d.fail(CodeTooLarge, "token: %d bytes encoded, over the limit of %d", len(v), MaxTokenBytes)
	}
	tok, err := d.str(fToken)
	if err != nil {
		return nil, err
	}
	if len(tok) > MaxTokenBytes {
		return nil, d.fail(CodeTooLarge, "token: %d bytes, over the limit of %d", len(tok), MaxTokenBytes)
	}
	return &Auth{Token: tok}, nil
}

func appendAuth(b []byte, m *Auth) []byte {
	b = mpack.AppendMapHeader(b, 2)
	b = appendKV(b, "t", TypeAuth)
	return appendKV(b, "token", m.Token)
}

func appendAuthed(b []byte, m *Authed) []byte {
	n := 2
	if m.Exp != 0 {
		n++
	}
	b = mpack.AppendMapHeader(b, n)
	b = appendKV(b, "t", TypeAuthed)
	if m.Exp != 0 {
		b = mpack.AppendInt(mpack.AppendString(b, "exp"), m.Exp)
	}
	// Sorted, so that one message always encodes to the same bytes.
	ids := make([]string, 0, len(m.Docs))
	for id := range m.Docs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	b = mpack.AppendMapHeader(mpack.AppendString(b, "docs"), len(ids))
	for _, id := range ids {
		b = appendKV(b, id, m.Docs[id])
	}
	return b
}

func (d *serverDec) authed(v []byte) Message {
	m := &Authed{}
	seen := d.each(d.t, v, func(k string, val []byte) {
		switch k {
		case "exp":
			if !isNil(val) {
				m.Exp = d.int(k, val)
			}
		case "docs":
			m.Docs = map[string]string{}
			d.each("docs", val, func(id string, mode []byte) { m.Docs[id] = d.str("docs."+id, mode) })
		}
	})
	d.require(seen, "docs")
	return m
}
