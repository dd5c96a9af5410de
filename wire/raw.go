package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of containers in a frame. The protocol needs 4
// (frame array, message map, selection, range); the rest is headroom for the
// free "data" map.
const MaxDepth = 32

// kind is the family of a MessagePack value.
type kind uint8

const (
	kindNil kind = iota + 1
	kindBool
	kindInt // any signed or unsigned integer encoding
	kindFloat
	kindStr
	kindBin
	kindArray
	kindMap
	kindExt
)

var (
	errTruncated = errors.New("truncated")
	errReserved  = errors.New("reserved byte 0xc1")
	errTooDeep   = errors.New("nesting deeper than 32")
	errClaims    = errors.New("length claims more than the frame holds")
	errTrailing  = errors.New("trailing bytes after the value")
)

// header parses the header of the value starting at b[i]. hlen is the number of
// header bytes (including a scalar's payload for nil, bool, int and float). n is
// the payload length of str, bin and ext, and the element count of array and map
// (pairs for a map); n is 0 for scalars. The payload and elements are not checked.
func header(b []byte, i int) (k kind, hlen int, n uint64, err error) {
	if i >= len(b) {
		return 0, 0, 0, errTruncated
	}
	c := b[i]
	rest := b[i+1:]
	need := func(m int) error {
		if len(rest) < m {
			return errTruncated
		}
		return nil
	}
	switch {
	case c <= 0x7f || c >= 0xe0:
		return kindInt, 1, 0, nil
	case c >= 0x80 && c <= 0x8f:
		return kindMap, 1, uint64(c & 0x0f), nil
	case c >= 0x90 && c <= 0x9f:
		return kindArray, 1, uint64(c & 0x0f), nil
	case c >= 0xa0 && c <= 0xbf:
		return kindStr, 1, uint64(c & 0x1f), nil
	}
	switch c {
	case 0xc0:
		return kindNil, 1, 0, nil
	case 0xc2, 0xc3:
		return kindBool, 1, 0, nil
	case 0xcc, 0xd0:
		return kindInt, 2, 0, need(1)
	case 0xcd, 0xd1:
		return kindInt, 3, 0, need(2)
	case 0xce, 0xd2:
		return kindInt, 5, 0, need(4)
	case 0xcf, 0xd3:
		return kindInt, 9, 0, need(8)
	case 0xca:
		return kindFloat, 5, 0, need(4)
	case 0xcb:
		return kindFloat, 9, 0, need(8)
	case 0xd9, 0xc4:
		if err := need(1); err != nil {
			return 0, 0, 0, err
		}
		return strOrBin(c == 0xd9), 2, uint64(rest[0]), nil
	case 0xda, 0xc5:
		if err := need(2); err != nil {
			return 0, 0, 0, err
		}
		return strOrBin(c == 0xda), 3, uint64(binary.BigEndian.Uint16(rest)), nil
	case 0xdb, 0xc6:
		if err := need(4); err != nil {
			return 0, 0, 0, err
		}
		return strOrBin(c == 0xdb), 5, uint64(binary.BigEndian.Uint32(rest)), nil
	case 0xdc, 0xde:
		if err := need(2); err != nil {
			return 0, 0, 0, err
		}
		return arrayOrMap(c == 0xdc), 3, uint64(binary.BigEndian.Uint16(rest)), nil
	case 0xdd, 0xdf:
		if err := need(4); err != nil {
			return 0, 0, 0, err
		}
		return arrayOrMap(c == 0xdd), 5, uint64(binary.BigEndian.Uint32(rest)), nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type byte + data
		return kindExt, 2, uint64(1) << (c - 0xd4), need(1)
	case 0xc7:
		if err := need(2); err != nil {
			return 0, 0, 0, err
		}
		return kindExt, 3, uint64(rest[0]), nil
	case 0xc8:
		if err := need(3); err != nil {
			return 0, 0, 0, err
		}
		return kindExt, 4, uint64(binary.BigEndian.Uint16(rest)), nil
	case 0xc9:
		if err := need(5); err != nil {
			return 0, 0, 0, err
		}
		return kindExt, 6, uint64(binary.BigEndian.Uint32(rest)), nil
	}
	return 0, 0, 0, errReserved // 0xc1, the only byte left
}

func strOrBin(str bool) kind {
	if str {
		return kindStr
	}
	return kindBin
}

func arrayOrMap(array bool) kind {
	if array {
		return kindArray
	}
	return kindMap
}

// skip checks the value starting at b[i] structurally and returns where it ends.
// Every claimed length is checked against the bytes that remain before anything
// relies on it: a str/bin/ext payload must fit, and an array or map of n items
// needs at least n (or 2n) more bytes, because every value is at least one byte.
// depth is the nesting level of the value itself (the top value is 1).
func skip(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, errTooDeep
	}
	// Most values are fixints and short strings: step over them without the
	// general header parse (decoders skip each nested value once per level).
	if i < len(b) {
		switch c := b[i]; {
		case c <= 0x7f || c >= 0xe0:
			return i + 1, nil
		case c >= 0xa0 && c <= 0xbf:
			if end := i + 1 + int(c&0x1f); end <= len(b) {
				return end, nil
			}
			return 0, errClaims
		}
	}
	k, hlen, n, err := header(b, i)
	if err != nil {
		return 0, err
	}
	i += hlen
	if i > len(b) {
		return 0, errTruncated
	}
	remain := uint64(len(b) - i)
	switch k {
	case kindStr, kindBin, kindExt:
		if n > remain {
			return 0, errClaims
		}
		return i + int(n), nil
	case kindArray, kindMap:
		items := n
		if k == kindMap {
			items = 2 * n // n < 2^32, no overflow
		}
		if items > remain {
			return 0, errClaims
		}
		for range items {
			if i, err = skip(b, i, depth+1); err != nil {
				return 0, err
			}
		}
		return i, nil
	}
	return i, nil
}

// readInt decodes v, a complete value, as an integer. ok is false when v is not
// exactly one integer or does not fit int64.
func readInt(v []byte) (x int64, ok bool) {
	k, hlen, _, err := header(v, 0)
	if err != nil || k != kindInt || len(v) != hlen {
		return 0, false
	}
	c, p := v[0], v[1:]
	switch {
	case c <= 0x7f:
		return int64(c), true
	case c >= 0xe0:
		return int64(int8(c)), true
	}
	switch c {
	case 0xcc:
		return int64(p[0]), true
	case 0xcd:
		return int64(binary.BigEndian.Uint16(p)), true
	case 0xce:
		return int64(binary.BigEndian.Uint32(p)), true
	case 0xcf:
		u := binary.BigEndian.Uint64(p)
		return int64(u), u <= math.MaxInt64
	case 0xd0:
		return int64(int8(p[0])), true
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p))), true
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p))), true
	default: // 0xd3
		return int64(binary.BigEndian.Uint64(p)), true
	}
}

// readStr returns the payload of v, a complete value, when it is a str. The
// bytes alias v.
func readStr(v []byte) ([]byte, bool) {
	k, hlen, n, err := header(v, 0)
	if err != nil || k != kindStr || uint64(len(v)-hlen) != n {
		return nil, false
	}
	return v[hlen:], true
}

// readText is readStr for values that become Go strings: it also requires
// valid UTF-8, which the protocol demands of all text.
func readText(v []byte) (string, bool) {
	s, ok := readStr(v)
	if !ok {
		return "", false
	}
	return validText(s)
}

// validText is b as a string when it is valid UTF-8.
func validText(b []byte) (string, bool) {
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// isNil reports whether v is the MessagePack nil.
func isNil(v []byte) bool { return len(v) == 1 && v[0] == 0xc0 }

// elems calls fn with each element of v, a complete array value, as a complete
// value. It returns false when v is not an array. v must have passed skip.
func elems(v []byte, fn func(i int, e []byte) error) (bool, error) {
	k, hlen, n, err := header(v, 0)
	if err != nil || k != kindArray {
		return false, nil
	}
	i := hlen
	for j := range int(n) {
		end, err := skip(v, i, 1)
		if err != nil {
			return true, err
		}
		if err := fn(j, v[i:end]); err != nil {
			return true, err
		}
		i = end
	}
	return true, nil
}

// pairs calls fn with each key and value of v, a complete map value. It returns
// false when v is not a map. v must have passed skip.
func pairs(v []byte, fn func(k, val []byte) error) (bool, error) {
	k, hlen, n, err := header(v, 0)
	if err != nil || k != kindMap {
		return false, nil
	}
	i := hlen
	for range n {
		kend, err := skip(v, i, 1)
		if err != nil {
			return true, err
		}
		vend, err := skip(v, kend, 1)
		if err != nil {
			return true, err
		}
		if err := fn(v[i:kend], v[kend:vend]); err != nil {
			return true, err
		}
		i = vend
	}
	return true, nil
}

// kindOf is the kind of v's first value, 0 when v is empty or reserved.
func kindOf(v []byte) kind {
	k, _, _, err := header(v, 0)
	if err != nil {
		return 0
	}
	return k
}

// CheckClaims checks that b is exactly one MessagePack value whose every
// length header fits in the bytes that follow it, nested at most
// MaxDepth+extraDepth deep. Decode such bytes with a generic decoder (which
// allocates what headers claim) only after it: a 10-byte value claiming four
// billion elements is refused here instead of exhausting memory there.
// extraDepth is the nesting the caller adds around values that were bounded
// by MaxDepth on their own (a peer's presence data inside a bus message).
func CheckClaims(b []byte, extraDepth int) error {
	end, err := skip(b, 0, 1-extraDepth)
	if err != nil {
		return err
	}
	if end != len(b) {
		return errors.New("data after the value")
	}
	return nil
}
