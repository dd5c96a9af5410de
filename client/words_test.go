package client

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

// words are typed one code point at a time; each is unique in any text the
// test builds, so finding it as a substring means it stayed whole.
var words = []string{"alpha😀", "beta👍", "gamma🎉", "delta中", "epsilon-é", "zeta👩‍💻", "eta🇫🇷"}

// TestWordsStayWhole: 2-5 clients, each at a spot chosen while everyone was
// in sync (often the same spot), type words letter by letter while messages
// are delivered in random interleavings. With ties by sid and the caret rule
// (docs/protocol.md, "Concurrent edits") every word ends contiguous, on every
// client and on the server. Under the old rules (commit order, carets pushed
// by inserts at them) 389 of these 400 runs broke a word.
func TestWordsStayWhole(t *testing.T) {
	runs := 400
	if testing.Short() {
		runs = 100
	}
	concurrent := 0
	for seed := range runs {
		r := rand.New(rand.NewPCG(uint64(seed), 12))
		s := newSimServer(t, "start 😀 end")
		var cs []*simClient
		for range 2 + r.IntN(4) {
			// Random sids, so that the order of the authors varies with the seed.
			cs = append(cs, joinedClient(t, s, fmt.Sprintf("sid-%016x", r.Uint64())))
		}
		var typed []string
		for round := range 2 {
			s.settle()
			// Two spots, each at the start, the end, or next to a word typed
			// before, never inside one.
			bounds := []int{0, runeLen(s.text)}
			for _, w := range typed {
				start := runeLen(s.text[:strings.Index(s.text, w)])
				bounds = append(bounds, start, start+runeLen(w))
			}
			spots := []int{bounds[r.IntN(len(bounds))], bounds[r.IntN(len(bounds))]}
			todo := make(map[*simClient][]rune, len(cs))
			for i, c := range cs {
				// Spots chosen in sync cannot be inside a word being typed.
				p := spots[r.IntN(len(spots))]
				c.st.setSelection(ot.Selection{{Anchor: p, Head: p}}, nil)
				w := words[(i+round*len(cs))%len(words)] + fmt.Sprint(round)
				todo[c] = []rune(w)
				typed = append(typed, w)
			}
			for pending := true; pending; {
				pending = false
				c := cs[r.IntN(len(cs))]
				switch k := r.IntN(10); {
				case k < 4 && len(todo[c]) > 0:
					// One code point at the caret, as a key press.
					if c.st.inflight != nil && len(c.down) > 0 {
						concurrent++
					}
					mustLocal(t, c, ins(c.st.sel[0].Head, string(todo[c][0])))
					todo[c] = todo[c][1:]
				case k < 7 && len(c.up) > 0:
					s.deliverUp(c)
				case len(c.down) > 0:
					s.deliverDown(c)
				}
				for _, c := range cs {
					pending = pending || len(todo[c]) > 0 || len(c.up) > 0 || len(c.down) > 0
				}
			}
			s.settle()
			s.checkConverged()
			for _, w := range typed {
				if strings.Count(s.text, w) != 1 {
					t.Fatalf("seed %d round %d: word %q is not whole in %q", seed, round, w, s.text)
				}
			}
		}
	}
	// The test means something only if typing raced with remote ops.
	if concurrent < runs {
		t.Fatalf("only %d key presses met a remote op in flight in %d runs", concurrent, runs)
	}
}
