package rich

// checkNewline enforces the final-newline rule on an op that fits a document
// of docLen code points (the last of which is the final "\n"): the op may not
// delete that newline, nor insert after it.
func checkNewline(op Op, docLen int) error {
	pos := 0
	for i, c := range op {
		switch {
		case c.Delete > 0 && pos+c.Delete >= docLen:
			return errNewline(i, "deletes the document's final newline (position %d)", docLen-1)
		case c.isInsert() && pos >= docLen:
			return errNewline(i, "inserts after the document's final newline")
		}
		pos += c.Retain + c.Delete
	}
	return nil
}

// Apply applies op to the document. The op is validated, must fit (its
// retains and deletes may not run past the end) and must keep the final
// newline (KindFinalNewline); a character may not end up with more than
// MaxAttrs attributes (KindTooLarge). On error the document is unchanged.
func (d *Doc) Apply(op Op) error { return d.ApplyLimit(op, -1) }

// ApplyLimit is Apply with a size limit: if the document's Size would be over
// maxSize it returns a KindTooLarge error and leaves the document unchanged.
// The check is free since the new version is built beside the old one. A
// negative maxSize means no limit.
func (d *Doc) ApplyLimit(op Op, maxSize int) error {
	if d == nil {
		return errInvalid(-1, "apply to a nil *Doc")
	}
	if err := op.Validate(); err != nil {
		return err
	}
	root := d.rootNode()
	if err := checkFit(op, root.runes); err != nil {
		return err
	}
	if err := checkNewline(op, root.runes); err != nil {
		return err
	}
	op = op.Normalize()
	var buf [4]edit
	edits := editsOf(op, buf[:0])
	if len(edits) == 0 {
		return nil
	}
	ctx := applyCtx{}
	next := rootOf(ctx.node(root, 0, edits, nil))
	if ctx.err != nil {
		return ctx.err
	}
	if next == nil { // cannot happen: the final newline stays
		return errNewline(-1, "the op would empty the document")
	}
	if maxSize >= 0 && next.size > maxSize {
		return errTooLarge(-1, "document would be %d bytes, over the limit of %d", next.size, maxSize)
	}
	d.root = next
	return nil
}

// edit is one insert, delete or format of an op, at a position of the
// document before the op. Edits are in op order: positions never decrease,
// and deletes and formats never overlap.
type edit struct {
	pos int
	n   int     // code points deleted or formatted; 0 for an insert
	fmt *format // the settings of a format; nil for a delete or insert
	ins []piece // the pieces of an insert
}

// format is one formatting retain with a cache of what it makes of each set
// of attributes it meets, so that bolding a paragraph of a few runs composes
// a few maps, not one per piece.
type format struct {
	set   Attrs
	cache map[string]piece // by the old attrs key: a piece holding the new attrs and key
}

func editsOf(op Op, edits []edit) []edit {
	pos := 0
	var memo keyMemo
	for _, c := range op {
		switch c.kind() {
		case kInsert, kEmbed:
			key := memo.key(c.Attrs)
			var p piece
			if c.Insert != "" {
				p = textPiece(c.Insert, c.Attrs, key)
			} else {
				p = embedPiece(c.Embed, c.Attrs, key)
			}
			if n := len(edits); n > 0 && edits[n-1].n == 0 && edits[n-1].pos == pos {
				edits[n-1].ins = mergeRuns(edits[n-1].ins, p)
			} else {
				edits = append(edits, edit{pos: pos, ins: []piece{p}})
			}
		case kDelete:
			edits = append(edits, edit{pos: pos, n: c.Delete})
			pos += c.Delete
		case kRetain:
			if len(c.Attrs) > 0 {
				edits = append(edits, edit{pos: pos, n: c.Retain, fmt: &format{set: c.Attrs}})
			}
			pos += c.Retain
		}
	}
	return edits
}

// applyCtx carries the first error met while rebuilding (a character over
// MaxAttrs).
type applyCtx struct {
	err error
}

// restyle returns p with f's settings composed onto its attributes.
func (ctx *applyCtx) restyle(p piece, f *format) piece {
	if cached, ok := f.cache[p.akey]; ok {
		p.attrs, p.akey = cached.attrs, cached.akey
		return p
	}
	a := composeAttrs(p.attrs, f.set, false)
	if len(a) > MaxAttrs && ctx.err == nil {
		ctx.err = errTooLarge(-1, "a character would have %d attributes, over the limit of %d", len(a), MaxAttrs)
	}
	if f.cache == nil {
		f.cache = make(map[string]piece, 4)
	}
	old := p.akey
	p.attrs, p.akey = a, attrsKey(a)
	f.cache[old] = piece{attrs: p.attrs, akey: p.akey}
	return p
}

// node applies edits to the subtree n, which starts at code point base of
// the old document, and appends the nodes that replace it (none, one or
// several, all of n's height) to out. Subtrees without edits are shared;
// edits that span several children are handed to each, clipped later.
func (ctx *applyCtx) node(n *node, base int, edits []edit, out []*node) []*node {
	if n.isLeaf() {
		return ctx.leaf(n, base, edits, out)
	}
	kids := make([]*node, 0, len(n.kids)+2)
	s, j := base, 0
	last := len(n.kids) - 1
	for i, k := range n.kids {
		e := s + k.runes
		from := j
		to := j
		for to < len(edits) {
			ed := edits[to]
			// An insert on the boundary of two children goes to the left one.
			if (ed.n == 0 && (ed.pos <= e || i == last)) || (ed.n > 0 && ed.pos < e) {
				to++
				continue
			}
			break
		}
		// The next child starts from the last edit here when it runs on.
		j = to
		if to > from && edits[to-1].n > 0 && edits[to-1].pos+edits[to-1].n > e {
			j = to - 1
		}
		sub := edits[from:to]
		switch {
		case len(sub) == 0:
			kids = append(kids, k)
		case len(sub) == 1 && sub[0].n > 0 && sub[0].fmt == nil && sub[0].pos <= s && sub[0].pos+sub[0].n >= e:
			// wholly deleted: dropped without visiting
		default:
			kids = ctx.node(k, s, sub, kids)
		}
		s = e
	}
	if len(kids) == 0 {
		return out
	}
	return shape.Parents(kids, out)
}

// leaf rebuilds one leaf with its edits, clipping deletes and formats that
// run past its ends.
func (ctx *applyCtx) leaf(n *node, base int, edits []edit, out []*node) []*node {
	src := n.pieces
	ps := make([]piece, 0, len(src)+2*len(edits))
	si, off, cur := 0, 0, 0 // piece index, code points used of it, leaf position
	// copyTo moves the leaf position to target, keeping what it passes
	// (restyled by f when f is set) or dropping it (drop).
	copyTo := func(target int, f *format, drop bool) {
		for cur < target {
			p := src[si]
			take := min(p.runes-off, target-cur)
			if !drop {
				q := p.slice(off, take)
				if f != nil {
					q = ctx.restyle(q, f)
				}
				ps = mergeRuns(ps, q)
			}
			cur += take
			off += take
			if off == p.runes {
				si++
				off = 0
			}
		}
	}
	for _, ed := range edits {
		rel := ed.pos - base
		if ed.n == 0 {
			copyTo(rel, nil, false)
			for _, p := range ed.ins {
				ps = mergeRuns(ps, p)
			}
			continue
		}
		start, end := max(rel, 0), min(rel+ed.n, n.runes)
		copyTo(start, nil, false)
		copyTo(end, ed.fmt, ed.fmt == nil)
	}
	copyTo(n.runes, nil, false)
	return append(out, leavesOf(ps)...)
}

// DocFromDelta builds a document from its content: a Delta, an op made only
// of inserts (text and embeds), which must end with "\n" (KindFinalNewline
// otherwise). An empty Delta is the new document "\n". The Delta is validated
// (Validate) and normalised. O(n).
func DocFromDelta(delta Op) (*Doc, error) {
	if err := delta.Validate(); err != nil {
		return nil, err
	}
	return docFromValidDelta(delta)
}

// docFromValidDelta is DocFromDelta for a delta already validated.
func docFromValidDelta(delta Op) (*Doc, error) {
	for i, c := range delta {
		if !c.isInsert() {
			return nil, errInvalid(i, "content may only insert: got a retain or delete")
		}
	}
	if len(delta) == 0 {
		return NewDoc(), nil
	}
	delta = delta.Normalize()
	last := delta[len(delta)-1]
	if last.Insert == "" || last.Insert[len(last.Insert)-1] != '\n' {
		return nil, errNewline(len(delta)-1, `content must end with "\n"`)
	}
	ps := make([]piece, 0, len(delta))
	var memo keyMemo
	for _, c := range delta {
		key := memo.key(c.Attrs)
		if c.Insert != "" {
			ps = append(ps, textPiece(c.Insert, c.Attrs, key))
		} else {
			ps = append(ps, embedPiece(c.Embed, c.Attrs, key))
		}
	}
	return &Doc{root: buildTree(leavesOf(ps))}, nil
}
