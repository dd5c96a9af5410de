package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tandem-collab/tandem/doctype"
)

// MemOptions configures NewMem.
type MemOptions struct {
	// SnapshotEvery is how many ops may pile up after the latest snapshot before
	// one is built in the background; 0 means DefaultSnapshotEvery, < 0 never.
	SnapshotEvery int
	// Logger receives background snapshot failures; nil means slog.Default().
	Logger *slog.Logger
	// Retention, when enabled, starts a background compaction every
	// CompactEvery (0: DefaultCompactEvery); see Compactor.
	Retention    Retention
	CompactEvery time.Duration
}

// MemStore keeps everything in process memory: nothing survives a restart. It is
// the server's zero-configuration default and behaves like PGStore in every way
// the contract states (conflicts, exactly-once, snapshots, deletion).
type MemStore struct {
	every   int
	snap    *snapshotter[*memDoc]
	compact *compactor // nil without retention
	close   sync.Once

	// mu guards everything below and every field of every memDoc. Appends take it
	// exclusively for microseconds; replays run outside it on immutable slices.
	mu     sync.RWMutex
	docs   map[string]*memDoc
	ids    []string // live ids, sorted, for ListDocs
	closed bool
}

var _ Store = (*MemStore)(nil)

// memDoc is one incarnation of a document id. A deleted and re-created id gets a
// new memDoc, so a writer holding the old one can never touch the new history.
type memDoc struct {
	meta Document
	typ  doctype.Type
	// log holds versions [floor, meta.Version): record i is version floor+i.
	// Appends add to it and compaction replaces it with a shorter copy;
	// records are never modified once added.
	log     memLog
	floor   int64 // the oldest version kept (compaction moves it up)
	seqs    seqIndex
	snaps   []Snapshot // sorted by Version; snaps[0] is version floor
	deleted bool
}

// NewMem returns an empty in-memory store. Close stops its snapshot goroutine.
func NewMem(opts MemOptions) *MemStore {
	every := opts.SnapshotEvery
	if every == 0 {
		every = DefaultSnapshotEvery
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m := &MemStore{every: every, docs: make(map[string]*memDoc)}
	m.snap = newSnapshotter(log, m.buildSnapshot)
	if opts.Retention.Enabled() {
		m.compact = newCompactor(log, m, opts.Retention, opts.CompactEvery)
	}
	return m
}

func memNow() time.Time {
	// Postgres keeps microseconds; trimming here keeps both engines comparable.
	return time.Now().UTC().Truncate(time.Microsecond)
}

// cloneMeta deep-copies metadata through JSON so that callers cannot alias the
// stored map and values come back with the same types PGStore's jsonb gives.
func cloneMeta(m map[string]any) (map[string]any, error) {
	if m == nil {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata is not JSON: %v", ErrInvalidArgument, err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: metadata is not JSON: %v", ErrInvalidArgument, err)
	}
	return out, nil
}

func (d *memDoc) public() Document {
	c := d.meta
	// Metadata was produced by cloneMeta and is never mutated in place, but the
	// caller may mutate what we hand out, so hand out a copy.
	c.Metadata, _ = cloneMeta(d.meta.Metadata)
	return c
}

func (m *MemStore) errClosed() error {
	return fmt.Errorf("memory store: %w: closed", ErrUnavailable)
}

// live returns the current incarnation of id; callers hold mu.
func (m *MemStore) live(id string) (*memDoc, error) {
	if m.closed {
		return nil, m.errClosed()
	}
	d, ok := m.docs[id]
	if !ok {
		return nil, fmt.Errorf("doc %q: %w", id, ErrNotFound)
	}
	return d, nil
}

// CreateDoc implements Store.
func (m *MemStore) CreateDoc(ctx context.Context, nd NewDocument) (Document, error) {
	nd, err := validateNew(nd)
	if err != nil {
		return Document{}, err
	}
	meta, err := cloneMeta(nd.Metadata)
	if err != nil {
		return Document{}, fmt.Errorf("create doc %q: %w", nd.ID, err)
	}
	typ, err := typeOf(nd.ID, nd.Type)
	if err != nil {
		return Document{}, fmt.Errorf("create doc: %w: %v", ErrInvalidArgument, err)
	}
	now := memNow()
	d := &memDoc{
		meta: Document{ID: nd.ID, Type: nd.Type, Title: nd.Title, Metadata: meta,
			CreatedAt: now, UpdatedAt: now},
		typ:   typ,
		seqs:  newSeqIndex(),
		snaps: []Snapshot{{Version: 0, Content: nd.Content, CreatedAt: now}},
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Document{}, m.errClosed()
	}
	if _, ok := m.docs[nd.ID]; ok {
		return Document{}, fmt.Errorf("create doc %q: %w", nd.ID, ErrExists)
	}
	m.docs[nd.ID] = d
	i := sort.SearchStrings(m.ids, nd.ID)
	m.ids = append(m.ids, "")
	copy(m.ids[i+1:], m.ids[i:])
	m.ids[i] = nd.ID
	return d.public(), nil
}

// GetDoc implements Store.
func (m *MemStore) GetDoc(ctx context.Context, id string) (Document, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, err := m.live(id)
	if err != nil {
		return Document{}, fmt.Errorf("get doc: %w", err)
	}
	return d.public(), nil
}

// ListDocs implements Store.
func (m *MemStore) ListDocs(ctx context.Context, opts ListOptions) (ListPage, error) {
	after, err := decodeCursor(opts.Cursor)
	if err != nil {
		return ListPage{}, err
	}
	limit := clampLimit(opts.Limit)
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ListPage{}, m.errClosed()
	}
	start := opts.Prefix
	if after >= start {
		start = after
	}
	i := sort.SearchStrings(m.ids, start)
	page := ListPage{Docs: []Document{}}
	for ; i < len(m.ids); i++ {
		id := m.ids[i]
		if id == after {
			continue
		}
		if !strings.HasPrefix(id, opts.Prefix) {
			break // sorted: once past the prefix range nothing else matches
		}
		if len(page.Docs) == limit {
			page.NextCursor = encodeCursor(page.Docs[limit-1].ID)
			break
		}
		page.Docs = append(page.Docs, m.docs[id].public())
	}
	return page, nil
}

// UpdateDoc implements Store.
func (m *MemStore) UpdateDoc(ctx context.Context, id string, patch MetaPatch) (Document, error) {
	var meta map[string]any
	if patch.Metadata != nil {
		var err error
		if meta, err = cloneMeta(patch.Metadata); err != nil {
			return Document{}, fmt.Errorf("update doc %q: %w", id, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.live(id)
	if err != nil {
		return Document{}, fmt.Errorf("update doc: %w", err)
	}
	if patch.Title != nil {
		d.meta.Title = *patch.Title
	}
	if meta != nil {
		d.meta.Metadata = meta
	}
	d.meta.UpdatedAt = memNow()
	return d.public(), nil
}

// DeleteDoc implements Store.
func (m *MemStore) DeleteDoc(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.live(id)
	if err != nil {
		return fmt.Errorf("delete doc: %w", err)
	}
	d.deleted = true
	delete(m.docs, id)
	i := sort.SearchStrings(m.ids, id)
	m.ids = append(m.ids[:i], m.ids[i+1:]...)
	return nil
}

// AppendOps implements Store.
func (m *MemStore) AppendOps(ctx context.Context, id string, expected int64, ops []OpRecord) error {
	if err := checkRecords(id, expected, ops); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append to %q: %w", id, err)
	}
	now := memNow()
	m.mu.Lock()
	d, err := m.live(id)
	if err != nil {
		m.mu.Unlock()
		return fmt.Errorf("append: %w", err)
	}
	cur := d.meta.Version
	if cur != expected {
		m.mu.Unlock()
		return &ConflictError{DocID: id, Expected: expected, Current: cur}
	}
	// Check the whole batch against the log (within itself checkRecords did)
	// before touching anything: all or nothing.
	for _, r := range ops {
		if r.SID == "" {
			continue
		}
		if v, ok := d.seqs.find(r.SID, r.Seq); ok {
			m.mu.Unlock()
			return &DuplicateError{DocID: id, SID: r.SID, Seq: r.Seq, Version: v}
		}
	}
	n := d.log.len()
	for _, r := range ops {
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if err := d.log.add(r); err != nil {
			d.log.truncate(n)
			m.mu.Unlock()
			return fmt.Errorf("append to %q: %w", id, err)
		}
	}
	for _, r := range ops {
		if r.SID != "" {
			d.seqs.add(r.SID, r.Seq, r.Version)
		}
	}
	d.meta.Version = d.floor + int64(d.log.len())
	if len(ops) > 0 {
		d.meta.UpdatedAt = now
	}
	due := m.every > 0 && d.meta.Version-d.snaps[len(d.snaps)-1].Version >= int64(m.every)
	m.mu.Unlock()
	if due {
		m.snap.mark(d)
	}
	return nil
}

// AppendsInline reports true: AppendOps never waits on I/O, only on the
// store's mutex for the microseconds another call holds it, so a caller on a
// latency-critical goroutine (a document actor) may call it directly rather
// than hand it to a goroutine of its own.
func (m *MemStore) AppendsInline() bool { return true }

// ReadOps implements Store.
func (m *MemStore) ReadOps(ctx context.Context, id string, from int64, limit int) ([]OpRecord, error) {
	m.mu.RLock()
	d, err := m.live(id)
	if err != nil {
		m.mu.RUnlock()
		return nil, fmt.Errorf("read ops: %w", err)
	}
	log, floor, typ := d.log, d.floor, d.typ
	m.mu.RUnlock()
	cur := floor + int64(log.len())
	if from < 0 || from > cur {
		return nil, fmt.Errorf("read ops of %q from %d: %w (document is at %d)", id, from, ErrVersion, cur)
	}
	if from < floor {
		return nil, fmt.Errorf("read ops: %w", &CompactedError{DocID: id, Asked: from, Oldest: floor})
	}
	end := cur
	if limit > 0 && from+int64(limit) < end {
		end = from + int64(limit)
	}
	out := make([]OpRecord, 0, end-from)
	for v := from; v < end; v++ {
		r, err := log.record(typ, int(v-floor), v)
		if err != nil {
			return nil, fmt.Errorf("read ops of %q: %w", id, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// FindOp implements Store.
func (m *MemStore) FindOp(ctx context.Context, id string, sid string, seq int64) (int64, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, err := m.live(id)
	if err != nil {
		return 0, false, fmt.Errorf("find op: %w", err)
	}
	v, ok := d.seqs.find(sid, seq)
	return v, ok, nil
}

// docAt is what replaying a document to a version needs: the nearest
// snapshot at or below it and the log records after that. stateAt gathers it
// under the read lock; the log is immutable where it reaches, so decoding and
// the replay itself run unlocked.
type docAt struct {
	id      string
	typ     doctype.Type
	base    Snapshot
	log     memLog
	floor   int64
	v       int64
	reached time.Time // when the document reached v
}

func (d *memDoc) stateAt(v int64) docAt {
	i := sort.Search(len(d.snaps), func(i int) bool { return d.snaps[i].Version > v }) - 1
	// A version's time is when the document reached it: its creation for 0,
	// else the commit of the op that led to it (what PGStore reports too;
	// both fall back to the creation when that op was compacted away).
	at := d.meta.CreatedAt
	if v > d.floor {
		at = d.log.createdAt(int(v - 1 - d.floor))
	}
	return docAt{id: d.meta.ID, typ: d.typ, base: d.snaps[i], log: d.log, floor: d.floor, v: v, reached: at}
}

// content replays the log from the snapshot to the version.
func (s docAt) content() (doctype.Content, error) {
	ops, err := s.log.ops(s.typ, int(s.base.Version-s.floor), int(s.v-s.floor), s.floor)
	if err != nil {
		return nil, fmt.Errorf("replay %q: %w", s.id, err)
	}
	return replay(s.id, s.base.Version, s.base.Content, ops)
}

// Load implements Store.
func (m *MemStore) Load(ctx context.Context, id string) (Document, Snapshot, error) {
	m.mu.RLock()
	d, err := m.live(id)
	if err != nil {
		m.mu.RUnlock()
		return Document{}, Snapshot{}, fmt.Errorf("load: %w", err)
	}
	doc := d.public()
	st := d.stateAt(doc.Version)
	m.mu.RUnlock()
	text, err := st.content()
	if err != nil {
		return Document{}, Snapshot{}, fmt.Errorf("load: %w", err)
	}
	return doc, Snapshot{Version: doc.Version, Content: text, CreatedAt: st.reached}, nil
}

// SnapshotAt implements Store.
func (m *MemStore) SnapshotAt(ctx context.Context, id string, v int64) (Snapshot, error) {
	m.mu.RLock()
	d, err := m.live(id)
	if err != nil {
		m.mu.RUnlock()
		return Snapshot{}, fmt.Errorf("snapshot at %d: %w", v, err)
	}
	cur := d.meta.Version
	if v < 0 || v > cur {
		m.mu.RUnlock()
		return Snapshot{}, fmt.Errorf("snapshot of %q at %d: %w (document is at %d)", id, v, ErrVersion, cur)
	}
	if v < d.floor {
		floor := d.floor
		m.mu.RUnlock()
		return Snapshot{}, fmt.Errorf("snapshot at %d: %w", v, &CompactedError{DocID: id, Asked: v, Oldest: floor})
	}
	st := d.stateAt(v)
	m.mu.RUnlock()
	text, err := st.content()
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot at %d: %w", v, err)
	}
	return Snapshot{Version: v, Content: text, CreatedAt: st.reached}, nil
}

// WriteSnapshot implements Store. The content must be the document's true content at
// snap.Version (the caller got it by applying the log); it is not re-derived.
func (m *MemStore) WriteSnapshot(ctx context.Context, id string, snap Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.live(id)
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if snap.Version < 0 || snap.Version > d.meta.Version {
		return fmt.Errorf("write snapshot of %q at %d: %w (document is at %d)", id, snap.Version, ErrVersion, d.meta.Version)
	}
	if snap.Version < d.floor {
		return nil // below the oldest version kept: it could serve nothing
	}
	if snap.Content == nil {
		return fmt.Errorf("write snapshot of %q at %d: %w: no content", id, snap.Version, ErrInvalidArgument)
	}
	if snap.CreatedAt.IsZero() {
		snap.CreatedAt = memNow()
	}
	snap.Content = snap.Content.Clone()
	d.insertSnapshot(snap)
	return nil
}

// insertSnapshot keeps snaps sorted and unique; callers hold mu exclusively.
func (d *memDoc) insertSnapshot(s Snapshot) {
	i := sort.Search(len(d.snaps), func(i int) bool { return d.snaps[i].Version >= s.Version })
	if i < len(d.snaps) && d.snaps[i].Version == s.Version {
		return
	}
	// Copy-on-write: stateAt hands out elements, never the slice, but a reader
	// that captured d.snaps must not see it shift under it.
	ns := make([]Snapshot, 0, len(d.snaps)+1)
	ns = append(ns, d.snaps[:i]...)
	ns = append(ns, s)
	ns = append(ns, d.snaps[i:]...)
	d.snaps = ns
}

// buildSnapshot runs on the snapshotter goroutine.
func (m *MemStore) buildSnapshot(ctx context.Context, d *memDoc) error {
	m.mu.RLock()
	if d.deleted || m.closed {
		m.mu.RUnlock()
		return nil
	}
	v := d.meta.Version
	st := d.stateAt(v)
	m.mu.RUnlock()
	if st.base.Version == v {
		return nil
	}
	text, err := st.content()
	if err != nil {
		return fmt.Errorf("background snapshot: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !d.deleted {
		d.insertSnapshot(Snapshot{Version: v, Content: text, CreatedAt: memNow()})
	}
	return nil
}

// Ping implements Store: memory is always reachable until Close.
func (m *MemStore) Ping(ctx context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return m.errClosed()
	}
	return nil
}

// Close implements Store. It is safe to call more than once.
func (m *MemStore) Close() {
	m.close.Do(func() {
		m.compact.stop()
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.snap.stop()
	})
}
