// Package tree implements the "tree" document type of the Tandem wire contract
// (docs/protocol.md, "Tree documents"): a set of objects, each with an id, a
// parent, a fractional key that orders it among its siblings, and a map of
// properties. It is the pure core of the type: content, ops, their decoding and
// validation from untrusted MessagePack and JSON, Apply, the server's Transform,
// selections, fractional keys, and Replica, the client-side state (server base
// plus pending local ops) for the Go client.
//
// The package knows nothing about sockets, storage or sessions. Content is a
// persistent structure: Clone is O(1) and Apply copies at most O(log n) small
// nodes, so the server's document actor can clone the content of a
// 100,000-object document once per batch. A Content is not safe for
// concurrent use, but clones may be used and changed on different goroutines.
//
// How the server uses it, per op submitted at version v by author sid:
//
//	op, err := tree.DecodeOp(frameOpBytes, lim)        // invalid_op / too_large
//	for each op c committed since v (with its author's sid):
//	    op, err = tree.Transform(op, c.Op, sid, c.SID)
//	applied, err := content.Apply(op)                 // commit applied, even if empty
//	sel = content.FilterSelection(sel)                // selections lose deleted ids
package tree
