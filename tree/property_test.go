package tree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

// simServer is the server's side of the protocol for one document, as the
// document actor does it: transform an op past everything committed since
// its version, apply, append to the log, answer.
type simServer struct {
	content *Content
	log     []simCommit
	// What happened, to show the simulation exercised the rules.
	actions, dropped, transformedText int
}

type simCommit struct {
	op      Op
	sid     string
	removed []string
}

// submit commits op made at version v by sid and returns its version.
func (s *simServer) submit(t testing.TB, op Op, v int64, sid string) int64 {
	t.Helper()
	b, _ := op.MarshalMsgpack() // over the wire and back, as the server gets it
	op, err := DecodeOp(b, s.content.Limits())
	if err != nil {
		t.Fatalf("server: decode op of %s: %v", sid, err)
	}
	since := make([]Since, 0, len(s.log)-int(v))
	for _, c := range s.log[v:] {
		since = append(since, Since{c.op, c.removed})
	}
	if err := CheckBase(op, s.content, since); err != nil {
		t.Fatalf("server: op of %s at %d: %v", sid, v, err)
	}
	checkTransformAll(t, op, sid, s.log[v:])
	for _, c := range s.log[v:] {
		before := mustJSON(op)
		if op, err = Transform(op, c.op, sid, c.sid); err != nil {
			t.Fatalf("server: transform: %v", err)
		}
		if !bytes.Equal(before, mustJSON(op)) {
			s.transformedText++
		}
	}
	applied, removed, err := s.content.ApplyRemoved(op)
	if err != nil {
		t.Fatalf("server: apply op of %s at %d (now %d): %v\nop %s", sid, v, len(s.log), err, mustJSON(op))
	}
	s.log = append(s.log, simCommit{applied, sid, removed})
	s.actions += len(applied)
	s.dropped += len(op) - len(applied)
	checkInvariants(t, s.content)
	return int64(len(s.log) - 1)
}

// simClient is one client: a Replica and its two network queues.
type simClient struct {
	sid    string
	r      *Replica
	inbox  []simMsg // from the server, in order
	outbox []simSubmit
	next   int // counter for new ids
}

type simMsg struct {
	ack bool
	v   int64
	op  Op
	sid string
}

type simSubmit struct {
	op Op
	v  int64
}

// TestConvergence runs clients making random actions (creates, sets and text
// edits of shared properties, moves into each other's subtrees, deletes of
// ancestors) through a simulated server with random delays, and checks that
// every replica ends with the server's content, which never holds a cycle,
// an orphan or a duplicate id (checkInvariants after every commit).
func TestConvergence(t *testing.T) {
	seeds := 40
	if n, err := strconv.Atoi(os.Getenv("TREE_SIM_SEEDS")); err == nil {
		seeds = n
	}
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runSimulation(t, uint64(seed), 2+seed%4, 1000) })
	}
}

func runSimulation(t *testing.T, seed uint64, nClients, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x7ee))
	lim := Limits{MaxDepth: 8, MaxObjects: 400}
	srv := &simServer{content: NewContent(lim)}
	// A few shared objects everyone starts with.
	start := Op{
		NewObject("frame", "", "a0", Prop{"text", StringValue("hello")}),
		NewObject("note", "frame", "a0", Prop{"text", StringValue("shared note")}),
		NewObject("box", "", "a1", Prop{"x", MustValue(1)}),
	}
	if _, err := srv.content.Apply(start); err != nil {
		t.Fatal(err)
	}
	clients := make([]*simClient, nClients)
	for i := range clients {
		sid := fmt.Sprintf("client%d-%012d", i, seed)
		clients[i] = &simClient{sid: sid, r: NewReplica(sid, srv.content, 0)}
	}
	deliver := func(c *simClient) {
		m := c.inbox[0]
		c.inbox = c.inbox[1:]
		if m.ack {
			if _, err := c.r.Ack(m.v); err != nil {
				t.Fatalf("%s: ack %d: %v", c.sid, m.v, err)
			}
			return
		}
		if err := c.r.Remote(m.op, m.sid, m.v); err != nil {
			t.Fatalf("%s: remote %d: %v", c.sid, m.v, err)
		}
	}
	serve := func(c *simClient) {
		s := c.outbox[0]
		c.outbox = c.outbox[1:]
		v := srv.submit(t, s.op, s.v, c.sid)
		for _, o := range clients {
			if o == c {
				o.inbox = append(o.inbox, simMsg{ack: true, v: v})
			} else {
				// Over the wire: what a client gets is the decoded op.
				b, _ := srv.log[v].op.MarshalMsgpack()
				op, err := DecodeOp(b, lim)
				if err != nil {
					t.Fatalf("decode broadcast op %d: %v", v, err)
				}
				o.inbox = append(o.inbox, simMsg{v: v, op: op, sid: c.sid})
			}
		}
	}
	flush := func(c *simClient) {
		if op, v, ok := c.r.Flush(); ok {
			c.outbox = append(c.outbox, simSubmit{op, v})
		}
	}
	for range steps {
		c := clients[rng.IntN(len(clients))]
		switch r := rng.IntN(20); {
		case r < 7:
			op := randomOp(rng, c, lim)
			if _, err := c.r.Local(op); err != nil && KindOf(err) != KindLimit {
				t.Fatalf("%s: local op %s: %v", c.sid, mustJSON(op), err)
			}
		case r < 11:
			flush(c)
		case r < 15 && len(c.outbox) > 0:
			serve(c)
		case len(c.inbox) > 0:
			deliver(c)
		}
		if rng.IntN(20) == 0 {
			checkInvariants(t, c.r.view)
		}
	}
	// Quiesce: send everything, deliver everything.
	for busy := true; busy; {
		busy = false
		for _, c := range clients {
			flush(c)
			for len(c.outbox) > 0 {
				serve(c)
				busy = true
			}
		}
		for _, c := range clients {
			for len(c.inbox) > 0 {
				deliver(c)
				busy = true
			}
		}
	}
	want, _ := srv.content.MarshalMsgpack()
	for _, c := range clients {
		if c.r.Pending() {
			t.Fatalf("%s still has pending actions", c.sid)
		}
		got, _ := c.r.View().MarshalMsgpack()
		base, _ := c.r.Base().MarshalMsgpack()
		if !bytes.Equal(got, want) || !bytes.Equal(base, want) {
			gj, _ := c.r.View().MarshalJSON()
			wj, _ := srv.content.MarshalJSON()
			t.Fatalf("%s diverged:\n got %s\nwant %s", c.sid, gj, wj)
		}
		checkInvariants(t, c.r.view)
	}
	if srv.actions < steps/8 {
		t.Fatalf("only %d actions committed", srv.actions)
	}
	t.Logf("%d ops, %d actions committed, %d dropped, %d ops changed by transform; %d objects at the end",
		len(srv.log), srv.actions, srv.dropped, srv.transformedText, srv.content.Len())
}

// randomOp makes one to three actions against the client's current view.
func randomOp(rng *rand.Rand, c *simClient, lim Limits) Op {
	view := c.r.View()
	var ids []string
	view.IDs(func(id string) bool { ids = append(ids, id); return true })
	pick := func() string {
		if len(ids) == 0 {
			return "frame"
		}
		return ids[rng.IntN(len(ids))]
	}
	var op Op
	for range 1 + rng.IntN(3) {
		n := len(op)
		switch r := rng.IntN(100); {
		case r < 15 || len(ids) < 3:
			parent := ""
			if len(ids) > 0 && rng.IntN(3) > 0 {
				parent = pick()
			}
			key, err := view.KeyAt(parent, rng.IntN(len(view.Children(parent))+1))
			if err != nil {
				key = "a0"
			}
			c.next++
			id := fmt.Sprintf("%s.%d", c.sid[:7], c.next)
			props := []Prop{{"x", MustValue(rng.IntN(100))}}
			if rng.IntN(2) == 0 {
				props = append(props, Prop{"text", StringValue("abc")})
			}
			op = append(op, NewObject(id, parent, key, props...))
		case r < 35:
			// Concurrent sets of a few shared properties.
			names := []string{"x", "y", "color", "text"}
			var v Value
			switch rng.IntN(4) {
			case 0:
				v = nil
			case 1:
				v = StringValue(fmt.Sprintf("s%d", rng.IntN(10)))
			default:
				v = MustValue(rng.IntN(1000))
			}
			op = append(op, SetProp(pick(), names[rng.IntN(len(names))], v))
		case r < 65:
			// Text edits, mostly of the shared note.
			id := "note"
			if rng.IntN(3) == 0 {
				id = pick()
			}
			if s, ok := view.Prop(id, "text"); ok {
				if str, ok := s.Str(); ok {
					op = append(op, EditText(id, "text", randomTextOp(rng, []rune(str))))
				}
			}
		case r < 92:
			// Moves, often under another client's objects or into a
			// subtree (which may make a cycle with someone else's move).
			id, parent := pick(), ""
			if rng.IntN(4) > 0 {
				parent = pick()
			}
			key, err := view.KeyAt(parent, rng.IntN(len(view.Children(parent))+1))
			if err != nil {
				continue
			}
			op = append(op, MoveTo(id, parent, key))
		default:
			// Deletes, favouring objects with children (ancestors).
			id := pick()
			if o, ok := view.Get(id); ok && o.Parent != "" && rng.IntN(2) == 0 {
				id = o.Parent
			}
			if (id == "frame" || id == "note") && rng.IntN(10) > 0 {
				continue // keep the shared note alive a while
			}
			op = append(op, Delete(id))
		}
		// Later actions of the op see the earlier ones.
		if len(op) == n {
			continue
		}
		if _, err := view.Apply(op[n:]); err != nil {
			op = op[:len(op)-1]
		}
	}
	return op
}

// randomTextOp makes a valid edit of s: a retain, a delete and/or insert.
func randomTextOp(rng *rand.Rand, s []rune) ot.Op {
	pos := rng.IntN(len(s) + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	if rng.IntN(2) == 0 {
		op = append(op, ot.Component{Insert: string(rune('A' + rng.IntN(26)))})
	}
	if rest := len(s) - pos; rest > 0 && rng.IntN(3) == 0 {
		op = append(op, ot.Component{Delete: 1 + rng.IntN(min(rest, 3))})
	}
	if len(op) == 0 || slices.IndexFunc(op, func(c ot.Component) bool { return c.Retain == 0 }) < 0 {
		op = append(op, ot.Component{Insert: "z"})
	}
	return op.Normalize()
}
