package tree

import (
	"bytes"
	"slices"
	"testing"

	"github.com/tandem-collab/tandem/doctype"
)

// plainOp hides docOp's TransformAll (it embeds the interface, which does
// not have it), so that doctype.TransformAll runs its generic loop
// (Transform, TransformPair) on it.
type plainOp struct{ doctype.Op }

func (p plainOp) Transform(sid string, committed doctype.Op, committedSID string) (doctype.Op, error) {
	out, err := p.Op.Transform(sid, unplain(committed), committedSID)
	if err != nil {
		return nil, err
	}
	return plainOp{out}, nil
}

// plainSel is a selection that sees through plainOp.
type plainSel struct{ doctype.Selection }

func (s plainSel) Transform(committed doctype.Op, own bool) doctype.Selection {
	out := s.Selection.Transform(unplain(committed), own)
	if out == nil {
		return nil
	}
	return plainSel{out}
}

func unplain(op doctype.Op) doctype.Op {
	if p, ok := op.(plainOp); ok {
		return p.Op
	}
	return op
}

// checkTransformAll checks that docOp.TransformAll (the fast path) returns
// what the generic loop of doctype.TransformAll returns for op, made at the
// version before the commits of log, with and without a selection.
func checkTransformAll(t testing.TB, op Op, sid string, log []simCommit) {
	t.Helper()
	fast := make([]doctype.Op, len(log))
	slow := make([]doctype.Op, len(log))
	sids := make([]string, len(log))
	for i, c := range log {
		d := &docOp{op: c.op, removed: c.removed}
		fast[i], slow[i], sids[i] = d, plainOp{d}, c.sid
	}
	var sel doctype.Selection
	for _, a := range op {
		sel = append(docSelOrNil(sel), a.ID)
	}
	for _, c := range log {
		for _, a := range c.op {
			if a.Kind == Del {
				sel = append(docSelOrNil(sel), a.ID)
			}
		}
	}
	for _, s := range []doctype.Selection{nil, sel} {
		gotOp, gotSel, err1 := doctype.TransformAll(&docOp{op: op}, sid, fast, sids, s)
		ps := s
		if s != nil {
			ps = plainSel{s}
		}
		wantOp, wantSel, err2 := doctype.TransformAll(plainOp{&docOp{op: op}}, sid, slow, sids, ps)
		if p, ok := wantSel.(plainSel); ok {
			wantSel = p.Selection
		}
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("TransformAll: fast path error %v, generic %v", err1, err2)
		}
		if err1 != nil {
			continue
		}
		g, w := gotOp.(*docOp).op, unplain(wantOp).(*docOp).op
		if !bytes.Equal(mustJSON(g), mustJSON(w)) || len(g) != len(w) {
			t.Fatalf("TransformAll: fast path %s, generic %s", mustJSON(g), mustJSON(w))
		}
		for i := range g {
			if g[i].rebased != w[i].rebased {
				t.Fatalf("TransformAll: action %d rebased %v, generic %v", i, g[i].rebased, w[i].rebased)
			}
		}
		if !slices.Equal(selIDs(gotSel), selIDs(wantSel)) {
			t.Fatalf("TransformAll: selection %v, generic %v\nop %s\nlog %s", selIDs(gotSel), selIDs(wantSel), mustJSON(op), dumpLog(log))
		}
	}
}

func docSelOrNil(s doctype.Selection) docSel {
	if s == nil {
		return nil
	}
	return s.(docSel)
}

func selIDs(s doctype.Selection) []string {
	if s == nil {
		return nil
	}
	return []string(s.(docSel))
}

// TestTransformAllSetsPassCheaply pins the fast path: an op of sets past
// many committed sets allocates the same whatever the history's length.
func TestTransformAllSetsPassCheaply(t *testing.T) {
	op := &docOp{op: Op{SetProp("a", "x", MustValue(1)), SetProp("a", "y", MustValue(2))}}
	history := func(n int) ([]doctype.Op, []string) {
		ops, sids := make([]doctype.Op, n), make([]string, n)
		for i := range ops {
			ops[i], sids[i] = &docOp{op: Op{SetProp("b", "x", MustValue(i))}}, "other"
		}
		return ops, sids
	}
	short, shortSIDs := history(10)
	long, longSIDs := history(10000)
	allocs := func(c []doctype.Op, s []string) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, _, err := op.TransformAll("me", c, s, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	if a, b := allocs(short, shortSIDs), allocs(long, longSIDs); a != b {
		t.Fatalf("allocations past 10 ops %v, past 10,000 ops %v", a, b)
	}
}

func dumpLog(log []simCommit) string {
	var b []byte
	for _, c := range log {
		b = append(b, mustJSON(c.op)...)
		b = append(b, '\n')
	}
	return string(b)
}
