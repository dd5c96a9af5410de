package presence

import "time"

// Touch extends the life of a peer relayed from another node (its node's
// heartbeat said it is still there) without marking it changed: receivers
// already hold it, so a refresh is no news to them. It reports false when sid
// is unknown.
func (s *Set) Touch(sid string, expires time.Time) bool {
	i, ok := s.index[sid]
	if !ok {
		return false
	}
	s.list[i].Expires = expires
	return true
}
