package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/doctype"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/presence"
	"github.com/tandem-collab/tandem/store"
)

// newTextState is a docState of text at version 0 with carets: author and
// other at 5, early at 2.
func newTextState(t *testing.T, text string) *docState {
	t.Helper()
	s, err := newDocState(textdoc.Type{}, textdoc.MustString(text), 0, nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	for sid, pos := range map[string]int{"author": 5, "other": 5, "early": 2} {
		s.pres.Join(presence.Peer{SID: sid, Sel: ot.Selection{{Anchor: pos, Head: pos}}})
	}
	s.pres.Flush()
	return s
}

func caretOf(t *testing.T, s *docState, sid string) int {
	t.Helper()
	p, ok := s.pres.Get(sid)
	sel := textdoc.OfSelection(p.Sel)
	if !ok || len(sel) != 1 {
		t.Fatalf("%s has selection %v", sid, p.Sel)
	}
	return sel[0].Head
}

func TestStateApplyCommitted(t *testing.T) {
	tests := []struct {
		name      string
		rec       store.OpRecord
		sel       doctype.Selection
		adopt     bool
		wantErr   bool
		wantText  string
		wantSel   doctype.Selection // returned for the broadcast
		wantCaret map[string]int
		wantDue   bool
	}{
		{name: "insert at the carets, no selection: the author's follows its insert",
			rec: store.OpRecord{Op: ot.Op{{Retain: 5}, {Insert: "!!"}}, SID: "author", Seq: 1}, wantText: "hello!!",
			wantCaret: map[string]int{"author": 7, "other": 5, "early": 2}},
		{name: "the author's selection is adopted",
			rec: store.OpRecord{Op: ot.Op{{Insert: "A"}}, SID: "author", Seq: 1}, sel: ot.Selection{{Anchor: 1, Head: 1}}, adopt: true,
			wantText: "Ahello", wantSel: ot.Selection{{Anchor: 1, Head: 1}},
			wantCaret: map[string]int{"author": 1, "other": 6, "early": 3}, wantDue: true},
		{name: "a selection from a node the author is not on is broadcast, not adopted",
			rec: store.OpRecord{Op: ot.Op{{Insert: "A"}}, SID: "author", Seq: 1}, sel: ot.Selection{{Anchor: 1, Head: 1}},
			wantText: "Ahello", wantSel: ot.Selection{{Anchor: 1, Head: 1}},
			wantCaret: map[string]int{"author": 6, "other": 6, "early": 3}},
		{name: "a selection past the end is dropped, the edit kept",
			rec: store.OpRecord{Op: ot.Op{{Insert: "A"}}, SID: "author", Seq: 1}, sel: ot.Selection{{Anchor: 9, Head: 9}}, adopt: true,
			wantText: "Ahello", wantCaret: map[string]int{"author": 6, "other": 6, "early": 3}},
		{name: "a delete over carets moves them to its start",
			rec: store.OpRecord{Op: ot.Op{{Retain: 1}, {Delete: 4}}, SID: "srv-x", Seq: 0}, wantText: "h",
			wantCaret: map[string]int{"author": 1, "other": 1, "early": 1}},
		{name: "an op that does not fit changes nothing",
			rec: store.OpRecord{Op: ot.Op{{Retain: 9}, {Insert: "x"}}, SID: "author", Seq: 1}, wantErr: true, wantText: "hello",
			wantCaret: map[string]int{"author": 5, "other": 5, "early": 2}},
		{name: "an op at another version changes nothing",
			rec: store.OpRecord{Version: 3, Op: ot.Op{{Insert: "x"}}, SID: "author", Seq: 1}, wantErr: true, wantText: "hello",
			wantCaret: map[string]int{"author": 5, "other": 5, "early": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTextState(t, "hello")
			rec, sel, err := s.applyCommitted(tc.rec, tc.sel, tc.adopt)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if got := textdoc.String(s.doc); got != tc.wantText {
				t.Fatalf("text %q, want %q", got, tc.wantText)
			}
			wantV := int64(1)
			if tc.wantErr {
				wantV = 0
			}
			if s.v != wantV || int64(len(s.window)) != wantV {
				t.Fatalf("v%d with %d ops in the window, want %d", s.v, len(s.window), wantV)
			}
			if !tc.wantErr && (rec.Version != 0 || textdoc.Op(rec.Op) == nil) {
				t.Fatalf("record %+v", rec)
			}
			if (sel == nil) != (tc.wantSel == nil) || (sel != nil && textdoc.OfSelection(sel)[0] != textdoc.OfSelection(tc.wantSel)[0]) {
				t.Fatalf("broadcast selection %v, want %v", sel, tc.wantSel)
			}
			for sid, want := range tc.wantCaret {
				if got := caretOf(t, s, sid); got != want {
					t.Errorf("%s at %d, want %d", sid, got, want)
				}
			}
			if s.presDue != tc.wantDue {
				t.Fatalf("presDue %v, want %v", s.presDue, tc.wantDue)
			}
			_, seq, _ := s.lookupSeq(tc.rec.SID, tc.rec.Seq)
			if tc.rec.Seq > 0 && !tc.wantErr && seq != seqCommitted {
				t.Fatalf("(sid, seq) not marked committed: %v", seq)
			}
		})
	}
}

func TestStateWindow(t *testing.T) {
	s := newTextState(t, "")
	for i := range 9 {
		if _, _, err := s.applyCommitted(store.OpRecord{Version: int64(i), Op: ot.Op{{Insert: "x"}}, SID: "w", Seq: int64(i + 1)}, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.window); n < 4 || n > 8 {
		t.Fatalf("window of %d ops, want 4..8 (opWindow 4)", n)
	}
	start := s.v - int64(len(s.window))
	if s.window[0].Version != start {
		t.Fatalf("window starts at %d, want %d", s.window[0].Version, start)
	}
	if ops, ok := s.windowSince(start - 1); ok || ops != nil {
		t.Fatal("windowSince before the window answered from memory")
	}
	if ops, ok := s.windowSince(s.v - 2); !ok || len(ops) != 2 || ops[0].Version != s.v-2 {
		t.Fatalf("windowSince(v-2) = %d ops, %v", len(ops), ok)
	}
	if ops, ok := s.windowSince(s.v); !ok || len(ops) != 0 {
		t.Fatalf("windowSince(v) = %v, %v", ops, ok)
	}
	if got := textdoc.String(s.doc); got != strings.Repeat("x", 9) {
		t.Fatalf("text %q", got)
	}
}

func TestStateLookupSeq(t *testing.T) {
	rec := func(v int64, sid string, seq int64) store.OpRecord {
		return store.OpRecord{Version: v, Op: ot.Op{{Insert: "x"}}, SID: sid, Seq: seq}
	}
	whole, err := newDocState(textdoc.Type{}, textdoc.MustString("xxx"), 3, []store.OpRecord{rec(0, "a", 1), rec(1, "b", 1), rec(2, "a", 2)}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// The window holds versions 5 and 6 only; 0-4 are in the store.
	tail, err := newDocState(textdoc.Type{}, textdoc.MustString("xxxxxxx"), 7, []store.OpRecord{rec(5, "a", 7), rec(6, "a", 9)}, 10)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		s     *docState
		sid   string
		seq   int64
		v     int64
		res   seqLookup
		known bool
	}{
		{"above the sid's latest: new", whole, "a", 3, 0, seqNew, true},
		{"the sid's latest", whole, "a", 2, 2, seqCommitted, true},
		{"an older one in the window", whole, "a", 1, 0, seqCommitted, true},
		{"an unknown sid when the window is the whole history: new", whole, "c", 1, 0, seqNew, false},
		{"an unknown sid, history beyond the window: ask the store", tail, "c", 1, 0, seqAsk, false},
		{"a known sid, seq below the window: ask the store", tail, "a", 3, 0, seqAsk, true},
		{"a known sid, a gap in its seqs within the window: ask the store", tail, "a", 8, 0, seqAsk, true},
	}
	for _, tc := range tests {
		v, res, known := tc.s.lookupSeq(tc.sid, tc.seq)
		if v != tc.v || res != tc.res || known != tc.known {
			t.Errorf("%s: got (%d, %v, %v), want (%d, %v, %v)", tc.name, v, res, known, tc.v, tc.res, tc.known)
		}
	}
	if _, err := newDocState(textdoc.Type{}, textdoc.MustString(""), 1, []store.OpRecord{rec(3, "a", 1)}, 10); err == nil {
		t.Fatal("a window that does not end at the version was accepted")
	}
}

// TestStateOtherType: the state is type-agnostic; a rich document goes
// through the same applyCommitted.
func TestStateOtherType(t *testing.T) {
	typ, err := doctype.Lookup("rich")
	if err != nil {
		t.Fatal(err)
	}
	c, err := typ.ParseContentJSON([]byte(`["ab\n"]`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newDocState(typ, c, 0, nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := typ.DecodeSelection([]byte{0x91, 0x92, 0x02, 0x02})
	if err != nil {
		t.Fatal(err)
	}
	s.pres.Join(presence.Peer{SID: "reader", Sel: sel})
	op, err := typ.ParseOpJSON([]byte(`[1, {"i": "X", "a": {"bold": true}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.applyCommitted(store.OpRecord{Op: op, SID: "writer", Seq: 1}, nil, false); err != nil {
		t.Fatal(err)
	}
	js, _ := s.doc.MarshalJSON()
	if string(js) != `["a",{"i":"X","a":{"bold":true}},"b\n"]` || s.v != 1 {
		t.Fatalf("content %s at v%d", js, s.v)
	}
	p, _ := s.pres.Get("reader")
	if b := p.Sel.AppendMsgpack(nil); string(b) != string([]byte{0x91, 0x92, 0x03, 0x03}) {
		t.Fatalf("reader's caret %x, want moved to 3", b)
	}
}

// The window keeps, beyond opWindow, the ops committed within windowAge of
// the newest, up to windowMax (twice that between trims).
func TestStateWindowAge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name          string
		age           time.Duration
		max, maxBytes int
		every         time.Duration // between commits
		ops           int
		wantMin, want int // window length bounds after the ops
	}{
		{"count only", 0, 0, 0, time.Millisecond, 100, 4, 8},
		{"all within the age: kept up to the max, plus opWindow between trims", time.Hour, 30, 0, time.Millisecond, 100, 30, 34},
		{"a burst within the age: all kept", time.Hour, 1000, 0, time.Millisecond, 100, 100, 100},
		{"older than the age: trimmed to the age", 20 * time.Millisecond, 1000, 0, time.Millisecond, 100, 21, 29},
		{"no commit times: count only", time.Hour, 1000, 0, 0, 100, 4, 8},
		{"over the bytes: count only", time.Hour, 1000, 20, time.Millisecond, 100, 4, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTextState(t, "")
			s.windowAge, s.windowMax, s.windowMaxBytes = tc.age, tc.max, tc.maxBytes
			for i := range tc.ops {
				var at time.Time
				if tc.every > 0 {
					at = t0.Add(time.Duration(i) * tc.every)
				}
				rec := store.OpRecord{Version: int64(i), Op: ot.Op{{Insert: "x"}}, SID: "w", Seq: int64(i + 1), CreatedAt: at}
				if _, _, err := s.applyCommitted(rec, nil, false); err != nil {
					t.Fatal(err)
				}
				if s.window[len(s.window)-1].Version != int64(i) || s.window[0].Version != int64(i+1-len(s.window)) {
					t.Fatalf("window %d..%d after op %d", s.window[0].Version, s.window[len(s.window)-1].Version, i)
				}
				if n := len(s.window); n > 8 {
					t.Fatalf("%d ops kept as records, want at most twice opWindow (4)", n)
				}
			}
			all, ok := s.windowSince(s.windowStart())
			if !ok || int64(len(all)) != s.v-s.windowStart() {
				t.Fatalf("windowSince(%d) = %d ops, %v; want the whole window", s.windowStart(), len(all), ok)
			}
			if n := len(all); n < tc.wantMin || n > tc.want {
				t.Fatalf("window of %d ops, want %d..%d", n, tc.wantMin, tc.want)
			}
			bytes := 0
			for i, r := range all {
				if r.Version != s.windowStart()+int64(i) || r.SID != "w" || r.Seq != r.Version+1 {
					t.Fatalf("window op %d: %+v", i, r)
				}
				if tc.every > 0 && !r.CreatedAt.Equal(t0.Add(time.Duration(r.Version)*tc.every)) {
					t.Fatalf("window op v%d committed at %v", r.Version, r.CreatedAt)
				}
				bytes += r.Op.Size()
			}
			if bytes != s.windowBytes {
				t.Fatalf("windowBytes %d, the ops' sizes add up to %d", s.windowBytes, bytes)
			}
		})
	}
}

// The ops the age window keeps beyond the latest opWindow are kept encoded
// (cold) and come back as they were committed: windowSince decodes them
// (op, author, seq, user, commit time), lookupSeq finds a (sid, seq) among
// them, and over windowMaxBytes they go.
func TestStateColdWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newTextState(t, "")
	s.windowAge, s.windowMax = time.Hour, 1000
	var want []store.OpRecord
	for i := range 50 {
		rec := store.OpRecord{Version: int64(i), Op: ot.Op{{Insert: fmt.Sprintf("é%d", i)}},
			SID: fmt.Sprintf("sid-%d", i%3), Seq: int64(i/3 + 1), UserID: fmt.Sprintf("user-%d", i%2), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if i%7 == 0 {
			rec.UserID = "" // a REST op of no user
		}
		got, _, err := s.applyCommitted(rec, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, got)
	}
	if s.cold.len() == 0 || len(s.window) > 8 {
		t.Fatalf("%d ops encoded, %d records: want the ops past opWindow encoded", s.cold.len(), len(s.window))
	}
	if s.windowStart() != 0 {
		t.Fatalf("the window starts at %d, want 0 (everything within the age)", s.windowStart())
	}
	for from := int64(0); from <= 50; from += 7 {
		ops, ok := s.windowSince(from)
		if !ok || len(ops) != 50-int(from) {
			t.Fatalf("windowSince(%d) = %d ops, %v", from, len(ops), ok)
		}
		for i, r := range ops {
			w := want[from+int64(i)]
			if r.Version != w.Version || r.SID != w.SID || r.Seq != w.Seq || r.UserID != w.UserID || !r.CreatedAt.Equal(w.CreatedAt) ||
				string(r.Op.AppendMsgpack(nil)) != string(w.Op.AppendMsgpack(nil)) {
				t.Fatalf("windowSince(%d)[%d] = %+v, want %+v", from, i, r, w)
			}
		}
	}
	if v, res, known := s.lookupSeq("sid-1", 2); res != seqCommitted || v != 4 || !known {
		t.Fatalf("lookupSeq(sid-1, 2) = v%d %v %v, want committed at v4", v, res, known)
	}
	if _, res, _ := s.lookupSeq("sid-9", 1); res != seqNew {
		t.Fatalf("lookupSeq of an unknown sid with the whole history in memory: %v, want new", res)
	}
	bytes := 0
	for _, r := range want {
		bytes += r.Op.Size()
	}
	if s.windowBytes != bytes {
		t.Fatalf("windowBytes %d, want %d", s.windowBytes, bytes)
	}
	// Over the bytes the encoded ops go, at the next trim.
	s.windowMaxBytes = bytes / 2
	for i := 50; ; i++ {
		before := len(s.window)
		rec := store.OpRecord{Version: int64(i), Op: ot.Op{{Insert: "x"}}, SID: "w", Seq: int64(i), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if _, _, err := s.applyCommitted(rec, nil, false); err != nil {
			t.Fatal(err)
		}
		if len(s.window) < before {
			break // trimmed
		}
	}
	if s.cold.len() != 0 || s.windowStart() != s.v-int64(len(s.window)) {
		t.Fatalf("over windowMaxBytes: %d ops still encoded", s.cold.len())
	}
	if _, ok := s.windowSince(s.windowStart() - 1); ok {
		t.Fatal("windowSince before the window answered from memory")
	}
}
