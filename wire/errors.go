package wire

import (
	"fmt"
	"strings"
)

// Error codes of the protocol, sent in Error.Code.
const (
	// CodeBadRequest is a malformed message: not one map, a missing required key,
	// a wrong type, a value out of range.
	CodeBadRequest = "bad_request"
	// CodeUnauthorized is a missing or bad token.
	CodeUnauthorized = "unauthorized"
	// CodeForbidden is a token lacking the right, e.g. an op on a read-only join.
	CodeForbidden = "forbidden"
	// CodeNotFound is an unknown document.
	CodeNotFound = "not_found"
	// CodeInvalidOp is an op that is malformed or does not fit the document.
	CodeInvalidOp = "invalid_op"
	// CodeTooLarge is an op, document or presence data over a limit.
	CodeTooLarge = "too_large"
	// CodeRateLimited is a connection over its rate.
	CodeRateLimited = "rate_limited"
	// CodeDeleted is sent to joined clients when their document is deleted.
	CodeDeleted = "deleted"
	// CodeInternal is a server fault; the client may retry.
	CodeInternal = "internal"
)

// Error is both the protocol's error message and the Go error of every
// failure the protocol names: what the decoders return (CodeBadRequest,
// CodeTooLarge, CodeInvalidOp), what the server's SubmitOp returns, and what
// the Go client reports of an error the server sent. Doc and Seq say which
// document and op it is about when known. Err, the cause (the document
// type's error, a store error), is for errors.Is/As and is never sent.
//
// The struct is in messages.go with the other messages.

// Error renders the code, the document and seq when known, the message and
// the cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	switch {
	case e.Doc != "" && e.Seq != 0:
		fmt.Fprintf(&b, " (doc %q, seq %d)", e.Doc, e.Seq)
	case e.Doc != "":
		fmt.Fprintf(&b, " (doc %q)", e.Doc)
	case e.Seq != 0:
		fmt.Fprintf(&b, " (seq %d)", e.Seq)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }
