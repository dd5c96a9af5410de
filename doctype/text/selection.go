package text

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tandem-collab/tandem/ot"
)

// ErrSelection is matched by every error of DecodeSelection except one over
// MaxRanges (which matches doctype.ErrTooLarge).
var ErrSelection = errors.New("malformed selection")

// DecodeSelection decodes a text selection from MessagePack: nil (hidden) or
// an array of [anchor, head] ranges of integers in 0..2^31-1 (integral floats
// too, for JavaScript encoders that write large or computed numbers as
// doubles). An empty array is hidden too, and decodes to nil. At most
// MaxRanges ranges; memory is bounded by the input.
func DecodeSelection(b []byte) (ot.Selection, error) {
	if len(b) == 1 && b[0] == 0xc0 {
		return nil, nil
	}
	n, i, ok := arrayHeader(b, 0)
	if !ok {
		return nil, fmt.Errorf("want an array of [anchor, head] or nil: %w", ErrSelection)
	}
	if n == 0 {
		if i != len(b) {
			return nil, fmt.Errorf("%w: bytes after the selection", ErrSelection)
		}
		return nil, nil
	}
	if n > MaxRanges {
		return nil, tooLarge{fmt.Errorf("sel: %d ranges, over the limit of %d", n, MaxRanges)}
	}
	if n > len(b)-i {
		return nil, fmt.Errorf("%w: the array claims more than the bytes hold", ErrSelection)
	}
	sel := make(ot.Selection, 0, n)
	for k := range n {
		m, j, ok := arrayHeader(b, i)
		if !ok || m != 2 {
			return nil, fmt.Errorf("sel[%d]: want [anchor, head] of integers in 0..%d: %w", k, maxPosition, ErrSelection)
		}
		i = j
		var pos [2]int
		for e := range 2 {
			p, j, ok := readPosition(b, i)
			if !ok {
				return nil, fmt.Errorf("sel[%d]: want [anchor, head] of integers in 0..%d: %w", k, maxPosition, ErrSelection)
			}
			pos[e], i = p, j
		}
		sel = append(sel, ot.Range{Anchor: pos[0], Head: pos[1]})
	}
	if i != len(b) {
		return nil, fmt.Errorf("%w: bytes after the selection", ErrSelection)
	}
	return sel, nil
}

// arrayHeader reads an array header at b[i]: its count and where its
// elements start.
func arrayHeader(b []byte, i int) (n, next int, ok bool) {
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

// readPosition reads one selection endpoint at b[i].
func readPosition(b []byte, i int) (pos, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	var (
		x   int64
		f   float64
		flt bool
	)
	c := b[i]
	switch {
	case c <= 0x7f:
		x, i = int64(c), i+1
	case c >= 0xe0:
		return 0, 0, false // negative fixint
	case c == 0xcc && i+2 <= len(b):
		x, i = int64(b[i+1]), i+2
	case c == 0xcd && i+3 <= len(b):
		x, i = int64(binary.BigEndian.Uint16(b[i+1:])), i+3
	case c == 0xce && i+5 <= len(b):
		x, i = int64(binary.BigEndian.Uint32(b[i+1:])), i+5
	case c == 0xcf && i+9 <= len(b):
		u := binary.BigEndian.Uint64(b[i+1:])
		if u > math.MaxInt64 {
			return 0, 0, false
		}
		x, i = int64(u), i+9
	case c == 0xd0 && i+2 <= len(b):
		x, i = int64(int8(b[i+1])), i+2
	case c == 0xd1 && i+3 <= len(b):
		x, i = int64(int16(binary.BigEndian.Uint16(b[i+1:]))), i+3
	case c == 0xd2 && i+5 <= len(b):
		x, i = int64(int32(binary.BigEndian.Uint32(b[i+1:]))), i+5
	case c == 0xd3 && i+9 <= len(b):
		x, i = int64(binary.BigEndian.Uint64(b[i+1:])), i+9
	case c == 0xca && i+5 <= len(b):
		f, flt, i = float64(math.Float32frombits(binary.BigEndian.Uint32(b[i+1:]))), true, i+5
	case c == 0xcb && i+9 <= len(b):
		f, flt, i = math.Float64frombits(binary.BigEndian.Uint64(b[i+1:])), true, i+9
	default:
		return 0, 0, false
	}
	if flt {
		if !(f >= 0 && f <= maxPosition) || f != math.Trunc(f) {
			return 0, 0, false
		}
		x = int64(f)
	}
	if x < 0 || x > maxPosition {
		return 0, 0, false
	}
	return int(x), i, true
}
