package tree

import (
	"fmt"

	"github.com/tandem-collab/tandem/internal/operr"
)

// The error type is the one the text and rich types return
// (internal/operr): one kind list, one error, one set of sentinels, so that
// the server maps a tree error to a wire code as it maps theirs. A tree
// error counts actions where theirs count components, and adds a kind of
// its own, KindLimit.

// ErrorKind classifies an *OpError so that callers can map it to a wire error
// code without matching strings.
type ErrorKind = operr.Kind

const (
	// KindInvalid is an op that is wrong in itself (unknown action, bad id, key
	// or property name, bad value, a text action that does not fit its string,
	// a new of an id that exists, a text action on a non-string). The server
	// answers invalid_op.
	KindInvalid = operr.Invalid
	// KindLimit is an op that would take the document past one of the tree
	// limits (objects, properties per object, nesting, value size). The
	// contract makes this invalid_op too.
	KindLimit = operr.Limit
	// KindTooLarge is an op or a document over its size in bytes (the op limit
	// every type shares, and the tree content limit). The server answers
	// too_large: it matches doctype.ErrTooLarge.
	KindTooLarge = operr.TooLarge
)

// OpError is the error type of this package (the text type's too). Index is
// the index of the offending action in its op, -1 when the error is not
// about one action; Err is an underlying cause (an *ot.OpError for a text
// action), if any.
type OpError = operr.Error

// Sentinels for errors.Is (the same values as ot's and rich's); returned
// errors are fresh *OpError values.
var (
	// ErrInvalid matches every error the server answers with invalid_op:
	// KindInvalid and KindLimit.
	ErrInvalid = operr.ErrInvalid
	// ErrLimit matches an op that would take the document past a tree limit.
	ErrLimit = operr.ErrLimit
	// ErrTooLarge matches an op or document over its size in bytes.
	ErrTooLarge = operr.ErrTooLarge
)

// KindOf reports the kind of an *OpError in err's chain, 0 for nil or others.
func KindOf(err error) ErrorKind { return operr.KindOf(err) }

const pkg, item = "tree", "action"

func newErr(kind ErrorKind, action int, format string, args ...any) *OpError {
	return &OpError{Pkg: pkg, Kind: kind, Index: action, Item: item, Msg: fmt.Sprintf(format, args...)}
}

func errInvalid(action int, format string, args ...any) *OpError {
	return newErr(KindInvalid, action, format, args...)
}

func errLimit(action int, format string, args ...any) *OpError {
	return newErr(KindLimit, action, format, args...)
}

func errTooLarge(action int, format string, args ...any) *OpError {
	return newErr(KindTooLarge, action, format, args...)
}

// errCause is a KindInvalid error about msg, caused by err (a text action's
// error from ot).
func errCause(action int, msg string, err error) *OpError {
	return &OpError{Pkg: pkg, Kind: KindInvalid, Index: action, Item: item, Msg: msg, Err: err}
}

// at sets the action index of an error that was made without one.
func at(err error, action int) error { return operr.WithIndex(err, action) }
