package ot

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/internal/textutil"
)

func TestPropertyTP1(t *testing.T) {
	r := newRand(2)
	for i := 0; i < 3000; i++ {
		doc := randText(r, 0, 30)
		n := runeLen(doc)
		a, b := randOp(r, n), randOp(r, n)
		checkTP1(t, doc, a, b, Left)
		checkTP1(t, doc, a, b, Right)
	}
}

// TestPropertyTransformChain plays the server and a client with one pending
// op x by sid: the server transforms x past every op committed since
// (TransformPast); the client, holding x applied locally, brings each
// committed op past x as it arrives (TransformPair). Both must end on the
// same text, whichever way the sids compare (equal included).
func TestPropertyTransformChain(t *testing.T) {
	r := newRand(3)
	sids := []string{"alice-0123456789", "bob-0123456789ab", "Zed-0123456789ab"}
	for i := 0; i < 1000; i++ {
		doc := randText(r, 0, 30)
		x := randOp(r, runeLen(doc))
		sid := sids[r.IntN(len(sids))]
		client := mustApply(t, doc, x)
		server := doc
		for k := 0; k < 1+r.IntN(4); k++ {
			c := randOp(r, runeLen(server))
			cSID := sids[r.IntN(len(sids))]
			server = mustApply(t, server, c)
			past, cc, err := TransformPair(x, sid, c, cSID)
			if err != nil {
				t.Fatal(err)
			}
			if alone, err := TransformPast(x, sid, c, cSID); err != nil || !opsEqual(alone, past) {
				t.Fatalf("TransformPast = %v, %v; TransformPair gave %v", alone, err, past)
			}
			client = mustApply(t, client, cc)
			x = past
		}
		server = mustApply(t, server, x)
		if server != client {
			t.Fatalf("server %q, client %q", server, client)
		}
	}
}

func TestSideOf(t *testing.T) {
	cases := []struct {
		sid, committed string
		want           Side
	}{
		{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", Left},
		{"bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", Right},
		{"same-sid-0123456", "same-sid-0123456", Right}, // the committed op goes left
		{"ZZZZZZZZZZZZZZZZ", "aaaaaaaaaaaaaaaa", Left},  // bytewise, not case-folded
		{"tab-0000000000000", "tab-_000000000000", Left},
		{"abcdefghijklmnop", "abcdefghijklmnopq", Left}, // a prefix sorts first
		{"", "aaaaaaaaaaaaaaaa", Left},
	}
	for _, tc := range cases {
		if got := SideOf(tc.sid, tc.committed); got != tc.want {
			t.Errorf("SideOf(%q, %q) = %v, want %v", tc.sid, tc.committed, got, tc.want)
		}
		if tc.sid != tc.committed && SideOf(tc.committed, tc.sid) != tc.want.Opposite() {
			t.Errorf("SideOf is not antisymmetric on %q, %q", tc.sid, tc.committed)
		}
	}
	if Left.Opposite() != Right || Right.Opposite() != Left {
		t.Error("Opposite")
	}
}

func TestPropertyCompose(t *testing.T) {
	r := newRand(4)
	for i := 0; i < 3000; i++ {
		doc := randText(r, 0, 30)
		a := randOp(r, runeLen(doc))
		mid := mustApply(t, doc, a)
		b := randOp(r, runeLen(mid))
		want := mustApply(t, mid, b)
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustApply(t, doc, ab); got != want {
			t.Fatalf("Compose(%v, %v) = %v on %q: got %q, want %q", a, b, ab, doc, got, want)
		}
		if !ab.IsCanonical() {
			t.Fatalf("Compose result %v not canonical", ab)
		}
		// Associativity with a third op.
		c := randOp(r, runeLen(want))
		abc1, err1 := Compose(ab, c)
		bc, err2 := Compose(b, c)
		abc2, err3 := Compose(a, bc)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		if !opsEqual(abc1, abc2) {
			t.Fatalf("compose not associative: %v vs %v", abc1, abc2)
		}
	}
}

// TestPropertyPosition checks the caret rule against a model that tracks
// every code point: someone else's caret sticks to the code point on its
// left (so an insert at the caret lands after it), the author's own caret to
// the code point on its right (its own insert lands before it).
func TestPropertyPosition(t *testing.T) {
	r := newRand(5)
	for i := 0; i < 3000; i++ {
		doc := randText(r, 0, 30)
		n := runeLen(doc)
		op := randOp(r, n)
		ids := runeIDs(n, op)
		out := mustApply(t, doc, op)
		if len(ids) != runeLen(out) {
			t.Fatalf("model length %d, Apply length %d", len(ids), runeLen(out))
		}
		where := make(map[int]int, len(ids))
		for p, id := range ids {
			if id >= 0 {
				where[id] = p
			}
		}
		for pos := 0; pos <= n; pos++ {
			own := TransformPositionPast(pos, "s", op, "s")
			other := TransformPosition(pos, op)
			for _, got := range []int{own, other} {
				if got < 0 || got > len(ids) {
					t.Fatalf("caret %d moved out of the document: %d (op %v)", pos, got, op)
				}
			}
			if other > own {
				t.Fatalf("caret %d: someone else's at %d, right of the author's own at %d (op %v)", pos, other, own, op)
			}
			// Own: sticks to the code point on its right.
			if pos == n && own != len(ids) {
				t.Fatalf("own caret at end %d moved to %d, want the new end %d (op %v)", pos, own, len(ids), op)
			}
			if p, ok := where[pos]; ok && pos < n && own != p {
				t.Fatalf("own caret before code point %d moved to %d, but that code point is now at %d (op %v)", pos, own, p, op)
			}
			// Someone else's: sticks to the code point on its left.
			if pos == 0 && other != 0 {
				t.Fatalf("someone else's caret at 0 moved to %d (op %v)", other, op)
			}
			if p, ok := where[pos-1]; ok && pos > 0 && other != p+1 {
				t.Fatalf("someone else's caret after code point %d moved to %d, but that code point is now at %d (op %v)", pos-1, other, p, op)
			}
		}
	}
}

func TestPropertyInvert(t *testing.T) {
	r := newRand(6)
	for i := 0; i < 2000; i++ {
		doc := randText(r, 0, 40)
		d, err := NewDoc(doc)
		if err != nil {
			t.Fatal(err)
		}
		op := randOp(r, d.Len())
		inv, err := Invert(op, d)
		if err != nil {
			t.Fatal(err)
		}
		if back := mustApply(t, mustApply(t, doc, op), inv); back != doc {
			t.Fatalf("Invert(%v) = %v: got back %q, want %q", op, inv, back, doc)
		}
	}
}

func TestPropertyNormalizeKeepsEffect(t *testing.T) {
	r := newRand(7)
	for i := 0; i < 2000; i++ {
		doc := randText(r, 0, 30)
		op := randOp(r, runeLen(doc))
		norm := op.Normalize()
		if !norm.IsCanonical() {
			t.Fatalf("Normalize(%v) = %v not canonical", op, norm)
		}
		if x, y := mustApply(t, doc, op), mustApply(t, doc, norm); x != y {
			t.Fatalf("Normalize changed the effect of %v: %q vs %q", op, x, y)
		}
		if again := norm.Normalize(); !opsEqual(again, norm) {
			t.Fatalf("Normalize not idempotent: %v then %v", norm, again)
		}
	}
}

func TestPropertyRoundTrips(t *testing.T) {
	r := newRand(8)
	for i := 0; i < 2000; i++ {
		op := randOp(r, r.IntN(50))
		if op == nil {
			op = Op{} // msgpack writes a nil slice as nil, not as an empty op
		}
		want := op.Normalize()

		b, err := msgpack.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != op.Size() {
			t.Fatalf("Size() = %d, encoded %d bytes", op.Size(), len(b))
		}
		var got Op
		if err := msgpack.Unmarshal(b, &got); err != nil {
			t.Fatalf("msgpack decode %v: %v", op, err)
		}
		if !opsEqual(got, want) {
			t.Fatalf("msgpack round trip %v -> %v", want, got)
		}
		var generic any
		if err := msgpack.Unmarshal(b, &generic); err != nil {
			t.Fatal(err)
		}
		if parsed, err := Parse(generic); err != nil || !opsEqual(parsed, want) {
			t.Fatalf("Parse(msgpack value) = %v, %v; want %v", parsed, err, want)
		}

		j, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		var gotJ Op
		if err := json.Unmarshal(j, &gotJ); err != nil {
			t.Fatalf("JSON decode %s: %v", j, err)
		}
		if !opsEqual(gotJ, want) {
			t.Fatalf("JSON round trip %v -> %s -> %v", want, j, gotJ)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		var num any
		if err := dec.Decode(&num); err != nil {
			t.Fatal(err)
		}
		if parsed, err := Parse(num); err != nil || !opsEqual(parsed, want) {
			t.Fatalf("Parse(json.Number value) = %v, %v; want %v", parsed, err, want)
		}
		var flt any
		if err := json.Unmarshal(j, &flt); err != nil {
			t.Fatal(err)
		}
		if parsed, err := Parse(flt); err != nil || !opsEqual(parsed, want) {
			t.Fatalf("Parse(float64 value) = %v, %v; want %v", parsed, err, want)
		}

		sel := make(Selection, r.IntN(3))
		for k := range sel {
			sel[k] = Range{Anchor: r.IntN(1000), Head: r.IntN(100000)}
		}
		sb, err := msgpack.Marshal(sel)
		if err != nil {
			t.Fatal(err)
		}
		var sel2 Selection
		if err := msgpack.Unmarshal(sb, &sel2); err != nil || len(sel2) != len(sel) {
			t.Fatalf("selection msgpack round trip %v -> %v, %v", sel, sel2, err)
		}
		for k := range sel {
			if sel[k] != sel2[k] {
				t.Fatalf("selection msgpack round trip %v -> %v", sel, sel2)
			}
		}
		sj, _ := json.Marshal(sel)
		var sel3 Selection
		if err := json.Unmarshal(sj, &sel3); err != nil || len(sel3) != len(sel) {
			t.Fatalf("selection JSON round trip %s -> %v, %v", sj, sel3, err)
		}
	}
}

// TestPropertyDocMatchesString runs long random edit sessions on the rope and
// on plain strings side by side, at sizes that give trees of one, two and
// three levels, and checks the rope's shape after every step.
func TestPropertyDocMatchesString(t *testing.T) {
	cases := []struct {
		name        string
		seed        uint64
		minL, maxL  int
		steps       int
		compareEach int
		bigEvery    int
	}{
		{"small", 9, 0, 40, 1500, 1, 50},
		{"medium", 10, 3000, 8000, 600, 1, 50},
		{"large", 11, 150000, 200000, 300, 25, 50},
		{"deep", 12, 1200000, 1200000, 40, 20, 50},
		{"deep-churn", 13, 1200000, 1200000, 40, 1, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRand(tc.seed)
			s := randText(r, tc.minL, tc.maxL)
			d, err := NewDoc(s)
			if err != nil {
				t.Fatal(err)
			}
			checkTree(t, d)
			for step := 0; step < tc.steps; step++ {
				n := d.Len()
				op := randOp(r, n)
				if r.IntN(tc.bigEvery) == 0 && n > 0 {
					// Big deletes exercise merging across levels; big
					// inserts and many-edit ops regrow and split the tree.
					at := r.IntN(n)
					switch r.IntN(3) {
					case 0:
						op = Op{{Retain: at}, {Delete: 1 + r.IntN(n-at)}}.Normalize()
					case 1:
						op = Op{{Retain: at}, {Insert: randText(r, 1, n/2+1000)}}.Normalize()
					default:
						op = nil
						for pos := 0; pos < n-2000; {
							k := 1 + r.IntN(2000)
							del := 1 + r.IntN(min(n-pos-k, 3000))
							op = append(op, Component{Retain: k}, Component{Delete: del})
							if r.IntN(2) == 0 {
								op = append(op, Component{Insert: randText(r, 1, 500)})
							}
							pos += k + del
						}
					}
				}
				before := d.Clone()
				beforeStr := s
				if err := d.Apply(op); err != nil {
					t.Fatalf("step %d: Doc.Apply(%v): %v", step, op, err)
				}
				if s, err = Apply(s, op); err != nil {
					t.Fatalf("step %d: Apply: %v", step, err)
				}
				if d.Len() != runeLen(s) || d.Bytes() != len(s) {
					t.Fatalf("step %d: Len/Bytes %d/%d, want %d/%d", step, d.Len(), d.Bytes(), runeLen(s), len(s))
				}
				if step%tc.compareEach == 0 {
					if d.String() != s {
						t.Fatalf("step %d: rope and string differ after %v", step, op)
					}
					if before.String() != beforeStr {
						t.Fatalf("step %d: Apply changed a clone", step)
					}
					checkTree(t, d)
					if n := d.Len(); n > 0 {
						a := r.IntN(n)
						k := r.IntN(n - a + 1)
						from := textutil.Advance(s, 0, a)
						if got, want := d.Slice(a, k), s[from:textutil.Advance(s, from, k)]; got != want {
							t.Fatalf("Slice(%d, %d) = %q, want %q", a, k, got, want)
						}
					}
				}
			}
			if d.String() != s {
				t.Fatal("rope and string differ at the end")
			}
		})
	}
}

// checkTree verifies the rope invariants: cached counts are right, all leaves
// are at one depth, sizes are within bounds, non-root nodes are not
// underfull, and leaves hold whole code points.
func checkTree(t *testing.T, d *Doc) {
	t.Helper()
	leafDepth := -1
	var walk func(n *node, depth int, root bool) (runes, bytes int)
	walk = func(n *node, depth int, root bool) (int, int) {
		if n.isLeaf() {
			if leafDepth < 0 {
				leafDepth = depth
			} else if depth != leafDepth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			if n.bytes != len(n.text) || n.runes != runeLen(n.text) {
				t.Fatalf("leaf counts %d/%d for %d bytes, %d runes", n.bytes, n.runes, len(n.text), runeLen(n.text))
			}
			if len(n.text) > leafMax {
				t.Fatalf("leaf of %d bytes", len(n.text))
			}
			if !root && n.Underfull() {
				t.Fatalf("non-root leaf of %d bytes", len(n.text))
			}
			return n.runes, n.bytes
		}
		if len(n.kids) > kidsMax || (!root && n.Underfull()) || len(n.kids) == 0 {
			t.Fatalf("internal node with %d kids (root %v)", len(n.kids), root)
		}
		if root && len(n.kids) == 1 {
			t.Fatal("root with one kid")
		}
		var r, b int
		for _, k := range n.kids {
			kr, kb := walk(k, depth+1, false)
			r += kr
			b += kb
		}
		if r != n.runes || b != n.bytes {
			t.Fatalf("internal counts %d/%d, kids sum %d/%d", n.runes, n.bytes, r, b)
		}
		return r, b
	}
	walk(d.rootNode(), 0, true)
}
