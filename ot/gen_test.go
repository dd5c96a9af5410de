package ot

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// pieces mixes ASCII, two-, three- and four-byte code points, a ZWJ sequence
// and a combining mark so that byte/code point confusion shows up quickly.
var pieces = []string{"a", "b", "c", " ", "\n", "é", "e\u0301", "日", "本", "😀", "👨\u200d👩\u200d👧", "x", "ß", "\u2028"}

var pieceRunes = func() map[string]int {
	m := make(map[string]int, len(pieces))
	for _, p := range pieces {
		m[p] = len([]rune(p))
	}
	return m
}()

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func randText(r *rand.Rand, minRunes, maxRunes int) string {
	n := minRunes
	if maxRunes > minRunes {
		n += r.IntN(maxRunes - minRunes + 1)
	}
	var b strings.Builder
	b.Grow(n * 2)
	for count := 0; count < n; {
		p := pieces[r.IntN(len(pieces))]
		if l := pieceRunes[p]; count+l <= n {
			b.WriteString(p)
			count += l
			continue
		}
		b.WriteString(string([]rune(p)[:n-count]))
		count = n
	}
	return b.String()
}

// randOp makes a valid op that fits a document of docLen code points: a few
// edits at random places, sometimes with a trailing retain and sometimes in a
// non-canonical shape (split retains, split inserts, delete before insert).
func randOp(r *rand.Rand, docLen int) Op {
	var op Op
	pos := 0
	edits := r.IntN(5)
	for e := 0; e < edits; e++ {
		if rem := docLen - pos; rem > 0 && r.IntN(4) > 0 {
			if skip := r.IntN(rem + 1); skip > 0 {
				if skip > 1 && r.IntN(6) == 0 {
					op = append(op, Component{Retain: 1}, Component{Retain: skip - 1})
				} else {
					op = append(op, Component{Retain: skip})
				}
				pos += skip
			}
		}
		rem := docLen - pos
		switch k := r.IntN(5); {
		case k <= 2 || rem == 0:
			maxLen := 6
			if r.IntN(20) == 0 {
				maxLen = 3000
			}
			op = append(op, Component{Insert: randText(r, 1, maxLen)})
			if r.IntN(6) == 0 {
				op = append(op, Component{Insert: randText(r, 1, 3)})
			}
		default:
			n := 1 + r.IntN(min(rem, 12))
			if r.IntN(10) == 0 {
				n = 1 + r.IntN(rem)
			}
			op = append(op, Component{Delete: n})
			pos += n
		}
	}
	if rem := docLen - pos; rem > 0 && r.IntN(4) == 0 {
		op = append(op, Component{Retain: 1 + r.IntN(rem)})
	}
	return op
}

// runeIDs simulates op on a document whose code points are identified by
// their index, giving for each resulting position the original index (-1 for
// inserted text). It is a deliberately naive model used to check positions.
func runeIDs(docLen int, op Op) []int {
	ids := make([]int, 0, docLen)
	pos := 0
	for _, c := range op {
		switch {
		case c.Retain > 0:
			for i := 0; i < c.Retain; i++ {
				ids = append(ids, pos)
				pos++
			}
		case c.Delete > 0:
			pos += c.Delete
		default:
			for range []rune(c.Insert) {
				ids = append(ids, -1)
			}
		}
	}
	for ; pos < docLen; pos++ {
		ids = append(ids, pos)
	}
	return ids
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

func TestRandOpIsValid(t *testing.T) {
	r := newRand(1)
	for i := 0; i < 500; i++ {
		n := r.IntN(40)
		op := randOp(r, n)
		if err := op.Validate(); err != nil {
			t.Fatalf("randOp made an invalid op %v: %v", op, err)
		}
		if op.BaseLen() > n {
			t.Fatalf("randOp made an op %v that does not fit %d", op, n)
		}
	}
}
