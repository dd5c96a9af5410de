package tree

// Since is an op committed after some version, as CheckBase reads it: the op
// as applied and, when known, every id its dels removed (ApplyRemoved), so
// that an object deleted with its parent counts as deleted.
type Since struct {
	Op      Op
	Removed []string
}

// CheckBase checks what only the op's own version decides, before the op is
// transformed: a new of an id that existed at that version is invalid_op
// (docs/protocol.md, "Tree documents"), even when the object has been
// deleted since. cur is the document now; since lists the ops committed
// after the op's version, oldest first (none when the op is at the current
// version). A new that follows a del of the op itself is not checked: the op
// may be re-creating what it deleted.
func CheckBase(op Op, cur *Content, since []Since) error {
	deleted := false
	mine := map[string]bool{}
	for i := range op {
		a := &op[i]
		switch a.Kind {
		case Del:
			deleted = true
		case New:
			if !deleted && !mine[a.ID] && existedAt(a.ID, cur, since) {
				return errInvalid(i, "new: object %q existed at the op's version", a.ID)
			}
			mine[a.ID] = true
		}
	}
	return nil
}

// existedAt reports whether id existed before the ops of since, walking
// back from the document now: before a new of id it did not exist, before
// a del that removed it, it did.
func existedAt(id string, cur *Content, since []Since) bool {
	state := cur.Has(id)
	for k := len(since) - 1; k >= 0; k-- {
		s := &since[k]
		removed := false
		for _, r := range s.Removed {
			if r == id {
				removed = true
				break
			}
		}
		for j := len(s.Op) - 1; j >= 0; j-- {
			a := &s.Op[j]
			switch {
			case a.Kind == New && a.ID == id:
				state = false
			case a.Kind == Del && (a.ID == id || removed):
				state = true
			}
		}
	}
	return state
}
