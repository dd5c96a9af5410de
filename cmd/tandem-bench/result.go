package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// result is what a scenario reports; the JSON line is this struct.
type result struct {
	Scenario     string  `json:"scenario"`
	URL          string  `json:"url"`
	Doc          string  `json:"doc"`
	Clients      int     `json:"clients"`
	DurationSec  float64 `json:"duration_s"`
	CommittedOps int64   `json:"committed_ops"`
	OpsPerSec    float64 `json:"ops_per_sec"`
	AckP50Ms     float64 `json:"ack_p50_ms"`
	AckP90Ms     float64 `json:"ack_p90_ms"`
	AckP99Ms     float64 `json:"ack_p99_ms"`
	AckMaxMs     float64 `json:"ack_max_ms"`
	Errors       int64   `json:"errors"`
	Reconnects   int     `json:"reconnects"`
	FinalVersion int64   `json:"final_version"`
	FinalLen     int     `json:"final_len"`
	Converged    bool    `json:"converged"`
	Diverged     bool    `json:"diverged,omitempty"`
}

// latencies summarises ack latencies.
type latencies []time.Duration

// percentile returns the p-quantile (0 < p <= 1) by the nearest-rank method;
// the receiver must be sorted.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	rank := int(p*float64(len(l)) + 0.999999999)
	rank = max(1, min(rank, len(l)))
	return l[rank-1]
}

func (r *result) setLatencies(l latencies) {
	slices.Sort(l)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.AckP50Ms = ms(l.percentile(0.50))
	r.AckP90Ms = ms(l.percentile(0.90))
	r.AckP99Ms = ms(l.percentile(0.99))
	if len(l) > 0 {
		r.AckMaxMs = ms(l[len(l)-1])
	}
}

func (r *result) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", r.Scenario)
	fmt.Fprintf(tw, "server\t%s (doc %s)\n", r.URL, r.Doc)
	fmt.Fprintf(tw, "clients\t%d\n", r.Clients)
	fmt.Fprintf(tw, "duration\t%.1f s\n", r.DurationSec)
	fmt.Fprintf(tw, "committed ops\t%d\n", r.CommittedOps)
	fmt.Fprintf(tw, "throughput\t%.0f ops/s\n", r.OpsPerSec)
	fmt.Fprintf(tw, "ack latency\tp50 %.2f ms   p90 %.2f ms   p99 %.2f ms   max %.2f ms\n", r.AckP50Ms, r.AckP90Ms, r.AckP99Ms, r.AckMaxMs)
	fmt.Fprintf(tw, "errors / reconnects\t%d / %d\n", r.Errors, r.Reconnects)
	conv := "not checked"
	switch {
	case r.Converged:
		conv = fmt.Sprintf("yes (v%d, %d code points)", r.FinalVersion, r.FinalLen)
	case r.Diverged:
		conv = "NO"
	}
	fmt.Fprintf(tw, "converged\t%s\n", conv)
	_ = tw.Flush()
}
