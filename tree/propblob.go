package tree

import "bytes"

// propBlob is an object's properties as one canonical MessagePack map: names
// sorted bytewise, no nil values, values canonical. One pointer-free
// allocation per object version, which the garbage collector does not scan
// (a 100,000-object document is otherwise millions of small pointers), and
// which the content encoding copies as it is.
type propBlob []byte

var emptyBlob = propBlob{0x80}

// makeBlob encodes props (sorted, unique, no nil values).
func makeBlob(props []Prop) propBlob {
	n := containerHeaderSize(len(props))
	for _, p := range props {
		n += strSize(len(p.Name)) + len(p.Value)
	}
	b := appendMapHeader(make([]byte, 0, n), len(props))
	for _, p := range props {
		b = append(appendStr(b, p.Name), p.Value...)
	}
	return b
}

// count is the number of properties.
func (p propBlob) count() int {
	h, _ := readHead(p, 0)
	return int(h.n)
}

// entry walks the blob: it returns the name and value of the entry at i and
// where the next one starts.
func (p propBlob) entry(i int) (name, val []byte, next int) {
	h, _ := readHead(p, i)
	ns := i + h.hlen
	name = p[ns : ns+int(h.n)]
	vs := ns + int(h.n)
	end, _ := skipValue(p, vs, 1<<30)
	return name, p[vs:end], end
}

// each calls fn for every property in name order, until fn returns false.
// The slices alias the blob, which is never changed once made.
func (p propBlob) each(fn func(name, val []byte) bool) {
	h, _ := readHead(p, 0)
	i := h.hlen
	for range h.n {
		name, val, next := p.entry(i)
		if !fn(name, val) {
			return
		}
		i = next
	}
}

// find locates name: the byte range of its whole entry (name and value) when
// found, or where an entry for it would be inserted (start == end).
func (p propBlob) find(name string) (start, end int, val []byte, found bool) {
	h, _ := readHead(p, 0)
	i := h.hlen
	for range h.n {
		n, v, next := p.entry(i)
		switch c := bytes.Compare(n, []byte(name)); {
		case c == 0:
			return i, next, v, true
		case c > 0:
			return i, i, nil, false
		}
		i = next
	}
	return i, i, nil, false
}

// get returns the value of name.
func (p propBlob) get(name string) (Value, bool) {
	_, _, v, ok := p.find(name)
	return Value(v), ok
}

// with returns a blob with name set to v (not nil).
func (p propBlob) with(name string, v Value) propBlob {
	start, end, _, found := p.find(name)
	n := p.count()
	if !found {
		n++
	}
	oldHdr, _ := readHead(p, 0)
	out := make([]byte, 0, len(p)+strSize(len(name))+len(v)+2)
	out = appendMapHeader(out, n)
	out = append(out, p[oldHdr.hlen:start]...)
	out = append(appendStr(out, name), v...)
	return append(out, p[end:]...)
}

// without returns a blob without name (p itself when name is absent).
func (p propBlob) without(name string) propBlob {
	start, end, _, found := p.find(name)
	if !found {
		return p
	}
	oldHdr, _ := readHead(p, 0)
	out := make([]byte, 0, len(p)-(end-start))
	out = appendMapHeader(out, p.count()-1)
	out = append(out, p[oldHdr.hlen:start]...)
	return append(out, p[end:]...)
}

// list decodes the properties; the values alias the blob.
func (p propBlob) list() []Prop {
	out := make([]Prop, 0, p.count())
	p.each(func(name, val []byte) bool {
		out = append(out, Prop{Name: string(name), Value: Value(val)})
		return true
	})
	return out
}
