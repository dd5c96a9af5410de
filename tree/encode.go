package tree

import (
	"errors"

	"github.com/benbjohnson/immutable"
)

// The content's wire form, in MessagePack (snapshots, joined) and JSON (REST):
//
//	{id: {"parent": p, "key": k, "props": {name: value, ...}}, ...}
//
// Encoders write objects parents first, siblings in order, properties sorted
// by name, so equal content encodes to equal bytes.

// AppendMsgpack appends the content's MessagePack encoding to b; it writes
// exactly Size() bytes.
func (c *Content) AppendMsgpack(b []byte) []byte {
	b = appendMapHeader(b, c.objs.Len())
	c.walk(c.root, func(id string, o *object) bool {
		b = appendStr(b, id)
		b = append(b, 0x83)
		b = appendStr(appendStr(b, "parent"), o.parent)
		b = appendStr(appendStr(b, "key"), o.key)
		b = append(appendStr(b, "props"), o.props...)
		return true
	})
	return b
}

// MarshalMsgpack returns the content's MessagePack encoding.
func (c *Content) MarshalMsgpack() ([]byte, error) {
	return c.AppendMsgpack(make([]byte, 0, c.Size())), nil
}

// MarshalJSON writes the content in its JSON form.
func (c *Content) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, c.Size()+c.Len()*16)
	b = append(b, '{')
	first := true
	c.walk(c.root, func(id string, o *object) bool {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, []byte(id))
		b = append(b, `:{"parent":`...)
		b = appendJSONString(b, []byte(o.parent))
		b = append(b, `,"key":`...)
		b = appendJSONString(b, []byte(o.key))
		b = append(b, `,"props":{`...)
		first := true
		o.props.each(func(name, val []byte) bool {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSONString(b, name)
			b = append(b, ':')
			b, _ = appendValueJSON(b, val, 0)
			return true
		})
		b = append(b, '}', '}')
		return true
	})
	return append(b, '}'), nil
}

// entry is one decoded object before the content is built.
type entry struct {
	id, parent, key string
	props           []Prop   // from JSON
	blob            propBlob // from MessagePack (props is nil then)
}

// DecodeContent decodes content from untrusted MessagePack (a snapshot or a
// joined message): a map of ids to {parent, key, props}. It checks everything
// Apply keeps true: valid ids, keys, names and values, every parent present,
// no cycle, the limits of lim. Bounded like DecodeOp: nothing is reserved by
// a header's claim. Errors are *OpError with Action -1.
func DecodeContent(b []byte, lim Limits) (*Content, error) {
	lim = lim.WithDefaults()
	if len(b) > lim.MaxBytes {
		return nil, errTooLarge(-1, "content is %d bytes, over the limit of %d", len(b), lim.MaxBytes)
	}
	end, err := skipValue(b, 0, 3+lim.MaxValueDepth)
	if err != nil {
		if errors.Is(err, errMPDepth) {
			return nil, errLimit(-1, "content: nests deeper than values may (%d)", lim.MaxValueDepth)
		}
		return nil, errInvalid(-1, "content: malformed MessagePack: %v", err)
	}
	if end != len(b) {
		return nil, errInvalid(-1, "content: %d trailing bytes", len(b)-end)
	}
	h, _ := readHead(b, 0)
	if h.kind != mMap {
		return nil, errInvalid(-1, "content must be a map of ids to objects")
	}
	if h.n > uint64(lim.MaxObjects) {
		return nil, errLimit(-1, "content: %d objects, over the limit of %d", h.n, lim.MaxObjects)
	}
	entries := make([]entry, 0, h.n) // bounded by MaxObjects and by the bytes present
	i := h.hlen
	for range h.n {
		id, end, ok := readString(b, i)
		if !ok {
			return nil, errInvalid(-1, "content: ids must be UTF-8 strings")
		}
		e := entry{id: string(id)}
		if i, err = decodeObject(b, end, &e, lim); err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return buildContent(entries, lim)
}

func decodeObject(b []byte, i int, e *entry, lim Limits) (int, error) {
	h, _ := readHead(b, i)
	if h.kind != mMap {
		return 0, errInvalid(-1, "content: object %q must be a map", e.id)
	}
	i += h.hlen
	var seen [3]bool
	for range h.n {
		name, end, ok := readString(b, i)
		if !ok {
			return 0, errInvalid(-1, "content: object %q: keys must be strings", e.id)
		}
		i = end
		k, err := objectField(e.id, name, &seen)
		if err != nil {
			return 0, err
		}
		switch k {
		case 0, 1:
			s, end, ok := readString(b, i)
			if !ok {
				return 0, errInvalid(-1, "content: object %q: %s must be a string", e.id, name)
			}
			i = end
			if k == 0 {
				e.parent = string(s)
			} else {
				e.key = string(s)
			}
		case 2:
			blob, end, err := decodeBlob(b, i, lim)
			if err != nil {
				return 0, contentErr(e.id, err)
			}
			e.blob, i = blob, end
		}
	}
	if !seen[1] {
		return 0, errInvalid(-1, "content: object %q has no key", e.id)
	}
	return i, nil
}

// decodeBlob reads the props map of a content object straight into its
// canonical blob: one allocation per object instead of one per name and
// value. Names are checked, values made canonical and checked against the
// limits, nils left out; entries not already in name order (our encoder
// writes them in order) are sorted afterwards.
func decodeBlob(b []byte, i int, lim Limits) (propBlob, int, error) {
	h, _ := readHead(b, i)
	if h.kind != mMap {
		return nil, 0, errInvalid(-1, "props must be a map")
	}
	if h.n > uint64(lim.MaxProps) {
		return nil, 0, errLimit(-1, "%d properties, over the limit of %d", h.n, lim.MaxProps)
	}
	i += h.hlen
	body := make([]byte, 0, 16)
	n, sorted := 0, true
	var prev []byte
	var seen keySet
	for range h.n {
		name, end, ok := readString(b, i)
		if !ok || !ValidPropName(string(name)) {
			return nil, 0, errInvalid(-1, "property names must be 1-64 characters of UTF-8")
		}
		if !seen.add(name) {
			return nil, 0, errInvalid(-1, "property %q given twice", truncate(string(name), 80))
		}
		i = end
		if b[i] == 0xc0 {
			i++
			continue
		}
		if prev != nil && string(prev) >= string(name) {
			sorted = false
		}
		prev = name
		body = append(appendStrHeader(body, len(name)), name...)
		start := len(body)
		var err error
		if body, i, err = canonMsgpack(body, b, i, lim.MaxValueDepth); err != nil {
			return nil, 0, valueErr(-1, err, lim)
		}
		if size := len(body) - start; size > lim.MaxValueBytes {
			return nil, 0, errLimit(-1, "property %q is %d bytes encoded, over the limit of %d", name, size, lim.MaxValueBytes)
		}
		n++
	}
	blob := append(appendMapHeader(make([]byte, 0, len(body)+5), n), body...)
	if !sorted {
		list := propBlob(blob).list()
		if err := sortUniqueProps(list); err != nil {
			return nil, 0, err
		}
		blob = makeBlob(list)
	}
	return blob, i, nil
}

// objectField names a field of a content object: 0 parent, 1 key, 2 props.
// An unknown or repeated field is an error; seen records the fields met.
func objectField(id string, name []byte, seen *[3]bool) (int, error) {
	k := -1
	switch string(name) {
	case "parent":
		k = 0
	case "key":
		k = 1
	case "props":
		k = 2
	}
	if k < 0 {
		return 0, errInvalid(-1, "content: object %q: unknown field %q", truncate(id, 80), truncate(string(name), 32))
	}
	if seen[k] {
		return 0, errInvalid(-1, "content: object %q: field %q given twice", truncate(id, 80), name)
	}
	seen[k] = true
	return k, nil
}

// contentErr rewords an action error as one about object id of content.
func contentErr(id string, err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		c := *oe
		c.Msg = "content: object " + id + ": " + c.Msg
		return &c
	}
	return err
}

// ParseContentJSON decodes content from untrusted JSON (REST's content):
// {id: {"parent": p, "key": k, "props": {...}}}. "parent" may be left out
// for a top-level object and "props" for none. Checks and errors are those of
// DecodeContent.
func ParseContentJSON(b []byte, lim Limits) (*Content, error) {
	lim = lim.WithDefaults()
	if err := checkJSON(b); err != nil {
		return nil, errInvalid(-1, "content: %v", err)
	}
	r := jreader{b: b}
	if r.peek() != '{' {
		return nil, errInvalid(-1, "content must be a JSON object of ids to objects")
	}
	var entries []entry
	err := r.object(func(id []byte) error {
		if len(entries) >= lim.MaxObjects {
			return errLimit(-1, "content: more than %d objects", lim.MaxObjects)
		}
		e := entry{id: string(id)}
		if r.peek() != '{' {
			return errInvalid(-1, "content: object %q must be {parent, key, props}", truncate(e.id, 80))
		}
		var seen [3]bool
		err := r.object(func(f []byte) error {
			k, err := objectField(e.id, f, &seen)
			if err != nil {
				return err
			}
			var ok bool
			switch k {
			case 0:
				if e.parent, ok = r.stringField(); !ok {
					return errInvalid(-1, "content: object %q: parent must be a string", truncate(e.id, 80))
				}
			case 1:
				if e.key, ok = r.stringField(); !ok {
					return errInvalid(-1, "content: object %q: key must be a string", truncate(e.id, 80))
				}
			default:
				if r.atNull() {
					return nil
				}
				props, err := r.props(lim)
				if err != nil {
					return contentErr(e.id, err)
				}
				e.props = props
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !seen[1] {
			return errInvalid(-1, "content: object %q has no key", truncate(e.id, 80))
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return buildContent(entries, lim)
}

// buildContent checks decoded objects as a whole and builds the persistent
// content from them.
func buildContent(entries []entry, lim Limits) (*Content, error) {
	if len(entries) > lim.MaxObjects {
		return nil, errLimit(-1, "content: %d objects, over the limit of %d", len(entries), lim.MaxObjects)
	}
	byID := make(map[string]*entry, len(entries))
	for k := range entries {
		e := &entries[k]
		a := Action{Kind: New, ID: e.id, Parent: e.parent, Key: e.key, Props: e.props}
		if err := a.validate(lim, false); err != nil {
			return nil, contentErr(e.id, err)
		}
		if byID[e.id] != nil {
			return nil, errInvalid(-1, "content: object %q given twice", e.id)
		}
		byID[e.id] = e
	}
	// Depths, with cycle and orphan checks: walk up from each object until a
	// known depth, then fill in the path. -1 marks the objects on the path.
	depth := make(map[string]int, len(entries))
	var path []string
	for k := range entries {
		id := entries[k].id
		path = path[:0]
		d := 0
		for id != "" {
			known, ok := depth[id]
			if known < 0 {
				return nil, errInvalid(-1, "content: object %q is its own ancestor", id)
			}
			if ok {
				d = known
				break
			}
			e := byID[id]
			if e == nil {
				return nil, errInvalid(-1, "content: object %q has a parent %q that does not exist", path[len(path)-1], id)
			}
			depth[id] = -1
			path = append(path, id)
			id = e.parent
		}
		for j := len(path) - 1; j >= 0; j-- {
			d++
			if d > lim.MaxDepth {
				return nil, errLimit(-1, "content: object %q is at depth %d, over the limit of %d", path[j], d, lim.MaxDepth)
			}
			depth[path[j]] = d
		}
	}
	// Children and heights, deepest objects first so that every child is
	// done before its parent.
	byDepth := make([][]*entry, lim.MaxDepth+1)
	for k := range entries {
		e := &entries[k]
		byDepth[depth[e.id]] = append(byDepth[depth[e.id]], e)
	}
	kids := make(map[string][]sibling)
	hists := make(map[string][]int32)
	height := make(map[string]int, len(entries))
	for d := lim.MaxDepth; d >= 1; d-- {
		for _, e := range byDepth[d] {
			h := max(1, len(hists[e.id]))
			height[e.id] = h
			kids[e.parent] = append(kids[e.parent], sibling{e.key, e.id})
			hist := hists[e.parent]
			for len(hist) <= h {
				hist = append(hist, 0)
			}
			hist[h]++
			hists[e.parent] = hist
		}
	}
	kidSetOf := func(parent string) *kidSet {
		list := kids[parent]
		if len(list) == 0 {
			return nil
		}
		sb := immutable.NewSortedMapBuilder[sibling, struct{}](siblingOrder{})
		for _, s := range list {
			sb.Set(s, struct{}{})
		}
		return &kidSet{order: sb.Map(), hist: hists[parent]}
	}
	c := NewContent(lim)
	for k := range entries {
		e := &entries[k]
		blob := e.blob
		if blob == nil {
			blob = makeBlob(e.props)
		}
		o := &object{parent: e.parent, key: e.key, props: blob, kids: kidSetOf(e.id)}
		o.size = objectSize(e.id, o)
		c.bytes += o.size
		c.objs.Set(e.id, o, c.gen) // a new content: every node is its own
	}
	if root := kidSetOf(""); root != nil {
		c.root = root
	}
	if size := c.Size(); size > lim.MaxBytes {
		return nil, errTooLarge(-1, "content is %d bytes encoded, over the limit of %d", size, lim.MaxBytes)
	}
	return c, nil
}
