package ot

import (
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/internal/textutil"
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
			end := textutil.Advance(doc, pos, c.Retain)
			b.WriteString(doc[pos:end])
			pos = end
		default:
			pos = textutil.Advance(doc, pos, c.Delete)
		}
	}
	b.WriteString(doc[pos:])
	return b.String(), nil
}

// CheckFit reports an ErrDoesNotFit error when op, as given, reads past the
// end of a document of docLen code points: its retains and deletes, a
// trailing retain included, must fit. Check an op as its author sent it,
// against the length of the document at the op's own version: normalising
// drops the trailing retain and transforming moves the op to another
// document, so neither can tell any more.
func (op Op) CheckFit(docLen int) error {
	return checkFit(op, docLen)
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

// advanceValid is advance for text known to be valid UTF-8 (rope leaves,
// validated inserts). It counts lead bytes (those that are not 10xxxxxx
// continuation bytes) eight at a time, which is what makes positioning inside
// a 1 KiB leaf of mixed text cheap. On invalid input it would disagree with
// advance, so it is only used where the text was validated on the way in.
func advanceValid(s string, pos, n int) int {
	if n <= 0 {
		return min(pos, len(s))
	}
	// The result is where lead byte number n (from 0) after pos starts. Skip
	// whole words that do not contain it; a word boundary inside a code point
	// does not matter since only lead bytes are counted.
	for pos+8 <= len(s) {
		x := uint64(s[pos]) | uint64(s[pos+1])<<8 | uint64(s[pos+2])<<16 | uint64(s[pos+3])<<24 |
			uint64(s[pos+4])<<32 | uint64(s[pos+5])<<40 | uint64(s[pos+6])<<48 | uint64(s[pos+7])<<56
		leads := 8 - bits.OnesCount64(x&^(x<<1)&0x8080808080808080)
		if leads > n {
			break
		}
		n -= leads
		pos += 8
	}
	for ; pos < len(s); pos++ {
		if s[pos]&0xc0 != 0x80 {
			if n == 0 {
				return pos
			}
			n--
		}
	}
	return len(s)
}

func insertBytes(op Op) int {
	n := 0
	for _, c := range op {
		n += len(c.Insert)
	}
	return n
}
