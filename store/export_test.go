package store

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
