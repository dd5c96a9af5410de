package tree

import (
	"bytes"
	"encoding/json"
)

// Selection is a user's selection in a tree document: the ids of the
// selected objects, in the order the user gave. nil (or empty) selects
// nothing. Pointers and the like travel in presence data, not here.
type Selection []string

// FilterSelection returns sel without the ids of objects c does not hold
// (deleted since the selection was made) and without repeats. It is what the
// server does to every selection after each committed op, and to a presence
// selection made at an older version. An unchanged selection is returned as
// is.
func (c *Content) FilterSelection(sel Selection) Selection {
	seen := make(map[string]bool, len(sel))
	changed := false
	for _, id := range sel {
		if seen[id] || !c.Has(id) {
			changed = true
			break
		}
		seen[id] = true
	}
	if !changed {
		return sel
	}
	clear(seen)
	out := make(Selection, 0, len(sel))
	for _, id := range sel {
		if !seen[id] && c.Has(id) {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Validate checks every id and the count against lim.MaxSelection. Errors are
// *OpError: KindInvalid for a bad id, KindTooLarge for too many (too_large,
// as for the ranges of a text selection).
func (sel Selection) Validate(lim Limits) error {
	lim = lim.WithDefaults()
	if len(sel) > lim.MaxSelection {
		return errTooLarge(-1, "selection of %d ids, over the limit of %d", len(sel), lim.MaxSelection)
	}
	for _, id := range sel {
		if !ValidID(id) {
			return errInvalid(-1, "selection: %q is not a valid id", truncate(id, 80))
		}
	}
	return nil
}

// DecodeSelection decodes a selection from untrusted MessagePack: nil or an
// array of ids. Repeated ids are dropped; an empty array is nil.
func DecodeSelection(b []byte, lim Limits) (Selection, error) {
	lim = lim.WithDefaults()
	h, err := readHead(b, 0)
	if err != nil {
		return nil, errInvalid(-1, "selection: %v", err)
	}
	if h.kind == mNil && len(b) == 1 {
		return nil, nil
	}
	if h.kind != mArray {
		return nil, errInvalid(-1, "selection must be an array of ids or nil")
	}
	if h.n > uint64(lim.MaxSelection) {
		return nil, errTooLarge(-1, "selection of %d ids, over the limit of %d", h.n, lim.MaxSelection)
	}
	if h.n > uint64(len(b)-h.hlen) {
		return nil, errInvalid(-1, "selection: %v", errMPClaims)
	}
	sel := make(Selection, 0, h.n)
	i := h.hlen
	for range h.n {
		s, end, ok := readString(b, i)
		if !ok {
			return nil, errInvalid(-1, "selection: ids must be strings")
		}
		sel = append(sel, string(s))
		i = end
	}
	if i != len(b) {
		return nil, errInvalid(-1, "selection: trailing bytes")
	}
	return dedupSelection(sel), sel.Validate(lim)
}

// ParseSelectionJSON decodes a selection from JSON: null or an array of ids.
func ParseSelectionJSON(b []byte, lim Limits) (Selection, error) {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil, nil
	}
	if err := checkJSONText(b); err != nil {
		return nil, errInvalid(-1, "selection: %v", err)
	}
	var sel Selection
	if err := json.Unmarshal(b, &sel); err != nil {
		return nil, errInvalid(-1, "selection must be an array of ids or null")
	}
	if err := sel.Validate(lim); err != nil {
		return nil, err
	}
	return dedupSelection(sel), nil
}

// AppendMsgpack appends the selection's encoding (nil for an empty one).
func (sel Selection) AppendMsgpack(b []byte) []byte {
	if len(sel) == 0 {
		return appendNil(b)
	}
	b = appendArrayHeader(b, len(sel))
	for _, id := range sel {
		b = appendStr(b, id)
	}
	return b
}

func dedupSelection(sel Selection) Selection {
	if len(sel) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(sel))
	out := sel[:0]
	for _, id := range sel {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
