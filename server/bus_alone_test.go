package server

import (
	"testing"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// TestAloneNodePublishesNothing: without a configured bus no other node can
// hear this one, so commits, presence and deletions encode and publish
// nothing; with a bus (even an in-process one) the same traffic is published.
func TestAloneNodePublishesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tweak   func(*Config)
		publish bool
	}{
		{name: "no bus configured", publish: false},
		{name: "bus configured", tweak: func(c *Config) {
			b := bus.NewLocalBus()
			t.Cleanup(func() { _ = b.Close() })
			c.Bus = b
		}, publish: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memStore(t)
			createDoc(t, st, "d1", "hello")
			ts := newTestServer(t, st, tc.tweak)
			a := ts.connect(t, sidA)
			a.join("d1", nil)
			a.send(&wire.Op{Doc: "d1", V: 0, Seq: 1, Op: ins(5, "!"), Sel: ot.Selection{{Anchor: 6, Head: 6}}})
			a.expectSkipping("ack", "presence")
			a.send(&wire.Presence{Doc: "d1", V: 1, Sel: ot.Selection{{Anchor: 1, Head: 1}}})
			a.expectSkipping("presence")
			if err := ts.srv.DeleteDoc(t.Context(), "d1"); err != nil {
				t.Fatalf("DeleteDoc: %v", err)
			}
			a.expectError(wire.CodeDeleted)
			got := counterValue(t, ts.srv.bus.published) + counterValue(t, ts.srv.bus.dropped)
			if tc.publish && got == 0 {
				t.Fatal("a node with a bus published nothing")
			}
			if !tc.publish && got != 0 {
				t.Fatalf("a node alone published or tried to publish %v bus messages", got)
			}
		})
	}
}
