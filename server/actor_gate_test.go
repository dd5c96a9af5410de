package server

import "testing"

// The ordering rules of actor_gate.go, message by message: what is
// unresolved (the ops in flight or queued, the messages already waiting)
// decides whether the next message is served at once or waits.
func TestOrderGate(t *testing.T) {
	x, y := newCollector(), newCollector()
	type entry struct {
		m   actorMsg
		sid string
	}
	opX := entry{&opMsg{sub: x, sid: "sid-x", seq: 1}, "sid-x"}
	restOp := entry{&opMsg{reply: make(chan opResult, 1), sid: "sid-rest", seq: 1}, "sid-rest"}
	fwdOp := entry{&opMsg{from: "node-b", sid: "sid-far", seq: 1}, "sid-far"}
	v5 := int64(5)
	cases := []struct {
		name       string
		unresolved []entry
		m          entry
		frozen     bool
		ahead      bool
		want       bool // blocks
	}{
		{"presence, nothing unresolved", nil, entry{&presenceMsg{sub: x}, "sid-x"}, true, false, false},
		{"presence of another sender while an op is in flight", []entry{opX}, entry{&presenceMsg{sub: y}, "sid-y"}, true, false, false},
		{"presence behind its own sender's op", []entry{opX}, entry{&presenceMsg{sub: x}, "sid-x"}, true, false, true},
		{"presence behind an op of its sid from another tab", []entry{opX}, entry{&presenceMsg{sub: y}, "sid-x"}, true, false, true},
		{"presence behind its sid's REST op (a session stream)", []entry{restOp}, entry{&presenceMsg{sub: y}, "sid-rest"}, true, false, true},
		{"presence behind its sender's waiting leave", []entry{{&leaveMsg{sub: x}, "sid-x"}}, entry{&presenceMsg{sub: x}, "sid-x"}, false, false, true},
		{"leave behind its sender's op", []entry{opX}, entry{&leaveMsg{sub: x}, "sid-x"}, true, false, true},
		{"leave of another sender", []entry{opX}, entry{&leaveMsg{sub: y}, "sid-y"}, true, false, false},
		{"join of another sid while an op is in flight", []entry{opX}, entry{&joinMsg{sub: y}, "sid-y"}, true, false, false},
		{"join of a tab whose sid has an op in flight", []entry{opX}, entry{&joinMsg{sub: y}, "sid-x"}, true, false, true},
		{"join of a tab whose sid has a forwarded op", []entry{fwdOp}, entry{&joinMsg{sub: y}, "sid-far"}, false, false, true},
		{"join ahead of the node while an append is in flight", nil, entry{&joinMsg{sub: y, v: &v5}, "sid-y"}, true, true, true},
		{"join ahead of the node with nothing in flight", nil, entry{&joinMsg{sub: y, v: &v5}, "sid-y"}, false, true, false},
		{"delete with nothing unresolved", nil, entry{&deleteMsg{}, ""}, false, false, false},
		{"delete while an append is in flight", nil, entry{&deleteMsg{}, ""}, true, false, true},
		{"delete behind a queued REST op", []entry{restOp}, entry{&deleteMsg{}, ""}, false, false, true},
		{"delete behind a forwarded op", []entry{fwdOp}, entry{&deleteMsg{}, ""}, false, false, true},
		{"anything behind a waiting delete", []entry{{&deleteMsg{}, ""}}, entry{&presenceMsg{sub: y}, "sid-y"}, false, false, true},
		{"an op behind a waiting delete", []entry{{&deleteMsg{}, ""}}, entry{&opMsg{sub: y, sid: "sid-y"}, "sid-y"}, false, false, true},
		{"a non-peer subscriber's join", []entry{opX}, entry{&joinMsg{sub: y}, ""}, true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newOrderGate()
			for _, u := range c.unresolved {
				g.add(u.m, u.sid)
			}
			if got := g.blocks(c.m.m, c.m.sid, c.frozen, c.ahead); got != c.want {
				t.Fatalf("blocks = %v, want %v", got, c.want)
			}
			g.reset()
			if g.blocks(c.m.m, c.m.sid, false, false) {
				t.Fatal("blocks after reset with nothing unresolved")
			}
		})
	}
}
