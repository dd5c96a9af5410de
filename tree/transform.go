package tree

import (
	"github.com/tandem-collab/tandem/ot"
)

// Transform returns op, made by the author sid against the state before
// committed, transformed to apply after committed, whose author is
// committedSID. The server calls it for every op committed since the op's
// version, in commit order, and then applies the result; a client calls it to
// rebase its pending actions over an op from the server. Both ops must be
// valid (decoded or Validated).
//
// The rules (docs/protocol.md, "Tree documents"):
//   - set, move and del pass unchanged: the op committed last wins per
//     (object, property) and per object's place, and Apply drops what no longer
//     applies (objects deleted since, cycles).
//   - text on (object, property) is transformed with the text OT against the
//     text actions of committed on the same (object, property), inserts at one
//     position ordered by the authors' sids (the smaller sid goes left; with
//     equal sids committed goes left). It is dropped when committed sets that
//     property or creates that object (the string it was made for is gone);
//     unless op itself set the property or created the object earlier on,
//     in which case the text action edits op's own value and passes.
//   - new of an id that committed also creates is dropped (the first creation
//     wins), and so is every later action of op on that id or under it: they
//     were meant for op's own object.
//
// Past a non-empty committed op, the actions returned are marked as rebased:
// when the concurrent changes make one of them break a limit that depends on
// the document (nesting, objects, properties per object, the size of a string
// edited by text), Apply drops it instead of failing the op.
func Transform(op, committed Op, sid, committedSID string) (Op, error) {
	out, _, err := transform(op, committed, sid, committedSID)
	return out, err
}

// propRef names one property of one object.
type propRef struct{ id, prop string }

// committedFacts is what transform needs to know about the committed op.
type committedFacts struct {
	created map[string]bool     // ids committed creates
	reset   map[propRef]bool    // properties committed sets
	texts   map[propRef][]ot.Op // committed's text ops, in order, per property
}

func factsOf(committed Op) committedFacts {
	var f committedFacts
	for i := range committed {
		a := &committed[i]
		switch a.Kind {
		case New:
			if f.created == nil {
				f.created = make(map[string]bool)
			}
			f.created[a.ID] = true
		case Set:
			if f.reset == nil {
				f.reset = make(map[propRef]bool)
			}
			f.reset[propRef{a.ID, a.Prop}] = true
		case Text:
			if f.texts == nil {
				f.texts = make(map[propRef][]ot.Op)
			}
			r := propRef{a.ID, a.Prop}
			f.texts[r] = append(f.texts[r], a.Text)
		}
	}
	return f
}

// transform is Transform that also reports, for every action of op, whether
// it was kept (Replica needs to know which of its actions survive).
func transform(op, committed Op, sid, committedSID string) (Op, []bool, error) {
	kept := make([]bool, len(op))
	if len(committed) == 0 {
		for i := range kept {
			kept[i] = true
		}
		return op, kept, nil
	}
	// Only new and text actions can be changed by committed (and what
	// depends on a dropped new): an op of sets, moves and deletes passes.
	needs := false
	for i := range op {
		if op[i].Kind == New || op[i].Kind == Text {
			needs = true
			break
		}
	}
	var f committedFacts
	if needs {
		f = factsOf(committed)
	}
	if f.created == nil && f.reset == nil && f.texts == nil {
		// Nothing committed changes op's actions: sets, moves and deletes
		// pass, marked as rebased.
		out := make(Op, len(op))
		for i := range op {
			out[i] = op[i]
			out[i].rebased = true
			kept[i] = true
		}
		return out, kept, nil
	}
	out := make(Op, 0, len(op))
	var (
		orphaned map[string]bool  // ids whose new was dropped
		ownNew   map[string]bool  // ids op creates (before the current action)
		ownSet   map[propRef]bool // properties op sets (before the current action)
	)
	mark := func(m *map[string]bool, id string) {
		if *m == nil {
			*m = make(map[string]bool)
		}
		(*m)[id] = true
	}
	for i := range op {
		a := op[i]
		if orphaned[a.ID] || ((a.Kind == New || a.Kind == Move) && orphaned[a.Parent]) {
			if a.Kind == New {
				mark(&orphaned, a.ID)
			}
			continue
		}
		switch a.Kind {
		case New:
			if f.created[a.ID] {
				mark(&orphaned, a.ID)
				continue
			}
			mark(&ownNew, a.ID)
		case Set:
			if ownSet == nil {
				ownSet = make(map[propRef]bool)
			}
			ownSet[propRef{a.ID, a.Prop}] = true
		case Text:
			r := propRef{a.ID, a.Prop}
			if ownNew[a.ID] || ownSet[r] {
				break // edits op's own value
			}
			if f.created[a.ID] || f.reset[r] {
				continue // the string it was made for was replaced
			}
			cs := f.texts[r]
			if len(cs) == 0 {
				break
			}
			// Transform a past each committed text op, and each committed
			// op past a, so that op's next text action on r meets them as
			// they are after a.
			// (ties by sid: ot.TransformPair).
			t := a.Text
			next := make([]ot.Op, len(cs))
			for j, c := range cs {
				t2, c2, err := ot.TransformPair(t, sid, c, committedSID)
				if err != nil {
					return nil, nil, errCause(i, "text: transform", err)
				}
				t, next[j] = t2, c2
			}
			f.texts[r] = next
			a.Text = t
		}
		kept[i] = true
		a.rebased = true
		out = append(out, a)
	}
	return out, kept, nil
}
