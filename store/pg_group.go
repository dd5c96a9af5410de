package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Group commit: concurrent AppendOps calls (the actors of many documents on one
// node) share one Postgres transaction, hence one round trip and one WAL flush,
// instead of paying one each.
//
// An append that finds nothing in flight and nothing queued is sent by its
// caller at once (submit): there is nothing to group it with, and the hand-off
// to a committer and back would only add latency (one busy document appends one
// batch at a time). Otherwise it queues: a committer goroutine takes the first
// append waiting, gathers every other one
// that arrived meanwhile (no timed window: an idle store adds no wait, a busy one
// batches whatever queued while the previous commit was in flight), sorts them by
// document id and sends them as one statement (groupSQL), one implicit
// transaction; a group that holds a document twice goes as a pgx.Batch of one
// appendSQL per append instead, also one implicit transaction. Either way each
// append has the same guard as alone (the document at the expected version), so
// a version conflict or a deleted document matches no row: it fails only its own
// caller, never the others. An error Postgres raises (a duplicate (sid, seq), a
// deadlock with another node) aborts the whole transaction, so nothing of the
// group is written; the committer then runs each append of the group alone, and
// every caller gets the result it would have had without grouping. Exactly-once
// holds because a group is all or nothing. Postgres's CPU goes per transaction
// and per statement, which is why there are few committers (DefaultCommitters)
// and one statement per group.
//
// Lock order: the appends of a group lock their documents' rows in id order (one
// document's appends in arrival order), the same order for every group of every
// node, so two groups cannot deadlock each other; an append sent alone locks
// one row.

// groupMax caps the appends of one group (one pgx.Batch).
const groupMax = 64

// appendReq is one AppendOps waiting for a committer.
type appendReq struct {
	ctx      context.Context
	id       string
	expected int64
	n        int // ops in the append
	sids     []string
	seqs     []int64
	encoded  [][]byte
	users    []string
	ats      []*time.Time
	times    []time.Time // what ats point into
	// allAt: every op has its time (what the server's appends always
	// have), so times is sent instead of ats: pgx encodes a []time.Time
	// without reflection, []*time.Time with a reflected value per element.
	allAt bool
	done  chan appendRes // buffered: a committer never blocks on it
}

// appendArgs are appendSQL's arguments for r alone (a group of distinct
// documents does not need them: groupSQL takes the group's arrays).
func (r *appendReq) appendArgs() []any {
	return []any{r.id, r.expected, pgtype.FlatArray[[]byte](r.encoded), r.sids, r.seqs, r.users, r.atsArg()}
}

// atsArg is the ops' times as an argument: times when every op has one
// (NULL asks for now(), which none then needs), ats otherwise.
func (r *appendReq) atsArg() any {
	if r.allAt {
		return r.times
	}
	return r.ats
}

// appendRes is the raw outcome of appendSQL for one request.
type appendRes struct {
	pk, inserted int64
	err          error // pgx.ErrNoRows when the guard matched nothing
}

// groupCommitter owns the committer goroutines; stop ends them.
type groupCommitter struct {
	pool    *pgxpool.Pool
	reqs    chan *appendReq
	quit    chan struct{} // closed by stop: committers finish their group and return
	stopped chan struct{} // closed once the committers are gone and the queue answered
	wg      sync.WaitGroup
	stop1   sync.Once
	// busy counts the appends being sent to Postgres now: a committer's
	// group, or a caller's own append sent while nothing else was (submit).
	busy atomic.Int32
}

// errStoreClosed answers appends that arrive after Close.
var errStoreClosed = fmt.Errorf("%w: store closed", ErrUnavailable)

func newGroupCommitter(pool *pgxpool.Pool, committers int) *groupCommitter {
	g := &groupCommitter{pool: pool, reqs: make(chan *appendReq, 4*groupMax), quit: make(chan struct{}), stopped: make(chan struct{})}
	g.wg.Add(committers)
	for range committers {
		go g.run()
	}
	return g
}

// submit queues r and waits for its result or for ctx. A caller whose ctx ends
// after its append was sent does not know whether it committed, as with any
// query cancelled in flight. owned says whether r is the caller's again (its
// answer came, or it was never queued): when the caller gave up waiting, a
// committer may still hold r and answer it later, so it must not be reused.
func (g *groupCommitter) submit(r *appendReq) (res appendRes, owned bool) {
	if len(g.reqs) == 0 && g.busy.CompareAndSwap(0, 1) {
		// Nothing in flight and nothing queued: there is no group to join,
		// and handing the append to a committer and its answer back would
		// only add two goroutine switches to the commit's latency (a single
		// busy document appends one batch at a time). Appends that arrive
		// meanwhile queue for the committers and group there.
		defer g.busy.Add(-1)
		select {
		case <-g.quit:
			return appendRes{err: errStoreClosed}, true
		default:
		}
		return appendAlone(g.pool, r), true
	}
	select {
	case g.reqs <- r:
	case <-g.quit:
		return appendRes{err: errStoreClosed}, true
	case <-r.ctx.Done():
		return appendRes{err: r.ctx.Err()}, true
	}
	select {
	case res := <-r.done:
		return res, true
	case <-r.ctx.Done():
		return appendRes{err: r.ctx.Err()}, false
	case <-g.stopped:
		// Queued after stop drained the queue (both cases of the send above
		// were ready): never sent to Postgres, unless answered just before.
		select {
		case res := <-r.done:
			return res, true
		default:
			return appendRes{err: errStoreClosed}, false
		}
	}
}

// stop ends the committers after the group each is committing; appends still
// queued are answered with errStoreClosed.
func (g *groupCommitter) stop() {
	g.stop1.Do(func() {
		close(g.quit)
		g.wg.Wait()
		defer close(g.stopped)
		for {
			select {
			case r := <-g.reqs:
				r.done <- appendRes{err: errStoreClosed}
			default:
				return
			}
		}
	})
}

func (g *groupCommitter) run() {
	defer g.wg.Done()
	group := make([]*appendReq, 0, groupMax)
	for {
		select {
		case <-g.quit:
			return
		case r := <-g.reqs:
			group = append(group[:0], r)
		}
	gather:
		for len(group) < groupMax {
			select {
			case r := <-g.reqs:
				group = append(group, r)
			default:
				break gather
			}
		}
		g.busy.Add(1)
		g.commit(group)
		g.busy.Add(-1)
		clear(group)
	}
}

// commit runs one group and answers each of its requests (r.done is buffered).
func (g *groupCommitter) commit(group []*appendReq) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- appendRes{err: err} // gave up before it was sent: not written
			continue
		}
		live = append(live, r)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- appendAlone(g.pool, live[0])
		return
	}
	slices.SortStableFunc(live, func(a, b *appendReq) int { return cmp.Compare(a.id, b.id) })
	// The group's statements run whatever their callers' contexts do: cancelling
	// one must not abort the others' transaction.
	ctx := context.WithoutCancel(live[0].ctx)
	if distinctDocs(live) {
		g.commitOneStatement(ctx, live)
		return
	}
	var batch pgx.Batch
	for _, r := range live {
		batch.Queue(appendSQL, r.appendArgs()...)
	}
	res := make([]appendRes, len(live))
	br := g.pool.SendBatch(ctx, &batch)
	var failed error // the first error that is not "no row"
	for i := range live {
		err := br.QueryRow().Scan(&res[i].pk, &res[i].inserted)
		res[i].err = err
		if err != nil && !errors.Is(err, pgx.ErrNoRows) && failed == nil {
			failed = err
		}
	}
	if err := br.Close(); err != nil && failed == nil {
		failed = err // the implicit transaction's commit
	}
	g.answer(live, res, failed)
}

// answer gives each request of a group its result: its own when the group
// committed, its result alone when Postgres refused the group, the error
// when the outcome is unknown.
func (g *groupCommitter) answer(live []*appendReq, res []appendRes, failed error) {
	var pe *pgconn.PgError
	switch {
	case failed == nil:
		for i, r := range live {
			r.done <- res[i]
		}
	case errors.As(failed, &pe):
		// Postgres refused a statement (or the commit): the transaction rolled
		// back whole. Each append alone gets its own answer.
		for _, r := range live {
			r.done <- appendAlone(g.pool, r)
		}
	default:
		// The connection failed: whether the group committed is unknown, as for a
		// lone statement whose connection breaks.
		for _, r := range live {
			r.done <- appendRes{err: failed}
		}
	}
}

// appendAlone runs one request's statement by itself.
func appendAlone(pool *pgxpool.Pool, r *appendReq) appendRes {
	var res appendRes
	res.err = pool.QueryRow(r.ctx, appendSQL, r.appendArgs()...).Scan(&res.pk, &res.inserted)
	return res
}

// distinctDocs reports whether no document has two appends in the group
// (sorted by id). One actor has one append in flight, so a node's groups
// hold each document once; two appends of one document (other callers of
// AppendOps, the tests) take the statement-per-append batch, whose
// statements run in order.
func distinctDocs(sorted []*appendReq) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i].id == sorted[i-1].id {
			return false
		}
	}
	return true
}

// groupSQL is the appends of a whole group (each document once) as one
// statement: the documents whose version is the expected one are locked in
// id order (the same order as appendSQL's groups, so that two groups cannot
// deadlock) and moved to their new version, and their ops are inserted from
// flattened arrays ($4: the place of each op's document in $1, from 1; $5:
// its place in its append, from 1). A document that is missing or at another version matches
// no row and gets no answer row: that append alone fails, as with appendSQL.
// One statement instead of one per append is what Postgres spends its CPU
// on under many small documents (the fleet scenario, docs/benchmarks.md).
const groupSQL = `
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS u(id, expected, n, k)
), locked AS (
    SELECT d.pk, u.id, u.expected, u.n, u.k
    FROM documents d JOIN u ON d.id = u.id
    WHERE d.version = u.expected
    ORDER BY d.id
    FOR UPDATE OF d
), upd AS (
    UPDATE documents d SET version = l.expected + l.n, updated_at = now()
    FROM locked l WHERE d.pk = l.pk
    RETURNING d.pk, l.id, l.expected, l.k
), ins AS (
    INSERT INTO ops (doc, version, op, sid, seq, user_id, created_at)
    SELECT upd.pk, upd.expected + o.ord - 1, o.op, nullif(o.sid, ''),
           CASE WHEN o.sid = '' THEN NULL ELSE o.seq END, o.user_id, coalesce(o.at, now())
    FROM upd JOIN unnest($4::bigint[], $5::bigint[], $6::bytea[], $7::text[], $8::bigint[], $9::text[], $10::timestamptz[])
         AS o(k, ord, op, sid, seq, user_id, at) ON o.k = upd.k
    RETURNING doc
)
SELECT upd.id, upd.pk, (SELECT count(*) FROM ins WHERE ins.doc = upd.pk) FROM upd`

// commitOneStatement commits a group whose documents are distinct with
// groupSQL, in one round trip and one implicit transaction.
func (g *groupCommitter) commitOneStatement(ctx context.Context, live []*appendReq) {
	ids := make([]string, len(live))
	expected := make([]int64, len(live))
	ns := make([]int64, len(live))
	total := 0
	for i, r := range live {
		ids[i], expected[i], ns[i] = r.id, r.expected, int64(r.n)
		total += r.n
	}
	opDocs := make([]int64, 0, total)
	ords := make([]int64, 0, total)
	encoded := make([][]byte, 0, total)
	sids := make([]string, 0, total)
	seqs := make([]int64, 0, total)
	users := make([]string, 0, total)
	allAt := true
	for _, r := range live {
		allAt = allAt && r.allAt
	}
	var (
		ats   []*time.Time
		times []time.Time
	)
	if allAt {
		times = make([]time.Time, 0, total)
	} else {
		ats = make([]*time.Time, 0, total)
	}
	for i, r := range live {
		for k := range r.n {
			opDocs = append(opDocs, int64(i+1))
			ords = append(ords, int64(k+1))
		}
		encoded = append(encoded, r.encoded...)
		sids = append(sids, r.sids...)
		seqs = append(seqs, r.seqs...)
		users = append(users, r.users...)
		if allAt {
			times = append(times, r.times...)
		} else {
			ats = append(ats, r.ats...)
		}
	}
	var at any = ats // pgx encodes []time.Time without reflection: see appendReq.allAt
	if allAt {
		at = times
	}
	res := make([]appendRes, len(live))
	for i := range res {
		res[i].err = pgx.ErrNoRows // the guard matched nothing, unless a row says otherwise
	}
	rows, err := g.pool.Query(ctx, groupSQL, ids, expected, ns, opDocs, ords, pgtype.FlatArray[[]byte](encoded), sids, seqs, users, at)
	if err == nil {
		var (
			id           string
			pk, inserted int64
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &pk, &inserted}, func() error {
			i, ok := slices.BinarySearchFunc(live, id, func(r *appendReq, id string) int { return cmp.Compare(r.id, id) })
			if !ok {
				return fmt.Errorf("group commit: an answer for %q, which the group does not hold", id)
			}
			res[i] = appendRes{pk: pk, inserted: inserted}
			return nil
		})
	}
	g.answer(live, res, err)
}
