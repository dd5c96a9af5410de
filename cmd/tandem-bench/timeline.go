package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// The timeline (-timeline) splits an open-loop run's ack and presence
// latencies by the second of the load window in which each op was submitted
// or each caret moved. It tells the two ways a tail forms apart: saturation
// (every second's p99 high, growing as the queue does) and stalls (most
// seconds fast, a few slow ones: a GC cycle, a checkpoint, timers firing
// together), which one p99 over the whole run cannot.

// processStart is about when this process started: the timeline says when
// its window began on the clock of the process's own GC trace.
var processStart = time.Now()

// secondStats is one second of the load window.
type secondStats struct {
	Sec       int     `json:"s"`
	AckN      int     `json:"ack_n"`
	AckP50Ms  float64 `json:"ack_p50_ms"`
	AckP99Ms  float64 `json:"ack_p99_ms"`
	AckMaxMs  float64 `json:"ack_max_ms"`
	PresN     int     `json:"presence_n,omitempty"`
	PresP50Ms float64 `json:"presence_p50_ms,omitempty"`
	PresP99Ms float64 `json:"presence_p99_ms,omitempty"`
	PresMaxMs float64 `json:"presence_max_ms,omitempty"`
}

// timeline gathers the samples by second.
type timeline struct{ ack, pres []latencies }

// add takes one client's samples; the caller holds s.mu.
func (tl *timeline) add(s *clientStats) {
	put := func(to *[]latencies, sec int32, d time.Duration) {
		if sec < 0 || sec > 24*3600 {
			return
		}
		for int(sec) >= len(*to) {
			*to = append(*to, nil)
		}
		(*to)[sec] = append((*to)[sec], d)
	}
	for i, d := range s.ack {
		if i < len(s.ackSec) {
			put(&tl.ack, s.ackSec[i], d)
		}
	}
	for i, d := range s.presence {
		if i < len(s.presSec) {
			put(&tl.pres, s.presSec[i], d)
		}
	}
}

// seconds summarises every second that has samples.
func (tl *timeline) seconds() []secondStats {
	out := make([]secondStats, 0, max(len(tl.ack), len(tl.pres)))
	for sec := range max(len(tl.ack), len(tl.pres)) {
		st := secondStats{Sec: sec}
		if sec < len(tl.ack) && len(tl.ack[sec]) > 0 {
			a := summarize(tl.ack[sec])
			st.AckN, st.AckP50Ms, st.AckP99Ms, st.AckMaxMs = a.n, a.p50, a.p99, a.max
		}
		if sec < len(tl.pres) && len(tl.pres[sec]) > 0 {
			p := summarize(tl.pres[sec])
			st.PresN, st.PresP50Ms, st.PresP99Ms, st.PresMaxMs = p.n, p.p50, p.p99, p.max
		}
		if st.AckN > 0 || st.PresN > 0 {
			out = append(out, st)
		}
	}
	return out
}

// timelineTable prints the timeline, one line a second.
func timelineTable(w io.Writer, secs []secondStats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "second\tacks\tp50 ms\tp99 ms\tmax ms\tmoves seen\tp50 ms\tp99 ms\tmax ms\t")
	for _, s := range secs {
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%.1f\t%.1f\t%.1f\t\n", s.Sec, s.AckN, s.AckP50Ms, s.AckP99Ms, s.AckMaxMs, s.PresN, s.PresP50Ms, s.PresP99Ms, s.PresMaxMs)
	}
	_ = tw.Flush()
}
