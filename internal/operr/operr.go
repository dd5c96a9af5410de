// Package operr is the error type the document types share (ot for text,
// rich, tree): one kind list, one error with the offending item's index (a
// component of a text or rich op, an action of a tree op), one set of
// sentinels matched by kind. Each package re-exports it under its own names
// (ot.OpError, rich.OpError, tree.OpError), so an error of any of them
// matches the same sentinels and maps to the same wire codes.
package operr

import (
	"errors"
	"fmt"

	"github.com/tandem-collab/tandem/doctype"
)

// Kind classifies an Error so that callers (the server maps kinds to the wire
// error codes invalid_op and too_large) can branch without string matching.
type Kind int

const (
	// Invalid is a malformed op, value or selection: zero retain or delete,
	// empty insert, an item of the wrong type, a count out of range.
	Invalid Kind = iota + 1
	// DoesNotFit is a well-formed op or position that runs past the end of
	// the document it is applied to.
	DoesNotFit
	// BadUTF8 is text that is not valid UTF-8 (including UTF-8-encoded
	// surrogates and lone surrogate escapes in JSON).
	BadUTF8
	// TooLarge is an op, value or document over a size limit.
	TooLarge
	// FinalNewline is a rich op that would delete the document's final "\n"
	// or insert after it, or rich content that does not end with "\n".
	FinalNewline
	// Limit is a tree op or content that would take the document past one
	// of its structural limits (objects, properties per object, nesting,
	// value size). The contract answers it with invalid_op, not too_large.
	Limit
)

// String names the kind as the shared test vectors do.
func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case DoesNotFit:
		return "does_not_fit"
	case BadUTF8:
		return "bad_utf8"
	case TooLarge:
		return "too_large"
	case FinalNewline:
		return "final_newline"
	case Limit:
		return "limit"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is an op, value or selection a type refused. Index is the position
// of the offending item in the op (or range in a selection), -1 when the
// error is not about one item. Pkg ("ot", "rich", "tree") starts the
// message; Item names what Index counts ("component" when empty, "action"
// for tree). Err is an underlying cause, if any (a tree text action's
// *Error from ot).
type Error struct {
	Pkg   string
	Kind  Kind
	Index int
	Item  string
	Msg   string
	Err   error
}

// Error renders the package, the kind, the item's index and the detail,
// then the cause.
func (e *Error) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Index >= 0 {
		item := e.Item
		if item == "" {
			item = "component"
		}
		return fmt.Sprintf("%s: %s: %s %d: %s", e.Pkg, e.Kind, item, e.Index, msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pkg, e.Kind, msg)
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match the sentinels by kind: every kind except TooLarge
// also matches ErrInvalid, because the server answers all of them with
// invalid_op; TooLarge also matches doctype.ErrTooLarge (too_large).
func (e *Error) Is(target error) bool {
	if target == doctype.ErrTooLarge {
		return e.Kind == TooLarge
	}
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	switch t {
	case ErrInvalid:
		return e.Kind != TooLarge
	case ErrDoesNotFit, ErrBadUTF8, ErrTooLarge, ErrFinalNewline, ErrLimit:
		return e.Kind == t.Kind
	}
	return false
}

// Sentinels for errors.Is. Returned errors are fresh *Error values carrying
// the index and detail; compare with errors.Is, never ==.
var (
	// ErrInvalid matches every error except ErrTooLarge.
	ErrInvalid = &Error{Kind: Invalid, Index: -1, Msg: "invalid op"}
	// ErrDoesNotFit matches an op or position that runs past the document end.
	ErrDoesNotFit = &Error{Kind: DoesNotFit, Index: -1, Msg: "op does not fit the document"}
	// ErrBadUTF8 matches text that is not valid UTF-8.
	ErrBadUTF8 = &Error{Kind: BadUTF8, Index: -1, Msg: "text is not valid UTF-8"}
	// ErrTooLarge matches anything over a size limit.
	ErrTooLarge = &Error{Kind: TooLarge, Index: -1, Msg: "over a size limit"}
	// ErrFinalNewline matches a rich op that would delete the final "\n" or
	// insert after it, and rich content that does not end with "\n".
	ErrFinalNewline = &Error{Kind: FinalNewline, Index: -1, Msg: "the document must end with its final newline"}
	// ErrLimit matches a tree op or content past a structural tree limit.
	ErrLimit = &Error{Kind: Limit, Index: -1, Msg: "over a tree limit"}
)

// New returns an *Error of pkg.
func New(pkg string, kind Kind, index int, format string, args ...any) error {
	return &Error{Pkg: pkg, Kind: kind, Index: index, Msg: fmt.Sprintf(format, args...)}
}

// KindOf reports the kind of an *Error in err's chain, or 0 when err is nil
// or holds none.
func KindOf(err error) Kind {
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Kind
	}
	return 0
}

// WithIndex returns err with its Index set to i when it is an *Error without
// one (helpers that check one value do not know the component's index).
func WithIndex(err error, i int) error {
	var oe *Error
	if errors.As(err, &oe) && oe.Index < 0 {
		c := *oe
		c.Index = i
		return &c
	}
	return err
}
