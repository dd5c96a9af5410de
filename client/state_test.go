package client

import (
	"errors"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

func ins(pos int, s string) ot.Op {
	if pos == 0 {
		return ot.Op{{Insert: s}}
	}
	return ot.Op{{Retain: pos}, {Insert: s}}
}

func del(pos, n int) ot.Op {
	if pos == 0 {
		return ot.Op{{Delete: n}}
	}
	return ot.Op{{Retain: pos}, {Delete: n}}
}

// joinedClient returns a client that joined a server holding text.
func joinedClient(t *testing.T, s *simServer, sid string) *simClient {
	t.Helper()
	c := s.addClient(sid)
	s.connect(c)
	s.settle()
	if !c.st.isSynced() || c.st.textString() != s.text {
		t.Fatalf("join: synced=%v text=%q", c.st.isSynced(), c.st.textString())
	}
	return c
}

func mustLocal(t *testing.T, c *simClient, op ot.Op) {
	t.Helper()
	if err := c.st.local(op); err != nil {
		t.Fatalf("local %v: %v", op, err)
	}
}

func TestLocalEditsBufferWhileInFlight(t *testing.T) {
	s := newSimServer(t, "hello")
	c := joinedClient(t, s, "client-aaaaaaaaaaaa")

	mustLocal(t, c, ins(5, " world"))
	if len(c.up) != 1 || c.st.pending() != 1 {
		t.Fatalf("first edit: %d messages sent, pending %d; want 1, 1", len(c.up), c.st.pending())
	}
	first := c.up[0].(*wire.Op)
	if first.Seq != 1 || first.V != 0 {
		t.Fatalf("first op seq %d v %d, want 1 and 0", first.Seq, first.V)
	}
	mustLocal(t, c, ins(0, ">"))
	mustLocal(t, c, del(1, 1))
	if len(c.up) != 1 || c.st.pending() != 2 {
		t.Fatalf("buffered edits: %d messages sent, pending %d; want 1, 2", len(c.up), c.st.pending())
	}
	if c.st.textString() != ">ello world" {
		t.Fatalf("local text %q", c.st.textString())
	}
	s.deliverUp(c)
	s.deliverDown(c) // the ack sends the buffer as seq 2
	if len(c.up) != 1 {
		t.Fatalf("after ack: %d messages queued, want the buffered op", len(c.up))
	}
	second := c.up[0].(*wire.Op)
	if second.Seq != 2 || second.V != 1 {
		t.Fatalf("second op seq %d v %d, want 2 and 1", second.Seq, second.V)
	}
	if !reflect.DeepEqual(second.Op, ot.Op{{Insert: ">"}, {Delete: 1}}) {
		t.Fatalf("buffered ops composed into %v", second.Op)
	}
	s.settle()
	s.checkConverged()
	if got := c.acks; len(got) != 2 || got[0] != (AckInfo{Seq: 1, V: 0}) || got[1] != (AckInfo{Seq: 2, V: 1}) {
		t.Fatalf("acks %v", got)
	}
}

func TestRemoteOpTransformedAgainstPending(t *testing.T) {
	s := newSimServer(t, "abc")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	b := joinedClient(t, s, "client-bbbbbbbbbbbb")

	mustLocal(t, a, ins(1, "X")) // in flight
	mustLocal(t, a, ins(3, "Y")) // buffered: aXbYc
	mustLocal(t, b, ins(0, "Z")) // b commits first
	s.deliverUp(b)
	s.deliverDown(b)
	s.deliverUp(a) // a's X is transformed on the server after Z
	if a.down[0].(*wire.OpBroadcast).SID != b.sid {
		t.Fatal("a should see b's op first")
	}
	s.deliverDown(a) // Z arrives while X is in flight and Y buffered
	if a.st.textString() != "ZaXbYc" {
		t.Fatalf("a's local text after remote op: %q", a.st.textString())
	}
	if len(a.fx.changes) != 1 || !reflect.DeepEqual(a.fx.changes[0].Op, ot.Op{{Insert: "Z"}}) {
		t.Fatalf("change %+v", a.fx.changes)
	}
	s.settle()
	s.checkConverged()
	if s.text != "ZaXbYc" {
		t.Fatalf("server text %q", s.text)
	}
}

func TestSamePositionInsertsServerOpGoesLeft(t *testing.T) {
	s := newSimServer(t, "")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	b := joinedClient(t, s, "client-bbbbbbbbbbbb")
	mustLocal(t, a, ins(0, "A"))
	mustLocal(t, b, ins(0, "B"))
	s.deliverUp(a) // A committed first
	s.deliverUp(b)
	s.settle()
	s.checkConverged()
	if s.text != "AB" {
		t.Fatalf("text %q, want the first committed insert left", s.text)
	}
}

func TestGapTriggersRejoinWithVersion(t *testing.T) {
	s := newSimServer(t, "abc")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	b := joinedClient(t, s, "client-bbbbbbbbbbbb")
	mustLocal(t, b, ins(0, "1"))
	s.deliverUp(b)
	s.deliverDown(b)
	mustLocal(t, b, ins(0, "2"))
	s.deliverUp(b)
	// Lose a's copy of v0: a sees v1 first.
	a.down = a.down[1:]
	s.deliverDown(a)
	if len(a.up) != 1 {
		t.Fatalf("gap: %d messages sent, want a join", len(a.up))
	}
	j, ok := a.up[0].(*wire.Join)
	if !ok || j.V == nil || *j.V != 0 {
		t.Fatalf("gap answered with %#v, want join with v 0", a.up[0])
	}
	if a.st.textString() != "abc" {
		t.Fatalf("op past a gap was applied: %q", a.st.textString())
	}
	s.settle()
	s.checkConverged()
}

func TestReconnectResubmitsSameSeq(t *testing.T) {
	s := newSimServer(t, "abc")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	b := joinedClient(t, s, "client-bbbbbbbbbbbb")

	// Case 1: the op never reached the server.
	mustLocal(t, a, ins(3, "!"))
	s.disconnect(a)
	mustLocal(t, a, ins(0, "^")) // edited while offline: buffered
	mustLocal(t, b, ins(0, "b"))
	s.settle()
	s.connect(a)
	s.settle()
	s.checkConverged()
	if s.text != "b^abc!" && s.text != "^babc!" {
		t.Fatalf("text %q", s.text)
	}
	if a.st.lastSeq != 2 {
		t.Fatalf("a used seq up to %d, want 2 (resubmission keeps seq 1)", a.st.lastSeq)
	}

	// Case 2: the op was committed but its ack was lost with the socket.
	mustLocal(t, a, ins(0, "@"))
	s.deliverUp(a)
	s.disconnect(a)
	mustLocal(t, b, ins(0, "#"))
	s.settle()
	s.connect(a)
	s.settle()
	s.checkConverged()
	if got := a.acks[len(a.acks)-1]; got.Seq != 3 {
		t.Fatalf("last ack %+v, want seq 3 recognised in the joined ops", got)
	}
}

func TestReconnectAnsweredWithTextProbes(t *testing.T) {
	for _, committed := range []bool{false, true} {
		s := newSimServer(t, "abc")
		a := joinedClient(t, s, "client-aaaaaaaaaaaa")
		b := joinedClient(t, s, "client-bbbbbbbbbbbb")
		mustLocal(t, a, ins(3, "!"))
		if committed {
			s.deliverUp(a)
		}
		s.disconnect(a)
		mustLocal(t, a, ins(0, "^"))
		mustLocal(t, b, ins(1, "b"))
		s.settle()
		s.textJoins = func() bool { return true }
		s.connect(a)
		s.settle()
		s.checkConverged()
		if s.text != "^abbc!" {
			t.Fatalf("committed=%v: text %q, want each edit once", committed, s.text)
		}
	}
}

func TestRejectedOpRollsBack(t *testing.T) {
	s := newSimServer(t, "abc")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	mustLocal(t, a, ins(3, "!"))
	mustLocal(t, a, ins(0, "^"))
	a.up = nil
	a.down = append(a.down, &wire.Error{Code: wire.CodeInvalidOp, Msg: "no", Doc: "doc", Seq: 1})
	s.deliverDown(a)
	var rej *RejectedError
	if len(a.fx.errs) != 1 || !errors.As(a.fx.errs[0], &rej) || !IsCode(rej, wire.CodeInvalidOp) {
		t.Fatalf("errors %v, want a RejectedError invalid_op", a.fx.errs)
	}
	if a.st.textString() != "abc" || a.st.pending() != 0 {
		t.Fatalf("after rejection text %q pending %d", a.st.textString(), a.st.pending())
	}
	if len(a.fx.changes) != 1 || !a.fx.changes[0].Reset {
		t.Fatalf("rollback not reported as a reset change: %+v", a.fx.changes)
	}
	s.settle()
	s.checkConverged()
}

func TestRateLimitedOpIsRetried(t *testing.T) {
	s := newSimServer(t, "abc")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	mustLocal(t, a, ins(0, "x"))
	a.up = nil // dropped by the rate limiter
	if !a.st.onError(&wire.Error{Code: wire.CodeRateLimited, Doc: "doc", Seq: 1}, &a.fx) {
		t.Fatal("rate_limited on the in-flight op should ask for a retry")
	}
	a.st.retry()
	if len(a.up) != 1 || a.up[0].(*wire.Op).Seq != 1 {
		t.Fatalf("retry sent %#v", a.up)
	}
	s.settle()
	s.checkConverged()
}

func TestDeletedDetaches(t *testing.T) {
	s := newSimServer(t, "abc")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	a.st.onError(&wire.Error{Code: wire.CodeDeleted, Doc: "doc"}, &a.fx)
	if !IsCode(a.st.dead, wire.CodeDeleted) {
		t.Fatalf("dead = %v", a.st.dead)
	}
	if err := a.st.local(ins(0, "x")); !IsCode(err, wire.CodeDeleted) {
		t.Fatalf("local edit on a deleted doc: %v", err)
	}
}

func TestPresenceRules(t *testing.T) {
	s := newSimServer(t, "hello")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	b := joinedClient(t, s, "client-bbbbbbbbbbbb")

	// Idle: sent at once as presence.
	a.st.setSelection(ot.Selection{{Anchor: 1, Head: 1}}, nil)
	if p, ok := a.up[0].(*wire.Presence); !ok || p.V != 0 {
		t.Fatalf("idle selection sent as %#v", a.up[0])
	}
	s.settle()

	// In flight: held, then attached to the next op.
	mustLocal(t, a, ins(0, "1"))
	a.st.setSelection(ot.Selection{{Anchor: 2, Head: 2}}, nil)
	if len(a.up) != 1 {
		t.Fatalf("selection sent while an op was in flight: %#v", a.up)
	}
	mustLocal(t, a, ins(0, "2"))
	s.deliverUp(a)
	s.deliverDown(a) // ack: the buffered op goes with the selection
	next := a.up[0].(*wire.Op)
	if next.Sel == nil || textdoc.OfSelection(next.Sel)[0].Head != 3 {
		t.Fatalf("buffered op carries sel %v, want the caret moved to 3", next.Sel)
	}
	s.settle()

	// In flight, nothing buffered: presence follows the ack.
	mustLocal(t, a, ins(0, "3"))
	a.st.setSelection(ot.Selection{{Anchor: 0, Head: 0}}, nil)
	s.deliverUp(a)
	s.deliverDown(a)
	if p, ok := a.up[0].(*wire.Presence); !ok || p.V != int64(len(s.log)) {
		t.Fatalf("after ack sent %#v, want presence at v%d", a.up[0], len(s.log))
	}
	s.settle()
	s.checkConverged()

	// b sees a's caret, moved through b's own pending op.
	peers := b.st.peersView()
	if len(peers) != 1 || peers[0].Sel[0].Head != 0 {
		t.Fatalf("b's view of peers %+v", peers)
	}
	// b's pending insert at a's caret leaves a's caret before it (only the
	// author's own caret follows its insert); one before the caret moves it.
	b.st.setSelection(ot.Selection{{Anchor: 0, Head: 0}}, nil)
	mustLocal(t, b, ins(0, "xyz"))
	if got := b.st.peersView()[0].Sel[0].Head; got != 0 {
		t.Fatalf("peer caret through pending insert at it: %d, want 0", got)
	}
	if got := b.st.sel; got == nil || got[0].Head != 3 {
		t.Fatalf("b's own caret %v, want after its own insert", got)
	}
}

func TestDiffOp(t *testing.T) {
	cases := [][2]string{{"", ""}, {"abc", "abc"}, {"", "😀x"}, {"a😀c", "ac"}, {"hello", "help"}, {"abc", "xyz"}, {"aaa", "aaaa"}}
	for _, c := range cases {
		got, err := ot.Apply(c[0], diffOp(c[0], c[1]))
		if err != nil || got != c[1] {
			t.Fatalf("diff %q -> %q gives %q (%v)", c[0], c[1], got, err)
		}
	}
}

// TestRandomInterleavings is the property test: clients edit, lose their
// connection (sometimes right after sending, so the op may or may not be
// committed), reconnect (sometimes answered with the whole text), and
// messages are delivered in random interleavings; in the end every client
// holds the server's text and every (sid, seq) was committed exactly once.
func TestRandomInterleavings(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		s := newSimServer(t, "start 😀 text")
		s.textJoins = func() bool { return r.IntN(4) == 0 }
		var cs []*simClient
		for i := range 2 + r.IntN(4) {
			cs = append(cs, joinedClient(t, s, "client-"+string(rune('a'+i))+"-xxxxxxxxxx"))
		}
		for range 400 {
			c := cs[r.IntN(len(cs))]
			switch k := r.IntN(20); {
			case k < 7:
				mustLocal(t, c, randomOp(r, c.st.textString()))
			case k < 12:
				if len(c.up) > 0 {
					s.deliverUp(c)
				}
			case k < 18:
				if len(c.down) > 0 {
					s.deliverDown(c)
				}
			case k == 18:
				if c.conn {
					s.disconnect(c)
				} else {
					s.connect(c)
				}
			default:
				if n := runeLen(c.st.textString()); n > 0 {
					p := r.IntN(n + 1)
					c.st.setSelection(ot.Selection{{Anchor: p, Head: p}}, nil)
				}
			}
			for _, c := range cs {
				checkTextCache(t, c)
			}
		}
		for _, c := range cs {
			if !c.conn {
				s.connect(c)
			}
		}
		s.settle()
		s.checkConverged()
		for _, c := range cs {
			for _, p := range c.st.peersView() {
				if p.Sel != nil {
					if err := p.Sel.Validate(runeLen(c.st.textString())); err != nil {
						t.Fatalf("seed %d: peer caret outside the text: %v", seed, err)
					}
				}
			}
		}
	}
}

// checkTextCache fails when the cached string form of a client's local text is
// stale, i.e. some step changed the text without dropping the cache.
func checkTextCache(t *testing.T, c *simClient) {
	t.Helper()
	if c.st.textOK && c.st.textStr != c.st.text.String() {
		t.Fatalf("client %s: cached text %q, rope holds %q", c.sid, c.st.textStr, c.st.text.String())
	}
}

// TestHistoryWindow: after many remote ops the client still transforms a
// presence update stamped historyLen-1 versions back, and the history stays
// bounded.
func TestHistoryWindow(t *testing.T) {
	s := newSimServer(t, "")
	a := joinedClient(t, s, "client-a-xxxxxxxxxx")
	b := joinedClient(t, s, "client-b-xxxxxxxxxx")
	for i := range 3 * historyLen {
		mustLocal(t, a, ins(0, "x"))
		s.settle()
		if n := len(b.st.history); n >= 2*historyLen {
			t.Fatalf("after %d ops the history holds %d entries", i+1, n)
		}
	}
	v := b.st.version - (historyLen - 1)
	// A caret at 1 stamped v: each of the historyLen-1 later ops inserted one
	// code point at 0, before the caret, so it moves right by one per op.
	sel, ok := b.st.catchUp(ot.Selection{{Anchor: 1, Head: 1}}, "peer-sid-00000000", v)
	if !ok {
		t.Fatalf("presence stamped v%d (current v%d) could not be caught up", v, b.st.version)
	}
	if want := 1 + historyLen - 1; sel[0].Head != want {
		t.Fatalf("caret caught up to %d, want %d", sel[0].Head, want)
	}
	if _, ok := b.st.catchUp(ot.Selection{{Anchor: 0, Head: 0}}, "peer-sid-00000000", b.st.version-2*historyLen); ok {
		t.Fatalf("a version older than the whole history was caught up")
	}
}

// TestBaseCatchesUpPastThePendingBound: while a's op is in flight, more remote
// ops arrive than the base queues (maxBasePending); the base is then brought
// up to date and queued afresh, and with a buffered edit as well a is right
// after the ack and after a re-join from its base.
func TestBaseCatchesUpPastThePendingBound(t *testing.T) {
	for _, withBuffer := range []bool{false, true} {
		s := newSimServer(t, "start")
		a := joinedClient(t, s, "client-aaaaaaaaaaaa")
		b := joinedClient(t, s, "client-bbbbbbbbbbbb")
		mustLocal(t, a, ins(0, "A"))
		if withBuffer {
			mustLocal(t, a, ins(1, "a")) // buffered behind the in-flight op
		}
		n := 3*maxBasePending + 5
		for i := range n {
			mustLocal(t, b, ins(0, string(rune('0'+i%10))))
			for len(b.up) > 0 {
				s.deliverUp(b)
			}
			for len(b.down) > 0 {
				s.deliverDown(b)
			}
		}
		// Everything b did reaches a before a's own op reaches the server.
		for len(a.down) > 0 {
			s.deliverDown(a)
		}
		if q := len(a.st.basePending); q == 0 || q > maxBasePending {
			t.Fatalf("base queue %d ops, want 1 to %d (the lazy path)", q, maxBasePending)
		}
		base, err := a.st.baseDoc()
		if err != nil || base.String() != s.text {
			t.Fatalf("a's base %q (%v), server %q", base.String(), err, s.text)
		}
		if a.st.version != int64(n) {
			t.Fatalf("a at v%d, want v%d", a.st.version, n)
		}
		s.settle()
		s.checkConverged()
		// A re-join from the exact base returns nothing new and keeps the state.
		a.st.rejoin()
		s.settle()
		s.checkConverged()
	}
}

// TestRemoteOpAppliedOnce: every client applies every op its peers commit, so
// the state machine applies each one once. With nothing of the client's own
// pending, the base and the local text are then the same document value;
// with an op in flight the base waits (basePending) until the ack makes it
// the local text.
func TestRemoteOpAppliedOnce(t *testing.T) {
	s := newSimServer(t, "hello")
	a := joinedClient(t, s, "client-aaaaaaaaaaaa")
	b := joinedClient(t, s, "client-bbbbbbbbbbbb")

	mustLocal(t, b, ins(5, "!"))
	s.settle()
	if a.st.text != a.st.base || len(a.st.basePending) != 0 {
		t.Fatalf("idle client: text and base are different documents (%p, %p), %d ops pending", a.st.text, a.st.base, len(a.st.basePending))
	}

	mustLocal(t, a, ins(0, ">"))
	mustLocal(t, b, ins(0, "<"))
	s.deliverUp(b)
	for len(a.down) > 0 {
		s.deliverDown(a) // b's op reaches a while a's own is in flight
	}
	if len(a.st.basePending) != 1 {
		t.Fatalf("with an op in flight the base queues the remote op: %d pending", len(a.st.basePending))
	}
	s.settle()
	s.checkConverged()
	if a.st.text != a.st.base || len(a.st.basePending) != 0 {
		t.Fatalf("after the ack: text and base are different documents, %d ops pending", len(a.st.basePending))
	}
}

// TestPeerSet: removing a peer moves the last one into its slot, and the
// index must follow it, or later lookups find the wrong peer.
func TestPeerSet(t *testing.T) {
	var ps peerSet
	for _, sid := range []string{"a", "b", "c", "d"} {
		ps.put(sid, &peerState{info: Peer{SID: sid}})
	}
	ps.remove("b") // d moves into b's slot
	ps.put("d", &peerState{info: Peer{SID: "d", User: User{Name: "again"}}})
	ps.remove("zz")
	got := map[string]string{}
	for _, p := range ps.list {
		got[p.info.SID] = p.info.User.Name
	}
	want := map[string]string{"a": "", "c": "", "d": "again"}
	if !reflect.DeepEqual(got, want) || len(ps.list) != 3 {
		t.Fatalf("peers %v (%d), want %v", got, len(ps.list), want)
	}
	for sid, i := range ps.index {
		if ps.list[i].info.SID != sid {
			t.Fatalf("index says %s is at %d, which holds %s", sid, i, ps.list[i].info.SID)
		}
	}
	ps.reset()
	if len(ps.list) != 0 || ps.index != nil {
		t.Fatal("reset left peers")
	}
}

// TestEditSeqNamesTheAckingOp: editSeq, read after each local edit, is the
// seq of the ack that acknowledges that edit, whether the edit went out at
// once, was buffered behind the op in flight, was composed into a buffer, or
// was made while the session was down; and it stays so while acks come in.
func TestEditSeqNamesTheAckingOp(t *testing.T) {
	s := newSimServer(t, "hello")
	c := joinedClient(t, s, "client-aaaaaaaaaaaa")
	var want []int64 // editSeq after each edit, in order
	edit := func(op ot.Op) {
		t.Helper()
		mustLocal(t, c, op)
		want = append(want, c.st.editSeq())
	}
	edit(ins(0, "a")) // sent at once as seq 1
	edit(ins(0, "b")) // buffered behind it: seq 2
	edit(ins(0, "c")) // composed into that buffer: seq 2 too
	s.deliverUp(c)
	s.deliverDown(c) // ack of 1; the buffer goes out as 2
	if got := c.st.editSeq(); got != 2 {
		t.Fatalf("after the ack that sends the buffer, editSeq = %d, want 2 (it did not change)", got)
	}
	s.settle()
	if got := c.st.editSeq(); got != 2 {
		t.Fatalf("once all is acknowledged, editSeq = %d, want 2 (the last op sent)", got)
	}
	s.disconnect(c)
	edit(ins(0, "d")) // made offline: buffered until the join, then seq 3
	s.connect(c)
	s.settle()
	if want[0] != 1 || want[1] != 2 || want[2] != 2 || want[3] != 3 {
		t.Fatalf("editSeq after each edit = %v, want [1 2 2 3]", want)
	}
	acked := map[int64]bool{}
	for _, a := range c.acks {
		acked[a.Seq] = true
	}
	for i, seq := range want {
		if !acked[seq] {
			t.Fatalf("edit %d was named seq %d, which was never acknowledged (acks %v)", i, seq, c.acks)
		}
	}
	if len(c.acks) != 3 {
		t.Fatalf("acks %v, want 3 (seqs 1, 2, 3)", c.acks)
	}
}
