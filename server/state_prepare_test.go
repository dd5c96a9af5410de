package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/doctype"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/presence"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// committedState is a text state that committed ops: the content is text,
// the records are the whole log (log[i].Version == i), and the window keeps
// at least opWindow of them.
func committedState(t *testing.T, opWindow int, ops ...store.OpRecord) (*docState, []store.OpRecord) {
	t.Helper()
	s, err := newDocState(textdoc.Type{}, textdoc.MustString(""), 0, nil, opWindow)
	if err != nil {
		t.Fatal(err)
	}
	var log []store.OpRecord
	for i, r := range ops {
		r.Version = int64(i)
		rec, _, err := s.applyCommitted(r, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, rec)
	}
	return s, log
}

// helloWorld: "hello" by a (seq 1) at 0, " world" by b (seq 1) at 1; the
// window holds the whole history.
func helloWorld(t *testing.T) (*docState, []store.OpRecord) {
	return committedState(t, 4,
		store.OpRecord{Op: ins(0, "hello"), SID: "a", Seq: 1},
		store.OpRecord{Op: ins(5, " world"), SID: "b", Seq: 1})
}

// tenXs: ten one-char inserts by w (seqs 1-10) with a window of one or two
// ops: the rest of the history is the store's.
func tenXs(t *testing.T) (*docState, []store.OpRecord) {
	var ops []store.OpRecord
	for i := range 10 {
		ops = append(ops, store.OpRecord{Op: ins(0, "x"), SID: "w", Seq: int64(i + 1)})
	}
	return committedState(t, 1, ops...)
}

// storeAnswers plays the actor's part (readForPrepare) from log: every
// (sid, seq) asked is looked up there, and the history is log[histFrom:].
func storeAnswers(log []store.OpRecord) func(msgs []*opMsg, r *prepReads) {
	return func(msgs []*opMsg, r *prepReads) {
		for i := range r.checks {
			c := &r.checks[i]
			if c.res != seqAsk {
				continue
			}
			c.res = seqNew
			for _, rec := range log {
				if rec.SID == msgs[i].sid && rec.Seq == msgs[i].seq {
					c.res, c.v = seqCommitted, rec.Version
				}
			}
			if c.res == seqNew && c.known {
				c.err = errSeqNotIncreasing
			}
		}
		if !r.histOK {
			r.hist = log[r.histFrom:]
		}
	}
}

func opm(v int64, sid string, seq int64, op ot.Op) *opMsg {
	return &opMsg{v: v, sid: sid, seq: seq, userID: "u", op: op}
}

// outcomes describes what prepare made of each message, in order: "v3" (in
// the batch at version 3), "dup v3" (a resubmission of that one), "ack 2"
// (committed before, at 2), an error code, or "rest" (the next batch's).
func outcomes(msgs []*opMsg, batch []*pending, rest []*opMsg, answers []answer) []string {
	got := make(map[*opMsg]string)
	for _, p := range batch {
		got[p.m] = fmt.Sprintf("v%d", p.rec.Version)
		for _, d := range p.dups {
			got[d] = fmt.Sprintf("dup v%d", p.rec.Version)
		}
	}
	for _, a := range answers {
		if a.err == nil {
			got[a.m] = fmt.Sprintf("ack %d", a.v)
		} else {
			got[a.m] = a.err.Code
		}
	}
	for _, m := range rest {
		got[m] = "rest"
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = got[m]
	}
	return out
}

// longBatchWithDups is shortBatch+4 inserts at the head of helloWorld by
// distinct sids, then a resubmission of the first and of the last.
func longBatchWithDups() []*opMsg {
	var msgs []*opMsg
	for i := range shortBatch + 4 {
		msgs = append(msgs, opm(2, fmt.Sprintf("s%02d", i), 1, ins(0, "x")))
	}
	first, last := msgs[0], msgs[len(msgs)-1]
	return append(msgs, opm(2, first.sid, 1, ins(0, "x")), opm(2, last.sid, 1, ins(0, "x")))
}

// versions is "v<from>" .. for n ops.
func versions(from, n int) []string {
	var out []string
	for i := range n {
		out = append(out, "v"+strconv.Itoa(from+i))
	}
	return out
}

func TestStatePrepare(t *testing.T) {
	tests := []struct {
		name     string
		state    func(*testing.T) (*docState, []store.OpRecord)
		limits   prepLimits // zero fields: no limit
		msgs     []*opMsg
		answer   func(log []store.OpRecord) func([]*opMsg, *prepReads) // the store's part; nil: storeAnswers
		want     []string
		wantText string // after applyBatch
	}{
		{name: "an op at the head", state: helloWorld,
			msgs: []*opMsg{opm(2, "c", 1, ins(11, "!"))},
			want: []string{"v2"}, wantText: "hello world!"},
		{name: "an op made before a commit moves past it", state: helloWorld,
			msgs: []*opMsg{opm(1, "c", 1, ins(4, "!"))},
			want: []string{"v2"}, wantText: "hell!o world"},
		{name: "ops of one batch move past each other", state: helloWorld,
			msgs: []*opMsg{opm(2, "c", 1, ins(0, "1")), opm(2, "d", 1, ins(11, "2")), opm(1, "e", 1, ins(1, "3"))},
			want: []string{"v2", "v3", "v4"}, wantText: "1h3ello world2"},
		{name: "a resubmission of a committed op is acked at its version", state: helloWorld,
			msgs: []*opMsg{opm(0, "a", 1, ins(0, "hello")), opm(1, "b", 1, ins(5, " world"))},
			want: []string{"ack 0", "ack 1"}, wantText: "hello world"},
		{name: "the same (sid, seq) twice in a batch commits once", state: helloWorld,
			msgs: []*opMsg{opm(2, "c", 1, ins(0, ">")), opm(2, "c", 1, ins(0, ">"))},
			want: []string{"v2", "dup v2"}, wantText: ">hello world"},
		{name: "resubmissions within a batch past shortBatch: found before and after the map takes over", state: helloWorld,
			msgs:     longBatchWithDups(),
			want:     append(append(versions(2, shortBatch+4), "dup v2"), "dup v"+strconv.Itoa(shortBatch+5)),
			wantText: strings.Repeat("x", shortBatch+4) + "hello world"},
		{name: "an op ahead of the document", state: helloWorld,
			msgs: []*opMsg{opm(3, "c", 1, ins(0, "x")), opm(2, "c", 2, ins(0, "y"))},
			want: []string{wire.CodeInvalidOp, "v2"}, wantText: "yhello world"},
		{name: "an op that does not fit the document at its version", state: helloWorld,
			msgs: []*opMsg{opm(1, "c", 1, ins(6, "x"))},
			want: []string{wire.CodeInvalidOp}, wantText: "hello world"},
		{name: "an op undecodable with the document's type", state: helloWorld,
			msgs: []*opMsg{{v: 2, sid: "c", seq: 1, rawOp: []byte{0xc1}}, opm(2, "c", 2, ins(0, "y"))},
			want: []string{wire.CodeInvalidOp, "v2"}, wantText: "yhello world"},
		{name: "an op over the op limit", state: helloWorld, limits: prepLimits{maxOpBytes: 16},
			msgs: []*opMsg{opm(2, "c", 1, ins(0, strings.Repeat("x", 20))), opm(2, "c", 2, ins(0, "y"))},
			want: []string{wire.CodeTooLarge, "v2"}, wantText: "yhello world"},
		{name: "an op that would pass the document limit; the batch goes on without it", state: helloWorld,
			limits: prepLimits{maxDocBytes: 13},
			msgs:   []*opMsg{opm(2, "c", 1, ins(0, "a")), opm(2, "d", 1, ins(0, "bbbb")), opm(2, "e", 1, ins(11, "c"))},
			want:   []string{"v2", wire.CodeTooLarge, "v3"}, wantText: "ahello worldc"},
		{name: "past the batch limit: the next batch's", state: helloWorld, limits: prepLimits{maxBatch: 1},
			msgs: []*opMsg{opm(2, "c", 1, ins(0, "1")), opm(2, "d", 1, ins(0, "2"))},
			want: []string{"v2", "rest"}, wantText: "1hello world"},
		{name: "a seq older than the window: the store says committed", state: tenXs,
			msgs: []*opMsg{opm(0, "w", 3, ins(0, "x")), opm(10, "c", 1, ins(0, "y"))},
			want: []string{"ack 2", "v10"}, wantText: "y" + strings.Repeat("x", 10)},
		{name: "a seq above the sid's latest is new without the store; seq 0 is never a duplicate", state: tenXs,
			msgs: []*opMsg{opm(10, "w", 11, ins(0, "y")), {v: 10, sid: "w", seq: 0, userID: "u", op: ins(10, "z")}},
			answer: func([]store.OpRecord) func([]*opMsg, *prepReads) {
				return func([]*opMsg, *prepReads) {} // nothing to ask: the store is not there
			},
			want: []string{"v10", "v11"}, wantText: "y" + strings.Repeat("x", 10) + "z"},
		{name: "a known sid's seq the store does not have: out of order", state: tenXs,
			msgs: []*opMsg{opm(10, "w", 4, ins(0, "z"))},
			answer: func([]store.OpRecord) func([]*opMsg, *prepReads) {
				return func(_ []*opMsg, r *prepReads) {
					if r.checks[0].res != seqAsk || !r.checks[0].known {
						panic("not asked of the store")
					}
					r.checks[0].err = errSeqNotIncreasing
				}
			},
			want: []string{wire.CodeBadRequest}, wantText: strings.Repeat("x", 10)},
		{name: "a question the store did not answer refuses the op", state: tenXs,
			msgs:   []*opMsg{opm(10, "c", 1, ins(0, "y"))},
			answer: func([]store.OpRecord) func([]*opMsg, *prepReads) { return func([]*opMsg, *prepReads) {} },
			want:   []string{wire.CodeInternal}, wantText: strings.Repeat("x", 10)},
		{name: "history older than the window, read once for the batch", state: tenXs,
			msgs: []*opMsg{opm(3, "c", 1, ins(3, "y")), opm(9, "d", 1, ins(4, "z"))},
			want: []string{"v10", "v11"}, wantText: "xxxxxzxxxxxy"},
		{name: "history compacted below 8: older ops refused, the others go on", state: tenXs,
			msgs: []*opMsg{opm(3, "c", 1, ins(3, "y")), opm(9, "d", 1, ins(9, "z"))},
			answer: func(log []store.OpRecord) func([]*opMsg, *prepReads) {
				return func(msgs []*opMsg, r *prepReads) {
					storeAnswers(log)(msgs, &prepReads{checks: r.checks, histOK: true})
					r.histErr = &store.CompactedError{DocID: "d", Asked: r.histFrom, Oldest: 8}
					r.histFrom, r.hist = 8, log[8:]
				}
			},
			want: []string{wire.CodeInvalidOp, "v10"}, wantText: strings.Repeat("x", 10) + "z"},
		{name: "history unreadable: only ops within the window go on", state: tenXs,
			msgs: []*opMsg{opm(3, "c", 1, ins(3, "y")), opm(10, "d", 1, ins(0, "z"))},
			answer: func(log []store.OpRecord) func([]*opMsg, *prepReads) {
				return func(msgs []*opMsg, r *prepReads) {
					storeAnswers(log)(msgs, &prepReads{checks: r.checks, histOK: true})
					r.histErr = errors.New("store down")
					r.histFrom, r.hist = 10, nil
				}
			},
			want: []string{wire.CodeInternal, "v10"}, wantText: "z" + strings.Repeat("x", 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, log := tc.state(t)
			s.limits = prepLimits{maxBatch: 100, maxOpBytes: 1 << 20, maxDocBytes: 1 << 20}
			if tc.limits.maxBatch > 0 {
				s.limits.maxBatch = tc.limits.maxBatch
			}
			if tc.limits.maxOpBytes > 0 {
				s.limits.maxOpBytes = tc.limits.maxOpBytes
			}
			if tc.limits.maxDocBytes > 0 {
				s.limits.maxDocBytes = tc.limits.maxDocBytes
			}
			v0, before := s.v, textdoc.String(s.doc)
			r := s.planPrepare(tc.msgs)
			answer := storeAnswers(log)
			if tc.answer != nil {
				answer = tc.answer(log)
			}
			answer(tc.msgs, r)
			now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
			batch, rest, answers := s.prepare(tc.msgs, r, now)
			if got := outcomes(tc.msgs, batch, rest, answers); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("outcomes %q, want %q", got, tc.want)
			}
			if s.v != v0 || textdoc.String(s.doc) != before {
				t.Fatal("prepare changed the state")
			}
			for _, p := range batch {
				if !p.rec.CreatedAt.Equal(now) || p.rec.UserID != "u" {
					t.Fatalf("record %+v", p.rec)
				}
			}
			if err := s.applyBatch(batch); err != nil {
				t.Fatal(err)
			}
			if got := textdoc.String(s.doc); got != tc.wantText {
				t.Fatalf("text after the batch %q, want %q", got, tc.wantText)
			}
			if s.v != v0+int64(len(batch)) {
				t.Fatalf("v%d after %d ops from v%d", s.v, len(batch), v0)
			}
		})
	}
}

// applyBatch ends where applyCommitted op by op does: content, window,
// marks, carets; and after a catch-up in between it applies op by op.
func TestStateApplyBatch(t *testing.T) {
	msgs := func() []*opMsg {
		return []*opMsg{
			{v: 1, sid: "c", seq: 1, userID: "u", op: ins(0, "1"), sel: ot.Selection{{Anchor: 1, Head: 1}}},
			{v: 2, sid: "d", seq: 1, userID: "u", op: ins(11, "2")},
		}
	}
	prepared := func(t *testing.T) (*docState, []*pending) {
		s, log := helloWorld(t)
		s.limits = prepLimits{maxBatch: 10, maxOpBytes: 1 << 20, maxDocBytes: 1 << 20}
		for sid, pos := range map[string]int{"c": 0, "d": 11, "reader": 5} {
			s.addPeer(wire.PeerInfo{SID: sid, Sel: ot.Selection{{Anchor: pos, Head: pos}}})
		}
		ms := msgs()
		r := s.planPrepare(ms)
		storeAnswers(log)(ms, r)
		batch, _, _ := s.prepare(ms, r, time.Time{})
		for _, p := range batch {
			p.adopt = true
		}
		return s, batch
	}
	fast, batch := prepared(t)
	if fast.prep.next == nil {
		t.Fatal("prepare kept no content for applyBatch")
	}
	if err := fast.applyBatch(batch); err != nil {
		t.Fatal(err)
	}
	slow, batch2 := prepared(t)
	for _, p := range batch2 {
		if _, _, err := slow.applyCommitted(p.rec, p.sel, p.adopt); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := textdoc.String(fast.doc), textdoc.String(slow.doc); a != b || a != "1hello world2" || fast.v != slow.v || len(fast.window) != len(slow.window) {
		t.Fatalf("applyBatch: %q v%d (%d in the window); op by op: %q v%d (%d)", a, fast.v, len(fast.window), b, slow.v, len(slow.window))
	}
	for _, sid := range []string{"c", "d", "reader"} {
		if a, b := caretOf(t, fast, sid), caretOf(t, slow, sid); a != b {
			t.Errorf("%s at %d after applyBatch, %d op by op", sid, a, b)
		}
	}
	if _, res, _ := fast.lookupSeq("d", 1); res != seqCommitted {
		t.Fatal("(d, 1) not marked")
	}

	// Another writer's op lands first (a lost race): the prepared content
	// is stale and forgotten, and the batch, numbered from the old version,
	// no longer applies.
	s, batch := prepared(t)
	if _, _, err := s.applyCommitted(store.OpRecord{Version: 2, Op: ins(0, "!"), SID: "z"}, nil, false); err != nil {
		t.Fatal(err)
	}
	if s.prep.next != nil {
		t.Fatal("prepared content kept after the version moved")
	}
	if err := s.applyBatch(batch); err == nil {
		t.Fatal("a batch numbered from an old version applied")
	}
	if textdoc.String(s.doc) != "!hello world" || s.v != 3 {
		t.Fatalf("state %q v%d", textdoc.String(s.doc), s.v)
	}
}

func TestStatePresence(t *testing.T) {
	sel := func(pos int) doctype.Selection { return ot.Selection{{Anchor: pos, Head: pos}} }
	tests := []struct {
		name      string
		v         int64
		sel       doctype.Selection
		older     bool // give the ops the state asks for
		wantErr   string
		wantNeed  int64 // from, when the state asks for ops
		wantCaret int
	}{
		{name: "at the head", v: 10, sel: sel(4), wantCaret: 4},
		{name: "within the window: moved by the ops since", v: 9, sel: sel(1), wantCaret: 2},
		{name: "older than the window: the ops are asked for", v: 2, sel: sel(1), wantNeed: 2},
		{name: "older than the window, with the ops: moved by them", v: 2, sel: sel(1), older: true, wantCaret: 9},
		{name: "ahead of the document", v: 11, sel: sel(0), wantErr: wire.CodeBadRequest},
		{name: "past the end", v: 10, sel: sel(11), wantErr: wire.CodeBadRequest},
		{name: "hidden: no ops needed", v: 2, sel: nil, wantCaret: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, log := tenXs(t)
			s.addPeer(wire.PeerInfo{SID: "p", Sel: sel(0)})
			s.presDue = false
			var older []store.OpRecord
			if tc.older {
				older = log[tc.v:]
			}
			err := s.movePresence("p", tc.v, tc.sel, nil, older)
			var need *needOps
			var we *wire.Error
			switch {
			case tc.wantNeed > 0:
				if !errors.As(err, &need) || need.from != tc.wantNeed {
					t.Fatalf("err %v, want a need of the ops from %d", err, tc.wantNeed)
				}
				return
			case tc.wantErr != "":
				if !errors.As(err, &we) || we.Code != tc.wantErr {
					t.Fatalf("err %v, want %s", err, tc.wantErr)
				}
				if s.presDue {
					t.Fatal("a refused presence changed the state")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			p, _ := s.pres.Get("p")
			if tc.wantCaret < 0 {
				if p.Sel != nil {
					t.Fatalf("selection %v, want hidden", p.Sel)
				}
			} else if got := caretOf(t, s, "p"); got != tc.wantCaret {
				t.Fatalf("caret at %d, want %d", got, tc.wantCaret)
			}
			if !s.presDue {
				t.Fatal("presence not due for a flush")
			}
		})
	}
}

// A peer subscribed twice (a tab that reconnected before its old socket
// closed) stays until its last subscription ends; the flushes report it
// joined, then gone.
func TestStatePeers(t *testing.T) {
	s := newTextState(t, "hi")
	s.addPeer(wire.PeerInfo{SID: "tab", User: presence.User{ID: "u1"}})
	s.addPeer(wire.PeerInfo{SID: "tab", User: presence.User{ID: "u1"}})
	if ev := s.takePresence("doc"); ev == nil || len(ev.Peers) != 1 || ev.Peers[0].SID != "tab" || len(ev.Gone) != 0 {
		t.Fatalf("first flush %+v, want tab joined", ev)
	}
	if peers := s.peerList(); len(peers) != 4 {
		t.Fatalf("peers %+v, want author, early, other and tab", peers)
	}
	if s.dropPeer("tab") {
		t.Fatal("the first of two subscriptions ending took the peer away")
	}
	if _, in := s.pres.Get("tab"); !in || s.takePresence("doc") != nil {
		t.Fatal("the peer changed while a subscription of it remains")
	}
	if !s.dropPeer("tab") {
		t.Fatal("the last subscription ending kept the peer")
	}
	if ev := s.takePresence("doc"); ev == nil || len(ev.Gone) != 1 || ev.Gone[0] != "tab" {
		t.Fatalf("flush %+v, want tab gone", ev)
	}
	if s.takePresence("doc") != nil {
		t.Fatal("a second flush with no change")
	}
}
