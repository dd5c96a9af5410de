package ot

import (
	"strings"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/mpack"
)

// MaxCount bounds a retain or delete count and an op's base length. It is far
// above any document the server accepts (8 MiB of text), and keeps every sum of
// counts inside int on all platforms, so no arithmetic here can overflow.
const MaxCount = 1<<31 - 1

func (c Component) kind() byte {
	switch {
	case c.Insert != "" && c.Retain == 0 && c.Delete == 0:
		return 'i'
	case c.Retain > 0 && c.Delete == 0 && c.Insert == "":
		return 'r'
	case c.Delete > 0 && c.Retain == 0 && c.Insert == "":
		return 'd'
	}
	return 0
}

// Validate checks the shape rules that do not depend on a document: every
// component sets exactly one field, counts are positive and at most MaxCount,
// inserts are non-empty valid UTF-8, and the base length is at most MaxCount.
// A non-canonical op (adjacent components of one kind, a trailing retain) is
// valid; Normalize makes it canonical.
func (op Op) Validate() error {
	base := 0
	for i, c := range op {
		switch c.kind() {
		case 'i':
			if !utf8.ValidString(c.Insert) {
				return errUTF8(i, "insert is not valid UTF-8")
			}
		case 'r', 'd':
			n := c.Retain + c.Delete
			if n > MaxCount {
				return errNoFit(i, "count %d over %d", n, MaxCount)
			}
			base += n
			if base > MaxCount {
				return errNoFit(i, "op reads more than %d code points", MaxCount)
			}
		default:
			return errInvalid(i, "component must set exactly one of a positive Retain, a non-empty Insert or a positive Delete (got %+v)", c)
		}
	}
	return nil
}

// IsCanonical reports whether op is in the canonical form of docs/protocol.md: no
// trailing retain, no two adjacent components of the same kind, and no delete
// directly followed by an insert. It assumes op is valid.
func (op Op) IsCanonical() bool {
	var prev byte
	for _, c := range op {
		k := c.kind()
		if k == 0 || k == prev || (prev == 'd' && k == 'i') {
			return false
		}
		prev = k
	}
	return prev != 'r'
}

// Normalize returns the canonical form of op: it drops the trailing retain,
// merges adjacent components of one kind, and moves inserts before the deletes
// they touch (insert-then-delete and delete-then-insert at one place have the
// same effect). Components that are not valid (zero, empty) are dropped, so
// Normalize never panics, but callers should Validate first. An op that is
// already canonical is returned as is, without allocating.
func (op Op) Normalize() Op {
	if op.IsCanonical() {
		return op
	}
	out := make(Op, 0, len(op))
	var (
		ins     string
		insMany *strings.Builder
		del     int
	)
	flush := func() {
		if insMany != nil {
			ins = insMany.String()
			insMany = nil
		}
		if ins != "" {
			out = append(out, Component{Insert: ins})
			ins = ""
		}
		if del > 0 {
			out = append(out, Component{Delete: del})
			del = 0
		}
	}
	for _, c := range op {
		switch c.kind() {
		case 'i':
			switch {
			case insMany != nil:
				insMany.WriteString(c.Insert)
			case ins == "":
				ins = c.Insert
			default:
				insMany = &strings.Builder{}
				insMany.WriteString(ins)
				insMany.WriteString(c.Insert)
				ins = ""
			}
		case 'd':
			del += c.Delete
		case 'r':
			flush()
			if n := len(out); n > 0 && out[n-1].kind() == 'r' {
				out[n-1].Retain += c.Retain
			} else {
				out = append(out, Component{Retain: c.Retain})
			}
		}
	}
	flush()
	if n := len(out); n > 0 && out[n-1].kind() == 'r' {
		out = out[:n-1]
	}
	return out
}

// BaseLen is the number of code points op reads (retains plus deletes): the
// minimum length of a document op applies to.
func (op Op) BaseLen() int {
	n := 0
	for _, c := range op {
		n += c.Retain + c.Delete
	}
	return n
}

// TargetLen is the length op produces from a document of exactly BaseLen code
// points: retains plus inserted code points.
func (op Op) TargetLen() int {
	n := 0
	for _, c := range op {
		n += c.Retain + utf8.RuneCountInString(c.Insert)
	}
	return n
}

// IsNoop reports whether op changes no document (it only retains).
func (op Op) IsNoop() bool {
	for _, c := range op {
		if c.Insert != "" || c.Delete != 0 {
			return false
		}
	}
	return true
}

// Size is the length in bytes of op's MessagePack encoding, which is what the
// server's op size limit (1 MiB by default) is measured against.
func (op Op) Size() int {
	n := arrayHeaderSize(len(op))
	for _, c := range op {
		switch {
		case c.Insert != "":
			n += stringHeaderSize(len(c.Insert)) + len(c.Insert)
		case c.Delete != 0:
			n += intSize(int64(-c.Delete))
		default:
			n += intSize(int64(c.Retain))
		}
	}
	return n
}

// CheckSize returns an ErrTooLarge error when op's encoded size is over max
// bytes.
func (op Op) CheckSize(max int) error {
	if s := op.Size(); s > max {
		return errTooLarge("op is " + itoa(s) + " bytes, over the limit of " + itoa(max))
	}
	return nil
}

func arrayHeaderSize(n int) int { return mpack.ArrayHeaderSize(n) }

func stringHeaderSize(n int) int { return mpack.StringHeaderSize(n) }

func intSize(v int64) int { return mpack.IntSize(v) }
