package tree

import (
	"errors"
	"fmt"
	"strings"
)

// Fractional keys order siblings: the server only checks that a key is 1-64
// characters of [0-9A-Za-z] and sorts siblings by (key, id), comparing bytes.
// Clients make a key between two others with KeyBetween.
//
// KeyBetween produces exactly the keys of rocicorp's fractional-indexing
// (npm "fractional-indexing", the default base-62 alphabet with A-Z/a-z
// integer heads) whenever both bounds are keys of that scheme, so the
// TypeScript SDK, which uses that library, and Go clients make the same key
// for the same bounds (testdata/tree-vectors.json pins it). rocicorp's own Go
// port (roci.dev/fracdex) has no tagged release and is not served by the Go
// module proxy we build from, hence this port.
//
// A key written by another client need not follow that scheme ("m", "0",
// "a00" are valid keys the server accepts). For such bounds, or when the
// scheme runs out (its largest or smallest integer), KeyBetween falls back to
// the plain midpoint of the two strings, which the TypeScript SDK computes
// identically.

// MaxKeyLen is the longest key the server accepts.
const MaxKeyLen = 64

// ErrNoKeyBetween is returned when no key of at most MaxKeyLen characters sorts
// strictly between the bounds (they are equal, out of order, or adjacent like
// "a" and "a0"). The caller must re-key a neighbour (move it) first.
var ErrNoKeyBetween = errors.New("tree: no key between these bounds")

const (
	digits62    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	intHeads    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	smallestInt = "A00000000000000000000000000" // head A (27 characters), all zeros
)

// digitValue maps a byte to its base-62 digit value, -1 for other bytes.
var digitValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(digits62); i++ {
		t[digits62[i]] = int8(i)
	}
	return t
}()

// KeyBetween returns a key that sorts strictly between a and b. "" for a means
// "before everything", "" for b "after everything"; KeyBetween("", "") is the
// first key of an empty list ("a0"). a and b must be valid keys with a < b.
func KeyBetween(a, b string) (string, error) {
	if a != "" && !ValidKey(a) {
		return "", fmt.Errorf("tree: key %q is not 1-64 characters of [0-9A-Za-z]", truncate(a, 80))
	}
	if b != "" && !ValidKey(b) {
		return "", fmt.Errorf("tree: key %q is not 1-64 characters of [0-9A-Za-z]", truncate(b, 80))
	}
	if a != "" && b != "" && a >= b {
		return "", fmt.Errorf("%w: %q is not before %q", ErrNoKeyBetween, a, b)
	}
	if (a == "" || isFracKey(a)) && (b == "" || isFracKey(b)) {
		if k, err := fracBetween(a, b); err == nil && len(k) <= MaxKeyLen {
			return k, nil
		}
	}
	k, err := plainBetween(a, b)
	if err != nil {
		return "", fmt.Errorf("%w: %q and %q", err, a, b)
	}
	return k, nil
}

// NKeysBetween returns n sorted keys between a and b, spread out so that they
// stay short (as fractional-indexing's generateNKeysBetween).
func NKeysBetween(a, b string, n int) ([]string, error) {
	switch {
	case n <= 0:
		return nil, nil
	case n == 1:
		k, err := KeyBetween(a, b)
		if err != nil {
			return nil, err
		}
		return []string{k}, nil
	case b == "":
		out := make([]string, 0, n)
		c := a
		for range n {
			k, err := KeyBetween(c, b)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
			c = k
		}
		return out, nil
	case a == "":
		out := make([]string, n)
		c := b
		for i := n - 1; i >= 0; i-- {
			k, err := KeyBetween(a, c)
			if err != nil {
				return nil, err
			}
			out[i] = k
			c = k
		}
		return out, nil
	}
	mid := n / 2
	c, err := KeyBetween(a, b)
	if err != nil {
		return nil, err
	}
	left, err := NKeysBetween(a, c, mid)
	if err != nil {
		return nil, err
	}
	right, err := NKeysBetween(c, b, n-mid-1)
	if err != nil {
		return nil, err
	}
	return append(append(left, c), right...), nil
}

// intLen is the length of the integer part that starts with head, 0 when head
// is not an integer head.
func intLen(head byte) int {
	switch {
	case head >= 'A' && head <= 'Z':
		return int('Z'-head) + 2
	case head >= 'a' && head <= 'z':
		return int(head-'a') + 2
	}
	return 0
}

// isFracKey reports whether k is a key of the fractional-indexing scheme: an
// integer head, an integer part of the length it says, not the smallest
// integer, and no trailing zero in the fraction.
func isFracKey(k string) bool {
	if k == "" || k == smallestInt {
		return false
	}
	n := intLen(k[0])
	if n == 0 || n > len(k) {
		return false
	}
	return len(k) == n || k[len(k)-1] != '0'
}

// fracMidpoint is fractional-indexing's midpoint of two fractions: a (may be
// empty) and b (open when bOpen), a < b, no trailing zeros.
func fracMidpoint(a, b string, bOpen bool) string {
	var out strings.Builder
	for {
		if !bOpen {
			// Drop the longest common prefix, reading a padded with zeros.
			n := 0
			for n < len(b) && charOr0(a, n) == b[n] {
				n++
			}
			out.WriteString(b[:n])
			a, b = sliceFrom(a, n), b[n:]
		}
		da := 0
		if a != "" {
			da = int(digitValue[a[0]])
		}
		db := len(digits62)
		if !bOpen {
			db = int(digitValue[b[0]])
		}
		if db-da > 1 {
			out.WriteByte(digits62[(da+db+1)/2])
			return out.String()
		}
		if !bOpen && len(b) > 1 {
			out.WriteByte(b[0])
			return out.String()
		}
		out.WriteByte(digits62[da])
		a, b, bOpen = sliceFrom(a, 1), "", true
	}
}

func charOr0(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return '0'
}

func sliceFrom(s string, i int) string {
	if i >= len(s) {
		return ""
	}
	return s[i:]
}

// incrementInt is fractional-indexing's incrementInteger; ok false past the
// largest integer.
func incrementInt(x string) (string, bool) {
	head := x[0]
	trailing := ""
	for i := len(x) - 1; i >= 1; i-- {
		d := int(digitValue[x[i]]) + 1
		if d == len(digits62) {
			trailing = "0" + trailing
			continue
		}
		return x[:i] + string(digits62[d]) + trailing, true
	}
	if head == 'z' {
		return "", false
	}
	h := intHeads[strings.IndexByte(intHeads, head)+1]
	switch delta := intLen(h) - intLen(head); {
	case delta > 0:
		return string(h) + trailing + "0", true
	case delta < 0:
		return string(h) + trailing[1:], true
	}
	return string(h) + trailing, true
}

// decrementInt is fractional-indexing's decrementInteger; ok false below the
// smallest integer.
func decrementInt(x string) (string, bool) {
	head := x[0]
	trailing := ""
	for i := len(x) - 1; i >= 1; i-- {
		d := int(digitValue[x[i]]) - 1
		if d < 0 {
			trailing = "z" + trailing
			continue
		}
		return x[:i] + string(digits62[d]) + trailing, true
	}
	if head == 'A' {
		return "", false
	}
	h := intHeads[strings.IndexByte(intHeads, head)-1]
	switch delta := intLen(h) - intLen(head); {
	case delta > 0:
		return string(h) + trailing + "z", true
	case delta < 0:
		return string(h) + trailing[1:], true
	}
	return string(h) + trailing, true
}

// fracBetween is fractional-indexing's generateKeyBetween for keys that passed
// isFracKey, with a < b.
func fracBetween(a, b string) (string, error) {
	switch {
	case a == "" && b == "":
		return "a0", nil
	case a == "":
		ib := b[:intLen(b[0])]
		if ib == smallestInt {
			return ib + fracMidpoint("", b[len(ib):], false), nil
		}
		if ib < b {
			return ib, nil
		}
		if k, ok := decrementInt(ib); ok {
			return k, nil
		}
		return "", ErrNoKeyBetween
	case b == "":
		ia := a[:intLen(a[0])]
		if k, ok := incrementInt(ia); ok {
			return k, nil
		}
		return ia + fracMidpoint(a[len(ia):], "", true), nil
	}
	ia, ib := a[:intLen(a[0])], b[:intLen(b[0])]
	if ia == ib {
		return ia + fracMidpoint(a[len(ia):], b[len(ib):], false), nil
	}
	k, ok := incrementInt(ia)
	if !ok {
		return "", ErrNoKeyBetween
	}
	if k < b {
		return k, nil
	}
	return ia + fracMidpoint(a[len(ia):], "", true), nil
}

// plainBetween returns the shortest-prefix midpoint of two arbitrary keys
// (a < b; "" is open), read as base-62 fractions in byte order. It fails only
// when nothing fits (b is a followed by zeros) or the key would be too long.
func plainBetween(a, b string) (string, error) {
	var out []byte
	bOpen := b == ""
	for len(out) < MaxKeyLen {
		da := -1
		if a != "" {
			da = int(digitValue[a[0]])
		}
		if bOpen {
			if d := (da + len(digits62) + 1) / 2; d < len(digits62) {
				return string(append(out, digits62[d])), nil
			}
			out = append(out, a[0]) // a starts with the largest digit
			a = a[1:]
			continue
		}
		db := int(digitValue[b[0]])
		switch {
		case db-da > 1:
			return string(append(out, digits62[(da+db+1)/2])), nil
		case db == da:
			out = append(out, a[0])
			a, b = a[1:], b[1:]
			if b == "" {
				return "", ErrNoKeyBetween
			}
		case da < 0: // a is done, b starts with '0': go below b's rest
			out = append(out, b[0])
			b = b[1:]
			if b == "" {
				return "", ErrNoKeyBetween
			}
		default: // adjacent digits: anything after a's rest under a's digit
			out = append(out, a[0])
			a, bOpen = a[1:], true
		}
	}
	return "", ErrNoKeyBetween
}
