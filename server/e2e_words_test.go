package server_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/ot"
)

// wordStems are typed one code point per key press, emoji and all.
var wordStems = []string{"alpha😀", "beta👍", "gamma🎉", "delta中", "epsilon-é", "zeta👩‍💻", "eta🇫🇷"}

// TestE2EWordsStayWhole is the property of docs/protocol.md, "Concurrent
// edits": 2-5 Go clients put their carets at spots chosen while they agree on
// the text (often one spot for all), then type words at once, one code point
// per op, through the real server (actor, Postgres store, sockets). Ties by
// sid and the caret rule keep every word contiguous, on every client and in
// the store, whatever the timing.
func TestE2EWordsStayWhole(t *testing.T) {
	s := startServer(t, testkit.Schema(t))
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 12))
	const trials, rounds = 6, 3
	for trial := range trials {
		docID := fmt.Sprintf("words-%d", trial)
		const initial = "start 😀 end"
		createDoc(t, s.st, docID, initial)
		n := 2 + r.IntN(4)
		docs := make([]*client.Doc, n)
		for i := range docs {
			docs[i] = collab.Open(t, dial(t, s.wsURL, trial*10+i, nil), docID)
		}
		var typed []string
		for round := range rounds {
			text, _ := collab.Converge(t, docs, 20*time.Second)
			// Spots at the start, the end, or next to a word typed before:
			// never inside a word (that would split it on purpose).
			bounds := []int{0, utf8.RuneCountInString(text)}
			for _, w := range typed {
				start := utf8.RuneCountInString(text[:strings.Index(text, w)])
				bounds = append(bounds, start, start+utf8.RuneCountInString(w))
			}
			spots := []int{bounds[r.IntN(len(bounds))], bounds[r.IntN(len(bounds))]}
			words := make([]string, n)
			for i, d := range docs {
				p := spots[r.IntN(len(spots))]
				if err := d.SetSelection(ot.Selection{{Anchor: p, Head: p}}, nil); err != nil {
					t.Fatalf("trial %d: set caret: %v", trial, err)
				}
				words[i] = fmt.Sprintf("%s%d%d", wordStems[(i+round)%len(wordStems)], trial, round)
				typed = append(typed, words[i])
			}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i, d := range docs {
				pause := time.Duration(r.IntN(3)) * time.Millisecond
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, ch := range words[i] {
						if err := d.Type(string(ch)); err != nil {
							errs <- fmt.Errorf("client %d types %q: %w", i, ch, err)
							return
						}
						time.Sleep(pause)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			text, _ = collab.Converge(t, docs, 20*time.Second)
			for _, w := range typed {
				if strings.Count(text, w) != 1 {
					t.Fatalf("trial %d round %d (%d clients): word %q is not whole in %q", trial, round, n, w, text)
				}
			}
		}
		text, v := collab.Converge(t, docs, 20*time.Second)
		want := utf8.RuneCountInString(initial)
		for _, w := range typed {
			want += utf8.RuneCountInString(w)
		}
		if got := utf8.RuneCountInString(text); got != want {
			t.Fatalf("trial %d: %d code points, want %d: %q", trial, got, want, text)
		}
		collab.CheckStore(t, s.st, docID, initial, text, v)
		for _, d := range docs {
			_ = d.Close()
		}
		t.Logf("trial %d, %d clients: %q", trial, n, text)
	}
}
