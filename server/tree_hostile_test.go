package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/tree"
	"github.com/tandem-collab/tandem/wire"
)

// hmp builds MessagePack by hand: bytes as they are, strings as fixstr/str8.
func hmp(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch x := p.(type) {
		case int:
			b = append(b, byte(x))
		case rune:
			b = append(b, byte(x))
		case string:
			if len(x) < 32 {
				b = append(b, 0xa0|byte(len(x)))
			} else {
				b = append(b, 0xd9, byte(len(x)))
			}
			b = append(b, x...)
		case []byte:
			b = append(b, x...)
		default:
			panic(p)
		}
	}
	return b
}

// opFrame is a client "op" message for doc whose "op" (and "sel", when not
// nil) are the raw bytes given.
func opFrame(doc string, v, seq int64, op, sel []byte) []byte {
	n := 5
	if sel != nil {
		n = 6
	}
	b := hmp(0x80|n, "t", "op", "doc", doc, "v", []byte{0xd3, byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)},
		"seq", []byte{0xd3, byte(seq >> 56), byte(seq >> 48), byte(seq >> 40), byte(seq >> 32), byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq)}, "op", op)
	if sel != nil {
		b = append(b, hmp("sel", sel)...)
	}
	return b
}

// storedTree is the content and version of tree document id in st.
func storedTree(t testing.TB, st store.Store, id string) (*tree.Content, int64) {
	t.Helper()
	return collab.StoredTree(t, st, id)
}

// TestTreeHostileOpsThroughServer sends the hostile inputs of text documents
// again as tree ops, over a WebSocket to the real server on Postgres: array
// and map headers claiming 2^31 elements in every place an action has one,
// strings, binaries and extensions claiming 2 GiB, 100,000-deep nesting in a
// value. Each is answered with an error (the connection survives), the
// document is unchanged, and the server allocates for the bytes it got, not
// for what they claim.
func TestTreeHostileOpsThroughServer(t *testing.T) {
	st := pgStore(t)
	collab.CreateTreeDoc(t, st, "board", collab.TreeStart)
	ts := newTestServer(t, st, func(c *Config) { c.OpRate, c.OpBurst = 1e6, 1e6 })
	c := ts.connect(t, sidA)
	if j := c.join("board", nil); j["type"] != tree.Name {
		t.Fatalf("joined %v", j)
	}
	before, v0 := storedTree(t, st, "board")
	claim31 := []byte{0x80, 0, 0, 0}
	nested := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n), 0x01) }
	hostile := []struct {
		name    string
		op, sel []byte
	}{
		{"op array of 2^31", hmp(0xdd, claim31, 0x92, "del", "box"), nil},
		{"action array of 2^31", hmp(0x91, 0xdd, claim31, "del", "box"), nil},
		{"props map of 2^31", hmp(0x91, 0x95, "new", "n1", "", "a5", 0xdf, claim31, "x", 0x01), nil},
		{"value array of 2^31", hmp(0x91, 0x94, "set", "box", "p", 0xdd, claim31, 0x01), nil},
		{"value map of 2^31", hmp(0x91, 0x94, "set", "box", "p", 0xdf, claim31, "k", 0x01), nil},
		{"text op array of 2^31", hmp(0x91, 0x94, "text", "note", "text", 0xdd, claim31, 0x01), nil},
		{"selection of 2^31 ids", hmp(0x91, 0x94, "set", "box", "x", 0x02), hmp(0xdd, claim31, "box")},
		{"2 GiB string value", hmp(0x91, 0x94, "set", "box", "p", 0xdb, claim31, 'x'), nil},
		{"2 GiB id", hmp(0x91, 0x92, "del", 0xdb, claim31, 'x'), nil},
		{"2 GiB binary", hmp(0x91, 0x94, "set", "box", "p", 0xc6, claim31, 'x'), nil},
		{"2 GiB extension", hmp(0x91, 0x94, "set", "box", "p", 0xc9, claim31, 0x01, 'x'), nil},
		{"100,000-deep value", hmp(0x91, 0x94, "set", "box", "p", nested(100_000)), nil},
		{"100,000-deep property of a new", hmp(0x91, 0x95, "new", "n1", "", "a5", 0x81, "x", nested(100_000)), nil},
		{"100,000-deep op", nested(100_000), nil},
		{"100,000-deep maps", append(hmp(0x91, 0x94, "set", "box", "p"), bytes.Repeat(hmp(0x81, "k"), 100_000)...), nil},
	}
	for i, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			seq := int64(i + 1)
			frame := opFrame("board", v0, seq, h.op, h.sel)
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			c.sendRaw(frame)
			e := c.expectSkipping("error", "presence")
			runtime.ReadMemStats(&m1)
			switch e["code"] {
			case wire.CodeInvalidOp, wire.CodeBadRequest, wire.CodeTooLarge:
			default:
				t.Fatalf("answered %v", e)
			}
			// The whole server path (socket, frame decoding, the op's
			// decoding) for a frame of at most 100 KB: a few times its size
			// plus the test's own noise, never the 2 GiB or 2^31 claimed.
			if got, limit := m1.TotalAlloc-m0.TotalAlloc, uint64(4<<20+40*len(frame)); got > limit {
				t.Fatalf("%d bytes allocated for a %d-byte frame (limit %d)", got, len(frame), limit)
			}
		})
	}
	// The connection is still good, and nothing changed.
	if j := c.join("board", nil); j["v"] == nil {
		t.Fatalf("re-join after the hostile ops: %v", j)
	}
	after, v := storedTree(t, st, "board")
	if v != v0 || !bytes.Equal(after.AppendMsgpack(nil), before.AppendMsgpack(nil)) {
		t.Fatalf("hostile ops changed the document: v%d -> v%d", v0, v)
	}
}

// TestTreeCycleOfMovesThroughServer: a cycle made of 10,000 moves, sent as
// one op and as 10,000 pipelined ops against one old version, on a
// 10,000-object document. The one op breaks the depth limit and is refused
// whole; of the 10,000 ops, the server keeps what fits and drops the moves
// that would close the ring or nest too deep. The stored document never
// holds a cycle or an orphan, and the actor stays responsive.
func TestTreeCycleOfMovesThroughServer(t *testing.T) {
	const n = 10_000
	st := pgStore(t)
	var start tree.Op
	for i := range n {
		start = append(start, tree.NewObject(fmt.Sprintf("o%d", i), "", "a0"))
	}
	collab.CreateTreeDoc(t, st, "ring", start)
	ts := newTestServer(t, st, func(c *Config) { c.OpRate, c.OpBurst = 1e6, 1e6 })
	ctx := context.Background()
	ring := func(i int) tree.Action {
		return tree.MoveTo(fmt.Sprintf("o%d", i), fmt.Sprintf("o%d", (i+1)%n), "a0")
	}

	t.Run("one op", func(t *testing.T) {
		var op tree.Op
		for i := range n {
			op = append(op, ring(i))
		}
		began := time.Now()
		_, err := ts.srv.SubmitOp(ctx, "ring", 0, tree.AsOp(op), "ring-one-op-00000000", 1, "u")
		var e *wire.Error
		if !errors.As(err, &e) || (e.Code != wire.CodeInvalidOp && e.Code != wire.CodeTooLarge) {
			t.Fatalf("a ring of %d moves in one op: %v", n, err)
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Fatalf("took %v", d)
		}
		c, v := storedTree(t, st, "ring")
		if v != 0 || c.Len() != n {
			t.Fatalf("the refused op changed the document: v%d, %d objects", v, c.Len())
		}
	})

	t.Run("10,000 ops", func(t *testing.T) {
		_, v0 := storedTree(t, st, "ring")
		var wg sync.WaitGroup
		errs := make(chan error, n)
		began := time.Now()
		// Every op against the same old version, as a client far behind
		// would send them: the last ones move past 9,999 committed ops.
		const writers = 50
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sid := fmt.Sprintf("ring-writer-%08d", w)
				seq := int64(0)
				for i := w; i < n; i += writers {
					seq++
					if _, err := ts.srv.SubmitOp(ctx, "ring", v0, tree.AsOp(tree.Op{ring(i)}), sid, seq, "u"); err != nil {
						errs <- fmt.Errorf("move %d: %w", i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		took := time.Since(began)
		c, v := storedTree(t, st, "ring")
		if v != v0+n {
			t.Fatalf("%d ops committed, want %d", v-v0, n)
		}
		collab.CheckTree(t, "the store", c)
		if c.Len() != n {
			t.Fatalf("%d objects, want %d", c.Len(), n)
		}
		deepest := 0
		c.IDs(func(id string) bool { deepest = max(deepest, c.Depth(id)); return true })
		t.Logf("10,000 ring moves against v%d: committed in %v, deepest object at depth %d", v0, took.Round(time.Millisecond), deepest)
		// Still responsive: an op at the head goes through at once.
		began = time.Now()
		if _, err := ts.srv.SubmitOp(ctx, "ring", v, tree.AsOp(tree.Op{tree.SetProp("o1", "x", tree.MustValue(1))}), "ring-after-00000000", 1, "u"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d > 2*time.Second {
			t.Fatalf("an op at the head took %v after the ring", d)
		}
	})
}

// FuzzTreeOpThroughActor feeds fuzzed op bytes, decoded as the server
// decodes them, to the real actor (memory store) at random old versions:
// nothing panics, every answer is an ack or a protocol error, and the
// document never holds a cycle, an orphan or a duplicate id.
func FuzzTreeOpThroughActor(f *testing.F) {
	seeds := []tree.Op{
		collab.TreeStart,
		{tree.MoveTo("frame", "note", "a0")},
		{tree.MoveTo("note", "", "a3"), tree.MoveTo("frame", "note", "a0")},
		{tree.Delete("frame"), tree.SetProp("note", "x", tree.MustValue(3))},
		{tree.NewObject("n1", "note", "a0"), tree.MoveTo("frame", "n1", "a0")},
		{tree.SetProp("box", "text", tree.StringValue("hi"))},
	}
	for i, op := range seeds {
		b, _ := op.MarshalMsgpack()
		f.Add(b, uint8(i))
	}
	st := store.NewMem(store.MemOptions{})
	collab.CreateTreeDoc(f, st, "fz", collab.TreeStart)
	ts := newTestServer(f, st, func(c *Config) { c.OpRate, c.OpBurst = 1e9, 1e9 })
	typ, err := doctype.Lookup(tree.Name)
	if err != nil {
		f.Fatal(err)
	}
	var seq int64
	f.Fuzz(func(t *testing.T, b []byte, back uint8) {
		op, err := typ.DecodeOp(b)
		if err != nil {
			return
		}
		_, v := collab.StoredTree(t, st, "fz")
		at := max(0, v-int64(back%8))
		seq++
		if _, err := ts.srv.SubmitOp(context.Background(), "fz", at, op, "fuzz-sid-0000000000", seq, "u"); err != nil {
			var e *wire.Error
			if !errors.As(err, &e) || e.Code == wire.CodeInternal {
				t.Fatalf("op %x at v%d: %v", b, at, err)
			}
		}
		c, _ := collab.StoredTree(t, st, "fz")
		collab.CheckTree(t, "the store", c)
	})
}
