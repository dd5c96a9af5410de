package tree

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/tandem-collab/tandem/internal/mpack"
)

// This file is a small MessagePack reader and writer for untrusted input. The
// reader never trusts a length: every str, bin, ext, array and map header is
// checked against the bytes that remain before anything is read or reserved
// (an array of n items needs at least n more bytes), so a 5-byte input that
// claims 2^32 elements is rejected, not allocated. Nesting is bounded by the
// caller's depth limit, checked before recursing.

// mkind is the family of a MessagePack value.
type mkind uint8

const (
	mNil mkind = iota + 1
	mBool
	mInt
	mFloat
	mStr
	mBin
	mArray
	mMap
	mExt
)

var (
	errMPTruncated = errors.New("truncated MessagePack")
	errMPReserved  = errors.New("reserved MessagePack byte 0xc1")
	errMPClaims    = errors.New("a MessagePack length claims more than the input holds")
	errMPDepth     = errors.New("nesting too deep")
)

// mhead is a parsed header: kind, header length in bytes (for nil, bool, int
// and float including the payload), and n, the payload bytes of str/bin/ext or
// the items of an array (pairs of a map).
type mhead struct {
	kind mkind
	hlen int
	n    uint64
}

// readHead parses the header at b[i]. It checks that the header itself is
// complete, not that the payload is.
func readHead(b []byte, i int) (mhead, error) {
	if i >= len(b) {
		return mhead{}, errMPTruncated
	}
	c := b[i]
	switch {
	case c <= 0x7f, c >= 0xe0:
		return mhead{mInt, 1, 0}, nil
	case c <= 0x8f:
		return mhead{mMap, 1, uint64(c & 0x0f)}, nil
	case c <= 0x9f:
		return mhead{mArray, 1, uint64(c & 0x0f)}, nil
	case c <= 0xbf:
		return mhead{mStr, 1, uint64(c & 0x1f)}, nil
	}
	// sized reads a big-endian length of w bytes after the type byte.
	sized := func(k mkind, w int) (mhead, error) {
		if len(b)-i-1 < w {
			return mhead{}, errMPTruncated
		}
		p := b[i+1:]
		var n uint64
		switch w {
		case 1:
			n = uint64(p[0])
		case 2:
			n = uint64(binary.BigEndian.Uint16(p))
		default:
			n = uint64(binary.BigEndian.Uint32(p))
		}
		return mhead{k, 1 + w, n}, nil
	}
	fixed := func(k mkind, size int) (mhead, error) {
		if len(b)-i < size {
			return mhead{}, errMPTruncated
		}
		return mhead{k, size, 0}, nil
	}
	switch c {
	case 0xc0:
		return mhead{mNil, 1, 0}, nil
	case 0xc2, 0xc3:
		return mhead{mBool, 1, 0}, nil
	case 0xc4:
		return sized(mBin, 1)
	case 0xc5:
		return sized(mBin, 2)
	case 0xc6:
		return sized(mBin, 4)
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, then a type byte
		h, err := sized(mExt, 1<<(c-0xc7))
		h.hlen++
		if err == nil && len(b)-i < h.hlen {
			err = errMPTruncated
		}
		return h, err
	case 0xca:
		return fixed(mFloat, 5)
	case 0xcb:
		return fixed(mFloat, 9)
	case 0xcc, 0xd0:
		return fixed(mInt, 2)
	case 0xcd, 0xd1:
		return fixed(mInt, 3)
	case 0xce, 0xd2:
		return fixed(mInt, 5)
	case 0xcf, 0xd3:
		return fixed(mInt, 9)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16: type byte, then data
		h, err := fixed(mExt, 2)
		h.n = 1 << (c - 0xd4)
		return h, err
	case 0xd9:
		return sized(mStr, 1)
	case 0xda:
		return sized(mStr, 2)
	case 0xdb:
		return sized(mStr, 4)
	case 0xdc:
		return sized(mArray, 2)
	case 0xdd:
		return sized(mArray, 4)
	case 0xde:
		return sized(mMap, 2)
	case 0xdf:
		return sized(mMap, 4)
	}
	return mhead{}, errMPReserved
}

// skipValue checks the value at b[i] structurally, with nesting at most
// maxDepth containers below it, and returns where it ends.
func skipValue(b []byte, i, maxDepth int) (int, error) {
	h, err := readHead(b, i)
	if err != nil {
		return 0, err
	}
	i += h.hlen
	rest := uint64(len(b) - i)
	switch h.kind {
	case mStr, mBin, mExt:
		if h.n > rest {
			return 0, errMPClaims
		}
		return i + int(h.n), nil
	case mArray, mMap:
		items := h.n
		if h.kind == mMap {
			items *= 2
		}
		if items > rest {
			return 0, errMPClaims
		}
		if items > 0 && maxDepth <= 0 {
			return 0, errMPDepth
		}
		for range items {
			if i, err = skipValue(b, i, maxDepth-1); err != nil {
				return 0, err
			}
		}
		return i, nil
	}
	return i, nil
}

// readInt reads an integer at b[i] (the header must be an mInt). ok is false
// for a uint64 above math.MaxInt64; u then holds it.
func readInt(b []byte, i int) (n int64, u uint64, ok bool) {
	c := b[i]
	p := b[i+1:]
	switch {
	case c <= 0x7f:
		return int64(c), uint64(c), true
	case c >= 0xe0:
		return int64(int8(c)), 0, true
	}
	switch c {
	case 0xcc:
		return int64(p[0]), uint64(p[0]), true
	case 0xcd:
		v := binary.BigEndian.Uint16(p)
		return int64(v), uint64(v), true
	case 0xce:
		v := binary.BigEndian.Uint32(p)
		return int64(v), uint64(v), true
	case 0xcf:
		v := binary.BigEndian.Uint64(p)
		return int64(v), v, v <= math.MaxInt64
	case 0xd0:
		return int64(int8(p[0])), 0, true
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p))), 0, true
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p))), 0, true
	}
	return int64(binary.BigEndian.Uint64(p)), 0, true // 0xd3
}

// readFloat reads a float32 or float64 at b[i] (the header must be an mFloat).
func readFloat(b []byte, i int) float64 {
	if b[i] == 0xca {
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[i+1:])))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b[i+1:]))
}

// Writers of the canonical encoding: the shortest header for every length and
// integer, float64 for every float. They match what @msgpack/msgpack writes for
// the same JavaScript value, so Go and TypeScript agree on encoded sizes.

func appendNil(b []byte) []byte { return append(b, 0xc0) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

func appendInt(b []byte, v int64) []byte { return mpack.AppendInt(b, v) }

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
}

func appendStrHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
}

func appendStr(b []byte, s string) []byte { return append(appendStrHeader(b, len(s)), s...) }

func appendArrayHeader(b []byte, n int) []byte { return mpack.AppendArrayHeader(b, n) }

func appendMapHeader(b []byte, n int) []byte { return mpack.AppendMapHeader(b, n) }

// Sizes of the same encodings, for limits measured without encoding.

func strSize(n int) int { return mpack.StringHeaderSize(n) + n }

func containerHeaderSize(n int) int { return mpack.ArrayHeaderSize(n) }

func intSize(v int64) int { return mpack.IntSize(v) }
