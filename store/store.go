// Package store persists Tandem documents: their metadata, the append-only op log
// and periodic snapshots of their text.
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

	"github.com/tandem-collab/tandem/ot"
)

// Document is a document's metadata and, where the call says so, its text.
type Document struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Metadata map[string]any `json:"metadata"`
	// Version is the number of ops ever applied to the document.
	Version   int64     `json:"v"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewDocument is what CreateDoc needs. Content is the initial text at version 0.
type NewDocument struct {
	ID       string
	Type     string
	Title    string
	Metadata map[string]any
	Content  string
}

// OpRecord is one committed op of a document's log.
type OpRecord struct {
	// Version is the version the op applies to; after it the document is at Version+1.
	Version   int64     `json:"v"`
	Op        ot.Op     `json:"op"`
	SID       string    `json:"sid"`
	Seq       int64     `json:"seq"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Snapshot is a document's full text at a version.
type Snapshot struct {
	Version   int64
	Content   string
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
	// ErrInvalidArgument: a call's input is malformed (empty id, text that is not
	// UTF-8, a bad cursor). It is a caller bug or bad client input, not a store fault.
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
//   - CreateDoc stores a document at version 0 whose text is Content; an id already
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
//   - Load returns the document's current text and version (latest snapshot plus
//     the ops after it). SnapshotAt returns the text after the first v ops
//     (0 <= v <= current, else ErrVersion).
//   - FindOp reports the version at which (sid, seq) was committed, if it was.
//   - WriteSnapshot records text at a version; a snapshot never changes what Load or
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
