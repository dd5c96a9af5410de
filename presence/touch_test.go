package presence

import (
	"testing"
	"time"
)

func TestTouchExtendsWithoutChange(t *testing.T) {
	s := NewSet()
	now := time.Now()
	s.Join(Peer{SID: "remote-peer", Node: "n2", Expires: now.Add(time.Second)})
	s.Join(Peer{SID: "other-remote", Node: "n2", Expires: now.Add(time.Second)})
	s.Flush()
	if !s.Touch("remote-peer", now.Add(time.Minute)) {
		t.Fatal("Touch of a known peer reported false")
	}
	if s.Touch("nobody", now) {
		t.Fatal("Touch of an unknown peer reported true")
	}
	if changed, gone := s.Flush(); changed != nil || gone != nil {
		t.Fatalf("Touch marked a change: %v %v", changed, gone)
	}
	dead := s.Expire(now.Add(2 * time.Second))
	if len(dead) != 1 || dead[0] != "other-remote" {
		t.Fatalf("Expire after Touch: %v, want only the untouched peer", dead)
	}
	if _, ok := s.Get("remote-peer"); !ok {
		t.Fatal("the touched peer was expired")
	}
	if _, gone := s.Flush(); len(gone) != 1 {
		t.Fatalf("the expired peer is not reported gone: %v", gone)
	}
}
