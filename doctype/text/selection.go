package text

import (
	"errors"
	"fmt"
	"math"

	"github.com/tandem-collab/tandem/internal/mpack"
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
	n, i, ok := mpack.ReadArrayHeader(b, 0)
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
		m, j, ok := mpack.ReadArrayHeader(b, i)
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

// readPosition reads one selection endpoint at b[i]: an integer, or an
// integral float, in 0..maxPosition.
func readPosition(b []byte, i int) (pos, next int, ok bool) {
	x, next, ok := mpack.ReadInt(b, i)
	if !ok {
		f, fnext, fok := mpack.ReadFloat(b, i)
		if !fok || !(f >= 0 && f <= maxPosition) || f != math.Trunc(f) {
			return 0, 0, false
		}
		x, next = int64(f), fnext
	}
	if x < 0 || x > maxPosition {
		return 0, 0, false
	}
	return int(x), next, true
}
