package server

import (
	"errors"
	"fmt"
)

// ErrShuttingDown is returned (wrapped) by SubmitOp, Subscribe and DeleteDoc
// once Shutdown has begun; the WebSocket endpoint answers 503 then.
var ErrShuttingDown = errors.New("server is shutting down")

// Error is a failure the protocol names: Code is one of the wire error codes
// (wire.CodeInvalidOp, wire.CodeTooLarge, wire.CodeNotFound, ...). SubmitOp
// returns it so that the REST layer can map codes to HTTP statuses.
type Error struct {
	Code string
	Msg  string
	Doc  string
	Seq  int64
	// Err is the cause (the document type's error, a store error), if any.
	Err error
}

// Error renders the code, the document and the message.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Code, e.Msg)
	if e.Doc != "" {
		s = fmt.Sprintf("%s (doc %q)", s, e.Doc)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }
