package server

import (
	"testing"
	"unsafe"
)

// TestEventSize keeps an Event within the 160-byte allocation it was cut down
// to: one is allocated per ack, op broadcast and presence flush, and a field
// added for one rare kind belongs behind Join or Fail (docs/benchmarks.md,
// fleet: less garbage per message).
func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(Event{}); n > 160 {
		t.Fatalf("an Event is %d bytes, over 160: put what only a rare kind carries behind a pointer (Join, Fail)", n)
	}
}
