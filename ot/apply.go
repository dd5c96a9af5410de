package ot

import (
	"strings"
	"unicode/utf8"
)

// Apply applies op to doc and returns the new text. The op is validated and
// must fit: its retains and deletes may not run past the end of doc (a trailing
// retain included). The document itself must be valid UTF-8. Apply copies the
// whole text; the server keeps documents in a Doc instead.
func Apply(doc string, op Op) (string, error) {
	if err := op.Validate(); err != nil {
		return "", err
	}
	if !utf8.ValidString(doc) {
		return "", errUTF8(-1, "document is not valid UTF-8")
	}
	if err := checkFit(op, runeCountAtLeast(doc, op.BaseLen())); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(doc) + insertBytes(op))
	pos := 0 // byte offset in doc
	for _, c := range op {
		switch {
		case c.Insert != "":
			b.WriteString(c.Insert)
		case c.Retain > 0:
			end := advance(doc, pos, c.Retain)
			b.WriteString(doc[pos:end])
			pos = end
		default:
			pos = advance(doc, pos, c.Delete)
		}
	}
	b.WriteString(doc[pos:])
	return b.String(), nil
}

// checkFit reports ErrDoesNotFit naming the first component that runs past a
// document of docLen code points.
func checkFit(op Op, docLen int) error {
	pos := 0
	for i, c := range op {
		pos += c.Retain + c.Delete
		if pos > docLen {
			return errNoFit(i, "op reads %d code points, document has %d", op.BaseLen(), docLen)
		}
	}
	return nil
}

// runeCountAtLeast counts the code points of s, but stops once it has seen
// more than n, so checking that a small op fits a huge text stays cheap.
func runeCountAtLeast(s string, n int) int {
	if len(s) <= n {
		return utf8.RuneCountInString(s)
	}
	count, i := 0, 0
	for i < len(s) && count <= n {
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		count++
	}
	return count
}

// advance returns the byte offset n code points after byte offset pos of s.
func advance(s string, pos, n int) int {
	for ; n > 0 && pos < len(s); n-- {
		if s[pos] < utf8.RuneSelf {
			pos++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[pos:])
		pos += size
	}
	return pos
}

func insertBytes(op Op) int {
	n := 0
	for _, c := range op {
		n += len(c.Insert)
	}
	return n
}
