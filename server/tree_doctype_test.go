package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"

	// The tree type: the server knows nothing of it but its registration.
	_ "github.com/tandem-collab/tandem/tree"
)

// TestTreeDocType runs a tree document (docs/protocol.md section 13) through
// the server with both stores: REST create with JSON content, joined with the
// tree under "tree", ops transformed past what was committed since their
// version (an action on an object deleted meanwhile dropped, the op still
// committed and broadcast as applied), a cycle-making move dropped, an
// invalid op refused, selections of ids with deleted ones removed, REST ops,
// GET with ?v=, the op log and SSE.
func TestTreeDocType(t *testing.T) {
	forBothStores(t, func(t *testing.T, st store.Store) {
		ts := newTestServer(t, st, nil)
		content := map[string]any{
			"frame": map[string]any{"parent": "", "key": "a0", "props": map[string]any{"kind": "frame"}},
			"note":  map[string]any{"parent": "frame", "key": "a0", "props": map[string]any{"text": "hi"}},
			"box":   map[string]any{"key": "a1", "props": map[string]any{"x": 1}},
		}
		created := ts.call(t, "POST", "/v1/docs", "", map[string]any{"id": "t1", "type": "tree", "content": content}).want(t, 201).obj(t)
		if created["type"] != "tree" {
			t.Fatalf("created %v", created)
		}
		// Content that is not a forest is refused.
		ts.call(t, "POST", "/v1/docs", "", map[string]any{"id": "t2", "type": "tree", "content": map[string]any{
			"a": map[string]any{"parent": "b", "key": "a0"}, "b": map[string]any{"parent": "a", "key": "a0"},
		}}).want(t, 422)
		sse := ts.openSSE(t, "/v1/docs/t1/events", "")
		a := ts.connect(t, "tree-author-0000000")
		b := ts.connect(t, "tree-reader-0000000")
		ja := a.join("t1", nil)
		b.join("t1", nil)
		tree, _ := ja["tree"].(map[string]any)
		if ja["type"] != "tree" || len(tree) != 3 || ja["text"] != nil {
			t.Fatalf("joined %v: want type tree and three objects under tree", ja)
		}

		// B deletes the frame; A, at version 0, moves the box and edits the
		// note: the note's edit is dropped, the move commits.
		b.sendMap(map[string]any{"t": "op", "doc": "t1", "v": 0, "seq": 1, "op": []any{[]any{"del", "frame"}}, "sel": []any{"box"}})
		if ack := b.expectSkipping("ack", "presence"); num(t, ack["v"]) != 0 {
			t.Fatalf("ack %v", ack)
		}
		a.expectSkipping("op", "presence")
		a.sendMap(map[string]any{"t": "op", "doc": "t1", "v": 0, "seq": 1, "op": []any{
			[]any{"text", "note", "text", []any{2, "!"}},
			[]any{"set", "box", "x", 5},
		}, "sel": []any{"note", "box"}})
		if ack := a.expectSkipping("ack", "presence"); num(t, ack["v"]) != 1 {
			t.Fatalf("ack %v", ack)
		}
		op := b.expectSkipping("op", "presence")
		actions, _ := op["op"].([]any)
		if num(t, op["v"]) != 1 || len(actions) != 1 {
			t.Fatalf("broadcast %v: want v 1 with the set alone", op)
		}
		if sel, _ := op["sel"].([]any); len(sel) != 1 || sel[0] != "box" {
			t.Fatalf("broadcast selection %v: want the deleted note removed", op["sel"])
		}
		// A cycle-making move is dropped: the op commits empty.
		a.sendMap(map[string]any{"t": "op", "doc": "t1", "v": 2, "seq": 2, "op": []any{
			[]any{"new", "f1", "", "a2", map[string]any{}},
			[]any{"new", "f2", "f1", "a0", map[string]any{}},
			[]any{"move", "f1", "f2", "a0"},
		}})
		if ack := a.expectSkipping("ack", "presence"); num(t, ack["v"]) != 2 {
			t.Fatalf("ack %v", ack)
		}
		if op := b.expectSkipping("op", "presence"); len(op["op"].([]any)) != 2 {
			t.Fatalf("broadcast %v: want the two news without the move", op)
		}
		// Wrong in itself: invalid_op (a text edit of a number; a new of an existing id).
		a.sendMap(map[string]any{"t": "op", "doc": "t1", "v": 3, "seq": 3, "op": []any{[]any{"text", "box", "x", []any{"a"}}}})
		a.expectError(wire.CodeInvalidOp)
		a.sendMap(map[string]any{"t": "op", "doc": "t1", "v": 3, "seq": 4, "op": []any{[]any{"new", "box", "", "a0", map[string]any{}}}})
		a.expectError(wire.CodeInvalidOp)
		// A REST op parsed by the type.
		ts.call(t, "POST", "/v1/docs/t1/ops", "", map[string]any{"v": 3, "op": []any{[]any{"set", "f2", "fill", "#f00"}}}).want(t, 200)
		b.expectSkipping("op", "presence")

		got := ts.call(t, "GET", "/v1/docs/t1", "", nil).want(t, 200)
		var view struct {
			Type    string                    `json:"type"`
			V       int64                     `json:"v"`
			Content map[string]map[string]any `json:"content"`
		}
		if err := json.Unmarshal(got.body, &view); err != nil {
			t.Fatal(err)
		}
		if view.Type != "tree" || view.V != 4 || len(view.Content) != 3 || view.Content["f2"]["parent"] != "f1" {
			t.Fatalf("GET: %s", got.body)
		}
		if props, _ := view.Content["box"]["props"].(map[string]any); props["x"] != 5.0 {
			t.Fatalf("GET: box %v", view.Content["box"])
		}
		old := ts.call(t, "GET", "/v1/docs/t1?v=1", "", nil).want(t, 200)
		view.Content = nil // Unmarshal merges into a map it is given
		if err := json.Unmarshal(old.body, &view); err != nil || view.V != 1 || len(view.Content) != 1 || view.Content["box"] == nil {
			t.Fatalf("GET ?v=1: %s", old.body)
		}
		ops := ts.call(t, "GET", "/v1/docs/t1/ops", "", nil).want(t, 200)
		var page struct {
			Ops []struct {
				Op json.RawMessage `json:"op"`
			} `json:"ops"`
		}
		if err := json.Unmarshal(ops.body, &page); err != nil || len(page.Ops) != 4 || string(page.Ops[1].Op) != `[["set","box","x",5]]` {
			t.Fatalf("ops: %s", ops.body)
		}
		// SSE carries the ops as committed.
		for v := 0; v < 4; v++ {
			ev := sse.nextSkipping(t, 5*time.Second)
			if ev.event != "op" {
				t.Fatalf("event %+v", ev)
			}
			if v == 1 {
				var e struct {
					Op json.RawMessage `json:"op"`
				}
				if err := json.Unmarshal([]byte(ev.data), &e); err != nil || string(e.Op) != `[["set","box","x",5]]` {
					t.Fatalf("SSE op 1: %s", ev.data)
				}
			}
		}
	})
}

// TestOpBeforeJoinedIsDecodedByItsType: a client that sends its first ops
// and presence right after join, without waiting for joined, has them
// decoded by the document's type (the connection does not know it yet; the
// document does), not as text: valid ones commit, an invalid one is answered
// invalid_op with its seq.
func TestOpBeforeJoinedIsDecodedByItsType(t *testing.T) {
	ts := newTestServer(t, store.NewMem(store.MemOptions{}), nil)
	ts.call(t, "POST", "/v1/docs", "", map[string]any{"id": "early", "type": "tree", "content": map[string]any{
		"box": map[string]any{"key": "a0", "props": map[string]any{"x": 1}},
	}}).want(t, 201)
	c := ts.connect(t, "early-client-00000")
	c.sendMap(map[string]any{"t": "join", "doc": "early"})
	c.sendMap(map[string]any{"t": "op", "doc": "early", "v": 0, "seq": 1, "op": []any{[]any{"set", "box", "x", 2}}, "sel": []any{"box"}})
	c.sendMap(map[string]any{"t": "presence", "doc": "early", "v": 0, "sel": []any{"box"}})
	c.sendMap(map[string]any{"t": "op", "doc": "early", "v": 0, "seq": 2, "op": []any{[]any{"bogus"}}})
	if j := c.expectSkipping("joined", "presence"); j["type"] != "tree" {
		t.Fatalf("joined %v", j)
	}
	// The refusal of seq 2 needs no store round trip and may overtake the
	// ack of seq 1, which waits for its append (the contract orders acks
	// among themselves, not an ack against another op's error).
	var ack, e map[string]any
	for ack == nil || e == nil {
		m := c.next()
		switch m["t"] {
		case "presence":
		case "ack":
			if ack != nil {
				t.Fatalf("a second ack %v", m)
			}
			ack = m
		case "error":
			if e != nil {
				t.Fatalf("a second error %v", m)
			}
			e = m
		default:
			t.Fatalf("got %v, want the ack of seq 1 and the error of seq 2", m)
		}
	}
	if num(t, ack["seq"]) != 1 || num(t, ack["v"]) != 0 {
		t.Fatalf("ack %v, want seq 1 committed at v 0", ack)
	}
	if e["code"] != wire.CodeInvalidOp || num(t, e["seq"]) != 2 {
		t.Fatalf("error %v, want invalid_op for seq 2", e)
	}
}
