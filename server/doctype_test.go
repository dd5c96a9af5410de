package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"

	// A second document type: the server knows nothing of it but its
	// registration.
	_ "github.com/tandem-collab/tandem/rich"
)

// TestSecondDocType runs a rich document through everything a text document
// goes through (REST create and read, joined, ops, acks, broadcasts,
// presence, REST ops, the store's log and snapshots) with no rich-specific
// code in the server: the doctype interface is the whole contract.
func TestSecondDocType(t *testing.T) {
	forBothStores(t, func(t *testing.T, st store.Store) {
		ts := newTestServer(t, st, nil)
		created := ts.call(t, "POST", "/v1/docs", "", map[string]any{
			"id": "r1", "type": "rich", "content": []any{map[string]any{"i": "Hi\n"}},
		}).want(t, 201).obj(t)
		if created["type"] != "rich" {
			t.Fatalf("created %v", created)
		}
		a := ts.connect(t, "rich-author-0000000")
		b := ts.connect(t, "rich-reader-0000000")
		ja := a.join("r1", nil)
		b.join("r1", nil)
		if ja["type"] != "rich" || ja["text"] == nil {
			t.Fatalf("joined %v: want type rich and the Delta under text", ja)
		}
		// Bold "!" after "Hi", the author's caret after it.
		a.sendMap(map[string]any{"t": "op", "doc": "r1", "v": 0, "seq": 1,
			"op": []any{2, map[string]any{"i": "!", "a": map[string]any{"bold": true}}}, "sel": []any{[]any{3, 3}}})
		if ack := a.expectSkipping("ack", "presence"); num(t, ack["v"]) != 0 {
			t.Fatalf("ack %v", ack)
		}
		op := b.expectSkipping("op", "presence")
		if num(t, op["v"]) != 0 || op["sel"] == nil {
			t.Fatalf("broadcast %v", op)
		}
		// A malformed rich op is invalid_op, decoded by the rich type.
		a.sendMap(map[string]any{"t": "op", "doc": "r1", "v": 1, "seq": 2, "op": []any{map[string]any{"i": ""}}})
		a.expectError(wire.CodeInvalidOp)
		// A REST op parsed by the type: italic on "H".
		ts.call(t, "POST", "/v1/docs/r1/ops", "", map[string]any{"v": 1, "op": []any{map[string]any{"r": 1, "a": map[string]any{"italic": true}}}}).want(t, 200)
		b.expectSkipping("op", "presence")
		b.sendMap(map[string]any{"t": "presence", "doc": "r1", "v": 2, "sel": []any{[]any{1, 2}}})
		deadline := time.Now().Add(5 * time.Second)
	wait:
		for {
			p := a.expectSkipping("presence", "op")
			peers, _ := p["peers"].([]any)
			for _, x := range peers {
				if peer := x.(map[string]any); peer["sid"] == "rich-reader-0000000" && peer["sel"] != nil {
					break wait
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no presence from the reader")
			}
		}
		got := ts.call(t, "GET", "/v1/docs/r1", "", nil).want(t, 200)
		var view struct {
			Type    string          `json:"type"`
			V       int64           `json:"v"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(got.body, &view); err != nil {
			t.Fatal(err)
		}
		const want = `[{"i":"H","a":{"italic":true}},"i",{"i":"!","a":{"bold":true}},"\n"]`
		if view.Type != "rich" || view.V != 2 || string(view.Content) != want {
			t.Fatalf("GET: %s", got.body)
		}
		old := ts.call(t, "GET", "/v1/docs/r1?v=1", "", nil).want(t, 200)
		if err := json.Unmarshal(old.body, &view); err != nil || string(view.Content) != `["Hi",{"i":"!","a":{"bold":true}},"\n"]` {
			t.Fatalf("GET ?v=1: %s", old.body)
		}
		ops := ts.call(t, "GET", "/v1/docs/r1/ops", "", nil).want(t, 200)
		var page struct {
			Ops []struct {
				Op json.RawMessage `json:"op"`
			} `json:"ops"`
		}
		if err := json.Unmarshal(ops.body, &page); err != nil || len(page.Ops) != 2 {
			t.Fatalf("ops: %s", ops.body)
		}
	})
}
