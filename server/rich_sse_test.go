package server

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/internal/testkit"
	// The rich type, registered as cmd/tandem registers it.
	_ "github.com/tandem-collab/tandem/rich"
)

// TestRichEventsStream: a rich document's event stream carries its ops as
// the rich type writes them (attributes, embeds), resumes from a version
// through the store, and ?v= shows the Delta at each version, on Postgres.
func TestRichEventsStream(t *testing.T) {
	ts := newStreamServer(t, pgStore(t), time.Hour, 64, nil)
	ts.call(t, "POST", "/v1/docs", "", map[string]any{
		"id": "rich-sse", "type": "rich", "content": []any{map[string]any{"i": "Title", "a": map[string]any{"bold": true}}, map[string]any{"i": "\n", "a": map[string]any{"heading": 1}}},
	}).want(t, 201)
	s := ts.openSSE(t, "/v1/docs/rich-sse/events", "")
	if s.resp.StatusCode != 200 {
		t.Fatalf("events: %d", s.resp.StatusCode)
	}
	testkit.WaitFor(t, 5*time.Second, "the stream to be subscribed", func() bool { return gaugeValue(ts.srv.metrics.joined) == 1 })
	ops := []string{
		`[5,{"i":" 😀","a":{"italic":true}}]`,
		`[{"r":5,"a":{"bold":null,"underline":true}}]`,
		`[7,{"e":{"image":"https://example.com/a.png"},"a":{"alt":"a"}},{"r":1,"a":{"heading":null,"list":"bullet"}}]`,
	}
	wantContent := []string{
		`[{"i":"Title","a":{"bold":true}},{"i":"\n","a":{"heading":1}}]`,
		`[{"i":"Title","a":{"bold":true}},{"i":" 😀","a":{"italic":true}},{"i":"\n","a":{"heading":1}}]`,
		`[{"i":"Title","a":{"underline":true}},{"i":" 😀","a":{"italic":true}},{"i":"\n","a":{"heading":1}}]`,
		`[{"i":"Title","a":{"underline":true}},{"i":" 😀","a":{"italic":true}},{"e":{"image":"https://example.com/a.png"},"a":{"alt":"a"}},{"i":"\n","a":{"list":"bullet"}}]`,
	}
	for v, op := range ops {
		ts.call(t, "POST", "/v1/docs/rich-sse/ops", "", `{"v":`+strconv.Itoa(v)+`,"op":`+op+`}`).want(t, 200)
	}
	check := func(s *sseStream, from int) {
		t.Helper()
		for v := from; v < len(ops); v++ {
			ev := s.nextSkipping(t, 5*time.Second)
			var o struct {
				V  int64           `json:"v"`
				Op json.RawMessage `json:"op"`
			}
			if err := json.Unmarshal([]byte(ev.data), &o); err != nil {
				t.Fatal(err)
			}
			if ev.event != "op" || ev.id != strconv.Itoa(v) || o.V != int64(v) || string(o.Op) != ops[v] {
				t.Fatalf("event %+v, want op %d %s", ev, v, ops[v])
			}
		}
	}
	check(s, 0)
	s.close()
	// Resuming from version 1 replays the rest (from the store, the actor's window or both).
	r := ts.openSSE(t, "/v1/docs/rich-sse/events", "", "Last-Event-ID", "0")
	check(r, 1)
	r.close()
	for v, want := range wantContent {
		var view struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		body := ts.call(t, "GET", "/v1/docs/rich-sse?v="+strconv.Itoa(v), "", nil).want(t, 200).body
		if err := json.Unmarshal(body, &view); err != nil || view.Type != "rich" || string(view.Content) != want {
			t.Fatalf("?v=%d: %s, want content %s", v, body, want)
		}
	}
}
