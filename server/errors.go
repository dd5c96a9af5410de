package server

import "errors"

// ErrShuttingDown is returned (wrapped) by SubmitOp, Subscribe and DeleteDoc
// once Shutdown has begun; the WebSocket endpoint answers 503 then.
var ErrShuttingDown = errors.New("server is shutting down")
