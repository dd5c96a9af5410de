// Package ot implements the "text" operational-transform type of the Tandem wire
// contract (shared PROTOCOL.md, section 1).
//
// A document is a sequence of Unicode code points. An Op is a list of components
// walked left to right over the document: retain n code points, insert a string,
// or delete n code points. Every position and length in this package counts code
// points, never bytes or UTF-16 units.
//
// The package knows nothing about sockets, storage or sessions: it is pure data and
// algorithms, safe to call from any goroutine on values it does not share.
package ot
