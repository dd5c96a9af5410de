package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/store"
)

// batchSizeStore is a held store (readCountingStore) that records the
// size of every append.
type batchSizeStore struct {
	*readCountingStore
	mu    sync.Mutex
	sizes []int
}

func (s *batchSizeStore) AppendOps(ctx context.Context, id string, base int64, ops []store.OpRecord) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(ops))
	s.mu.Unlock()
	return s.readCountingStore.AppendOps(ctx, id, base, ops)
}

func (s *batchSizeStore) appends() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sizes)
}

// Ops that reach the actor while an append is in flight wait in its mailbox
// (the actor is not woken for them, post) and go, all of them, into the
// next append, when the one in flight lands: each sender's ops in the order
// sent, each (sid, seq) stored once (a resubmission within them acked at
// the original's version), every op acknowledged once; and a caret move
// that comes meanwhile is still served before the append lands.
func TestActorOpsDuringAppendJoinTheNext(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := &batchSizeStore{readCountingStore: newHeldStore(sc.open(t))}
			createDoc(t, st, "doc", "")
			ts := newTestServer(t, st, func(c *Config) { c.PresenceInterval = 5 * time.Millisecond })
			f := pipelineFixture{ts: ts, st: st.readCountingStore}
			watcher := newCollector()
			f.join(t, watcher, sidWatcher)
			const senders, each = 3, 8
			authors := make([]*collector, senders)
			sids := make([]string, senders)
			for i := range authors {
				authors[i] = newCollector()
				sids[i] = fmt.Sprintf("sid-queued-author-%04d", i)
				f.join(t, authors[i], sids[i])
			}
			st.holding.Store(true)
			f.send(t, &opMsg{sub: authors[0], v: 0, seq: 1, sid: sids[0], userID: "u", op: ins(0, "a")})
			<-st.held // the first append is in flight
			// Interleaved senders, each op made against v1 (the op in
			// flight seen), and sender 1's seq 3 sent twice.
			sent := 1
			for k := range each {
				for i := range senders {
					seq := int64(k + 1)
					if i == 0 {
						seq++ // sender 0's seq 1 is in flight
					}
					f.send(t, &opMsg{sub: authors[i], v: 1, seq: seq, sid: sids[i], userID: "u", op: ins(0, "x")})
					sent++
					if i == 1 && seq == 3 {
						f.send(t, &opMsg{sub: authors[i], v: 1, seq: seq, sid: sids[i], userID: "u", op: ins(0, "x")})
					}
				}
			}
			mover := newCollector()
			f.join(t, mover, sidMover)
			f.send(t, &presenceMsg{sub: mover, v: 0, sel: ot.Selection{{Anchor: 0, Head: 0}}})
			waitEvent(t, watcher, "the mover's caret, with the append in flight", showsCaretOf(sidMover))
			if got := st.appends(); len(got) != 1 {
				t.Fatalf("appends before the release: %v, want only the held one", got)
			}
			st.release <- struct{}{}

			_, ops := watcher.waitOps(t, int64(sent))
			if got := st.appends(); !slices.Equal(got, []int{1, sent - 1}) {
				t.Fatalf("append sizes %v, want [1 %d]: the ops that came during the first went into one more", got, sent-1)
			}
			if text, v := docText(t, st, "doc"); v != int64(sent) || len(text) != sent {
				t.Fatalf("the store has %q at v%d, want %d chars", text, v, sent)
			}
			recs, err := st.ReadOps(context.Background(), "doc", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			next := map[string]int64{}
			for _, r := range recs {
				if r.Seq != next[r.SID]+1 {
					t.Fatalf("v%d: %s seq %d after seq %d", r.Version, r.SID, r.Seq, next[r.SID])
				}
				next[r.SID] = r.Seq
			}
			for i := range ops {
				if ops[i].V != int64(i) {
					t.Fatalf("broadcast %d at v%d", i, ops[i].V)
				}
			}
			for i, c := range authors {
				want := int64(each)
				if i == 0 {
					want++
				}
				if next[sids[i]] != want {
					t.Fatalf("%s: stored up to seq %d, want %d", sids[i], next[sids[i]], want)
				}
				wantAcks := int(want)
				if i == 1 {
					wantAcks++ // the resubmission is acked too
				}
				deadline := time.Now().Add(10 * time.Second)
				for {
					var acks []int64
					for _, ev := range c.snapshot() {
						if ev.Kind == EventAck {
							acks = append(acks, ev.V)
						}
					}
					if len(acks) == wantAcks {
						if i == 1 {
							if acks[3] != acks[2] {
								t.Fatalf("%s: acks %v, want seq 3 and its resubmission at one version", sids[i], acks)
							}
						}
						break
					}
					if len(acks) > wantAcks || time.Now().After(deadline) {
						t.Fatalf("%s: %d acks %v, want %d", sids[i], len(acks), acks, wantAcks)
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
}

// Under a flood of ops while an append is in flight, a mailbox half full
// wakes the actor: the ops move to its queue and senders are not held by a
// full mailbox until the append lands.
func TestActorMailboxHalfFullDuringAppend(t *testing.T) {
	st := newHeldStore(memStore(t))
	createDoc(t, st, "doc", "")
	ts := newTestServer(t, st, func(c *Config) { c.MailboxSize = 8 })
	f := pipelineFixture{ts: ts, st: st}
	author := newCollector()
	f.join(t, author, sidAuthor)
	st.holding.Store(true)
	f.send(t, &opMsg{sub: author, v: 0, seq: 1, sid: sidAuthor, userID: "u", op: ins(0, "a")})
	<-st.held
	const n = 40 // five mailboxes' worth
	sent := make(chan error, 1)
	go func() {
		for seq := int64(2); seq < 2+n; seq++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := ts.srv.hub.send(ctx, "doc", &opMsg{sub: author, v: 1, seq: seq, sid: sidAuthor, userID: "u", op: ins(0, "x")})
			cancel()
			if err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	if err := <-sent; err != nil {
		t.Fatalf("posting ops while the append was held: %v", err)
	}
	st.release <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, v := docText(t, st, "doc"); v == n+1 {
			break
		}
		if time.Now().After(deadline) {
			_, v := docText(t, st, "doc")
			t.Fatalf("the store is at v%d, want v%d", v, n+1)
		}
		time.Sleep(time.Millisecond)
	}
}
