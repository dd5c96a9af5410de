package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tandem-collab/tandem/wire"
)

// Mode is what a principal may do with one document.
type Mode int

const (
	// ModeNone: the document is invisible (join gets forbidden).
	ModeNone Mode = iota
	// ModeRead: join as a viewer; ops get forbidden.
	ModeRead
	// ModeReadWrite: join and edit.
	ModeReadWrite
)

// String is the wire form used in joined.mode ("r", "rw"), or "none".
func (m Mode) String() string {
	switch m {
	case ModeRead:
		return "r"
	case ModeReadWrite:
		return "rw"
	}
	return "none"
}

// Principal is an authenticated caller.
type Principal struct {
	// UserID is the stable user id (a token's sub). Empty in open mode: the
	// session then derives one from the client's sid.
	UserID string
	// Name is the display name the token states, if any; it wins over the name
	// the client proposes in hello.
	Name string
	// Admin may also create, list, patch and delete documents (the REST
	// management routes). It grants no access to content by itself: reading
	// and editing still follow Grants.
	Admin bool
	// Grants maps a document id, or a prefix ending in "*", to a mode. Nil
	// means everything is granted read-write (open mode).
	Grants map[string]Mode
	// Expires is when the credentials stop being honoured (for a JWT its exp
	// plus the authenticator's leeway); zero means never (open mode). A live
	// WebSocket is ended then unless renewed with an auth message, and an
	// event stream ends (docs/protocol.md, section 16).
	Expires time.Time
}

// Access is the mode the principal has on docID: the exact id wins, then the
// longest matching prefix pattern; nil Grants grants read-write on everything.
func (p Principal) Access(docID string) Mode {
	if p.Grants == nil {
		return ModeReadWrite
	}
	if m, ok := p.Grants[docID]; ok {
		return m
	}
	best, bestLen := ModeNone, -1
	for pat, m := range p.Grants {
		prefix, ok := strings.CutSuffix(pat, "*")
		if !ok || !strings.HasPrefix(docID, prefix) {
			continue
		}
		if len(prefix) > bestLen {
			best, bestLen = m, len(prefix)
		}
	}
	return best
}

// ErrUnauthenticated is wrapped by an authenticator that rejects a request
// (missing, malformed, expired or wrongly signed credentials). The server's
// WebSocket endpoint then upgrades anyway, sends error unauthorized and
// closes with 1008, because browsers cannot read an HTTP 401 on an upgrade;
// REST answers 401.
var ErrUnauthenticated = errors.New("unauthenticated")

// OpenAuth admits everyone with read-write access to every document and the
// management routes (development mode).
type OpenAuth struct{}

// Authenticate returns an anonymous admin principal with read-write access to
// everything; the session derives the user id from the client's sid.
func (OpenAuth) Authenticate(*http.Request) (Principal, error) { return Principal{Admin: true}, nil }

// Open reports true.
func (OpenAuth) Open() bool { return true }

// UserIDFor is the user id of what a client with session id sid does: the
// token's sub; in open mode one derived from sid, or "anonymous" without a
// sid (a REST op sent without one).
func (p Principal) UserIDFor(sid string) string {
	switch {
	case p.UserID != "":
		return p.UserID
	case sid != "":
		return openUserID(sid)
	}
	return "anonymous"
}

// SessionUser is the identity a client session shows its peers: the token's
// user (its name wins), or in open mode one derived from the sid, with the
// name and color the client proposes (nil: none).
func (p Principal) SessionUser(sid string, proposed *wire.UserInfo) wire.User {
	id := p.UserIDFor(sid)
	u := wire.User{ID: id, Name: p.Name, Color: colorFor(id)}
	if proposed != nil {
		if u.Name == "" {
			u.Name = proposed.Name
		}
		if proposed.Color != "" {
			u.Color = proposed.Color
		}
	}
	if u.Name == "" {
		u.Name = id
	}
	return u
}

// openUserID derives a stable pseudonymous user id from a sid, so that the same
// tab keeps the same identity across reconnects without exposing the sid.
func openUserID(sid string) string {
	sum := sha256.Sum256([]byte("tandem-open-user:" + sid))
	return "anon-" + hex.EncodeToString(sum[:6])
}

// palette gives users a stable, readable color when they propose none.
var palette = []string{"#e91e63", "#9c27b0", "#3f51b5", "#03a9f4", "#009688", "#8bc34a", "#ff9800", "#795548", "#607d8b", "#f44336"}

// colorFor is userID's color from the palette, the same on every node.
func colorFor(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return palette[int(sum[0])%len(palette)]
}
