package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/internal/testkit"
)

// The Leaser contract suite, against every engine.

func TestLeaserContract(t *testing.T) {
	engines := map[string]func(t *testing.T) bus.Leaser{
		"local": func(*testing.T) bus.Leaser { return bus.NewLocalLeases() },
		"redis": func(t *testing.T) bus.Leaser {
			return openRedisBus(t, testkit.RedisURL(), "tandem-test-"+testkit.RandHex(6)+":").Leases()
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t.Run("OneHolderAtATime", func(t *testing.T) {
				l := open(t)
				const ttl = 300 * time.Millisecond
				a, err := l.Claim(ctx, "d", "A", ttl)
				if err != nil || a.Node != "A" || a.Token <= 0 {
					t.Fatalf("A's claim of a free lease: %+v, %v", a, err)
				}
				b, err := l.Claim(ctx, "d", "B", ttl)
				if err != nil || b != a {
					t.Fatalf("B's claim of A's lease: %+v, %v; want A's %+v", b, err, a)
				}
				if other, err := l.Claim(ctx, "e", "B", ttl); err != nil || other.Node != "B" {
					t.Fatalf("B's claim of another document: %+v, %v", other, err)
				}
				// A extends: same token, still A's past the first ttl.
				time.Sleep(ttl / 2)
				if again, err := l.Claim(ctx, "d", "A", ttl); err != nil || again != a {
					t.Fatalf("A's extension: %+v, %v; want %+v", again, err, a)
				}
				time.Sleep(ttl*2/3 + 10*time.Millisecond)
				if b, err := l.Claim(ctx, "d", "B", ttl); err != nil || b != a {
					t.Fatalf("B's claim of A's extended lease: %+v, %v", b, err)
				}
				// A stops extending: B gets it, with a larger token.
				time.Sleep(ttl + 50*time.Millisecond)
				b, err = l.Claim(ctx, "d", "B", ttl)
				if err != nil || b.Node != "B" || b.Token <= a.Token {
					t.Fatalf("B's claim of an expired lease: %+v, %v; want B with a token above %d", b, err, a.Token)
				}
				// A comes back: it is told B holds it.
				if back, err := l.Claim(ctx, "d", "A", ttl); err != nil || back != b {
					t.Fatalf("A's claim after expiry: %+v, %v; want %+v", back, err, b)
				}
			})
			t.Run("ReleaseOnlyOwn", func(t *testing.T) {
				l := open(t)
				a, _ := l.Claim(ctx, "d", "A", time.Minute)
				if err := l.Release(ctx, "d", "B", a.Token); err != nil {
					t.Fatal(err)
				}
				if err := l.Release(ctx, "d", "A", a.Token-1); err != nil {
					t.Fatal(err)
				}
				if b, _ := l.Claim(ctx, "d", "B", time.Minute); b != a {
					t.Fatalf("a release by another node or token freed the lease: %+v", b)
				}
				if err := l.Release(ctx, "d", "A", a.Token); err != nil {
					t.Fatal(err)
				}
				if b, _ := l.Claim(ctx, "d", "B", time.Minute); b.Node != "B" || b.Token <= a.Token {
					t.Fatalf("after A's release, B's claim: %+v", b)
				}
			})
			t.Run("ConcurrentClaimsOneWinner", func(t *testing.T) {
				l := open(t)
				var wg sync.WaitGroup
				got := make([]bus.Lease, 8)
				for i := range got {
					wg.Go(func() {
						var err error
						if got[i], err = l.Claim(ctx, "race", string(rune('A'+i)), time.Minute); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				for i := range got {
					if got[i] != got[0] {
						t.Fatalf("claims disagree on the holder: %+v", got)
					}
				}
			})
		})
	}
}
