// Package rich implements the "rich" operational-transform type of Tandem: text
// whose characters carry attributes, in the shape of Quill's Delta (the wire
// contract is described in docs/protocol.md, section "Rich-text documents").
//
// A document is a sequence of code points, each carrying a set of attributes
// (a map from names to JSON scalars), plus embeds: objects such as an image
// that occupy one position. Paragraph attributes sit on the paragraph's
// closing "\n". The document always ends with "\n": that final newline can be
// formatted but never deleted, and nothing is ever inserted after it.
//
// An Op is a list of components walked left to right over the document:
// retain n code points (optionally setting attributes on them), delete n code
// points, insert text (optionally with attributes) or insert one embed.
// Every position and length counts code points, never bytes or UTF-16 units.
//
// Transform orders concurrent inserts at one position by the authors' sids and
// settles concurrent settings of one attribute on one character in favour of
// the op committed last. Doc holds a document as a persistent B-tree of
// attributed runs: an edit costs O(log n) plus the size of what it touches,
// and Clone is O(1).
//
// The package knows nothing about sockets, storage or sessions. Its values are
// safe to share between goroutines as long as nobody modifies them: the
// package never modifies an Op, Attrs or Doc it was given (Doc.Apply replaces
// the document's tree, it does not write into shared nodes), and callers must
// not modify an Op's Attrs maps after handing them over.
package rich
