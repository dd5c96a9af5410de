package presence

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/ot"
)

func caret(p int) ot.Selection { return ot.Selection{{Anchor: p, Head: p}} }

func rng(a, h int) ot.Range { return ot.Range{Anchor: a, Head: h} }

func TestTransformCaretRules(t *testing.T) {
	tests := []struct {
		name string
		op   ot.Op
		sel  ot.Selection
		want ot.Selection
	}{
		{"insert before", ot.Op{{Retain: 2}, {Insert: "ab"}}, caret(5), caret(7)},
		{"insert at stays after the caret", ot.Op{{Retain: 5}, {Insert: "ab"}}, caret(5), caret(5)},
		{"insert after", ot.Op{{Retain: 6}, {Insert: "ab"}}, caret(5), caret(5)},
		{"insert at start", ot.Op{{Insert: "xyz"}}, caret(0), caret(0)},
		{"insert at start, caret after it", ot.Op{{Insert: "xyz"}}, caret(1), caret(4)},
		{"insert counts code points", ot.Op{{Retain: 1}, {Insert: "😀é"}}, caret(4), caret(6)},
		{"delete before", ot.Op{{Retain: 1}, {Delete: 2}}, caret(5), caret(3)},
		{"delete containing", ot.Op{{Retain: 3}, {Delete: 4}}, caret(5), caret(3)},
		{"delete ending at", ot.Op{{Retain: 3}, {Delete: 2}}, caret(5), caret(3)},
		{"delete starting at", ot.Op{{Retain: 5}, {Delete: 2}}, caret(5), caret(5)},
		{"delete after", ot.Op{{Retain: 6}, {Delete: 2}}, caret(5), caret(5)},
		{"replace around", ot.Op{{Retain: 3}, {Insert: "xyz"}, {Delete: 4}}, caret(5), caret(6)},
		{"replace starting at", ot.Op{{Retain: 5}, {Insert: "xy"}, {Delete: 1}}, caret(5), caret(5)},
		{"several components", ot.Op{{Insert: "a"}, {Retain: 2}, {Delete: 1}, {Retain: 1}, {Insert: "bb"}}, caret(4), caret(4)},
		{"range ending at an insert stays short of it", ot.Op{{Retain: 4}, {Insert: "ab"}}, ot.Selection{rng(1, 4)}, ot.Selection{rng(1, 4)}},
		{"range starting at an insert takes it in", ot.Op{{Retain: 1}, {Insert: "ab"}}, ot.Selection{rng(1, 4)}, ot.Selection{rng(1, 6)}},
		{"range spanning an insert grows", ot.Op{{Retain: 2}, {Insert: "ab"}}, ot.Selection{rng(1, 4)}, ot.Selection{rng(1, 6)}},
		{"range containing a delete shrinks", ot.Op{{Retain: 2}, {Delete: 2}}, ot.Selection{rng(1, 6)}, ot.Selection{rng(1, 4)}},
		{"range inside a delete collapses", ot.Op{{Retain: 1}, {Delete: 8}}, ot.Selection{rng(3, 6)}, ot.Selection{rng(1, 1)}},
		{"backward range", ot.Op{{Retain: 2}, {Insert: "ab"}}, ot.Selection{rng(6, 1)}, ot.Selection{rng(8, 1)}},
		{"multiple ranges", ot.Op{{Retain: 2}, {Insert: "ab"}}, ot.Selection{rng(1, 4), rng(9, 9), rng(0, 0)}, ot.Selection{rng(1, 6), rng(11, 11), rng(0, 0)}},
		{"multiple ranges, first unmoved", ot.Op{{Retain: 8}, {Delete: 1}}, ot.Selection{rng(0, 2), rng(9, 10)}, ot.Selection{rng(0, 2), rng(8, 9)}},
		{"hidden caret stays hidden", ot.Op{{Insert: "a"}}, nil, nil},
		{"retain-only op moves nothing", ot.Op{{Retain: 10}}, caret(5), caret(5)},
		{"empty op moves nothing", ot.Op{}, caret(5), caret(5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSet()
			s.Join(Peer{SID: "peer", Sel: tc.sel})
			s.Join(Peer{SID: "author", Sel: caret(5)})
			s.Transform(tc.op, "author")
			p, _ := s.Get("peer")
			if !reflect.DeepEqual(asText(p.Sel), tc.want) {
				t.Fatalf("sel %v through %v = %v, want %v", tc.sel, tc.op, p.Sel, tc.want)
			}
			if a, _ := s.Get("author"); !reflect.DeepEqual(a.Sel, ot.TransformSelectionPast(caret(5), "author", tc.op, "author")) {
				t.Fatalf("author's caret moved to %v", a.Sel)
			}
		})
	}
}

// TestTransformAuthorsOwnCaret: an op that came without a selection moves its
// author's caret as the author's editor did, after the author's own insert;
// everyone else's caret at that spot stays before it.
func TestTransformAuthorsOwnCaret(t *testing.T) {
	s := NewSet()
	s.Join(Peer{SID: "author", Sel: caret(3)})
	s.Join(Peer{SID: "other", Sel: caret(3)})
	s.Transform(ot.Op{{Retain: 3}, {Insert: "😀 hi"}}, "author")
	if a, _ := s.Get("author"); !reflect.DeepEqual(a.Sel, caret(7)) {
		t.Fatalf("author's caret at %v, want after its own insert (7)", a.Sel)
	}
	if o, _ := s.Get("other"); !reflect.DeepEqual(o.Sel, caret(3)) {
		t.Fatalf("other caret at %v, want before the insert (3)", o.Sel)
	}
	// A REST op's made-up sid owns no caret: everyone's stays before.
	s.Transform(ot.Op{{Retain: 3}, {Insert: "x"}}, "rest-made-up-sid")
	if o, _ := s.Get("other"); !reflect.DeepEqual(o.Sel, caret(3)) {
		t.Fatalf("other caret at %v after a REST insert, want 3", o.Sel)
	}
}

func TestTransformDoesNotMutateSharedSelections(t *testing.T) {
	s := NewSet()
	sel := ot.Selection{rng(3, 3), rng(8, 9)}
	s.Join(Peer{SID: "p", Sel: sel})
	before := s.Peers()
	s.Transform(ot.Op{{Insert: "x"}}, "someone")
	if !reflect.DeepEqual(sel, ot.Selection{rng(3, 3), rng(8, 9)}) {
		t.Fatalf("caller's selection mutated: %v", sel)
	}
	if !reflect.DeepEqual(before[0].Sel, ot.Selection{rng(3, 3), rng(8, 9)}) {
		t.Fatalf("previously returned peer mutated: %v", before[0].Sel)
	}
	if p, _ := s.Get("p"); !reflect.DeepEqual(p.Sel, ot.Selection{rng(4, 4), rng(9, 10)}) {
		t.Fatalf("moved to %v", p.Sel)
	}
}

// TestTransformNeverMutatesHandedOutSelections: a selection moved in place is
// one nobody outside has seen; anything returned stays as it was returned.
func TestTransformNeverMutatesHandedOutSelections(t *testing.T) {
	s := NewSet()
	s.Join(Peer{SID: "p", Sel: caret(3)})
	s.Join(Peer{SID: "q", Sel: caret(3)})
	var ins doctype.Op = ot.Op{{Insert: "x"}} // the server's ops are interface values already
	s.Transform(ins, "a")                     // copies: 4
	s.Transform(ins, "a")                     // in place: 5
	fromGet, _ := s.Get("p")
	changed, _ := s.Flush() // hands out p and q
	s.Transform(ins, "a")   // copies again: 6
	fromPeers := s.Peers()
	s.Transform(ins, "a") // copies again: 7
	s.Transform(ins, "a") // in place: 8
	if !reflect.DeepEqual(fromGet.Sel, caret(5)) {
		t.Fatalf("Get result changed to %v", fromGet.Sel)
	}
	for _, p := range changed {
		if !reflect.DeepEqual(p.Sel, caret(5)) {
			t.Fatalf("Flush result changed to %v", p.Sel)
		}
	}
	for _, p := range fromPeers {
		if !reflect.DeepEqual(p.Sel, caret(6)) {
			t.Fatalf("Peers result changed to %v", p.Sel)
		}
	}
	if p, _ := s.Get("q"); !reflect.DeepEqual(p.Sel, caret(8)) {
		t.Fatalf("q at %v, want 8", p.Sel)
	}
	// The Get handed q out, so the warm-up run copies it; from then on both
	// selections move in place.
	if n := testing.AllocsPerRun(50, func() { s.Transform(ins, "a") }); n != 0 {
		t.Fatalf("steady-state Transform allocated %v times", n)
	}
}

func TestTransformDoesNotMarkChanged(t *testing.T) {
	s := NewSet()
	s.Join(Peer{SID: "p", Sel: caret(3)})
	s.Flush()
	s.Transform(ot.Op{{Insert: "x"}}, "other")
	if changed, gone := s.Flush(); changed != nil || gone != nil {
		t.Fatalf("Transform produced presence traffic: %v %v", changed, gone)
	}
}

func TestTransformNoAllocWhenNothingMoves(t *testing.T) {
	s := manyPeers(100)
	var tail doctype.Op = ot.Op{{Retain: 1 << 20}, {Insert: "x"}} // after every caret
	if n := testing.AllocsPerRun(100, func() { s.Transform(tail, "peer-000") }); n != 0 {
		t.Fatalf("Transform after all carets allocated %v times", n)
	}
	var keep doctype.Op = ot.Op{{Retain: 40}}
	if n := testing.AllocsPerRun(100, func() { s.Transform(keep, "peer-000") }); n != 0 {
		t.Fatalf("retain-only Transform allocated %v times", n)
	}
	// An op in the middle moves only the carets after it, one slice each
	// (and its box in the doctype.Selection interface).
	s = manyPeers(100)
	var mid doctype.Op = ot.Op{{Retain: 500}, {Insert: "x"}}
	moving := 0
	for _, p := range s.Peers() {
		if p.SID == "peer-000" {
			continue
		}
		for _, r := range asText(p.Sel) {
			if r.Anchor >= 500 || r.Head >= 500 {
				moving++
				break
			}
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s.Transform(mid, "peer-000")
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n > 2*uint64(moving) {
		t.Fatalf("%v allocations for %d moving selections", n, moving)
	}
	// Further typing before the next Flush moves them in place.
	if n := testing.AllocsPerRun(100, func() { s.Transform(mid, "peer-000") }); n != 0 {
		t.Fatalf("typing burst allocated %v times per op", n)
	}
}

// manyPeers makes n peers with carets spread over a 1000-character document,
// every tenth hidden and every fifth with a two-range selection.
func manyPeers(n int) *Set {
	s := NewSet()
	for i := range n {
		var sel ot.Selection
		switch {
		case i%10 == 9:
		case i%5 == 4:
			sel = ot.Selection{rng(i*10%1000, i*10%1000+3), rng(999-i, 999-i)}
		default:
			sel = caret(i * 10 % 1000)
		}
		s.Join(Peer{SID: fmt.Sprintf("peer-%03d", i), Sel: sel})
	}
	s.Flush()
	return s
}

// item is one character of a tagged document: an original character (orig >=
// 0), or an inserted one with the original position it was inserted at.
type item struct {
	orig  int
	insAt int
}

// applyTagged is apply() over a document of n distinct original characters,
// keeping track of where every surviving and inserted character came from.
func applyTagged(n int, op ot.Op) []item {
	var out []item
	pos := 0
	for _, c := range op {
		switch {
		case c.Insert != "":
			for range []rune(c.Insert) {
				out = append(out, item{orig: -1, insAt: pos})
			}
		case c.Delete > 0:
			pos += c.Delete
		default:
			for range c.Retain {
				out = append(out, item{orig: pos})
				pos++
			}
		}
	}
	for ; pos < n; pos++ {
		out = append(out, item{orig: pos})
	}
	return out
}

// wantPosition is where a caret at p belongs after apply(): after exactly the
// surviving characters that were before it and the text inserted before it
// (and, for the author's own caret, at it), which must form a prefix of the
// new document.
func wantPosition(t *testing.T, doc []item, p int, own bool) int {
	isBefore := func(it item) bool {
		return it.orig >= 0 && it.orig < p || it.orig < 0 && (it.insAt < p || own && it.insAt == p)
	}
	q := 0
	for _, it := range doc {
		if !isBefore(it) {
			break
		}
		q++
	}
	for _, it := range doc[q:] {
		if isBefore(it) {
			t.Fatalf("characters before caret %d are not a prefix of %v", p, doc)
		}
	}
	return q
}

func randomOp(r *rand.Rand, n int) ot.Op {
	var op ot.Op
	pos := 0
	for pos < n || r.IntN(3) == 0 {
		switch k := r.IntN(3); {
		case k == 0:
			s := make([]rune, 1+r.IntN(3))
			for i := range s {
				s[i] = []rune("ab😀é")[r.IntN(4)]
			}
			op = append(op, ot.Component{Insert: string(s)})
			if pos >= n {
				return op.Normalize()
			}
		case k == 1 && pos < n:
			d := 1 + r.IntN(n-pos)
			op = append(op, ot.Component{Delete: d})
			pos += d
		case pos < n:
			d := 1 + r.IntN(n-pos)
			op = append(op, ot.Component{Retain: d})
			pos += d
		}
	}
	return op.Normalize()
}

// TestTransformMatchesApply: after random ops, every caret sits between the
// same characters apply() leaves around it.
func TestTransformMatchesApply(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		n := r.IntN(30)
		op := randomOp(r, n)
		if err := op.Validate(); err != nil {
			t.Fatalf("generated invalid op %v: %v", op, err)
		}
		doc := applyTagged(n, op)
		s := NewSet()
		sels := map[string]ot.Selection{}
		for i := range 6 {
			var sel ot.Selection
			for range 1 + r.IntN(3) {
				sel = append(sel, rng(r.IntN(n+1), r.IntN(n+1)))
			}
			sid := fmt.Sprintf("p%d", i)
			sels[sid] = sel
			s.Join(Peer{SID: sid, Sel: sel})
		}
		s.Transform(op, "p0")
		for sid, sel := range sels {
			got, _ := s.Get(sid)
			own := sid == "p0" // the author's own selection
			for j, rg := range sel {
				want := rng(wantPosition(t, doc, rg.Anchor, own), wantPosition(t, doc, rg.Head, own))
				if asText(got.Sel)[j] != want {
					t.Fatalf("iter %d: doc of %d, op %v: range %v moved to %v, apply() says %v", iter, n, op, rg, asText(got.Sel)[j], want)
				}
			}
		}
	}
}

func TestJoinUpdateLeave(t *testing.T) {
	s := NewSet()
	data := msgpack.RawMessage{0x81, 0xa1, 'k', 0x01}
	s.Join(Peer{SID: "b", User: User{ID: "u2"}, Sel: caret(1), Data: data})
	s.Join(Peer{SID: "a", User: User{ID: "u1"}})
	s.Join(Peer{SID: "c", User: User{ID: "u3"}})
	if s.Len() != 3 {
		t.Fatalf("Len = %d", s.Len())
	}
	if got := sids(s.Peers()); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("Peers order %v", got)
	}
	if !s.Update("b", caret(4), nil, false) {
		t.Fatal("Update of a known sid failed")
	}
	if p, _ := s.Get("b"); !reflect.DeepEqual(p.Sel, caret(4)) || !reflect.DeepEqual(p.Data, data) {
		t.Fatalf("after Update without data: %+v", p)
	}
	if !s.Update("b", nil, nil, true) {
		t.Fatal("Update failed")
	}
	if p, _ := s.Get("b"); p.Sel != nil || p.Data != nil {
		t.Fatalf("hiding and clearing: %+v", p)
	}
	if s.Update("zz", caret(1), nil, false) || s.Leave("zz") {
		t.Fatal("unknown sid accepted")
	}
	if !s.Leave("a") || s.Leave("a") {
		t.Fatal("Leave of a, twice")
	}
	if _, ok := s.Get("a"); ok || s.Len() != 2 {
		t.Fatalf("a still there, Len %d", s.Len())
	}
	// The swap-removal kept the index right.
	if p, ok := s.Get("c"); !ok || p.User.ID != "u3" {
		t.Fatalf("c after removal: %+v %v", p, ok)
	}
	s.Join(Peer{SID: "c", User: User{ID: "u9"}})
	if p, _ := s.Get("c"); p.User.ID != "u9" || s.Len() != 2 {
		t.Fatalf("rejoin did not replace: %+v, Len %d", p, s.Len())
	}
}

func sids(ps []Peer) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.SID)
	}
	return out
}

func TestFlushCoalescing(t *testing.T) {
	type step func(s *Set)
	join := func(sid string, at int) step {
		return func(s *Set) { s.Join(Peer{SID: sid, Sel: caret(at)}) }
	}
	update := func(sid string, at int) step {
		return func(s *Set) { s.Update(sid, caret(at), nil, false) }
	}
	leave := func(sid string) step { return func(s *Set) { s.Leave(sid) } }
	flush := func(s *Set) { s.Flush() }
	tests := []struct {
		name        string
		steps       []step
		wantChanged map[string]int // sid -> caret
		wantGone    []string
	}{
		{"nothing", nil, nil, nil},
		{"join", []step{join("a", 1)}, map[string]int{"a": 1}, nil},
		{"many updates coalesce to the latest", []step{join("a", 1), flush, update("a", 2), update("a", 3), update("a", 4)}, map[string]int{"a": 4}, nil},
		{"join then updates in one interval", []step{join("a", 1), update("a", 5)}, map[string]int{"a": 5}, nil},
		{"join and leave unannounced is nothing", []step{join("a", 1), update("a", 2), leave("a")}, nil, nil},
		{"announced leave is gone only", []step{join("a", 1), flush, update("a", 2), leave("a")}, nil, []string{"a"}},
		{"leave and rejoin is a change, not gone", []step{join("a", 1), flush, leave("a"), join("a", 7)}, map[string]int{"a": 7}, nil},
		{"leave, rejoin, leave is gone", []step{join("a", 1), flush, leave("a"), join("a", 7), leave("a")}, nil, []string{"a"}},
		{"flushed state is not repeated", []step{join("a", 1), join("b", 2), flush}, nil, nil},
		{"mixed, ordered", []step{join("c", 1), join("a", 1), join("b", 1), flush, update("c", 2), leave("b"), join("d", 3), join("e", 0), leave("e"), leave("a")}, map[string]int{"c": 2, "d": 3}, []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSet()
			for _, st := range tc.steps {
				st(s)
			}
			changed, gone := s.Flush()
			got := map[string]int{}
			for i, p := range changed {
				got[p.SID] = asText(p.Sel)[0].Head
				if i > 0 && changed[i-1].SID >= p.SID {
					t.Fatalf("changed not ordered by SID: %v", sids(changed))
				}
			}
			if len(tc.wantChanged) == 0 && changed != nil || len(tc.wantChanged) > 0 && !reflect.DeepEqual(got, tc.wantChanged) {
				t.Fatalf("changed = %v, want %v", got, tc.wantChanged)
			}
			if !reflect.DeepEqual(gone, tc.wantGone) {
				t.Fatalf("gone = %v, want %v", gone, tc.wantGone)
			}
			if c, g := s.Flush(); c != nil || g != nil {
				t.Fatalf("second Flush not empty: %v %v", c, g)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := NewSet()
	s.Join(Peer{SID: "local"}) // no Expires: never expires
	s.Join(Peer{SID: "remote-old", Node: "n2", Expires: t0.Add(time.Second)})
	s.Join(Peer{SID: "remote-new", Node: "n2", Expires: t0.Add(time.Minute)})
	s.Flush()
	s.Join(Peer{SID: "remote-unannounced", Node: "n3", Expires: t0})

	if got := s.Expire(t0); got != nil {
		t.Fatalf("Expire at t0 = %v; nothing has passed yet", got)
	}
	got := s.Expire(t0.Add(2 * time.Second))
	if !reflect.DeepEqual(got, []string{"remote-old", "remote-unannounced"}) {
		t.Fatalf("Expire = %v", got)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d after expiry", s.Len())
	}
	changed, gone := s.Flush()
	if changed != nil || !reflect.DeepEqual(gone, []string{"remote-old"}) {
		t.Fatalf("Flush after expiry: %v, %v (the unannounced one must not be reported)", sids(changed), gone)
	}
	// A refresh (Join with a later Expires) keeps a relayed peer alive.
	s.Join(Peer{SID: "remote-new", Node: "n2", Expires: t0.Add(time.Hour)})
	if got := s.Expire(t0.Add(30 * time.Minute)); got != nil {
		t.Fatalf("refreshed peer expired: %v", got)
	}
	if got := s.Expire(t0.Add(1000 * time.Hour)); !reflect.DeepEqual(got, []string{"remote-new"}) {
		t.Fatalf("Expire = %v", got)
	}
	if _, ok := s.Get("local"); !ok {
		t.Fatal("local peer expired")
	}
}

func BenchmarkTransform100Peers(b *testing.B) {
	cases := []struct {
		name string
		op   ot.Op
	}{
		{"typing at the end", ot.Op{{Retain: 1000}, {Insert: "e"}}},
		{"typing in the middle", ot.Op{{Retain: 500}, {Insert: "e"}}},
		{"typing at the start", ot.Op{{Insert: "e"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := manyPeers(100)
			var op doctype.Op = c.op // the server's ops are interface values already
			b.ReportAllocs()
			for b.Loop() {
				s.Transform(op, "peer-000")
			}
		})
	}
}

// asText is the text selection held in sel (nil for hidden).
func asText(sel doctype.Selection) ot.Selection {
	s, _ := sel.(ot.Selection)
	return s
}
