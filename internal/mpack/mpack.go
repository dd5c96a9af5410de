// Package mpack holds the few MessagePack primitives that Tandem's
// hand-written codecs share (the wire frames, the text type's ops and
// selections): appending headers, strings and integers in their shortest
// form, and reading an array header or an integer straight from the bytes.
// The readers check every length against the bytes present and never
// allocate.
package mpack

import (
	"encoding/binary"
	"math"
)

// Nil is the MessagePack nil.
const Nil = 0xc0

// AppendArrayHeader appends the header of an array of n elements.
func AppendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// AppendMapHeader appends the header of a map of n pairs.
func AppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// AppendString appends s as a str.
func AppendString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// AppendBin appends p as a bin (nil p as an empty bin).
func AppendBin(b, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// AppendInt appends n in its shortest form, the unsigned families for n >= 0
// as msgpack/v5 and @msgpack/msgpack write them.
func AppendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 0x7f:
		return append(b, byte(n))
	case n < 0 && n >= -32:
		return append(b, byte(int8(n)))
	case n >= 0 && n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n >= 0 && n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n >= 0 && n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	case n >= 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(int8(n)))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(n)))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// ReadArrayHeader reads an array header at b[i]: the element count and where
// the elements start. ok is false for anything else or a truncated header;
// the count is the header's claim, not checked against the bytes.
func ReadArrayHeader(b []byte, i int) (n, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	switch c := b[i]; {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), i + 1, true
	case c == 0xdc && i+3 <= len(b):
		return int(binary.BigEndian.Uint16(b[i+1:])), i + 3, true
	case c == 0xdd && i+5 <= len(b):
		return int(binary.BigEndian.Uint32(b[i+1:])), i + 5, true
	}
	return 0, 0, false
}

// ReadStringHeader reads a str header at b[i]: the length and where the
// bytes start. ok is false for anything else, a truncated header or a
// length past the end of b.
func ReadStringHeader(b []byte, i int) (n, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	switch c := b[i]; {
	case c >= 0xa0 && c <= 0xbf:
		n, next = int(c&0x1f), i+1
	case c == 0xd9 && i+2 <= len(b):
		n, next = int(b[i+1]), i+2
	case c == 0xda && i+3 <= len(b):
		n, next = int(binary.BigEndian.Uint16(b[i+1:])), i+3
	case c == 0xdb && i+5 <= len(b):
		n, next = int(binary.BigEndian.Uint32(b[i+1:])), i+5
	default:
		return 0, 0, false
	}
	return fits(b, n, next)
}

// ReadBinHeader reads a bin header at b[i]: the length and where the bytes
// start. ok is false for anything else, a truncated header or a length past
// the end of b.
func ReadBinHeader(b []byte, i int) (n, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	switch c := b[i]; {
	case c == 0xc4 && i+2 <= len(b):
		n, next = int(b[i+1]), i+2
	case c == 0xc5 && i+3 <= len(b):
		n, next = int(binary.BigEndian.Uint16(b[i+1:])), i+3
	case c == 0xc6 && i+5 <= len(b):
		n, next = int(binary.BigEndian.Uint32(b[i+1:])), i+5
	default:
		return 0, 0, false
	}
	return fits(b, n, next)
}

// ReadInt reads an integer at b[i] (any family that fits an int64) and where
// the next value starts.
func ReadInt(b []byte, i int) (x int64, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	switch c := b[i]; {
	case c <= 0x7f:
		return int64(c), i + 1, true
	case c >= 0xe0:
		return int64(int8(c)), i + 1, true
	case c == 0xcc && i+2 <= len(b):
		return int64(b[i+1]), i + 2, true
	case c == 0xcd && i+3 <= len(b):
		return int64(binary.BigEndian.Uint16(b[i+1:])), i + 3, true
	case c == 0xce && i+5 <= len(b):
		return int64(binary.BigEndian.Uint32(b[i+1:])), i + 5, true
	case c == 0xcf && i+9 <= len(b):
		u := binary.BigEndian.Uint64(b[i+1:])
		if u > math.MaxInt64 {
			return 0, 0, false
		}
		return int64(u), i + 9, true
	case c == 0xd0 && i+2 <= len(b):
		return int64(int8(b[i+1])), i + 2, true
	case c == 0xd1 && i+3 <= len(b):
		return int64(int16(binary.BigEndian.Uint16(b[i+1:]))), i + 3, true
	case c == 0xd2 && i+5 <= len(b):
		return int64(int32(binary.BigEndian.Uint32(b[i+1:]))), i + 5, true
	case c == 0xd3 && i+9 <= len(b):
		return int64(binary.BigEndian.Uint64(b[i+1:])), i + 9, true
	}
	return 0, 0, false
}

// ReadFloat reads a float32 or float64 at b[i].
func ReadFloat(b []byte, i int) (f float64, next int, ok bool) {
	switch {
	case i+5 <= len(b) && b[i] == 0xca:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[i+1:]))), i + 5, true
	case i+9 <= len(b) && b[i] == 0xcb:
		return math.Float64frombits(binary.BigEndian.Uint64(b[i+1:])), i + 9, true
	}
	return 0, 0, false
}

// Sizes of the same encodings, for limits measured without encoding.

// ArrayHeaderSize is the size of the header of an array (or a map) of n
// elements (pairs).
func ArrayHeaderSize(n int) int {
	switch {
	case n < 16:
		return 1
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}

// StringHeaderSize is the size of the header of a str of n bytes.
func StringHeaderSize(n int) int {
	switch {
	case n < 32:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}

// IntSize is the size of AppendInt's encoding of v.
func IntSize(v int64) int {
	switch {
	case v >= -32 && v <= 127:
		return 1
	case v >= math.MinInt8 && v <= math.MaxUint8:
		return 2
	case v >= math.MinInt16 && v <= math.MaxUint16:
		return 3
	case v >= math.MinInt32 && v <= math.MaxUint32:
		return 5
	}
	return 9
}

// fits answers a header reader: the length n of the bytes that start at
// next, unless they run past the end of b.
func fits(b []byte, n, next int) (int, int, bool) {
	if n > len(b)-next {
		return 0, 0, false
	}
	return n, next, true
}
