// Package ot implements the "text" operational-transform type of Tandem
// (docs/protocol.md, sections 2 "Text documents" and 3 "Concurrent edits").
//
// A document is a sequence of Unicode code points. An Op is a list of components
// walked left to right over the document: retain n code points, insert a string,
// or delete n code points. Every position and length in this package counts code
// points, never bytes or UTF-16 units.
//
// # Who wrote what
//
// Two rules of the protocol depend on the authors of concurrent edits, named by
// their session ids (sids); the functions that apply them take the sids, so a
// caller states who wrote what and never picks a side by hand:
//
//   - Ties: where two concurrent ops insert at one position, the insert of the
//     author whose sid sorts first (bytewise) goes left; of two ops of one sid,
//     the one committed first goes left. TransformPast(op, sid, committed,
//     committedSID) moves an op past an op committed since its version (the
//     server, once per op in between); TransformPair also returns the committed
//     op moved past the pending one (a client with an unacknowledged op). SideOf
//     is the side those two use; Transform with an explicit Side is the
//     low-level form beneath them.
//   - Carets: an insert exactly at a caret leaves the caret before the inserted
//     text, except the author's own caret after its own insert, which ends after
//     it. TransformPosition and TransformSelection move someone else's caret;
//     TransformPositionPast and TransformSelectionPast take the caret's owner and
//     the op's author and pick the rule.
//
// Together they keep two people typing at one spot from interleaving their
// letters: each one's caret stays on its own side of the other's text.
//
// A text action of another document type (a string property of a tree object,
// the text of a rich document) is transformed with the same calls:
//
//	past, err := ot.TransformPast(action, authorSID, committedAction, committedSID)
//	sel = ot.TransformSelectionPast(sel, selOwnerSID, committedAction, committedSID)
//
// The package knows nothing about sockets, storage or sessions: it is pure data and
// algorithms, safe to call from any goroutine on values it does not share.
package ot
