package rich

import "slices"

// The content of a rich document on the wire (`joined`, REST `content`, the
// store's snapshots) is its Delta: the canonical op of inserts that builds it
// from nothing, in the same MessagePack or JSON form as an op.

// AppendMsgpack appends the document's content (its Delta) in MessagePack,
// exactly as Delta().AppendMsgpack would, reusing each run's cached
// attribute encoding.
func (d *Doc) AppendMsgpack(b []byte) []byte {
	o, keys := d.runs(0, d.Len())
	b = slices.Grow(b, o.Size())
	b = appendArrayHeader(b, len(o))
	for i, c := range o {
		if keys[i] == "" {
			b = appendComponent(b, c)
			continue
		}
		if c.Insert != "" {
			b = appendString(append(b, 0x82, 0xa1, 'i'), c.Insert)
		} else {
			b = appendEmbed(append(b, 0x82, 0xa1, 'e'), c.Embed)
		}
		b = append(append(b, 0xa1, 'a'), keys[i]...)
	}
	return b
}

// MarshalMsgpack returns the document's content in MessagePack.
func (d *Doc) MarshalMsgpack() ([]byte, error) { return d.AppendMsgpack(nil), nil }

// MarshalJSON writes the document's content (its Delta) as JSON.
func (d *Doc) MarshalJSON() ([]byte, error) { return d.Delta().AppendJSON(nil), nil }

// UnmarshalJSON reads content as ParseContentJSON does.
func (d *Doc) UnmarshalJSON(data []byte) error {
	doc, err := ParseContentJSON(data)
	if err != nil {
		return err
	}
	*d = *doc
	return nil
}

// DecodeContent builds a document from its content in MessagePack, bounded
// like DecodeOp: the Delta must be inserts only and end with "\n" (see
// DocFromDelta). maxSize bounds the document's Size (KindTooLarge); a
// negative maxSize means no limit (the input's length bounds the work anyway).
func DecodeContent(b []byte, maxSize int) (*Doc, error) {
	op, err := DecodeOp(b)
	if err != nil {
		return nil, err
	}
	return contentDoc(op, maxSize)
}

// contentDoc builds a document from a validated delta.

// ParseContentJSON builds a document from its content in JSON (a Delta array;
// see DocFromDelta).
func ParseContentJSON(data []byte) (*Doc, error) {
	op, err := ParseJSON(data)
	if err != nil {
		return nil, err
	}
	return contentDoc(op, -1)
}

func contentDoc(op Op, maxSize int) (*Doc, error) {
	d, err := docFromValidDelta(op)
	if err != nil {
		return nil, err
	}
	if maxSize >= 0 && d.Size() > maxSize {
		return nil, errTooLarge(-1, "document is %d bytes, over the limit of %d", d.Size(), maxSize)
	}
	return d, nil
}
