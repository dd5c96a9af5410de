package server

import (
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// sels decodes a wire selection ([[anchor, head], ...]) for comparisons.
func sels(t *testing.T, v any) [][2]int64 {
	t.Helper()
	if v == nil {
		return nil
	}
	var out [][2]int64
	for _, r := range v.([]any) {
		p := r.([]any)
		out = append(out, [2]int64{num(t, p[0]), num(t, p[1])})
	}
	return out
}

// peerSel finds sid in a presence/joined peers list.
func peerSel(t *testing.T, m map[string]any, sid string) ([][2]int64, bool) {
	t.Helper()
	for _, p := range m["peers"].([]any) {
		pm := p.(map[string]any)
		if pm["sid"] == sid {
			return sels(t, pm["sel"]), true
		}
	}
	return nil, false
}

func TestPresence(t *testing.T) {
	st := memStore(t)
	createDoc(t, st, "doc", "abc")
	ts := newTestServer(t, st, func(c *Config) { c.PresenceInterval = 30 * time.Millisecond })

	a := ts.connect(t, sidA)
	a.join("doc", nil)
	b := ts.connect(t, sidB)
	j := b.join("doc", nil)
	if _, ok := peerSel(t, j, sidA); !ok {
		t.Fatalf("joined peers lack A: %v", j)
	}

	// A's caret reaches B in a coalesced presence message.
	a.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 1, Head: 1}}})
	for {
		p := b.expect("presence")
		if sel, ok := peerSel(t, p, sidA); ok && len(sel) == 1 && sel[0] == [2]int64{1, 1} {
			break
		}
	}

	// A stale presence (v0 after an insert at 0) is transformed to the current version.
	b.send(&wire.Op{Doc: "doc", V: 0, Seq: 1, Op: ins(0, "XX")})
	b.expectSkipping("ack", "presence")
	a.expectSkipping("op", "presence")
	a.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 1, Head: 2}}})
	for {
		p := b.expect("presence")
		if sel, ok := peerSel(t, p, sidA); ok {
			if num(t, p["v"]) != 1 || sel[0] != [2]int64{3, 4} {
				t.Fatalf("presence %v: want A at [3,4] at v1", p)
			}
			break
		}
	}

	// Bursts are coalesced: five updates, fewer messages, the last one wins.
	data, _ := msgpack.Marshal(map[string]any{"status": "typing"})
	for i := range 5 {
		a.send(&wire.Presence{Doc: "doc", V: 1, Sel: ot.Selection{{Anchor: i, Head: i}}, Data: data})
	}
	msgs := 0
	for {
		p := b.expect("presence")
		msgs++
		if sel, ok := peerSel(t, p, sidA); ok && sel[0] == [2]int64{4, 4} {
			break
		}
	}
	if msgs >= 5 {
		t.Fatalf("five presence updates gave %d messages: not coalesced", msgs)
	}

	// An op's selection is moved past ops its author had not seen: B's insert
	// at 0 was committed first, so A's caret after its own insert moves by 2.
	b.send(&wire.Op{Doc: "doc", V: 1, Seq: 2, Op: ins(0, "YY")})
	b.expectSkipping("ack", "presence")
	a.send(&wire.Op{Doc: "doc", V: 1, Seq: 1, Op: ins(5, "!"), Sel: ot.Selection{{Anchor: 6, Head: 6}}})
	op := b.expectSkipping("op", "presence", "ack")
	if op["sid"] != sidA || num(t, op["v"]) != 2 {
		t.Fatalf("B got %v, want A's op at v2", op)
	}
	if sel := sels(t, op["sel"]); len(sel) != 1 || sel[0] != [2]int64{8, 8} {
		t.Fatalf("A's selection arrived as %v, want [[8,8]]", sel)
	}
	if text, _ := docText(t, st, "doc"); text != "YYXXabc!" {
		t.Fatalf("store has %q", text)
	}

	// Leaving and disconnecting are reported as gone.
	a.send(&wire.Leave{Doc: "doc"})
	waitGone(t, b, sidA)
	c := ts.connect(t, "client-cccccccccccc")
	c.join("doc", nil)
	for { // C must have been announced for its departure to be news
		if _, ok := peerSel(t, b.expectSkipping("presence", "op", "ack"), "client-cccccccccccc"); ok {
			break
		}
	}
	c.c.Close()
	waitGone(t, b, "client-cccccccccccc")
}

func waitGone(t *testing.T, c *wsClient, sid string) {
	t.Helper()
	for {
		p := c.expectSkipping("presence", "op", "ack")
		gone, _ := p["gone"].([]any)
		for _, g := range gone {
			if g == sid {
				return
			}
		}
	}
}

// TestPresenceLeadingEdge: a caret move after a quiet interval goes out at
// once, and the next one within the interval waits for its end: at most one
// presence message per document per interval, without a quiet document's
// first move waiting the interval out.
func TestPresenceLeadingEdge(t *testing.T) {
	const interval = 400 * time.Millisecond
	st := memStore(t)
	createDoc(t, st, "doc", "abcdef")
	ts := newTestServer(t, st, func(c *Config) { c.PresenceInterval = interval })
	a := ts.connect(t, sidA)
	a.join("doc", nil)
	b := ts.connect(t, sidB)
	b.join("doc", nil)
	caretOfA := func(at int) time.Time {
		t.Helper()
		for {
			p := b.expect("presence")
			if sel, ok := peerSel(t, p, sidA); ok && len(sel) == 1 && sel[0] == [2]int64{int64(at), int64(at)} {
				return time.Now()
			}
		}
	}
	// Whatever the joins announced has gone out, then nothing for a while.
	a.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 0, Head: 0}}})
	caretOfA(0)
	time.Sleep(2 * interval)

	sent := time.Now()
	a.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 1, Head: 1}}})
	first := caretOfA(1)
	if d := first.Sub(sent); d >= interval/2 {
		t.Errorf("the first move after a quiet interval took %v; the interval is %v", d, interval)
	}
	a.send(&wire.Presence{Doc: "doc", V: 0, Sel: ot.Selection{{Anchor: 2, Head: 2}}})
	if gap := caretOfA(2).Sub(first); gap < interval/2 {
		t.Errorf("the next move came %v after the first; at most one message per %v", gap, interval)
	}
}
