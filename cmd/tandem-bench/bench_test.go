package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/ot"
)

func TestPercentileNearestRank(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := l.percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (latencies{}).percentile(0.5); got != 0 {
		t.Errorf("empty p50 = %v", got)
	}
}

// TestBenchOpsApply drives a document through many generated edits: each must
// apply to the text it was generated for, and the size bias must keep the
// document bounded.
func TestBenchOpsApply(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := ""
	for i := range 20000 {
		op := benchOp(r, len([]rune(text)))
		next, err := ot.Apply(text, op)
		if err != nil {
			t.Fatalf("op %d %v on %d code points: %v", i, op, len([]rune(text)), err)
		}
		text = next
	}
	if n := len([]rune(text)); n > 2*hotMaxLen {
		t.Fatalf("document grew to %d code points", n)
	}
}
