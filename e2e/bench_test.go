//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/client"

	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
)

// BenchmarkOneDoc: one document edited by 6 writers spread over 1 or 3 real
// nodes (Postgres, Redis). Each writer keeps one op in flight (submit, wait
// for the ack), as a typist does. It reports the commit throughput and the
// remote-apply latency: from a writer's submit to the op being applied by an
// observer client on node 0, counting only writers on other nodes when there
// are several (so every sample crossed Redis). b.N is the total op count:
//
//	go test -tags e2e -run '^$' -bench OneDoc -benchtime 3000x ./e2e/
func BenchmarkOneDoc(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) { benchOneDoc(b, n) })
	}
}

func benchOneDoc(b *testing.B, nodes int) {
	const writers = 6
	c := newCluster(b, testkit.RedisURL(), 3*time.Second)
	ns := c.start(nodes)
	c.createDoc("bench", "")

	var mu sync.Mutex
	submitted := map[int64]time.Time{} // version -> submit time, remote writers only
	seen := map[int64]time.Time{}      // version -> applied by the observer
	observer := collab.Open(b, dial(b, 100, ns[0].wsURL()), "bench", client.OnChange(func(ch client.Change) {
		now := time.Now()
		mu.Lock()
		seen[ch.V] = now
		mu.Unlock()
	}))

	docs := make([]*client.Doc, writers)
	acked := make([]chan client.AckInfo, writers)
	for i := range docs {
		acked[i] = make(chan client.AckInfo, 4)
		ch := acked[i]
		docs[i] = collab.Open(b, dial(b, i, ns[i%nodes].wsURL()), "bench", client.OnAck(func(a client.AckInfo) { ch <- a }))
	}
	per := max(1, b.N/writers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i, d := range docs {
		remote := nodes == 1 || i%nodes != 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < per; k++ {
				t0 := time.Now()
				if err := d.Insert(0, "x"); err != nil {
					errs <- err
					return
				}
				select {
				case a := <-acked[i]:
					if remote {
						mu.Lock()
						submitted[a.V] = t0
						mu.Unlock()
					}
				case <-time.After(30 * time.Second):
					errs <- fmt.Errorf("writer %d: no ack in 30 s", i)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	total := int64(per * writers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := observer.WaitVersion(ctx, total); err != nil {
		b.Fatalf("observer: %v", err)
	}
	mu.Lock()
	var lat []time.Duration
	for v, t0 := range submitted {
		if ts, ok := seen[v]; ok {
			lat = append(lat, ts.Sub(t0))
		}
	}
	mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no latency samples")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(total)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	var conflicts float64
	for _, nd := range ns {
		conflicts += nd.metric("tandem_commit_conflicts_total")
	}
	b.ReportMetric(conflicts/float64(total), "conflicts/op")
}
