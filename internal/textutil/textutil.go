// Package textutil holds the small text helpers that several of Tandem's
// packages share: shortening untrusted text for an error message, finding
// the lone UTF-16 surrogate escapes that encoding/json would quietly turn
// into U+FFFD where the protocol rejects them, and stepping over code points
// (the unit of every position in text and rich documents).
package textutil

import "unicode/utf8"

// Truncate returns s cut to at most n bytes, at a rune boundary, with "..."
// after a cut: error messages quote untrusted text without repeating a
// megabyte of it.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// Advance returns the byte offset n code points after byte offset pos of s
// (len(s) when s ends first). An invalid byte counts as one code point.
func Advance(s string, pos, n int) int {
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

// LoneSurrogate finds the first \u escape inside a JSON string of b that is
// a lone UTF-16 surrogate: a high one (\uD800-\uDBFF) not followed at once by
// a low one (\uDC00-\uDFFF), or a low one alone. b is JSON text (a whole
// document, or one string literal with its quotes); it must be well formed
// enough to track strings, and a malformed escape is left for the JSON
// decoder to report. It returns the byte offset of the escape and its
// value, or -1 when there is none.
func LoneSurrogate(b []byte) (at int, u uint32) {
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inStr {
			if c == '"' {
				inStr = true
			}
			continue
		}
		switch c {
		case '"':
			inStr = false
		case '\\':
			if i+1 >= len(b) {
				return -1, 0 // truncated: the decoder reports it
			}
			if b[i+1] != 'u' {
				i++
				continue
			}
			u, ok := hex4(b, i+2)
			if !ok {
				return -1, 0 // malformed escape: the decoder reports it
			}
			switch {
			case u >= 0xD800 && u <= 0xDBFF:
				lo, ok := uint32(0), false
				if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
					lo, ok = hex4(b, i+8)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return i, u
				}
				i += 11
			case u >= 0xDC00 && u <= 0xDFFF:
				return i, u
			default:
				i += 5
			}
		}
	}
	return -1, 0
}

// hex4 reads four hex digits at b[at:].
func hex4(b []byte, at int) (uint32, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var v uint32
	for _, c := range b[at : at+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint32(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint32(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= uint32(c-'A') + 10
		default:
			return 0, false
		}
	}
	return v, true
}
