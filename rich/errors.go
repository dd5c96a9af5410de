package rich

import "github.com/tandem-collab/tandem/internal/operr"

// The error type is the text type's (internal/operr): one kind list, one
// error, one set of sentinels, so that code which maps the text type's
// errors to wire codes maps rich errors the same way.

// ErrorKind classifies an OpError so that callers can branch without string
// matching. The server answers KindTooLarge with too_large and every other
// kind with invalid_op.
type ErrorKind = operr.Kind

const (
	// KindInvalid is a malformed op, attribute, embed, content or selection.
	KindInvalid = operr.Invalid
	// KindDoesNotFit is a well-formed op that runs past the end of the document.
	KindDoesNotFit = operr.DoesNotFit
	// KindBadUTF8 is text that is not valid UTF-8 (or a lone surrogate escape in JSON).
	KindBadUTF8 = operr.BadUTF8
	// KindTooLarge is an op, attribute map, value, embed or document over a limit.
	KindTooLarge = operr.TooLarge
	// KindFinalNewline is an op that would delete the document's final "\n" or
	// insert after it, or content that does not end with "\n".
	KindFinalNewline = operr.FinalNewline
)

// OpError is the only error type this package returns (the text type's too).
// Index is the position of the offending component in the op (or range in a
// selection), -1 when the error is not about one item. errors.Is matches it
// against the sentinels by kind: every kind except KindTooLarge matches
// ErrInvalid, and KindTooLarge matches doctype.ErrTooLarge.
type OpError = operr.Error

// Sentinels for errors.Is (the same values as ot's). Returned errors are
// fresh *OpError values carrying the index and detail; compare with
// errors.Is, never ==.
var (
	// ErrInvalid matches every error of this package except ErrTooLarge.
	ErrInvalid = operr.ErrInvalid
	// ErrDoesNotFit matches an op or position that runs past the document end.
	ErrDoesNotFit = operr.ErrDoesNotFit
	// ErrBadUTF8 matches text that is not valid UTF-8.
	ErrBadUTF8 = operr.ErrBadUTF8
	// ErrTooLarge matches anything over a size limit.
	ErrTooLarge = operr.ErrTooLarge
	// ErrFinalNewline matches an op that would delete the final "\n" or insert
	// after it, and content that does not end with "\n".
	ErrFinalNewline = operr.ErrFinalNewline
)

const pkg = "rich"

func errInvalid(index int, format string, args ...any) error {
	return operr.New(pkg, KindInvalid, index, format, args...)
}

func errNoFit(index int, format string, args ...any) error {
	return operr.New(pkg, KindDoesNotFit, index, format, args...)
}

func errUTF8(index int, what string) error {
	return operr.New(pkg, KindBadUTF8, index, "%s is not valid UTF-8", what)
}

func errTooLarge(index int, format string, args ...any) error {
	return operr.New(pkg, KindTooLarge, index, format, args...)
}

func errNewline(index int, format string, args ...any) error {
	return operr.New(pkg, KindFinalNewline, index, format, args...)
}

// KindOf reports the kind of an error returned by this package, or 0 when err
// is nil or not an *OpError.
func KindOf(err error) ErrorKind { return operr.KindOf(err) }

// withIndex returns err with its Index set to i when it is an *OpError
// without one (helpers that check one attribute map do not know the
// component's index).
func withIndex(err error, i int) error { return operr.WithIndex(err, i) }
