// Package auth is who a Tandem caller is and what it may do: the principal
// of a request (user id, display name, admin flag, per-document grants and
// when the credentials stop being honoured), the access modes, the HS256
// access tokens that state them (verification, claims, minting: docs/api.md,
// "Tokens"), and the rules of open mode (no secret configured: everyone may
// do everything, and a user id is derived from the client's sid).
//
// It knows nothing of connections: the server defines the Authenticator
// interface it calls (JWTAuth and OpenAuth implement it), renews a live
// WebSocket's principal and ends it at expiry (server/conn_auth.go), and
// turns ErrUnauthenticated into the protocol's answers.
package auth
