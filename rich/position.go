package rich

import "github.com/tandem-collab/tandem/ot"

// TransformPosition moves a caret at code point pos across op (the caret
// rule of docs/protocol.md): an insert strictly before the caret moves it
// right; an insert exactly at the caret leaves it where it was, before the
// inserted text, unless own is set (the author's own caret after its own
// insert), which puts it after that text; a delete containing the caret
// moves it to the delete's start. Formatting does not move carets. A
// negative pos is returned unchanged. Like Transform, it works on op's
// canonical form.
func TransformPosition(pos int, op Op, own bool) int {
	if pos < 0 {
		return pos
	}
	return transformPosition(pos, op.Normalize(), own)
}

func transformPosition(pos int, op Op, own bool) int {
	out := pos
	i := 0 // position in the document before op
	for _, c := range op {
		if i > pos {
			break
		}
		switch c.kind() {
		case kInsert, kEmbed:
			if i < pos || own {
				out += c.Len()
			}
		case kDelete:
			out -= min(c.Delete, pos-i)
			i += c.Delete
		case kRetain:
			i += c.Retain
		}
	}
	return out
}

// TransformSelection moves every range of sel across op, each end as a caret
// (TransformPosition). nil stays nil. Selections are those of text
// documents: ot.Selection, code point ranges [anchor, head].
func TransformSelection(sel ot.Selection, op Op, own bool) ot.Selection {
	if sel == nil {
		return nil
	}
	op = op.Normalize()
	out := make(ot.Selection, len(sel))
	for i, r := range sel {
		out[i] = r
		if r.Anchor >= 0 {
			out[i].Anchor = transformPosition(r.Anchor, op, own)
		}
		if r.Head >= 0 {
			out[i].Head = transformPosition(r.Head, op, own)
		}
	}
	return out
}
