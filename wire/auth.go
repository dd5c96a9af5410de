package wire

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
	Token string `msgpack:"token"`
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
