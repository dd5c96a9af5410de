package tree

// Defaults of the limits (docs/protocol.md, "Tree documents"; all configurable).
const (
	// DefaultMaxObjects bounds the objects of one document.
	DefaultMaxObjects = 100_000
	// DefaultMaxProps bounds the properties of one object.
	DefaultMaxProps = 256
	// DefaultMaxDepth bounds the nesting of objects: a top-level object is at
	// depth 1, its children at depth 2, and no object is deeper than this.
	DefaultMaxDepth = 64
	// DefaultMaxValueBytes bounds one property value, MessagePack-encoded.
	DefaultMaxValueBytes = 64 << 10
	// DefaultMaxValueDepth bounds the nesting of arrays and maps inside one
	// value (a scalar is depth 0, [1] is depth 1). With the four levels of a
	// frame around an op's values (frame map, op, action, props) this stays
	// inside the wire decoder's nesting limit of 32.
	DefaultMaxValueDepth = 16
	// DefaultMaxBytes bounds a document's content, MessagePack-encoded as
	// Content.EncodeMsgpack writes it (what snapshots and joined carry).
	DefaultMaxBytes = 64 << 20
	// DefaultMaxOpBytes bounds an op's encoding: the op limit every document
	// type shares.
	DefaultMaxOpBytes = 1 << 20
	// DefaultMaxSelection bounds the ids in one selection.
	DefaultMaxSelection = 1024
)

// Limits bounds what decoders accept and what Apply lets a document become. A
// zero field means its default. Limits are values: pass the same Limits to the
// decoders and to NewContent/DecodeContent of one document.
type Limits struct {
	MaxObjects    int
	MaxProps      int
	MaxDepth      int
	MaxValueBytes int
	MaxValueDepth int
	MaxBytes      int
	MaxOpBytes    int
	MaxSelection  int
}

// WithDefaults returns l with every zero (or negative) field set to its default.
func (l Limits) WithDefaults() Limits {
	def := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	def(&l.MaxObjects, DefaultMaxObjects)
	def(&l.MaxProps, DefaultMaxProps)
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxValueBytes, DefaultMaxValueBytes)
	def(&l.MaxValueDepth, DefaultMaxValueDepth)
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxOpBytes, DefaultMaxOpBytes)
	def(&l.MaxSelection, DefaultMaxSelection)
	return l
}
