//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
	// The rich type, registered as cmd/tandem registers it.
	_ "github.com/tandem-collab/tandem/rich"
)

// TestBrowserRichTwoEditors: two chromium pages on the /demo/rich/ page of
// one rich document, on two nodes. One types and bolds a word while the
// other turns the paragraph into a heading and types into it; both end with
// one Delta (read through the SDK) holding both formats, which is what
// Postgres holds, and each shows the other's named caret. "tiptap" runs two
// Tiptap pages, "quill" a Tiptap page and a Quill page (?editor=quill).
// Screenshots are kept in e2e/artifacts/.
func TestBrowserRichTwoEditors(t *testing.T) {
	for _, mode := range []string{"tiptap", "quill"} {
		t.Run(mode, func(t *testing.T) {
			c := newCluster(t, testkit.RedisURL(), 3*time.Second)
			ns := c.start(2)
			id := "rich-" + mode
			body, _ := json.Marshal(map[string]any{"id": id, "type": "rich", "content": []any{"Start here\n", "More text\n"}})
			res, err := http.Post("http://"+ns[0].addr+"/v1/docs", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("POST /v1/docs: %d", res.StatusCode)
			}
			urlB := "http://" + ns[1].addr + "/demo/rich/" + id
			if mode == "quill" {
				urlB += "?editor=quill"
			}
			out, artifacts := runBrowserScript(t, "rich_pages.mjs", "http://"+ns[0].addr+"/demo/rich/"+id, urlB)
			var got struct {
				Delta  []any
				Carets [2][]string
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("browser test output %q: %v", out, err)
			}
			want := []any{
				"Title: Start here and a bold ",
				map[string]any{"i": "word", "a": map[string]any{"bold": true}},
				map[string]any{"i": "\n", "a": map[string]any{"heading": float64(1)}},
				"More text\n",
			}
			if !reflect.DeepEqual(got.Delta, want) {
				t.Fatalf("the pages hold %v, want %v", got.Delta, want)
			}
			// Postgres holds the same Delta.
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, snap, err := c.st.Load(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(snap.Content)
				if err != nil {
					t.Fatal(err)
				}
				var stored []any
				if err := json.Unmarshal(raw, &stored); err != nil {
					t.Fatal(err)
				}
				if reflect.DeepEqual(stored, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Postgres holds %s, the pages %v", raw, got.Delta)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, f := range []string{"rich-" + mode + "-page-a.png", "rich-" + mode + "-page-b.png"} {
				if st, err := os.Stat(filepath.Join(artifacts, f)); err != nil || st.Size() == 0 {
					t.Fatalf("screenshot %s missing: %v", f, err)
				}
			}
			t.Logf("both pages: %v, carets %v; screenshots in %s", got.Delta, got.Carets, artifacts)
		})
	}
}
