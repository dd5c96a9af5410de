package ot

import (
	"errors"
	"fmt"

	"github.com/tandem-collab/tandem/doctype"
)

// ErrorKind classifies an OpError so that callers (the server maps kinds to the
// wire error codes invalid_op and too_large) can branch without string matching.
type ErrorKind int

const (
	// KindInvalid is a malformed op or selection: zero retain or delete, empty
	// insert, an item of the wrong type, a count out of range.
	KindInvalid ErrorKind = iota + 1
	// KindDoesNotFit is a well-formed op or position that runs past the end of the
	// document it is applied to.
	KindDoesNotFit
	// KindBadUTF8 is text that is not valid UTF-8 (including UTF-8-encoded
	// surrogates and lone surrogate escapes in JSON).
	KindBadUTF8
	// KindTooLarge is an op (or document) over a size limit.
	KindTooLarge
)

// String names the kind as the shared test vectors do.
func (k ErrorKind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindDoesNotFit:
		return "does_not_fit"
	case KindBadUTF8:
		return "bad_utf8"
	case KindTooLarge:
		return "too_large"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// OpError is the only error type this package returns. Index is the position of
// the offending component in the op (or range in a selection), -1 when the error
// is not about one item.
type OpError struct {
	Kind  ErrorKind
	Index int
	Msg   string
}

// Error renders the kind, the component index and the detail.
func (e *OpError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("ot: %s: component %d: %s", e.Kind, e.Index, e.Msg)
	}
	return fmt.Sprintf("ot: %s: %s", e.Kind, e.Msg)
}

// Is makes errors.Is match the sentinels by kind: every kind except
// KindTooLarge also matches ErrInvalid, because the server answers all of them
// with invalid_op; KindTooLarge also matches doctype.ErrTooLarge (too_large).
func (e *OpError) Is(target error) bool {
	if target == doctype.ErrTooLarge {
		return e.Kind == KindTooLarge
	}
	t, ok := target.(*OpError)
	if !ok {
		return false
	}
	switch t {
	case ErrInvalid:
		return e.Kind != KindTooLarge
	case ErrDoesNotFit, ErrBadUTF8, ErrTooLarge:
		return e.Kind == t.Kind
	}
	return false
}

// Sentinels for errors.Is. Returned errors are fresh *OpError values carrying
// the index and detail; compare with errors.Is, never ==.
var (
	// ErrInvalid matches every error of this package except ErrTooLarge.
	ErrInvalid = &OpError{Kind: KindInvalid, Index: -1, Msg: "invalid op"}
	// ErrDoesNotFit matches an op or position that runs past the document end.
	ErrDoesNotFit = &OpError{Kind: KindDoesNotFit, Index: -1, Msg: "op does not fit the document"}
	// ErrBadUTF8 matches text that is not valid UTF-8.
	ErrBadUTF8 = &OpError{Kind: KindBadUTF8, Index: -1, Msg: "text is not valid UTF-8"}
	// ErrTooLarge matches an op over a size limit.
	ErrTooLarge = &OpError{Kind: KindTooLarge, Index: -1, Msg: "op too large"}
)

func errInvalid(index int, format string, args ...any) error {
	return &OpError{Kind: KindInvalid, Index: index, Msg: fmt.Sprintf(format, args...)}
}

func errNoFit(index int, format string, args ...any) error {
	return &OpError{Kind: KindDoesNotFit, Index: index, Msg: fmt.Sprintf(format, args...)}
}

func errUTF8(index int, msg string) error {
	return &OpError{Kind: KindBadUTF8, Index: index, Msg: msg}
}

// KindOf reports the kind of an error returned by this package, or 0 when err is
// nil or not an *OpError.
func KindOf(err error) ErrorKind {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Kind
	}
	return 0
}
