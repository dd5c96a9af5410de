package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

// TestCheckRepeats covers both ways checkRepeats looks: a scan up to
// shortAppend records, a map past it.
func TestCheckRepeats(t *testing.T) {
	batch := func(n int, sid func(i int) (string, int64)) []OpRecord {
		out := make([]OpRecord, n)
		for i := range out {
			s, q := sid(i)
			out[i] = OpRecord{Version: int64(i), Op: ot.Op{{Insert: "x"}}, SID: s, Seq: q}
		}
		return out
	}
	distinct := func(i int) (string, int64) { return fmt.Sprintf("s%d", i%3), int64(i) }
	for _, n := range []int{1, shortAppend, shortAppend + 1, 4 * shortAppend} {
		for _, c := range []struct {
			name string
			sid  func(i int) (string, int64)
			bad  bool
		}{
			{"distinct", distinct, false},
			{"no sid, same seq", func(int) (string, int64) { return "", 1 }, false},
			{"same seq, other sids", func(i int) (string, int64) { return fmt.Sprintf("s%d", i), 1 }, false},
			{"last repeats the first", func(i int) (string, int64) {
				if i == n-1 && n > 1 {
					return distinct(0)
				}
				return distinct(i)
			}, n > 1},
		} {
			err := checkRepeats("d", batch(n, c.sid))
			if got := err != nil; got != c.bad || (c.bad && !errors.Is(err, ErrInvalidArgument)) {
				t.Errorf("%d records, %s: %v, want refused %v", n, c.name, err, c.bad)
			}
		}
	}
}
