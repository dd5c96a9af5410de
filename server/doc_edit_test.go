package server_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/ot"
)

// TestDocEditIsAtomic: client.Doc.Edit builds its op from the text and
// applies it with no remote op landing in between. Another client keeps
// deleting at the front while each edit appends at the exact end of the text
// it was given, after waiting long enough for those deletions to arrive: read
// with Text and sent with Submit, such an op would run past the shortened
// text (does_not_fit); through Edit it always fits, and everything converges.
func TestDocEditIsAtomic(t *testing.T) {
	const docID = "atomic-edit"
	s := startServer(t, testkit.Schema(t))
	createDoc(t, s.st, docID, strings.Repeat("x", 2000))
	writer := collab.Open(t, dial(t, s.wsURL, 0, nil), docID)
	editor := collab.Open(t, dial(t, s.wsURL, 1, nil), docID)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flood := make(chan error, 1)
	go func() {
		defer close(flood)
		for ctx.Err() == nil {
			if err := writer.Delete(0, 1); err != nil {
				flood <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for i := range 20 {
		err := editor.Edit(func(text string) ot.Op {
			time.Sleep(10 * time.Millisecond) // the writer's ops reach the editor meanwhile
			return ot.Op{{Retain: utf8.RuneCountInString(text)}, {Insert: "e"}}
		})
		if err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
	}
	cancel()
	if err := <-flood; err != nil {
		t.Fatalf("writer: %v", err)
	}
	text, _ := collab.Converge(t, []*client.Doc{writer, editor}, 10*time.Second)
	if got := strings.Count(text, "e"); got != 20 {
		t.Fatalf("%d of the editor's 20 appends in %q", got, text)
	}
}
