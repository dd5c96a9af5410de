package store

import "context"

// Test hooks: methods only the tests of this package use.

// snapshotVersions lists the versions that have a snapshot; nil if id is
// unknown.
func (m *MemStore) snapshotVersions(id string) []int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.docs[id]
	if !ok {
		return nil
	}
	out := make([]int64, len(d.snaps))
	for i, s := range d.snaps {
		out[i] = s.Version
	}
	return out
}

// Append is one AppendOps call of AppendGroup.
type Append struct {
	ID       string
	Expected int64
	Ops      []OpRecord
}

// AppendGroup commits appends as one group of the group committer, whatever
// the timing, and returns each one's AppendOps result.
func (s *PGStore) AppendGroup(ctx context.Context, appends []Append) []error {
	errs := make([]error, len(appends))
	reqs := make([]*appendReq, len(appends))
	var group []*appendReq
	for i, a := range appends {
		reqs[i], errs[i] = prepareAppend(ctx, a.ID, a.Expected, a.Ops)
		if errs[i] == nil {
			group = append(group, reqs[i])
		}
	}
	s.group.commit(group)
	for i, r := range reqs {
		if r != nil {
			errs[i] = s.finishAppend(ctx, r, <-r.done)
		}
	}
	return errs
}

// PoolMaxConns is the size of the store's connection pool.
func (s *PGStore) PoolMaxConns() int32 { return s.pool.Config().MaxConns }

// WithoutCommitters stops the group committer's goroutines and leaves group
// commit on with none running: an append handed to a committer then waits
// until its context ends, so a test sees which appends are sent by their
// callers.
func (s *PGStore) WithoutCommitters() {
	s.group.stop()
	s.group = newGroupCommitter(s.pool, 0)
}
