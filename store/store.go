// Package store persists Tandem documents: their metadata, the append-only op log
// and periodic snapshots of their content.
//
// The store is type-agnostic: a document's type (documents.type) names a
// doctype.Type, which the engines use to encode and decode its ops and
// snapshots and to replay the log; the store never looks inside either.
//
// Two engines implement Store: MemStore (the zero-configuration default, not
// durable) and PGStore (Postgres via pgx). Both pass the same contract suite in
// package storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tandem-collab/tandem/doctype"
	// The default type of a document created without one.
	_ "github.com/tandem-collab/tandem/doctype/text"
)

// DefaultType is the type of a document created without one.
const DefaultType = "text"

// Document is a document's metadata.
type Document struct {
	ID string
	// Type is the name of the document's doctype.Type.
	Type     string
	Title    string
	Metadata map[string]any
	// Version is the number of ops ever applied to the document.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewDocument is what CreateDoc needs. Type is a registered doctype name
// ("" is DefaultType); Content is the initial content at version 0, of that
// type (nil is the type's NewContent). The store keeps a clone.
type NewDocument struct {
	ID       string
	Type     string
	Title    string
	Metadata map[string]any
	Content  doctype.Content
}

// OpRecord is one committed op of a document's log.
type OpRecord struct {
	// Version is the version the op applies to; after it the document is at Version+1.
	Version int64
	// Op is the committed op, of the document's type. Ops are immutable values:
	// the store and its callers share them.
	Op        doctype.Op
	SID       string
	Seq       int64
	UserID    string
	CreatedAt time.Time
}

// Snapshot is a document's full content at a version. The Content a store
// returns is the caller's own (a clone); the one given to WriteSnapshot is
// cloned by the store.
type Snapshot struct {
	Version   int64
	Content   doctype.Content
	CreatedAt time.Time
}

// ListOptions selects a page of documents ordered by id.
type ListOptions struct {
	// Limit is the page size; 0 means the default (50).
	Limit int
	// Cursor is the opaque NextCursor of the previous page, or "" for the first.
	Cursor string
	// Prefix keeps only documents whose id starts with it.
	Prefix string
}

// ListPage is one page of documents; NextCursor is "" on the last page.
type ListPage struct {
	Docs       []Document
	NextCursor string
}

// MetaPatch changes a document's title and/or metadata; nil fields are unchanged.
type MetaPatch struct {
	Title    *string
	Metadata map[string]any
}

// Errors callers branch on. Implementations wrap them with context; test with errors.Is.
var (
	// ErrNotFound: no such document (or it was deleted).
	ErrNotFound = errors.New("document not found")
	// ErrExists: CreateDoc with an id that is taken.
	ErrExists = errors.New("document already exists")
	// ErrConflict: AppendOps lost an optimistic-concurrency race. Use errors.As
	// with *ConflictError to read the version the store holds.
	ErrConflict = errors.New("version conflict")
	// ErrVersion: a version outside [0, current] was asked for, or AppendOps got
	// records whose Version fields do not run expected, expected+1, ...
	ErrVersion = errors.New("no such version")
	// ErrDuplicate: AppendOps got an op whose (sid, seq) is already committed to the
	// document. Use errors.As with *DuplicateError to read the original version,
	// which is what the server acknowledges (exactly-once delivery).
	ErrDuplicate = errors.New("duplicate op")
	// ErrSchemaTooNew: the database was migrated by a newer Tandem than this binary;
	// running against it could corrupt data, so OpenPG refuses.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrInvalidArgument: a call's input is malformed (empty id, an unknown
	// type, content of another type, a bad cursor). It is a caller bug or bad
	// client input, not a store fault.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnavailable: the backing service cannot be reached (OpenPG, Ping).
	ErrUnavailable = errors.New("store unavailable")
)

// DuplicateError is returned (wrapped) by AppendOps when one of the ops carries a
// (SID, Seq) that the document's log already holds. Nothing of the batch is written.
// errors.Is(err, ErrDuplicate) is true for it.
type DuplicateError struct {
	DocID string
	SID   string
	Seq   int64
	// Version is the version the original op was committed at (-1 if unknown,
	// which only happens when the original vanished with a deletion meanwhile).
	Version int64
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("append to %q: %v (sid %q seq %d already committed at version %d)", e.DocID, ErrDuplicate, e.SID, e.Seq, e.Version)
}

// Is makes errors.Is(err, ErrDuplicate) hold.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// ConflictError is returned (wrapped) by AppendOps when the document is no longer at
// the expected version because another writer (another node) committed first.
// errors.Is(err, ErrConflict) is true for it.
type ConflictError struct {
	DocID    string
	Expected int64
	// Current is the version the store holds, if known (-1 if not).
	Current int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("append to %q at version %d: %v (store is at %d)", e.DocID, e.Expected, ErrConflict, e.Current)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Store is what the server needs from persistence. Every method is safe for
// concurrent use. Contract (checked by storetest.Run against every engine):
//
//   - CreateDoc stores a document at version 0 whose content is Content; an id already
//     in use (and not deleted) gives ErrExists. A deleted id can be created again
//     and starts with an empty history.
//   - GetDoc, UpdateDoc, DeleteDoc and every op/snapshot call on an unknown or
//     deleted id give ErrNotFound.
//   - ListDocs returns documents ordered by id, at most Limit, filtered by Prefix;
//     following NextCursor visits every document exactly once even while others are
//     created or deleted.
//   - AppendOps commits ops atomically (all or none) at versions expected,
//     expected+1, ...; the records' Version fields must equal those. If the document
//     is not at version expected it returns a *ConflictError and writes nothing.
//     When it returns nil the ops are durable (for a durable engine).
//   - ReadOps returns committed ops with Version >= from in order, at most limit
//     (limit <= 0 means all); it never returns a gap.
//   - Load returns the document's current content and version (latest snapshot plus
//     the ops after it). SnapshotAt returns the content after the first v ops
//     (0 <= v <= current, else ErrVersion).
//   - FindOp reports the version at which (sid, seq) was committed, if it was.
//   - WriteSnapshot records a content at a version; a snapshot never changes what Load or
//     SnapshotAt return, only how fast. Engines may also snapshot on their own.
//   - Ping reports whether the backing service is reachable. Close releases
//     everything and stops the engine's goroutines.
type Store interface {
	CreateDoc(ctx context.Context, d NewDocument) (Document, error)
	GetDoc(ctx context.Context, id string) (Document, error)
	ListDocs(ctx context.Context, opts ListOptions) (ListPage, error)
	UpdateDoc(ctx context.Context, id string, patch MetaPatch) (Document, error)
	DeleteDoc(ctx context.Context, id string) error

	AppendOps(ctx context.Context, id string, expected int64, ops []OpRecord) error
	ReadOps(ctx context.Context, id string, from int64, limit int) ([]OpRecord, error)
	FindOp(ctx context.Context, id string, sid string, seq int64) (version int64, found bool, err error)

	Load(ctx context.Context, id string) (Document, Snapshot, error)
	SnapshotAt(ctx context.Context, id string, v int64) (Snapshot, error)
	WriteSnapshot(ctx context.Context, id string, snap Snapshot) error

	Ping(ctx context.Context) error
	Close()
}
