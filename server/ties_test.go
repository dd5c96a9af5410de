package server

import (
	"regexp"
	"testing"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// TestOpCheckedAtItsOwnVersion: an op must fit the document at the version it
// was made against, as sent: a trailing retain that runs past the end is
// invalid_op over WebSocket and 422 invalid_op over REST, though normalising
// would drop it; and the length that counts is the one at the op's version,
// not the current one.
func TestOpCheckedAtItsOwnVersion(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			createDoc(t, st, "fit", "0123456789")
			ts := newTestServer(t, st, nil)
			a := ts.connect(t, sidA)
			a.join("fit", nil)

			// [3, "a", 4, "b", 99] on a 10-character document, sent as is
			// (a raw frame: our encoders write canonical ops).
			overLong := []any{3, "a", 4, "b", 99}
			a.sendMap(map[string]any{"t": "op", "doc": "fit", "v": 0, "seq": 1, "op": overLong})
			if e := a.expectError(wire.CodeInvalidOp); num(t, e["seq"]) != 1 {
				t.Fatalf("error %v, want it for seq 1", e)
			}
			p := ts.call(t, "POST", "/v1/docs/fit/ops", "", map[string]any{"v": 0, "op": overLong}).problem(t, 422, wire.CodeInvalidOp)
			fieldErr(t, p, "op")
			if text, v := docText(t, st, "fit"); text != "0123456789" || v != 0 {
				t.Fatalf("store holds %q v%d after two invalid ops", text, v)
			}

			// The document grows to 15 code points at v1. An op made against
			// v0 must still fit the 10 of v0.
			a.send(&wire.Op{Doc: "fit", V: 0, Seq: 2, Op: ins(10, "ABCDE")})
			a.expectSkipping("ack", "presence")
			fitsNowNotThen := []any{3, "a", 4, "b", 5} // reads 12
			a.sendMap(map[string]any{"t": "op", "doc": "fit", "v": 0, "seq": 3, "op": fitsNowNotThen})
			a.expectError(wire.CodeInvalidOp)
			p = ts.call(t, "POST", "/v1/docs/fit/ops", "", map[string]any{"v": 0, "op": fitsNowNotThen}).problem(t, 422, wire.CodeInvalidOp)
			fieldErr(t, p, "op")

			// Exact fits at v0, trailing retain included, are transformed and
			// committed.
			a.sendMap(map[string]any{"t": "op", "doc": "fit", "v": 0, "seq": 4, "op": []any{3, "a", 4, "b", 3}})
			if ack := a.expectSkipping("ack", "presence"); num(t, ack["v"]) != 1 {
				t.Fatalf("ack %v", ack)
			}
			if r := ts.call(t, "POST", "/v1/docs/fit/ops", "", map[string]any{"v": 0, "op": []any{1, "x", 9}}).want(t, 200).obj(t); r["v"] != 2.0 {
				t.Fatalf("REST answer %v", r)
			}
			if text, v := docText(t, st, "fit"); text != "0x12a3456b789ABCDE" || v != 3 {
				t.Fatalf("store holds %q v%d", text, v)
			}
		})
	}
}

// TestTiesBySID: concurrent inserts at one spot are ordered by their authors'
// sids, whichever the server commits first; and a caret at that spot stays
// before an insert that is not its owner's.
func TestTiesBySID(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "tie", "x")
	ts := newTestServer(t, st, nil)
	a := ts.connect(t, sidA) // sorts first
	a.join("tie", nil)
	b := ts.connect(t, sidB)
	b.join("tie", nil)

	// b commits first, a second, both against v0 at position 1.
	b.send(&wire.Op{Doc: "tie", V: 0, Seq: 1, Op: ins(1, "beta 👍"), Sel: ot.Selection{{Anchor: 7, Head: 7}}})
	b.expectSkipping("ack", "presence")
	a.send(&wire.Op{Doc: "tie", V: 0, Seq: 1, Op: ins(1, "alpha 😀"), Sel: ot.Selection{{Anchor: 8, Head: 8}}})
	ack := a.expectSkipping("ack", "presence", "op") // b's op v0 comes first
	if num(t, ack["v"]) != 1 {
		t.Fatalf("ack %v", ack)
	}
	op := b.expectSkipping("op", "presence") // b's own op is not echoed: this is a's
	if num(t, op["v"]) != 1 || op["sid"] != sidA {
		t.Fatalf("b got %v", op)
	}
	// a's op went left of b's though it was committed second.
	if got := op["op"].([]any); len(got) != 2 || num(t, got[0]) != 1 || got[1] != "alpha 😀" {
		t.Fatalf("a's op committed as %v, want [1, \"alpha 😀\"]", got)
	}
	if text, _ := docText(t, st, "tie"); text != "xalpha 😀beta 👍" {
		t.Fatalf("store holds %q", text)
	}
	// Everyone's carets: a's after its own word, b's (after "beta 👍") moved by
	// a's insert before it.
	want := map[string][2]int64{sidA: {8, 8}, sidB: {14, 14}}
	seen := map[string]bool{}
	c := ts.connect(t, "client-cccccccccccc")
	j := c.join("tie", nil)
	for _, pv := range j["peers"].([]any) {
		p := pv.(map[string]any)
		w, ok := want[p["sid"].(string)]
		if !ok {
			continue
		}
		r := p["sel"].([]any)[0].([]any)
		if num(t, r[0]) != w[0] || num(t, r[1]) != w[1] {
			t.Fatalf("peer %s at %v, want %v", p["sid"], r, w)
		}
		seen[p["sid"].(string)] = true
	}
	if len(seen) != 2 {
		t.Fatalf("peers %v", j["peers"])
	}

	// A presence at v0 with a caret at 1 (where both words went) is moved
	// by neither: it stays before both inserts.
	c.send(&wire.Presence{Doc: "tie", V: 0, Sel: ot.Selection{{Anchor: 1, Head: 1}}})
	for {
		m := a.expectSkipping("presence", "op")
		found := false
		for _, pv := range m["peers"].([]any) {
			p := pv.(map[string]any)
			if p["sid"] == "client-cccccccccccc" {
				r := p["sel"].([]any)[0].([]any)
				if num(t, r[0]) != 1 || num(t, r[1]) != 1 {
					t.Fatalf("c's caret at %v, want [1, 1]", r)
				}
				found = true
			}
		}
		if found {
			break
		}
	}
}

// TestRESTOpGetsAServerSID: an op posted without a sid is given one made up by
// the server; the answer, the broadcast and the log all carry it.
func TestRESTOpGetsAServerSID(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "r", "hello")
	ts := newTestServer(t, st, nil)
	a := ts.connect(t, sidA)
	a.join("r", nil)

	sidPattern := regexp.MustCompile(`^srv-[A-Za-z0-9_-]{22}$`)
	r := ts.call(t, "POST", "/v1/docs/r/ops", "", map[string]any{"v": 0, "op": []any{5, "!"}}).want(t, 200).obj(t)
	sid, _ := r["sid"].(string)
	if r["v"] != 0.0 || !sidPattern.MatchString(sid) {
		t.Fatalf("answer %v, want v 0 and a server-made sid", r)
	}
	if op := a.expectSkipping("op", "presence"); op["sid"] != sid || num(t, op["seq"]) != 0 {
		t.Fatalf("broadcast %v, want sid %q and seq 0", op, sid)
	}
	r2 := ts.call(t, "POST", "/v1/docs/r/ops", "", map[string]any{"v": 0, "op": []any{"¡"}}).want(t, 200).obj(t)
	if r2["sid"] == sid || !sidPattern.MatchString(r2["sid"].(string)) {
		t.Fatalf("second answer %v: every sid-less op gets its own sid", r2)
	}
	ops := ts.call(t, "GET", "/v1/docs/r/ops", "", nil).want(t, 200).obj(t)["ops"].([]any)
	if len(ops) != 2 || ops[0].(map[string]any)["sid"] != sid || ops[1].(map[string]any)["sid"] != r2["sid"] {
		t.Fatalf("log %v", ops)
	}
	// A client's own sid is kept as given.
	r3 := ts.call(t, "POST", "/v1/docs/r/ops", "", map[string]any{"v": 2, "op": []any{"x"}, "sid": "rest-bot-session-9", "seq": 1}).want(t, 200).obj(t)
	if r3["sid"] != "rest-bot-session-9" {
		t.Fatalf("answer %v", r3)
	}
	if text, _ := docText(t, st, "r"); text != "x¡hello!" {
		t.Fatalf("store holds %q", text)
	}
}
