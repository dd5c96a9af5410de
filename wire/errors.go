package wire

import "fmt"

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

// DecodeError is the only error DecodeClient returns. The server answers it with
// an Error message of its Code and Msg (what Reply builds), echoing Doc and Seq
// when they could be read so the client can tell which document and op the
// error is about.
type DecodeError struct {
	// Code is CodeBadRequest, CodeTooLarge or CodeInvalidOp.
	Code string
	// Msg says what is wrong, naming the key.
	Msg string
	// Doc is the message's document id when it was present and valid, else "".
	Doc string
	// Seq is the message's seq when it was present and a positive integer, else 0.
	Seq int64
	// Err is the underlying cause, if any (an *ot.OpError for invalid_op and
	// some too_large errors), for errors.Is/As.
	Err error
}

// Error renders the code and message.
func (e *DecodeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("wire: %s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("wire: %s: %s", e.Code, e.Msg)
}

// Unwrap exposes the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// Reply is the Error message the server sends for this decode error.
func (e *DecodeError) Reply() *Error {
	return &Error{Code: e.Code, Msg: e.Msg, Doc: e.Doc, Seq: e.Seq}
}
