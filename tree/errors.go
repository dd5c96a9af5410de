package tree

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an *OpError so that callers can map it to a wire error
// code without matching strings.
type ErrorKind int

const (
	// KindInvalid is an op that is wrong in itself (unknown action, bad id, key
	// or property name, bad value, a text action that does not fit its string,
	// a new of an id that exists, a text action on a non-string). The server
	// answers invalid_op.
	KindInvalid ErrorKind = iota + 1
	// KindLimit is an op that would take the document past one of the tree
	// limits (objects, properties per object, nesting, value size). The
	// contract makes this invalid_op too.
	KindLimit
	// KindTooLarge is an op or a document over its size in bytes (the op limit
	// every type shares, and the tree content limit). The server answers
	// too_large.
	KindTooLarge
)

// String names the kind as the shared test vectors do.
func (k ErrorKind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindLimit:
		return "limit"
	case KindTooLarge:
		return "too_large"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// OpError is the error type of this package. Action is the index of the
// offending action in its op, -1 when the error is not about one action.
type OpError struct {
	Kind   ErrorKind
	Action int
	Msg    string
	// Err is an underlying cause (an *ot.OpError for a text action), if any.
	Err error
}

// Error renders the kind, the action index and the detail.
func (e *OpError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Action >= 0 {
		return fmt.Sprintf("tree: %s: action %d: %s", e.Kind, e.Action, msg)
	}
	return fmt.Sprintf("tree: %s: %s", e.Kind, msg)
}

// Unwrap exposes the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Is matches the sentinels by kind. ErrInvalid matches KindInvalid and
// KindLimit, the two kinds the server answers with invalid_op.
func (e *OpError) Is(target error) bool {
	t, ok := target.(*OpError)
	if !ok {
		return false
	}
	switch t {
	case ErrInvalid:
		return e.Kind == KindInvalid || e.Kind == KindLimit
	case ErrLimit, ErrTooLarge:
		return e.Kind == t.Kind
	}
	return false
}

// Sentinels for errors.Is; returned errors are fresh *OpError values.
var (
	// ErrInvalid matches every error the server answers with invalid_op.
	ErrInvalid = &OpError{Kind: KindInvalid, Action: -1, Msg: "invalid op"}
	// ErrLimit matches an op that would take the document past a tree limit.
	ErrLimit = &OpError{Kind: KindLimit, Action: -1, Msg: "over a tree limit"}
	// ErrTooLarge matches an op or document over its size in bytes.
	ErrTooLarge = &OpError{Kind: KindTooLarge, Action: -1, Msg: "too large"}
)

// KindOf reports the kind of an error of this package, 0 for nil or others.
func KindOf(err error) ErrorKind {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Kind
	}
	return 0
}

func errInvalid(action int, format string, args ...any) *OpError {
	return &OpError{Kind: KindInvalid, Action: action, Msg: fmt.Sprintf(format, args...)}
}

func errLimit(action int, format string, args ...any) *OpError {
	return &OpError{Kind: KindLimit, Action: action, Msg: fmt.Sprintf(format, args...)}
}

func errTooLarge(action int, format string, args ...any) *OpError {
	return &OpError{Kind: KindTooLarge, Action: action, Msg: fmt.Sprintf(format, args...)}
}

// at sets the action index of an error that was made without one.
func at(err error, action int) error {
	var oe *OpError
	if errors.As(err, &oe) && oe.Action < 0 {
		c := *oe
		c.Action = action
		return &c
	}
	return err
}
