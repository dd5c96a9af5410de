// Package server is Tandem's real-time core: WebSocket sessions (melody), one
// actor goroutine per open document that transforms, commits and broadcasts
// ops, coalesced presence, the REST API and event streams, tokens, limits,
// the cross-node bus, metrics and the health endpoints.
//
// The data path is socket -> connection (conn.go, its read goroutine decodes
// frames, ops by the document's type) -> hub (hub.go) -> document actor
// (actor.go: mailbox, store calls, batching, timing) around the document's
// pure state (state.go: content, version, op window, (sid, seq) marks,
// presence; every committed op goes through its applyCommitted) -> store ->
// broadcast to subscribers (events.go; WebSocket connections and SSE
// streams). REST (rest.go) and SSE (sse.go) reach the same actors through
// Server.SubmitOp and Server.Subscribe; other nodes reach them through the
// bus (package bus; what the actors send over it: actor_bus.go, and the
// forwarding to a document's owner: actor_owner.go).
//
// The server knows no document type: documents are of a doctype.Type (text,
// rich, ...) and the server only calls the interface. docs/architecture.md
// says who owns which goroutine and which state, and the lock order.
package server
