package rich

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The convergence test plays a server and N clients with the OT client state
// machine of the SDKs (one op in flight, later local edits composed into a
// buffer), over FIFO links that deliver at random moments. The server
// transforms each op past everything committed since its base, with ties by
// sid and the incoming op's attributes winning; each client transforms what
// it receives past its in-flight op and buffer the other way round. In the
// end every client's document must equal the server's.

type simMsg struct {
	op  Op
	sid string
	ack bool
}

type simSubmit struct {
	base int
	op   Op
	sid  string
}

type simClient struct {
	sid      string
	doc      *Doc
	v        int // server ops seen, own acknowledged ones included
	inflight Op  // sent, not acknowledged
	buffer   Op  // local edits made while inflight was out
	inbox    []simMsg
}

type simServer struct {
	doc   *Doc
	log   []simMsg
	inbox []simSubmit // in arrival order, FIFO per client
}

func (c *simClient) edit(t *testing.T, r *rand.Rand, srv *simServer) {
	o := randOp(r, c.doc.Len())
	if err := c.doc.Apply(o); err != nil {
		t.Fatalf("%s: local edit %s: %v", c.sid, js(o), err)
	}
	o = o.Normalize()
	if len(o) == 0 {
		return // nothing to send (the SDKs send no empty ops either)
	}
	switch {
	case c.inflight == nil:
		c.inflight = o
		srv.inbox = append(srv.inbox, simSubmit{base: c.v, op: o, sid: c.sid})
	case c.buffer == nil:
		c.buffer = o
	default:
		var err error
		if c.buffer, err = Compose(c.buffer, o); err != nil {
			t.Fatalf("%s: compose buffer: %v", c.sid, err)
		}
	}
}

func (c *simClient) receive(t *testing.T, srv *simServer) {
	m := c.inbox[0]
	c.inbox = c.inbox[1:]
	c.v++
	if m.ack {
		c.inflight, c.buffer = c.buffer, nil
		if c.inflight != nil {
			srv.inbox = append(srv.inbox, simSubmit{base: c.v, op: c.inflight, sid: c.sid})
		}
		return
	}
	o := m.op
	var err error
	for _, pending := range []*Op{&c.inflight, &c.buffer} {
		if *pending == nil {
			continue
		}
		if *pending, o, err = TransformPair(*pending, c.sid, o, m.sid); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.doc.Apply(o); err != nil {
		t.Fatalf("%s: remote op %s: %v", c.sid, js(o), err)
	}
}

func (s *simServer) commit(t *testing.T, clients []*simClient, i int) {
	sub := s.inbox[i]
	s.inbox = append(s.inbox[:i:i], s.inbox[i+1:]...)
	o := sub.op
	for _, past := range s.log[sub.base:] {
		var err error
		if o, err = TransformPast(o, sub.sid, past.op, past.sid); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.doc.Apply(o); err != nil {
		t.Fatalf("server: op from %s at %d: %s: %v", sub.sid, sub.base, js(o), err)
	}
	s.log = append(s.log, simMsg{op: o, sid: sub.sid})
	for _, c := range clients {
		c.inbox = append(c.inbox, simMsg{op: o, sid: sub.sid, ack: c.sid == sub.sid})
	}
}

// nextFrom picks a random pending submission that is the oldest of its
// client's (links are FIFO).
func (s *simServer) nextFrom(r *rand.Rand) int {
	i := r.IntN(len(s.inbox))
	for j := 0; j < i; j++ {
		if s.inbox[j].sid == s.inbox[i].sid {
			return j
		}
	}
	return i
}

func TestPropertyConvergence(t *testing.T) {
	for seed := range uint64(60) {
		r := newRand(100 + seed)
		content := randContent(r, 10)
		srvDoc, err := DocFromDelta(content)
		if err != nil {
			t.Fatal(err)
		}
		srv := &simServer{doc: srvDoc}
		n := 2 + r.IntN(4)
		clients := make([]*simClient, n)
		for i := range clients {
			// Sids that sort in a different order from the clients' indexes,
			// and two clients whose sids share a prefix.
			clients[i] = &simClient{sid: fmt.Sprintf("client-%02d-%x", n-i, seed), doc: srvDoc.Clone()}
		}
		for range 400 {
			switch k := r.IntN(10); {
			case k < 4:
				clients[r.IntN(n)].edit(t, r, srv)
			case k < 7 && len(srv.inbox) > 0:
				srv.commit(t, clients, srv.nextFrom(r))
			default:
				if c := clients[r.IntN(n)]; len(c.inbox) > 0 {
					c.receive(t, srv)
				}
			}
		}
		// Drain: deliver and commit everything.
		for busy := true; busy; {
			busy = false
			for len(srv.inbox) > 0 {
				srv.commit(t, clients, 0)
				busy = true
			}
			for _, c := range clients {
				for len(c.inbox) > 0 {
					c.receive(t, srv)
					busy = true
				}
			}
		}
		want := srv.doc.Delta()
		for _, c := range clients {
			if c.inflight != nil || c.buffer != nil {
				t.Fatalf("seed %d: %s still has pending ops", seed, c.sid)
			}
			if d := diff(c.doc.Delta(), want); d != "" {
				t.Fatalf("seed %d: %s diverged from the server after %d ops: %s", seed, c.sid, len(srv.log), d)
			}
		}
		checkTree(t, srv.doc)
	}
}
