package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Retention says which ops of a document's log may be dropped: an op goes
// when it is older than MaxAge AND it is not among the document's last MinOps
// ops. The zero value (MaxAge 0) keeps everything.
//
// Dropping ops never changes a document: compaction first makes sure a
// snapshot exists at the new oldest version, so Load and SnapshotAt of every
// version from it on give the same text as before. What goes is the history
// below it: SnapshotAt and ReadOps of an older version give a *CompactedError,
// and so do exactly-once checks for ops made against it (see Compactor).
type Retention struct {
	// MaxAge is how long an op is kept at least; 0 disables compaction.
	MaxAge time.Duration
	// MinOps is how many of a document's latest ops are kept whatever their age.
	MinOps int64
}

// Enabled reports whether r drops anything at all.
func (r Retention) Enabled() bool { return r.MaxAge > 0 }

// DefaultRetentionMinOps is the default Retention.MinOps: as many ops as the
// server answers a re-join with (MaxJoinOps), so a client that was away for a
// short while still catches up op by op.
const DefaultRetentionMinOps = 1000

// DefaultCompactEvery is how often the background compaction visits every
// document when retention is on.
const DefaultCompactEvery = time.Hour

// compactDeleteBatch is how many op rows one DELETE statement removes, so that
// compacting a long log never holds one huge transaction.
const compactDeleteBatch = 10000

// ErrCompacted: a version below the document's oldest kept version was asked
// for (its ops were dropped by compaction). Use errors.As with
// *CompactedError to read the oldest version still available.
var ErrCompacted = errors.New("history was compacted")

// CompactedError is returned (wrapped) by ReadOps and SnapshotAt for a version
// whose history was dropped. errors.Is(err, ErrCompacted) is true for it.
type CompactedError struct {
	DocID string
	// Asked is the version asked for.
	Asked int64
	// Oldest is the oldest version still available: SnapshotAt(Oldest) and
	// ReadOps(from Oldest) work.
	Oldest int64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("document %q: %v: version %d is gone, the oldest version kept is %d", e.DocID, ErrCompacted, e.Asked, e.Oldest)
}

// Is makes errors.Is(err, ErrCompacted) hold.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// CompactResult says what one compaction of one document did.
type CompactResult struct {
	// Oldest is the document's oldest kept version afterwards.
	Oldest int64
	// DroppedOps is how many op records were deleted.
	DroppedOps int64
	// DroppedSnapshots is how many snapshots below Oldest were deleted.
	DroppedSnapshots int64
}

// Compactor is a store whose op log can be compacted. Both engines implement
// it (the contract suite checks it). Contract:
//
//   - Compact(id, r, now) drops the ops of id that r lets go at time now: those
//     with a version below min(v - r.MinOps, the version of the first op
//     committed at or after now - r.MaxAge), where v is the current version.
//     Before dropping anything it writes a snapshot at that cutoff, which
//     becomes the document's oldest version; snapshots below it are dropped
//     too (each is a whole copy of the text, which is most of what an old
//     history weighs). A disabled r, or a cutoff at or below the current
//     oldest version, changes nothing.
//   - It is safe while other writers append: the cutoff is below the current
//     version, and appends only add versions above it. Load, ReadOps from the
//     oldest version on, SnapshotAt of any version from it on and FindOp of the
//     ops kept answer throughout as before.
//   - After it, ReadOps with from < oldest and SnapshotAt(v < oldest) give a
//     *CompactedError carrying the oldest version.
//   - CompactAll runs Compact on every document and returns how many ops it
//     dropped in all; it stops early when ctx ends.
type Compactor interface {
	Compact(ctx context.Context, id string, r Retention, now time.Time) (CompactResult, error)
	CompactAll(ctx context.Context, r Retention, now time.Time) (int64, error)
}

// ParseRetentionAge parses a retention age: a Go duration ("720h") or a whole
// number of days ("30d"); "0" or "" mean keep everything.
func ParseRetentionAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("retention %q: want a whole number of days (0-36500) like 30d, or a duration like 720h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("retention %q: want a whole number of days like 30d, or a duration like 720h", s)
	}
	return d, nil
}

// ageCutoff is the first version a retention by age keeps, given the versions
// and commit times of the ops from oldest on: the version of the first op
// committed at or after now - maxAge, or end when every op is older.
func ageCutoff(oldest, end int64, at func(v int64) time.Time, now time.Time, maxAge time.Duration) int64 {
	limit := now.Add(-maxAge)
	for v := oldest; v < end; v++ {
		if !at(v).Before(limit) {
			return v
		}
	}
	return end
}

// isGone reports a document deleted while a compaction pass went by.
func isGone(err error) bool { return errors.Is(err, ErrNotFound) }

// compactor runs CompactAll in the background every interval. Like the
// snapshotter it is owned by its engine, started when the engine opens with
// a Retention, and stopped (and waited for) by Close.
type compactor struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newCompactor(log *slog.Logger, c Compactor, r Retention, every time.Duration) *compactor {
	if every <= 0 {
		every = DefaultCompactEvery
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &compactor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			// A pass right away: a node that restarts often still compacts.
			t0 := time.Now()
			n, err := c.CompactAll(ctx, r, t0)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("store: op-log compaction failed; the next pass retries", "err", err)
			case n > 0:
				log.Info("store: op-log compaction", "dropped_ops", n, "took", time.Since(t0).Round(time.Millisecond))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return k
}

// stop ends the goroutine and waits for it; a pass in progress is abandoned
// between two statements, which loses nothing (each step is consistent).
func (k *compactor) stop() {
	if k == nil {
		return
	}
	k.cancel()
	<-k.done
}
