package ot

import "github.com/tandem-collab/tandem/internal/operr"

// The error type is shared with the rich type (internal/operr): one kind
// list, one error, one set of sentinels.

// ErrorKind classifies an OpError so that callers (the server maps kinds to the
// wire error codes invalid_op and too_large) can branch without string matching.
type ErrorKind = operr.Kind

const (
	// KindInvalid is a malformed op or selection: zero retain or delete, empty
	// insert, an item of the wrong type, a count out of range.
	KindInvalid = operr.Invalid
	// KindDoesNotFit is a well-formed op or position that runs past the end of the
	// document it is applied to.
	KindDoesNotFit = operr.DoesNotFit
	// KindBadUTF8 is text that is not valid UTF-8 (including UTF-8-encoded
	// surrogates and lone surrogate escapes in JSON).
	KindBadUTF8 = operr.BadUTF8
	// KindTooLarge is an op (or document) over a size limit.
	KindTooLarge = operr.TooLarge
)

// OpError is the only error type this package returns. Index is the position of
// the offending component in the op (or range in a selection), -1 when the error
// is not about one item. errors.Is matches it against the sentinels by kind:
// every kind except KindTooLarge matches ErrInvalid (the server answers them
// with invalid_op), and KindTooLarge matches doctype.ErrTooLarge.
type OpError = operr.Error

// Sentinels for errors.Is. Returned errors are fresh *OpError values carrying
// the index and detail; compare with errors.Is, never ==.
var (
	// ErrInvalid matches every error of this package except ErrTooLarge.
	ErrInvalid = operr.ErrInvalid
	// ErrDoesNotFit matches an op or position that runs past the document end.
	ErrDoesNotFit = operr.ErrDoesNotFit
	// ErrBadUTF8 matches text that is not valid UTF-8.
	ErrBadUTF8 = operr.ErrBadUTF8
	// ErrTooLarge matches an op over a size limit.
	ErrTooLarge = operr.ErrTooLarge
)

const pkg = "ot"

func errInvalid(index int, format string, args ...any) error {
	return operr.New(pkg, KindInvalid, index, format, args...)
}

func errNoFit(index int, format string, args ...any) error {
	return operr.New(pkg, KindDoesNotFit, index, format, args...)
}

func errUTF8(index int, msg string) error {
	return &OpError{Pkg: pkg, Kind: KindBadUTF8, Index: index, Msg: msg}
}

// errTooLarge is built without fmt: limits are checked on every op.
func errTooLarge(msg string) error {
	return &OpError{Pkg: pkg, Kind: KindTooLarge, Index: -1, Msg: msg}
}

// KindOf reports the kind of an error returned by this package, or 0 when err is
// nil or not an *OpError.
func KindOf(err error) ErrorKind { return operr.KindOf(err) }
