package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/tandem-collab/tandem/doctype"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// PGOptions configures OpenPG.
type PGOptions struct {
	// SnapshotEvery is how many ops may pile up after a snapshot before one is
	// built in the background; 0 means DefaultSnapshotEvery, < 0 never.
	SnapshotEvery int
	// MaxConns caps the pool. 0 means pool_max_conns from the URL when it has
	// one, else DefaultMaxConns.
	MaxConns int32
	// Schema, if set, becomes the connections' search_path: the tables and the
	// migrations bookkeeping live there. The schema must exist.
	Schema string
	// Logger receives background snapshot failures; nil means slog.Default().
	Logger *slog.Logger
	// Retention, when enabled, starts a background compaction every
	// CompactEvery (0: DefaultCompactEvery); see Compactor.
	Retention    Retention
	CompactEvery time.Duration
	// Committers is how many group-commit goroutines share out concurrent
	// AppendOps calls (see pg_group.go); 0 means DefaultCommitters (at most
	// half the pool's connections, at least 1), < 0 turns group commit off:
	// every append its own transaction.
	Committers int
}

// DefaultMaxConns is the pool OpenPG opens when neither PGOptions.MaxConns
// nor pool_max_conns in the URL sets one. pgx's own default, max(4, NumCPU)
// connections, is sized for a client, not for a server whose actors of
// thousands of documents load, read and append at once: with it, appends
// queued behind each other until the store timeout failed them (the fleet
// scenario, docs/benchmarks.md). DefaultCommitters of them are group-commit
// writers (PGOptions.Committers), the rest serve loads, reads and snapshots.
// Several nodes on one Postgres each open this many: keep their sum below
// the server's max_connections (100 by default).
const DefaultMaxConns = 16

// DefaultCommitters is how many group commits may be in flight at once
// unless PGOptions.Committers says otherwise: two, so that one group is
// gathered and sent while the other waits for its WAL flush. More committers
// split the same appends into more, smaller transactions, and Postgres's CPU
// goes per transaction and per statement: with eight (half the pool, the
// default before), the fleet scenario's 2,500 appends a second went out in
// groups of 1.5 and Postgres used 0.53 cores; with two, groups of 3.7 in one
// statement each (groupSQL) and 0.46 cores, same ack latency
// (docs/benchmarks.md, fleet).
const DefaultCommitters = 2

// PGStore keeps documents in Postgres. Every write is one durable transaction
// (synchronous_commit is forced on), so an acknowledged op survives a crash of the
// server or the database. Several PGStores (several nodes) may share a database:
// optimistic concurrency on documents.version makes exactly one writer win.
type PGStore struct {
	pool    *pgxpool.Pool
	every   int
	snap    *snapshotter[int64]
	compact *compactor      // nil without retention
	group   *groupCommitter // nil when group commit is off
	close   sync.Once
}

var _ Store = (*PGStore)(nil)

// OpenPG connects to Postgres, applies the embedded migrations (golang-migrate,
// which serialises concurrent starters with an advisory lock) and starts the
// background snapshot goroutine. It fails with ErrUnavailable when the database
// cannot be reached and with ErrSchemaTooNew when the database was migrated by a
// newer binary.
func OpenPG(ctx context.Context, url string, opts PGOptions) (*PGStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL (and its password): do not wrap it.
		return nil, fmt.Errorf("open postgres store: %w: cannot parse database URL", ErrInvalidArgument)
	}
	rp := cfg.ConnConfig.RuntimeParams
	// Acknowledged means durable, whatever the server's default says.
	rp["synchronous_commit"] = "on"
	if rp["application_name"] == "" {
		rp["application_name"] = "tandem"
	}
	if opts.Schema != "" {
		rp["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store at %s: %w: %w", where, ErrUnavailable, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w: cannot reach postgres at %s: %w", ErrUnavailable, where, err)
	}
	if err := migrateUp(pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store at %s: %w", where, err)
	}
	every := opts.SnapshotEvery
	if every == 0 {
		every = DefaultSnapshotEvery
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &PGStore{pool: pool, every: every}
	if committers := opts.Committers; committers >= 0 {
		if committers == 0 {
			committers = max(1, min(DefaultCommitters, int(cfg.MaxConns)/2))
		}
		s.group = newGroupCommitter(pool, committers)
	}
	s.snap = newSnapshotter(log, s.buildSnapshot)
	if opts.Retention.Enabled() {
		s.compact = newCompactor(log, s, opts.Retention, opts.CompactEvery)
	}
	return s, nil
}

// SchemaVersion is the newest migration embedded in this binary.
func SchemaVersion() uint {
	v, err := latestMigration()
	if err != nil {
		panic(err) // the embedded files are part of the build: cannot fail at run time
	}
	return v
}

func latestMigration() (uint, error) {
	src, err := iofs.New(migrationsFS, "migrations")
	if err != nil {
		return 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	for {
		next, err := src.Next(v)
		if errors.Is(err, fs.ErrNotExist) {
			return v, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read embedded migrations: %w", err)
		}
		v = next
	}
}

func migrateUp(pool *pgxpool.Pool) error {
	latest, err := latestMigration()
	if err != nil {
		return err
	}
	src, err := iofs.New(migrationsFS, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// The sql.DB borrows the pool's connections (and its runtime params, hence its
	// search_path); closing it does not close the pool.
	db := stdlib.OpenDBFromPool(pool)
	drv, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{})
	if err != nil {
		src.Close()
		db.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		src.Close()
		drv.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	defer m.Close()
	cur, _, err := m.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if err == nil && cur > latest {
		return fmt.Errorf("%w: database is at schema version %d, this binary knows up to %d", ErrSchemaTooNew, cur, latest)
	}
	// A dirty flag read here (without the migration lock) may be another node's
	// migration in progress; Up checks it again under the lock.
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		var de migrate.ErrDirty
		if errors.As(err, &de) {
			return fmt.Errorf("migrate: schema version %d is dirty (a migration failed half-way); repair it by hand: %w", de.Version, err)
		}
		return fmt.Errorf("migrate up to %d: %w", latest, err)
	}
	return nil
}

// Postgres error codes the engine branches on.
const (
	pgUniqueViolation = "23505"
	pgFKViolation     = "23503"
)

func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

// classify turns driver errors callers cannot act on into typed ones they can:
// bad data (class 22, e.g. U+0000 in a title) into ErrInvalidArgument, a broken
// connection into ErrUnavailable.
func classify(err error) error {
	code, _ := pgCode(err)
	switch {
	case strings.HasPrefix(code, "22"):
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	case code == "" && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

const docCols = `id, type, title, metadata, version, created_at, updated_at`

func scanDoc(row pgx.Row, extra ...any) (Document, error) {
	var d Document
	var meta []byte
	dest := append([]any{&d.ID, &d.Type, &d.Title, &meta, &d.Version, &d.CreatedAt, &d.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Document{}, err
	}
	d.Metadata = map[string]any{}
	if err := json.Unmarshal(meta, &d.Metadata); err != nil {
		return Document{}, fmt.Errorf("decode metadata of %q: %w", d.ID, err)
	}
	d.CreatedAt = d.CreatedAt.UTC()
	d.UpdatedAt = d.UpdatedAt.UTC()
	return d, nil
}

func metaJSON(m map[string]any) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata is not JSON: %v", ErrInvalidArgument, err)
	}
	return b, nil
}

// CreateDoc implements Store. The document row and its version-0 snapshot are
// written by one statement.
func (s *PGStore) CreateDoc(ctx context.Context, nd NewDocument) (Document, error) {
	nd, err := validateNew(nd)
	if err != nil {
		return Document{}, err
	}
	meta, err := metaJSON(nd.Metadata)
	if err != nil {
		return Document{}, fmt.Errorf("create doc %q: %w", nd.ID, err)
	}
	const q = `
WITH d AS (
    INSERT INTO documents (id, type, title, metadata) VALUES ($1, $2, $3, $4::jsonb)
    RETURNING pk, ` + docCols + `
), s AS (
    INSERT INTO snapshots (doc, version, content, created_at)
    SELECT pk, 0, $5, created_at FROM d
)
SELECT ` + docCols + ` FROM d`
	doc, err := scanDoc(s.pool.QueryRow(ctx, q, nd.ID, nd.Type, nd.Title, string(meta), nd.Content.AppendMsgpack(nil)))
	if err != nil {
		if code, _ := pgCode(err); code == pgUniqueViolation {
			return Document{}, fmt.Errorf("create doc %q: %w", nd.ID, ErrExists)
		}
		return Document{}, fmt.Errorf("create doc %q: %w", nd.ID, classify(err))
	}
	return doc, nil
}

// GetDoc implements Store.
func (s *PGStore) GetDoc(ctx context.Context, id string) (Document, error) {
	doc, err := scanDoc(s.pool.QueryRow(ctx, `SELECT `+docCols+` FROM documents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, fmt.Errorf("get doc %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("get doc %q: %w", id, classify(err))
	}
	return doc, nil
}

// likeEscape quotes LIKE's wildcards: ids may contain '_'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// ListDocs implements Store. Keyset pagination (id > cursor) on the unique id
// index: every page is one index range scan, and documents created or deleted
// between pages cannot shift the others.
func (s *PGStore) ListDocs(ctx context.Context, opts ListOptions) (ListPage, error) {
	after, err := decodeCursor(opts.Cursor)
	if err != nil {
		return ListPage{}, err
	}
	limit := clampLimit(opts.Limit)
	const q = `SELECT ` + docCols + ` FROM documents
WHERE id > $1 AND id >= $2 AND id LIKE $3
ORDER BY id LIMIT $4`
	rows, err := s.pool.Query(ctx, q, after, opts.Prefix, likeEscape(opts.Prefix)+"%", limit+1)
	if err != nil {
		return ListPage{}, fmt.Errorf("list docs: %w", classify(err))
	}
	defer rows.Close()
	page := ListPage{Docs: []Document{}}
	for rows.Next() {
		d, err := scanDoc(rows)
		if err != nil {
			return ListPage{}, fmt.Errorf("list docs: %w", classify(err))
		}
		page.Docs = append(page.Docs, d)
	}
	if err := rows.Err(); err != nil {
		return ListPage{}, fmt.Errorf("list docs: %w", classify(err))
	}
	if len(page.Docs) > limit {
		page.Docs = page.Docs[:limit]
		page.NextCursor = encodeCursor(page.Docs[limit-1].ID)
	}
	return page, nil
}

// UpdateDoc implements Store. Metadata, when given, replaces the old map whole.
func (s *PGStore) UpdateDoc(ctx context.Context, id string, patch MetaPatch) (Document, error) {
	var meta *string
	if patch.Metadata != nil {
		b, err := metaJSON(patch.Metadata)
		if err != nil {
			return Document{}, fmt.Errorf("update doc %q: %w", id, err)
		}
		m := string(b)
		meta = &m
	}
	const q = `UPDATE documents SET title = coalesce($2, title), metadata = coalesce($3::jsonb, metadata), updated_at = now()
WHERE id = $1 RETURNING ` + docCols
	doc, err := scanDoc(s.pool.QueryRow(ctx, q, id, patch.Title, meta))
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, fmt.Errorf("update doc %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("update doc %q: %w", id, classify(err))
	}
	return doc, nil
}

// DeleteDoc implements Store. One transaction deletes the row (its snapshots go
// by cascade), then its ops. The first statement takes the row's lock, waiting
// for an AppendOps in progress; the second runs with a new snapshot (READ
// COMMITTED), so it sees every op committed before that lock was granted. An
// AppendOps that comes later waits for the lock and then finds no row, so it
// writes nothing: no op outlives its document. (One statement with a CTE would
// not do: all of it shares the snapshot taken before the lock wait.)
func (s *PGStore) DeleteDoc(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var pk int64
		if err := tx.QueryRow(ctx, `DELETE FROM documents WHERE id = $1 RETURNING pk`, id).Scan(&pk); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM ops WHERE doc = $1`, pk)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("delete doc %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete doc %q: %w", id, classify(err))
	}
	return nil
}

// appendSQL is the whole of AppendOps: one statement, run alone (one implicit
// transaction, one round trip) or in a group commit with other appends (see
// pg_group.go). The guarded UPDATE takes the document's row lock;
// a concurrent writer at the same version waits for it, then re-checks the guard,
// matches nothing and inserts nothing (the INSERT reads its pk from the UPDATE).
const appendSQL = `
WITH d AS (
    UPDATE documents SET version = $2 + cardinality($3::bytea[]), updated_at = now()
    WHERE id = $1 AND version = $2
    RETURNING pk
), ins AS (
    INSERT INTO ops (doc, version, op, sid, seq, user_id, created_at)
    SELECT d.pk, $2 + u.ord - 1, u.op, nullif(u.sid, ''),
           CASE WHEN u.sid = '' THEN NULL ELSE u.seq END, u.user_id, coalesce(u.at, now())
    FROM d, unnest($3::bytea[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[])
         WITH ORDINALITY AS u(op, sid, seq, user_id, at, ord)
    RETURNING 1
)
SELECT pk, (SELECT count(*) FROM ins) FROM d`

// AppendOps implements Store.
func (s *PGStore) AppendOps(ctx context.Context, id string, expected int64, ops []OpRecord) error {
	r, err := prepareAppend(ctx, id, expected, ops)
	if err != nil {
		return err
	}
	var (
		res   appendRes
		owned = true
	)
	if s.group != nil {
		res, owned = s.group.submit(r)
	} else {
		res = appendAlone(s.pool, r)
	}
	err = s.finishAppend(ctx, r, res)
	if owned {
		r.release()
	}
	return err
}

// appendReqs recycles append requests, their channel and their arrays: one
// was allocated per append, with a fresh encoding of each op (about a tenth
// of the server's garbage under the fleet load, docs/benchmarks.md). A
// request goes back only once nothing else holds it (submit says so).
var appendReqs = sync.Pool{New: func() any { return &appendReq{done: make(chan appendRes, 1)} }}

// Bounds of what a recycled request keeps, so that one large append does not
// pin its arrays in the pool.
const (
	maxPooledOps      = 64
	maxPooledOpsBytes = 16 << 10
)

// prepareAppend checks and encodes an append into appendSQL's arguments, on the
// caller's goroutine (many callers encode in parallel, the committer does not).
// The request is the caller's until it gives it back with release.
func prepareAppend(ctx context.Context, id string, expected int64, ops []OpRecord) (*appendReq, error) {
	if err := checkRecords(id, expected, ops); err != nil {
		return nil, err
	}
	n := len(ops)
	r := appendReqs.Get().(*appendReq)
	r.ctx, r.id, r.expected, r.n = ctx, id, expected, n
	r.encoded = resize(r.encoded, n)
	r.sids = resize(r.sids, n)
	r.seqs = resize(r.seqs, n)
	r.users = resize(r.users, n)
	r.ats = resize(r.ats, n)
	r.times = resize(r.times, n)
	r.allAt = true
	for i, op := range ops {
		// The previous request's encodings are reused: pgx copied them into
		// its own buffer before that request was answered.
		r.encoded[i] = op.Op.AppendMsgpack(r.encoded[i][:0])
		r.sids[i], r.seqs[i], r.users[i] = op.SID, op.Seq, op.UserID
		r.ats[i], r.times[i] = nil, op.CreatedAt
		if op.CreatedAt.IsZero() {
			r.allAt = false
		} else {
			r.ats[i] = &r.times[i]
		}
	}
	return r, nil
}

// resize returns s with length n, reusing its array when it is large enough.
// It never returns nil: pgx sends a nil slice as a NULL array, and an empty
// append's arrays must be empty, not NULL.
func resize[T any](s []T, n int) []T {
	if s != nil && cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// release gives r back for another append. Only its caller may, once no
// committer holds it: after its answer came (or it was never queued).
func (r *appendReq) release() {
	if r.n > maxPooledOps {
		return
	}
	size := 0
	for _, b := range r.encoded {
		size += cap(b)
	}
	if size > maxPooledOpsBytes {
		return
	}
	r.ctx, r.id = nil, ""
	clear(r.sids)
	clear(r.users)
	clear(r.ats)
	appendReqs.Put(r)
}

// finishAppend turns appendSQL's raw outcome into AppendOps' result.
func (s *PGStore) finishAppend(ctx context.Context, r *appendReq, res appendRes) error {
	id, expected, err := r.id, r.expected, res.err
	switch code, constraint := pgCode(err); {
	case err == nil:
		if res.inserted != int64(r.n) {
			// Cannot happen while the statement is atomic; if it ever does, say so
			// loudly rather than report success.
			return fmt.Errorf("append to %q: inserted %d of %d ops", id, res.inserted, r.n)
		}
	case errors.Is(err, pgx.ErrNoRows):
		return s.appendFailed(ctx, id, expected)
	case code == pgUniqueViolation && constraint == "ops_doc_sid_seq":
		return s.duplicate(ctx, id, r.sids, r.seqs)
	case code == pgUniqueViolation || code == pgFKViolation:
		// Another node committed this version (or deleted the document) under us.
		return s.appendFailed(ctx, id, expected)
	default:
		return fmt.Errorf("append to %q at %d: %w", id, expected, classify(err))
	}
	if crossed(expected, expected+int64(r.n), s.every) {
		s.snap.mark(res.pk)
	}
	return nil
}

// appendFailed explains a guarded UPDATE that matched nothing: no document, or a
// document at another version.
func (s *PGStore) appendFailed(ctx context.Context, id string, expected int64) error {
	var cur int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM documents WHERE id = $1`, id).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("append to %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return &ConflictError{DocID: id, Expected: expected, Current: -1}
	}
	return &ConflictError{DocID: id, Expected: expected, Current: cur}
}

// duplicate finds which (sid, seq) of the batch is already committed, and where.
func (s *PGStore) duplicate(ctx context.Context, id string, sids []string, seqs []int64) error {
	const q = `SELECT o.sid, o.seq, o.version FROM documents d
JOIN ops o ON o.doc = d.pk
JOIN unnest($2::text[], $3::bigint[]) AS u(sid, seq) ON o.sid = u.sid AND o.seq = u.seq
WHERE d.id = $1 ORDER BY o.version LIMIT 1`
	de := &DuplicateError{DocID: id, Version: -1}
	err := s.pool.QueryRow(ctx, q, id, sids, seqs).Scan(&de.SID, &de.Seq, &de.Version)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("append to %q: %w (looking up the original failed: %v)", id, ErrDuplicate, err)
	}
	return de
}

// ReadOps implements Store. One statement reads the document's version and the
// ops together, so the gap check sees a consistent picture.
func (s *PGStore) ReadOps(ctx context.Context, id string, from int64, limit int) ([]OpRecord, error) {
	if from < 0 {
		return nil, fmt.Errorf("read ops of %q from %d: %w", id, from, ErrVersion)
	}
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	const q = `SELECT d.type, d.version, d.oldest, o.version, o.op, coalesce(o.sid, ''), coalesce(o.seq, 0), o.user_id, o.created_at
FROM documents d LEFT JOIN LATERAL (
    SELECT version, op, sid, seq, user_id, created_at FROM ops
    WHERE doc = d.pk AND version >= $2 ORDER BY version LIMIT $3
) o ON true
WHERE d.id = $1`
	rows, err := s.pool.Query(ctx, q, id, from, lim)
	if err != nil {
		return nil, fmt.Errorf("read ops of %q: %w", id, classify(err))
	}
	defer rows.Close()
	found := false
	var (
		cur, oldest int64
		typeName    string
		typ         doctype.Type
	)
	out := []OpRecord{}
	for rows.Next() {
		var (
			v    *int64
			raw  []byte
			r    OpRecord
			user *string
			at   *time.Time
			sid  *string
			seq  *int64
		)
		if err := rows.Scan(&typeName, &cur, &oldest, &v, &raw, &sid, &seq, &user, &at); err != nil {
			return nil, fmt.Errorf("read ops of %q: %w", id, classify(err))
		}
		found = true
		if v == nil {
			continue // the document has no ops at or after from
		}
		if typ == nil {
			if typ, err = typeOf(id, typeName); err != nil {
				return nil, fmt.Errorf("read ops: %w", err)
			}
		}
		r.Version, r.SID, r.Seq, r.UserID, r.CreatedAt = *v, *sid, *seq, *user, at.UTC()
		if r.Op, err = typ.DecodeOp(raw); err != nil {
			return nil, fmt.Errorf("read ops of %q: decode op at version %d: %w", id, r.Version, err)
		}
		if want := from + int64(len(out)); r.Version != want && from >= oldest {
			return nil, fmt.Errorf("read ops of %q: log has a gap: found version %d, want %d", id, r.Version, want)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read ops of %q: %w", id, classify(err))
	}
	if !found {
		return nil, fmt.Errorf("read ops of %q: %w", id, ErrNotFound)
	}
	if from > cur {
		return nil, fmt.Errorf("read ops of %q from %d: %w (document is at %d)", id, from, ErrVersion, cur)
	}
	if from < oldest {
		return nil, fmt.Errorf("read ops: %w", &CompactedError{DocID: id, Asked: from, Oldest: oldest})
	}
	want := cur - from
	if limit > 0 && int64(limit) < want {
		want = int64(limit)
	}
	if int64(len(out)) != want {
		return nil, fmt.Errorf("read ops of %q: log has a gap: %d ops from %d, want %d", id, len(out), from, want)
	}
	return out, nil
}

// FindOp implements Store.
func (s *PGStore) FindOp(ctx context.Context, id string, sid string, seq int64) (int64, bool, error) {
	const q = `SELECT (SELECT o.version FROM ops o WHERE o.doc = d.pk AND o.sid = $2 AND o.seq = $3)
FROM documents d WHERE d.id = $1`
	var v *int64
	err := s.pool.QueryRow(ctx, q, id, sid, seq).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("find op in %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, false, fmt.Errorf("find op in %q: %w", id, classify(err))
	}
	if v == nil {
		return 0, false, nil
	}
	return *v, true, nil
}

// stateSQL fetches, in one statement (one consistent view), a document, its
// nearest snapshot at or below a target version and the ops between the two. The
// target is LEAST(current, $2). %s selects the document (by id or by pk).
const stateSQL = `
WITH d AS (
    SELECT pk, oldest, ` + docCols + ` FROM documents WHERE %s = $1
), s AS (
    SELECT sn.version, sn.content FROM snapshots sn, d
    WHERE sn.doc = d.pk AND sn.version <= LEAST(d.version, $2)
    ORDER BY sn.version DESC LIMIT 1
)
SELECT d.` + "id, d.type, d.title, d.metadata, d.version, d.created_at, d.updated_at" + `, d.pk, d.oldest,
       s.version, s.content,
       ARRAY(SELECT o.op FROM ops o
             WHERE o.doc = d.pk AND o.version >= s.version AND o.version < LEAST(d.version, $2)
             ORDER BY o.version),
       (SELECT o.created_at FROM ops o WHERE o.doc = d.pk AND o.version = LEAST(d.version, $2) - 1)
FROM d LEFT JOIN s ON true`

var (
	stateByID = fmt.Sprintf(stateSQL, "id")
	stateByPK = fmt.Sprintf(stateSQL, "pk")
)

// pgState is what stateSQL returns, decoded.
type pgState struct {
	doc      Document
	pk       int64
	oldest   int64 // the oldest version kept
	base     int64
	content  doctype.Content
	ops      []doctype.Op
	lastOpAt *time.Time
	meta     []byte
}

func (s *PGStore) state(ctx context.Context, q string, key any, target int64) (pgState, error) {
	var (
		st      pgState
		base    *int64
		raw     [][]byte
		content []byte
	)
	err := s.pool.QueryRow(ctx, q, key, target).Scan(
		&st.doc.ID, &st.doc.Type, &st.doc.Title, &st.meta, &st.doc.Version, &st.doc.CreatedAt, &st.doc.UpdatedAt,
		&st.pk, &st.oldest, &base, &content, &raw, &st.lastOpAt)
	if err != nil {
		return pgState{}, err
	}
	if target < st.oldest {
		return pgState{}, &CompactedError{DocID: st.doc.ID, Asked: target, Oldest: st.oldest}
	}
	if base == nil {
		return pgState{}, fmt.Errorf("document %q has no snapshot at or below %d", st.doc.ID, target)
	}
	st.base = *base
	typ, err := typeOf(st.doc.ID, st.doc.Type)
	if err != nil {
		return pgState{}, err
	}
	if st.content, err = typ.DecodeContent(content); err != nil {
		return pgState{}, fmt.Errorf("decode the snapshot of %q at %d: %w", st.doc.ID, st.base, err)
	}
	st.ops = make([]doctype.Op, len(raw))
	for i, b := range raw {
		if st.ops[i], err = typ.DecodeOp(b); err != nil {
			return pgState{}, fmt.Errorf("decode op at version %d: %w", st.base+int64(i), err)
		}
	}
	st.doc.Metadata = map[string]any{}
	if err := json.Unmarshal(st.meta, &st.doc.Metadata); err != nil {
		return pgState{}, fmt.Errorf("decode metadata of %q: %w", st.doc.ID, err)
	}
	st.doc.CreatedAt = st.doc.CreatedAt.UTC()
	st.doc.UpdatedAt = st.doc.UpdatedAt.UTC()
	return st, nil
}

// text replays st up to target and checks that the log had no hole.
func (st pgState) text(target int64) (Snapshot, error) {
	if want := target - st.base; int64(len(st.ops)) != want {
		return Snapshot{}, fmt.Errorf("log of %q has a gap: %d ops after snapshot %d, want %d", st.doc.ID, len(st.ops), st.base, want)
	}
	text, err := replay(st.doc.ID, st.base, st.content, st.ops)
	if err != nil {
		return Snapshot{}, err
	}
	at := st.doc.CreatedAt
	if st.lastOpAt != nil {
		at = st.lastOpAt.UTC()
	}
	return Snapshot{Version: target, Content: text, CreatedAt: at}, nil
}

// Load implements Store.
func (s *PGStore) Load(ctx context.Context, id string) (Document, Snapshot, error) {
	st, err := s.state(ctx, stateByID, id, 1<<62)
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, Snapshot{}, fmt.Errorf("load %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Document{}, Snapshot{}, fmt.Errorf("load %q: %w", id, classify(err))
	}
	snap, err := st.text(st.doc.Version)
	if err != nil {
		return Document{}, Snapshot{}, fmt.Errorf("load %q: %w", id, err)
	}
	return st.doc, snap, nil
}

// SnapshotAt implements Store.
func (s *PGStore) SnapshotAt(ctx context.Context, id string, v int64) (Snapshot, error) {
	if v < 0 {
		return Snapshot{}, fmt.Errorf("snapshot of %q at %d: %w", id, v, ErrVersion)
	}
	st, err := s.state(ctx, stateByID, id, v)
	if errors.Is(err, pgx.ErrNoRows) {
		return Snapshot{}, fmt.Errorf("snapshot of %q at %d: %w", id, v, ErrNotFound)
	}
	if ce := (*CompactedError)(nil); errors.As(err, &ce) {
		return Snapshot{}, fmt.Errorf("snapshot at %d: %w", v, ce)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot of %q at %d: %w", id, v, classify(err))
	}
	if v > st.doc.Version {
		return Snapshot{}, fmt.Errorf("snapshot of %q at %d: %w (document is at %d)", id, v, ErrVersion, st.doc.Version)
	}
	snap, err := st.text(v)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot of %q at %d: %w", id, v, err)
	}
	return snap, nil
}

// WriteSnapshot implements Store. The content must be the document's true content at
// snap.Version (the caller got it by applying the log); it is not re-derived.
func (s *PGStore) WriteSnapshot(ctx context.Context, id string, snap Snapshot) error {
	if snap.Version < 0 {
		return fmt.Errorf("write snapshot of %q at %d: %w", id, snap.Version, ErrVersion)
	}
	if snap.Content == nil {
		return fmt.Errorf("write snapshot of %q at %d: %w: no content", id, snap.Version, ErrInvalidArgument)
	}
	var at *time.Time
	if !snap.CreatedAt.IsZero() {
		at = &snap.CreatedAt
	}
	const q = `
WITH d AS (SELECT pk, version FROM documents WHERE id = $1),
ins AS (
    INSERT INTO snapshots (doc, version, content, created_at)
    SELECT pk, $2, $3, coalesce($4, now()) FROM d WHERE d.version >= $2
    ON CONFLICT (doc, version) DO NOTHING
)
SELECT version FROM d`
	var cur int64
	err := s.pool.QueryRow(ctx, q, id, snap.Version, snap.Content.AppendMsgpack(nil), at).Scan(&cur)
	code, _ := pgCode(err)
	if errors.Is(err, pgx.ErrNoRows) || code == pgFKViolation {
		return fmt.Errorf("write snapshot of %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("write snapshot of %q at %d: %w", id, snap.Version, classify(err))
	}
	if snap.Version > cur {
		return fmt.Errorf("write snapshot of %q at %d: %w (document is at %d)", id, snap.Version, ErrVersion, cur)
	}
	return nil
}

// buildSnapshot runs on the snapshotter goroutine: latest snapshot + ops after it,
// replayed and written back at the document's current version.
func (s *PGStore) buildSnapshot(ctx context.Context, pk int64) error {
	st, err := s.state(ctx, stateByPK, pk, 1<<62)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("background snapshot of doc pk %d: %w", pk, err)
	}
	if st.base == st.doc.Version {
		return nil
	}
	snap, err := st.text(st.doc.Version)
	if err != nil {
		return fmt.Errorf("background snapshot of %q: %w", st.doc.ID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO snapshots (doc, version, content) VALUES ($1, $2, $3) ON CONFLICT (doc, version) DO NOTHING`,
		pk, snap.Version, snap.Content.AppendMsgpack(nil))
	if code, _ := pgCode(err); code == pgFKViolation {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("background snapshot of %q at %d: %w", st.doc.ID, snap.Version, err)
	}
	return nil
}

// Ping implements Store.
func (s *PGStore) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close implements Store: it stops the group committers (after the groups they
// are committing; appends still queued fail with ErrUnavailable) and the snapshot
// goroutine, then closes the pool (waiting for connections in use to be
// released). Safe to call more than once.
func (s *PGStore) Close() {
	s.close.Do(func() {
		if s.group != nil {
			s.group.stop()
		}
		s.compact.stop()
		s.snap.stop()
		s.pool.Close()
	})
}

// Pool exposes the connection pool for health checks and metrics (pool stats);
// writing through it bypasses the store's invariants.
func (s *PGStore) Pool() *pgxpool.Pool { return s.pool }
