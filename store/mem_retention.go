package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

var _ Compactor = (*MemStore)(nil)

// Compact implements Compactor. The cutoff's text is replayed outside the
// lock from immutable slices; the swap happens under it, after checking that
// no other compaction moved the floor meanwhile.
func (m *MemStore) Compact(ctx context.Context, id string, r Retention, now time.Time) (CompactResult, error) {
	if err := ctx.Err(); err != nil {
		return CompactResult{}, fmt.Errorf("compact %q: %w", id, err)
	}
	m.mu.RLock()
	d, err := m.live(id)
	if err != nil {
		m.mu.RUnlock()
		return CompactResult{}, fmt.Errorf("compact: %w", err)
	}
	floor, cur, log := d.floor, d.meta.Version, d.log
	m.mu.RUnlock()
	res := CompactResult{Oldest: floor}
	if !r.Enabled() {
		return res, nil
	}
	cut := min(cur-max(r.MinOps, 0), ageCutoff(floor, cur, func(v int64) time.Time { return log.createdAt(int(v - floor)) }, now, r.MaxAge))
	if cut <= floor {
		return res, nil
	}
	snap, err := m.SnapshotAt(ctx, id, cut)
	if err != nil {
		return res, fmt.Errorf("compact %q: text at the cutoff %d: %w", id, cut, err)
	}
	snap.CreatedAt = memNow()

	m.mu.Lock()
	defer m.mu.Unlock()
	if d.deleted || m.closed || d.floor != floor {
		return CompactResult{Oldest: d.floor}, nil // deleted, closed or compacted meanwhile
	}
	dropped := int(cut - floor)
	for i := range dropped {
		if sid := d.log.sid(i); sid != "" {
			d.seqs.remove(sid, d.log.recs[i].seq)
		}
	}
	// A copy, so that the dropped records can be collected; readers that
	// captured the old log keep it intact.
	d.log = d.log.from(dropped)
	d.floor = cut
	i := sort.Search(len(d.snaps), func(i int) bool { return d.snaps[i].Version >= cut })
	kept := []Snapshot{snap}
	for _, s := range d.snaps[i:] {
		if s.Version > cut {
			kept = append(kept, s)
		}
	}
	res = CompactResult{Oldest: cut, DroppedOps: int64(dropped), DroppedSnapshots: int64(i)}
	d.snaps = kept
	return res, nil
}

// CompactAll implements Compactor.
func (m *MemStore) CompactAll(ctx context.Context, r Retention, now time.Time) (int64, error) {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return 0, m.errClosed()
	}
	ids := append([]string(nil), m.ids...)
	m.mu.RUnlock()
	var total int64
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res, err := m.Compact(ctx, id, r, now)
		if err != nil && !isGone(err) {
			return total, err
		}
		total += res.DroppedOps
	}
	return total, nil
}
