package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/store"
)

// frameSub is a subscriber that encodes every event's frame, as a WebSocket
// receiver does (once per event, shared).
type frameSub struct{ n int }

func (s *frameSub) Deliver(ev *server.Event) bool {
	_, err := ev.Frame()
	s.n++
	return err == nil
}

// BenchmarkHotPath is the server's hot path in one process, on the memory
// store: clients (one goroutine each, like tandem-bench's hot scenario) type
// into one document, each submitting its next op against the version of its
// last ack, so that ops are batched and transformed past the others'; eight
// subscribers get every op's frame. It uses only the public API, so that the
// same file runs against two builds (bench/ab.sh's microbenchmark step).
func BenchmarkHotPath(b *testing.B) {
	ctx := context.Background()
	st := store.NewMem(store.MemOptions{})
	srv, err := server.New(server.DefaultConfig(), st, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(ctx) }()
	if _, err := st.CreateDoc(ctx, store.NewDocument{ID: "hot", Type: "text"}); err != nil {
		b.Fatal(err)
	}
	for range 8 {
		if err := srv.Subscribe(ctx, "hot", &frameSub{}, server.SubscribeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	var client atomic.Int64
	b.SetParallelism(10) // 20 clients on 2 cores, as in the hot scenario
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		sid := fmt.Sprintf("bench-client-%010d", client.Add(1))
		var known, seq int64
		for pb.Next() {
			seq++
			v, err := srv.SubmitOp(ctx, "hot", known, ot.Op{{Insert: "x"}}, sid, seq, "u")
			if err != nil {
				b.Error(err)
				return
			}
			known = v + 1
		}
	})
}
