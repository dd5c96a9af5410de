package rich

import (
	"errors"
	"fmt"

	"github.com/tandem-collab/tandem/ot"
)

// ErrorKind classifies an OpError so that callers can branch without string
// matching. The server answers KindTooLarge with too_large and every other
// kind with invalid_op.
type ErrorKind int

const (
	// KindInvalid is a malformed op, attribute, embed, content or selection.
	KindInvalid ErrorKind = iota + 1
	// KindDoesNotFit is a well-formed op that runs past the end of the document.
	KindDoesNotFit
	// KindBadUTF8 is text that is not valid UTF-8 (or a lone surrogate escape in JSON).
	KindBadUTF8
	// KindTooLarge is an op, attribute map, value, embed or document over a limit.
	KindTooLarge
	// KindFinalNewline is an op that would delete the document's final "\n" or
	// insert after it, or content that does not end with "\n".
	KindFinalNewline
)

// String names the kind as the shared test vectors (testdata/rich-vectors.json) do.
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
	case KindFinalNewline:
		return "final_newline"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// OpError is the only error type this package returns. Index is the position
// of the offending component in the op (or range in a selection), -1 when the
// error is not about one item.
type OpError struct {
	Kind  ErrorKind
	Index int
	Msg   string
}

// Error renders the kind, the component index and the detail.
func (e *OpError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("rich: %s: component %d: %s", e.Kind, e.Index, e.Msg)
	}
	return fmt.Sprintf("rich: %s: %s", e.Kind, e.Msg)
}

// Is makes errors.Is match this package's sentinels by kind, and also ot's
// ErrInvalid, ErrDoesNotFit, ErrBadUTF8 and ErrTooLarge, so that code which
// maps the text type's errors to wire codes maps rich errors the same way:
// every kind except KindTooLarge matches ErrInvalid (and ot.ErrInvalid).
func (e *OpError) Is(target error) bool {
	switch target {
	case ErrInvalid, ot.ErrInvalid:
		return e.Kind != KindTooLarge
	case ErrTooLarge, ot.ErrTooLarge:
		return e.Kind == KindTooLarge
	case ErrDoesNotFit, ot.ErrDoesNotFit:
		return e.Kind == KindDoesNotFit
	case ErrBadUTF8, ot.ErrBadUTF8:
		return e.Kind == KindBadUTF8
	case ErrFinalNewline:
		return e.Kind == KindFinalNewline
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
	// ErrTooLarge matches anything over a size limit.
	ErrTooLarge = &OpError{Kind: KindTooLarge, Index: -1, Msg: "over a size limit"}
	// ErrFinalNewline matches an op that would delete the final "\n" or insert
	// after it, and content that does not end with "\n".
	ErrFinalNewline = &OpError{Kind: KindFinalNewline, Index: -1, Msg: "the document must end with its final newline"}
)

func errInvalid(index int, format string, args ...any) error {
	return &OpError{Kind: KindInvalid, Index: index, Msg: fmt.Sprintf(format, args...)}
}

func errNoFit(index int, format string, args ...any) error {
	return &OpError{Kind: KindDoesNotFit, Index: index, Msg: fmt.Sprintf(format, args...)}
}

func errUTF8(index int, what string) error {
	return &OpError{Kind: KindBadUTF8, Index: index, Msg: what + " is not valid UTF-8"}
}

func errTooLarge(index int, format string, args ...any) error {
	return &OpError{Kind: KindTooLarge, Index: index, Msg: fmt.Sprintf(format, args...)}
}

func errNewline(index int, format string, args ...any) error {
	return &OpError{Kind: KindFinalNewline, Index: index, Msg: fmt.Sprintf(format, args...)}
}

// KindOf reports the kind of an error returned by this package, or 0 when err
// is nil or not an *OpError.
func KindOf(err error) ErrorKind {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Kind
	}
	return 0
}

// withIndex returns err with its Index set to i when it is an *OpError
// without one (helpers that check one attribute map do not know the
// component's index).
func withIndex(err error, i int) error {
	var oe *OpError
	if errors.As(err, &oe) && oe.Index < 0 {
		c := *oe
		c.Index = i
		return &c
	}
	return err
}
