package ot

// Component is one step of an Op. Exactly one of its fields is set:
// Retain > 0 skips code points, Insert != "" inserts text, Delete > 0 deletes
// code points.
type Component struct {
	Retain int
	Insert string
	Delete int
}

// Op is an operation on a text document: its components walked left to right.
// On the wire (MessagePack and JSON) it is an array whose items are a positive
// integer (retain), a string (insert) or a negative integer (delete).
type Op []Component
