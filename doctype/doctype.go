// Package doctype is the document type interface: what the server, the store,
// the wire codecs, REST and SSE need from a kind of document (text, rich,
// tree), so that a new kind is one package implementing Type plus one
// registration, and none of them knows any type's internals.
//
// A type is registered once, at init time, by the package that implements it
// (package doctype/text registers "text"; cmd/tandem links the others with
// blank imports). Everything a type decodes comes from untrusted bytes: its
// decoders validate completely, bound their memory by the input (never by a
// header's claim) and return errors that match ErrTooLarge when a limit is
// exceeded (answered too_large) and anything else for a malformed value
// (answered invalid_op for an op, bad_request for a selection).
//
// Values of every interface here are immutable once shared, except a Content,
// which Apply changes in place: a Content is owned by one goroutine (a
// document actor, a store replay), and Clone gives a copy that can be handed
// to others (O(1) for the persistent structures the types use).
package doctype

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Type is one kind of document. Its methods are safe for concurrent use.
type Type interface {
	// Name is the type's name in the protocol (the "type" of a document) and
	// in the store: "text", "rich", "tree".
	Name() string
	// ContentKey is the key under which the joined message carries the whole
	// content ("text" for text and rich, "tree" for tree).
	ContentKey() string
	// NewContent is the content of a new document created without content.
	NewContent() Content
	// DecodeContent decodes a content from its MessagePack form (a snapshot
	// in the store, the joined message), validating it.
	DecodeContent(b []byte) (Content, error)
	// ParseContentJSON parses a content from its JSON form (REST).
	ParseContentJSON(b []byte) (Content, error)
	// DecodeOp decodes one op from its MessagePack form (a client frame, the
	// op log, another node), validated in itself but kept as sent: CheckBase
	// may need what normalising would drop.
	DecodeOp(b []byte) (Op, error)
	// ParseOpJSON parses one op from its JSON form (REST), like DecodeOp.
	ParseOpJSON(b []byte) (Op, error)
	// DecodeSelection decodes a selection from its MessagePack form; a hidden
	// selection (MessagePack nil, or whatever the type treats as empty) is a
	// nil Selection and no error.
	DecodeSelection(b []byte) (Selection, error)
}

// Content is a whole document of one type at some version.
type Content interface {
	// Clone returns an independent copy: Apply on either leaves the other
	// unchanged.
	Clone() Content
	// Apply applies op, which must fit the content, in place, and returns the
	// op as applied: its canonical form, with what the type decided at commit
	// time (a tree drops actions on deleted objects). That op is what the log
	// stores and receivers get. On error the content is unchanged.
	Apply(op Op) (Op, error)
	// Size is the content's size for the document limit (bytes of text for
	// text).
	Size() int
	// FitSelection checks sel (at this content's version) against the
	// content: an error for a selection that cannot be in it (text: a
	// position past the end), or the selection with what no longer exists
	// removed (tree: deleted objects). nil stays nil.
	FitSelection(sel Selection) (Selection, error)
	// AppendMsgpack appends the content's MessagePack form.
	AppendMsgpack(b []byte) []byte
	// MarshalJSON is the content's JSON form (REST).
	MarshalJSON() ([]byte, error)
}

// Op is one operation of a type.
type Op interface {
	// Transform returns the op, written by sid, moved past committed, written
	// by committedSID, which was committed first: ties between the two (text:
	// inserts at one position) are broken by the two sids, never by arrival.
	Transform(sid string, committed Op, committedSID string) (Op, error)
	// CheckBase checks the op, as sent, against the document it was made on:
	// cur is the current content and since are the ops committed after the
	// op's version, in order (as Apply returned them or the store gave them).
	CheckBase(cur Content, since []Op) error
	// Size is the op's encoded size for the op limit.
	Size() int
	// AppendMsgpack appends the op's MessagePack form.
	AppendMsgpack(b []byte) []byte
	// MarshalJSON is the op's JSON form (REST, SSE).
	MarshalJSON() ([]byte, error)
}

// PairTransformer is an optional fast path of an Op: TransformPair returns
// what Transform returns and, in the same walk, committed moved past the op
// (committed.Transform(committedSID, op, sid)), which the server needs to
// move the author's selection.
type PairTransformer interface {
	TransformPair(sid string, committed Op, committedSID string) (past, committedPast Op, err error)
}

// TransformPair returns op moved past committed and committed moved past op,
// through PairTransformer when op has it.
func TransformPair(op Op, sid string, committed Op, committedSID string) (past, committedPast Op, err error) {
	if pt, ok := op.(PairTransformer); ok {
		return pt.TransformPair(sid, committed, committedSID)
	}
	if past, err = op.Transform(sid, committed, committedSID); err != nil {
		return nil, nil, err
	}
	if committedPast, err = committed.Transform(committedSID, op, sid); err != nil {
		return nil, nil, err
	}
	return past, committedPast, nil
}

// AllTransformer is an optional fast path of an Op: TransformAll returns
// what TransformAll (the function) returns, without boxing the values in
// between (a server moves an op past every op committed since its version,
// on every op of a busy document).
type AllTransformer interface {
	TransformAll(sid string, committed []Op, committedSIDs []string, sel Selection) (Op, Selection, error)
}

// TransformAll moves op, written by sid, past committed (in commit order;
// committedSIDs[i] wrote committed[i]) with Transform, and sel, the author's
// selection after op (nil for none), along with it: by each committed op as
// it looks past the author's op (TransformPair), as the author's own when the
// sids are equal.
func TransformAll(op Op, sid string, committed []Op, committedSIDs []string, sel Selection) (Op, Selection, error) {
	if at, ok := op.(AllTransformer); ok {
		return at.TransformAll(sid, committed, committedSIDs, sel)
	}
	for i, c := range committed {
		var err error
		if sel == nil {
			if op, err = op.Transform(sid, c, committedSIDs[i]); err != nil {
				return nil, nil, err
			}
			continue
		}
		var cPast Op
		if op, cPast, err = TransformPair(op, sid, c, committedSIDs[i]); err != nil {
			return nil, nil, err
		}
		sel = sel.Transform(cPast, sid == committedSIDs[i])
	}
	return op, sel, nil
}

// Selection is a peer's selection in a document of one type (text: code
// point ranges; tree: object ids). A nil Selection is hidden.
type Selection interface {
	// Transform returns the selection moved through committed; own is true
	// when the selection's owner wrote committed (text: the author's caret
	// follows its own insert). It may return the receiver itself, or nil when
	// nothing of the selection is left.
	Transform(committed Op, own bool) Selection
	// AppendMsgpack appends the selection's MessagePack form.
	AppendMsgpack(b []byte) []byte
	// MarshalJSON is the selection's JSON form (SSE).
	MarshalJSON() ([]byte, error)
}

// ErrTooLarge is matched (errors.Is) by every error of a type that reports a
// size limit exceeded: the server answers it with too_large.
var ErrTooLarge = errors.New("over a size limit")

// ErrUnknownType is matched by the error of Lookup for a name nobody
// registered: the server answers it with bad_request (REST 400).
var ErrUnknownType = errors.New("unknown document type")

// ErrWrongType is matched by errors of a type's methods given a value of
// another type (an op of one type applied to a content of another): a bug of
// the caller, answered internal.
var ErrWrongType = errors.New("value of another document type")

// WrongType returns an error matching ErrWrongType: the type named want got
// v.
func WrongType(want string, v any) error {
	return fmt.Errorf("%s: %w: %T", want, ErrWrongType, v)
}

var (
	regMu    sync.RWMutex
	registry = map[string]Type{}
)

// Register makes t known by its name. It panics on an empty name or a name
// registered twice: both are programming errors, found at start-up.
func Register(t Type) {
	name := t.Name()
	if name == "" {
		panic("doctype: Register of a type without a name")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("doctype: type " + name + " registered twice")
	}
	registry[name] = t
}

// Lookup returns the type registered under name; an error matching
// ErrUnknownType when there is none.
func Lookup(name string) (Type, error) {
	regMu.RLock()
	t, ok := registry[name]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %.64q (known: %v)", ErrUnknownType, name, Names())
	}
	return t, nil
}

// Get is Lookup (the name the type packages' tests use).
func Get(name string) (Type, error) { return Lookup(name) }

// Names lists the registered types in order.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
