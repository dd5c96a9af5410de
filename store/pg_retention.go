package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

var _ Compactor = (*PGStore)(nil)

// Compact implements Compactor in three steps, none of which holds a lock
// for long, so that appends to a hot document go on while its history is
// dropped:
//
//  1. read the document and find the cutoff (an index range scan from the
//     oldest kept op up to the first one young enough to stay);
//  2. one statement writes the snapshot at the cutoff and moves
//     documents.oldest up to it (the row lock for a moment, as an append);
//  3. delete the ops below it in batches of compactDeleteBatch rows (each
//     its own transaction, none touching the document's row), then the
//     snapshots below it.
//
// Readers compare with documents.oldest in the statement that reads the ops,
// so after step 2 nobody reads below it, and step 3 only removes rows nobody
// reads. Step 3 starts at the lowest op row that exists, so rows a stopped
// pass left behind are removed by the next one. Several nodes compacting one
// document at once is harmless: step 2 moves oldest only up, and deleting a
// row twice deletes it once.
func (s *PGStore) Compact(ctx context.Context, id string, r Retention, now time.Time) (CompactResult, error) {
	var pk, cur, oldest int64
	err := s.pool.QueryRow(ctx, `SELECT pk, version, oldest FROM documents WHERE id = $1`, id).Scan(&pk, &cur, &oldest)
	if errors.Is(err, pgx.ErrNoRows) {
		return CompactResult{}, fmt.Errorf("compact %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return CompactResult{}, fmt.Errorf("compact %q: %w", id, classify(err))
	}
	res := CompactResult{Oldest: oldest}
	if !r.Enabled() {
		return res, nil
	}
	cut := cur - max(r.MinOps, 0)
	if cut > oldest {
		var young *int64
		err := s.pool.QueryRow(ctx, `SELECT min(version) FROM (
    SELECT version FROM ops WHERE doc = $1 AND version >= $2 AND version < $3 AND created_at >= $4
    ORDER BY version LIMIT 1) f`, pk, oldest, cut, now.Add(-r.MaxAge)).Scan(&young)
		if err != nil {
			return res, fmt.Errorf("compact %q: find the cutoff: %w", id, classify(err))
		}
		if young != nil {
			cut = *young
		}
	}
	var st pgState
	if cut > oldest {
		var err error
		st, err = s.state(ctx, stateByPK, pk, cut)
		if errors.Is(err, pgx.ErrNoRows) {
			return res, fmt.Errorf("compact %q: %w", id, ErrNotFound)
		}
		if errors.Is(err, ErrCompacted) {
			cut = oldest // another node compacted past our cutoff: only delete below its oldest
		} else if err != nil {
			return res, fmt.Errorf("compact %q: read the history up to %d: %w", id, cut, err)
		}
	}
	if cut > oldest {
		snap, err := st.text(cut)
		if err != nil {
			return res, fmt.Errorf("compact %q: text at the cutoff %d: %w", id, cut, err)
		}
		const move = `
WITH s AS (
    INSERT INTO snapshots (doc, version, content)
    SELECT pk, $2, $3 FROM documents WHERE pk = $1 AND oldest < $2 AND version >= $2
    ON CONFLICT (doc, version) DO NOTHING
)
UPDATE documents SET oldest = $2 WHERE pk = $1 AND oldest < $2 AND version >= $2`
		if _, err := s.pool.Exec(ctx, move, pk, cut, snap.Content.AppendMsgpack(nil)); err != nil {
			if code, _ := pgCode(err); code == pgFKViolation {
				return res, fmt.Errorf("compact %q: %w", id, ErrNotFound)
			}
			return res, fmt.Errorf("compact %q: move the oldest version to %d: %w", id, cut, classify(err))
		}
	}
	// Whatever oldest is now (ours, or a higher one another node set), drop
	// what lies below it.
	if err := s.pool.QueryRow(ctx, `SELECT oldest FROM documents WHERE pk = $1`, pk).Scan(&oldest); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return res, fmt.Errorf("compact %q: %w", id, ErrNotFound)
		}
		return res, fmt.Errorf("compact %q: %w", id, classify(err))
	}
	res.Oldest = oldest
	var low *int64
	if err := s.pool.QueryRow(ctx, `SELECT min(version) FROM ops WHERE doc = $1`, pk).Scan(&low); err != nil {
		return res, fmt.Errorf("compact %q: %w", id, classify(err))
	}
	for low != nil && *low < oldest {
		lo := *low
		hi := min(lo+compactDeleteBatch, oldest)
		tag, err := s.pool.Exec(ctx, `DELETE FROM ops WHERE doc = $1 AND version >= $2 AND version < $3`, pk, lo, hi)
		if err != nil {
			return res, fmt.Errorf("compact %q: delete ops %d..%d: %w", id, lo, hi, classify(err))
		}
		res.DroppedOps += tag.RowsAffected()
		*low = hi
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM snapshots WHERE doc = $1 AND version < $2`, pk, oldest)
	if err != nil {
		return res, fmt.Errorf("compact %q: delete snapshots below %d: %w", id, oldest, classify(err))
	}
	res.DroppedSnapshots = tag.RowsAffected()
	return res, nil
}

// CompactAll implements Compactor. It pages through the documents by pk and
// visits only those holding more than r.MinOps ops.
func (s *PGStore) CompactAll(ctx context.Context, r Retention, now time.Time) (int64, error) {
	if !r.Enabled() {
		return 0, nil
	}
	var total, after int64
	for {
		rows, err := s.pool.Query(ctx, `SELECT pk, id FROM documents WHERE pk > $1 AND version - oldest > $2 ORDER BY pk LIMIT 500`, after, max(r.MinOps, 0))
		if err != nil {
			return total, fmt.Errorf("compact: list documents: %w", classify(err))
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&after, &id); err != nil {
				rows.Close()
				return total, fmt.Errorf("compact: list documents: %w", classify(err))
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("compact: list documents: %w", classify(err))
		}
		if len(ids) == 0 {
			return total, nil
		}
		for _, id := range ids {
			res, err := s.Compact(ctx, id, r, now)
			total += res.DroppedOps
			if err != nil && !isGone(err) {
				return total, err
			}
		}
	}
}
