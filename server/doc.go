// Package server is Tandem's real-time core: WebSocket sessions (melody), one
// actor goroutine per open document that transforms, commits and broadcasts
// ops, coalesced presence, the REST API and event streams, limits, metrics
// and the health endpoints.
//
// The data path is socket -> connection (conn.go, its read goroutine decodes
// frames, ops by the document's type) -> hub (hub.go) -> document actor
// (actor.go: mailbox, store calls, batching, timing) around the document's
// pure state (state.go: content, version, op window, (sid, seq) marks,
// presence; every committed op goes through its applyCommitted) -> store ->
// broadcast to subscribers (events.go; WebSocket connections and SSE
// streams). REST (rest.go) and SSE (sse.go) reach the same actors through
// Server.SubmitOp and Server.Subscribe.
//
// Around it, in packages of their own: who a caller is comes from the
// Authenticator (config.go) that package auth implements (tokens, grants,
// open mode); the server applies the principal to each request and message,
// and renews or ends a live socket's token (conn_auth.go). Other nodes reach
// the actors through package bus: what the actors send each other
// (actor_bus.go) and the forwarding of ops to a document's owner, the node
// holding its bus lease (actor_owner.go).
//
// The server knows no document type: documents are of a doctype.Type (text,
// rich, ...) and the server only calls the interface. docs/architecture.md
// says who owns which goroutine and which state, and the lock order.
package server
