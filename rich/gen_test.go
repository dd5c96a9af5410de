package rich

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// pieces mixes ASCII, multi-byte and astral code points, a ZWJ sequence, a
// combining mark and newlines, so that byte/code point confusion and
// paragraph handling show up quickly.
var textPieces = []string{"a", "b", "c", " ", "\n", "é", "e\u0301", "日", "😀", "👨\u200d👩\u200d👧", "x", "\u2028"}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func randText(r *rand.Rand, minRunes, maxRunes int) string {
	n := minRunes
	if maxRunes > minRunes {
		n += r.IntN(maxRunes - minRunes + 1)
	}
	var b strings.Builder
	for count := 0; count < n; {
		p := []rune(textPieces[r.IntN(len(textPieces))])
		take := min(len(p), n-count)
		b.WriteString(string(p[:take]))
		count += take
	}
	return b.String()
}

var (
	attrKeys   = []string{"bold", "italic", "link", "heading", "list", "color"}
	attrValues = []Value{Bool(true), Bool(false), String("https://a.example"), String("red"), Int(1), Int(2), Number(1.5), String("")}
)

// randAttrs makes a small attribute map; with nulls, some values are null.
func randAttrs(r *rand.Rand, nulls bool) Attrs {
	if r.IntN(3) == 0 {
		return nil
	}
	a := Attrs{}
	for range 1 + r.IntN(3) {
		v := attrValues[r.IntN(len(attrValues))]
		if nulls && r.IntN(3) == 0 {
			v = Null
		}
		a[attrKeys[r.IntN(len(attrKeys))]] = v
	}
	return a
}

func randInsert(r *rand.Rand, maxRunes int, nulls bool) Component {
	if r.IntN(8) == 0 {
		return Component{Embed: Embed{Type: "image", Value: String("https://img.example/" + randText(r, 1, 3))}, Attrs: randAttrs(r, nulls)}
	}
	return Component{Insert: randText(r, 1, maxRunes), Attrs: randAttrs(r, nulls)}
}

// randContent makes the content of a document: inserts ending with "\n".
func randContent(r *rand.Rand, maxComponents int) Op {
	var c Op
	for range r.IntN(maxComponents + 1) {
		c = append(c, randInsert(r, 8, false))
	}
	c = append(c, Component{Insert: "\n", Attrs: randAttrs(r, false)})
	return c.Normalize()
}

// randOp makes a valid op for a document of docLen code points (docLen >= 1,
// the last one the final newline) that keeps the final newline: a few edits
// at random places, sometimes in non-canonical shapes (split retains, a
// delete before an insert, nulls in an insert's attributes, an empty map).
func randOp(r *rand.Rand, docLen int) Op {
	var op Op
	pos := 0
	editable := docLen - 1 // the final newline is never deleted, nothing goes after it
	for range r.IntN(5) {
		if rem := editable - pos; rem > 0 && r.IntN(4) > 0 {
			if skip := r.IntN(rem + 1); skip > 0 {
				switch r.IntN(6) {
				case 0:
					op = append(op, Component{Retain: skip, Attrs: randAttrs(r, true)})
				case 1:
					if skip > 1 {
						op = append(op, Component{Retain: 1}, Component{Retain: skip - 1})
						break
					}
					fallthrough
				default:
					op = append(op, Component{Retain: skip})
				}
				pos += skip
			}
		}
		rem := editable - pos
		switch k := r.IntN(6); {
		case k <= 2 || rem == 0:
			maxLen := 6
			if r.IntN(20) == 0 {
				maxLen = 2000
			}
			c := randInsert(r, maxLen, true)
			if r.IntN(10) == 0 && c.Attrs == nil {
				c.Attrs = Attrs{}
			}
			op = append(op, c)
		case k == 3:
			n := 1 + r.IntN(min(rem, 12))
			op = append(op, Component{Retain: n, Attrs: Attrs{attrKeys[r.IntN(3)]: attrValues[r.IntN(len(attrValues))]}})
			pos += n
		default:
			n := 1 + r.IntN(min(rem, 12))
			if r.IntN(10) == 0 {
				n = 1 + r.IntN(rem)
			}
			op = append(op, Component{Delete: n})
			if r.IntN(5) == 0 {
				op = append(op, randInsert(r, 3, false)) // delete then insert: not canonical
			}
			pos += n
		}
	}
	if rem := docLen - pos; rem > 0 && r.IntN(3) == 0 {
		// A trailing retain, often formatting, possibly over the final newline.
		n := 1 + r.IntN(rem)
		op = append(op, Component{Retain: n, Attrs: randAttrs(r, true)})
	}
	return op
}

func TestRandOpIsValid(t *testing.T) {
	r := newRand(1)
	for range 2000 {
		content := randContent(r, 6)
		n := content.TargetLen()
		o := randOp(r, n)
		if err := o.Validate(); err != nil {
			t.Fatalf("randOp made an invalid op %s: %v", js(o), err)
		}
		if err := checkFit(o, n); err != nil {
			t.Fatalf("randOp made an op %s that does not fit %d: %v", js(o), n, err)
		}
		if err := checkNewline(o, n); err != nil {
			t.Fatalf("randOp made an op %s that breaks the final newline of %d: %v", js(o), n, err)
		}
	}
}

// deltaSize is Doc.Size computed from a canonical Delta.
func deltaSize(delta Op) int {
	n := 0
	for _, c := range delta {
		if c.Insert != "" {
			n += len(c.Insert)
		} else {
			n += embedSize(c.Embed)
		}
		n += len(attrsKey(c.Attrs))
	}
	return n
}

// checkTree verifies the rope's invariants: cached counts, a uniform height,
// bounded fan-out and leaf weight, runs merged within leaves, and the size
// matching the content.
func checkTree(t testing.TB, d *Doc) {
	t.Helper()
	root := d.rootNode()
	var walk func(n *node, depth int) int
	leafDepth := -1
	walk = func(n *node, depth int) int {
		if n.isLeaf() {
			if leafDepth < 0 {
				leafDepth = depth
			} else if leafDepth != depth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			if len(n.pieces) == 0 {
				t.Fatal("empty leaf")
			}
			runes, weight := 0, 0
			for i, p := range n.pieces {
				if p.runes <= 0 || (p.isText() && (p.runes != utf8.RuneCountInString(p.text) || p.bytes != len(p.text))) {
					t.Fatalf("bad piece %+v", p)
				}
				if p.akey != attrsKey(p.attrs) || hasNull(p.attrs) || (p.attrs != nil && len(p.attrs) == 0) {
					t.Fatalf("piece attributes %v with key %q", p.attrs, p.akey)
				}
				if i > 0 && n.pieces[i-1].canMerge(&n.pieces[i]) {
					t.Fatalf("unmerged runs in a leaf: %q %q", n.pieces[i-1].text, p.text)
				}
				runes += p.runes
				weight += p.weight()
			}
			if runes != n.runes || weight != n.weight {
				t.Fatalf("leaf counts %d/%d, cached %d/%d", runes, weight, n.runes, n.weight)
			}
			if len(n.pieces) > 1 && n.weight > 2*leafMax {
				t.Fatalf("leaf weighs %d", n.weight)
			}
			return n.runes
		}
		if len(n.kids) == 0 || len(n.kids) > kidsMax {
			t.Fatalf("node with %d kids", len(n.kids))
		}
		sum := 0
		for _, k := range n.kids {
			sum += walk(k, depth+1)
		}
		if sum != n.runes {
			t.Fatalf("node runes %d, kids sum %d", n.runes, sum)
		}
		return sum
	}
	walk(root, 0)
	delta := d.Delta()
	if got, want := d.AppendMsgpack(nil), delta.AppendMsgpack(nil); !bytes.Equal(got, want) {
		t.Fatalf("Doc.AppendMsgpack differs from its Delta's encoding:\n%x\n%x", got, want)
	}
	if root.count < len(delta) {
		t.Fatalf("piece count %d, Delta has %d components", root.count, len(delta))
	}
	if want := deltaSize(delta); root.size != want {
		t.Fatalf("Size %d, computed from the content %d", root.size, want)
	}
	text := d.Text()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("document does not end with a newline: %q", text)
	}
}

func mustApplyModel(t testing.TB, content, o Op) Op {
	t.Helper()
	out, err := applyModel(content, o)
	if err != nil {
		t.Fatalf("apply %s to %s: %v", js(o), js(content), err)
	}
	return out
}
