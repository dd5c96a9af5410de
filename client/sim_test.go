package client

import (
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"math/rand/v2"
	"testing"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// simServer is a reference server written from docs/protocol.md alone: it
// transforms incoming ops against what was committed since their version,
// deduplicates by (sid, seq), and answers join with the missed ops or, when
// told to, with the whole text. It lets the state machine be tested without a
// socket under any interleaving the test chooses.
type simServer struct {
	t       *testing.T
	text    string
	log     []wire.OpEntry
	clients map[string]*simClient
	// textJoins makes the server answer a join with v by the whole text.
	textJoins func() bool
}

// simClient is one docState with its two message queues.
type simClient struct {
	sid   string
	st    *docState
	up    []wire.Message // client to server, in order
	down  []wire.Message // server to client, in order
	fx    effects
	conn  bool
	acks  []AckInfo
	peers map[string]bool
}

func newSimServer(t *testing.T, text string) *simServer {
	return &simServer{t: t, text: text, clients: map[string]*simClient{}, textJoins: func() bool { return false }}
}

func (s *simServer) addClient(sid string) *simClient {
	c := &simClient{sid: sid, peers: map[string]bool{}}
	c.st = newDocState("doc", sid, 0, func(m wire.Message) {
		if c.conn {
			c.up = append(c.up, m)
		}
	})
	s.clients[sid] = c
	return c
}

// connect starts a session: the client (re-)joins.
func (s *simServer) connect(c *simClient) {
	c.conn = true
	c.up, c.down = nil, nil
	c.st.onSession()
}

// disconnect drops the session and whatever was still queued both ways.
func (s *simServer) disconnect(c *simClient) {
	c.conn = false
	c.up, c.down = nil, nil
	c.st.onDisconnect()
	c.peers = map[string]bool{}
	for _, o := range s.clients {
		delete(o.peers, c.sid)
	}
}

// deliverUp hands the client's oldest message to the server.
func (s *simServer) deliverUp(c *simClient) {
	m := c.up[0]
	c.up = c.up[1:]
	switch m := m.(type) {
	case *wire.Join:
		j := &wire.Joined{Doc: m.Doc, V: int64(len(s.log)), Mode: wire.ModeReadWrite}
		if m.V == nil || s.textJoins() {
			j.Content = textdoc.MustString(s.text)
		} else {
			j.Ops = append([]wire.OpEntry(nil), s.log[*m.V:]...)
		}
		c.peers[c.sid] = true
		c.down = append(c.down, j)
	case *wire.Op:
		for _, e := range s.log {
			if e.SID == c.sid && e.Seq == m.Seq {
				c.down = append(c.down, &wire.Ack{Doc: m.Doc, Seq: m.Seq, V: e.V})
				return
			}
		}
		op := textdoc.Op(m.Op)
		for _, e := range s.log[m.V:] {
			var err error
			op, err = ot.TransformPast(op, c.sid, textdoc.Op(e.Op), e.SID)
			if err != nil {
				s.t.Fatalf("server transform: %v", err)
			}
		}
		text, err := ot.Apply(s.text, op)
		if err != nil {
			c.down = append(c.down, &wire.Error{Code: wire.CodeInvalidOp, Msg: err.Error(), Doc: m.Doc, Seq: m.Seq})
			return
		}
		v := int64(len(s.log))
		s.text = text
		s.log = append(s.log, wire.OpEntry{V: v, Op: op, SID: c.sid, Seq: m.Seq})
		c.down = append(c.down, &wire.Ack{Doc: m.Doc, Seq: m.Seq, V: v})
		for _, o := range s.clients {
			if o != c && o.conn && o.peers[o.sid] {
				o.down = append(o.down, &wire.OpBroadcast{Doc: m.Doc, V: v, Op: op, SID: c.sid, Seq: m.Seq})
			}
		}
	case *wire.Presence:
		for _, o := range s.clients {
			if o != c && o.conn && o.peers[o.sid] {
				o.down = append(o.down, &wire.PresenceMsg{Doc: m.Doc, V: m.V, Peers: []wire.PeerInfo{{SID: c.sid, Sel: m.Sel}}})
			}
		}
	case *wire.Leave:
	default:
		s.t.Fatalf("unexpected client message %T", m)
	}
}

// deliverDown hands the server's oldest message for c to its state machine.
func (s *simServer) deliverDown(c *simClient) {
	m := c.down[0]
	c.down = c.down[1:]
	c.fx = effects{}
	switch m := m.(type) {
	case *wire.Joined:
		c.st.onJoined(m, &c.fx)
	case *wire.Ack:
		c.st.onAck(m.Seq, m.V, &c.fx)
	case *wire.OpBroadcast:
		c.st.onOp(m, &c.fx)
	case *wire.PresenceMsg:
		c.st.onPresence(m, &c.fx)
	case *wire.Error:
		c.st.onError(m, &c.fx)
	}
	c.acks = append(c.acks, c.fx.acks...)
	if c.st.dead != nil {
		s.t.Fatalf("client %s detached: %v", c.sid, c.st.dead)
	}
}

// settle delivers everything until no message is left anywhere.
func (s *simServer) settle() {
	for i := 0; ; i++ {
		if i > 1e6 {
			s.t.Fatal("simulation does not settle")
		}
		moved := false
		for _, c := range s.clients {
			if len(c.up) > 0 {
				s.deliverUp(c)
				moved = true
			}
			if len(c.down) > 0 {
				s.deliverDown(c)
				moved = true
			}
		}
		if !moved {
			return
		}
	}
}

// checkConverged asserts every client shows the server's text, holds its
// version, has nothing pending, and that every (sid, seq) was committed once.
func (s *simServer) checkConverged() {
	s.t.Helper()
	seen := map[string]bool{}
	lastSeq := map[string]int64{}
	for _, e := range s.log {
		k := fmt.Sprintf("%s/%d", e.SID, e.Seq)
		if seen[k] {
			s.t.Fatalf("(sid, seq) %s committed twice", k)
		}
		seen[k] = true
		if e.Seq <= lastSeq[e.SID] {
			s.t.Fatalf("seq of %s not increasing in the log: %d after %d", e.SID, e.Seq, lastSeq[e.SID])
		}
		lastSeq[e.SID] = e.Seq
	}
	for _, c := range s.clients {
		if !c.st.isSynced() {
			s.t.Fatalf("client %s not synced: inflight=%v buffer=%v probe=%v joined=%v rejoining=%v", c.sid, c.st.inflight, c.st.buffer, c.st.probe, c.st.joined, c.st.rejoining)
		}
		if c.st.textString() != s.text || mustString(c.st.baseDoc()) != s.text {
			s.t.Fatalf("client %s diverged:\n client %q\n base   %q\n server %q", c.sid, c.st.textString(), mustString(c.st.baseDoc()), s.text)
		}
		if c.st.version != int64(len(s.log)) {
			s.t.Fatalf("client %s at v%d, server at v%d", c.sid, c.st.version, len(s.log))
		}
	}
}

var alphabet = []string{"a", "b", "c", "é", "ß", "😀", "🎉", "中", "\n", " "}

// randomOp makes a random valid op against text.
func randomOp(r *rand.Rand, text string) ot.Op {
	n := runeLen(text)
	pos := r.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Retain: pos})
	}
	if n-pos > 0 && r.IntN(3) == 0 {
		op = append(op, ot.Component{Delete: 1 + r.IntN(min(4, n-pos))})
		if r.IntN(2) == 0 {
			return op
		}
		if n-pos > 8 {
			op = append(op, ot.Component{Retain: 2})
		}
	}
	s := ""
	for k := 1 + r.IntN(3); k > 0; k-- {
		s += alphabet[r.IntN(len(alphabet))]
	}
	return append(op, ot.Component{Insert: s})
}

func mustString(d *ot.Doc, err error) string {
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return d.String()
}
