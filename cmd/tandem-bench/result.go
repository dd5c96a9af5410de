package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// result is what a scenario reports; the JSON line is this struct. Fields a
// scenario does not measure are left out of the line (omitempty) and the table.
type result struct {
	Scenario     string  `json:"scenario"`
	System       string  `json:"system"`
	URL          string  `json:"url"`
	Doc          string  `json:"doc,omitempty"`
	Docs         int     `json:"docs,omitempty"`
	Clients      int     `json:"clients"`
	Rate         float64 `json:"rate_per_client,omitempty"`
	PresenceHz   float64 `json:"presence_hz,omitempty"`
	DurationSec  float64 `json:"duration_s"`
	CommittedOps int64   `json:"committed_ops"`
	// SentOps and MissingAcks (canvas): ops sent in the load window, and ops
	// sent that were still unacknowledged when the run gave up waiting.
	SentOps     int64   `json:"sent_ops,omitempty"`
	MissingAcks int64   `json:"missing_acks,omitempty"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	Offered     float64 `json:"offered_ops_per_sec,omitempty"`

	AckP50Ms float64 `json:"ack_p50_ms"`
	AckP90Ms float64 `json:"ack_p90_ms"`
	AckP95Ms float64 `json:"ack_p95_ms"`
	AckP99Ms float64 `json:"ack_p99_ms"`
	AckMaxMs float64 `json:"ack_max_ms"`

	// Remote apply: a stamped op submitted on one client until it is applied
	// on another (one sample per op and receiving client).
	RemoteSamples int     `json:"remote_samples,omitempty"`
	RemoteP50Ms   float64 `json:"remote_p50_ms,omitempty"`
	RemoteP95Ms   float64 `json:"remote_p95_ms,omitempty"`
	RemoteP99Ms   float64 `json:"remote_p99_ms,omitempty"`
	RemoteMaxMs   float64 `json:"remote_max_ms,omitempty"`

	// Presence: a caret move until another client sees it (one sample per move
	// and receiving client that saw it; moves superseded before delivery are
	// coalesced away, as the protocol allows).
	PresenceSent    int64   `json:"presence_sent,omitempty"`
	PresenceSamples int     `json:"presence_samples,omitempty"`
	PresencePerSec  float64 `json:"presence_delivered_per_sec,omitempty"`
	PresenceP50Ms   float64 `json:"presence_p50_ms,omitempty"`
	PresenceP90Ms   float64 `json:"presence_p90_ms,omitempty"`
	PresenceP95Ms   float64 `json:"presence_p95_ms,omitempty"`
	PresenceP99Ms   float64 `json:"presence_p99_ms,omitempty"`
	PresenceMaxMs   float64 `json:"presence_max_ms,omitempty"`
	SkippedOps      int64   `json:"skipped_ops,omitempty"`
	ClientLagSec    float64 `json:"client_lag_s,omitempty"`
	// EarlyAcks (open-loop scenarios) counts ops whose ack came in before
	// the load generator had recorded them (clientStats.submitAt): measured
	// to their own ack, where they used to wait for the next op's.
	EarlyAcks int64 `json:"early_acks,omitempty"`
	// LoadGenCPUCores is this process's own CPU use: the load generator
	// competes with the server for the same cores.
	LoadGenCPUCores float64 `json:"loadgen_cpu_cores,omitempty"`
	// PostgresCPUCores is the CPU of every postgres process on the machine
	// over the load window (open-loop scenarios run with -server-pid).
	PostgresCPUCores float64 `json:"postgres_cpu_cores,omitempty"`
	Conns            int     `json:"conns,omitempty"`
	SourceIPs        int     `json:"source_ips,omitempty"`
	ConnectAllSec    float64 `json:"connect_all_s,omitempty"`
	ConnectP50Ms     float64 `json:"connect_p50_ms,omitempty"`
	ConnectP99Ms     float64 `json:"connect_p99_ms,omitempty"`
	RSSBeforeBytes   int64   `json:"server_rss_before_bytes,omitempty"`
	RSSPerConnBytes  float64 `json:"server_rss_per_conn_bytes,omitempty"`
	// MillicoresPerClient (fleet): server CPU per connected client, in
	// thousandths of a core.
	MillicoresPerClient float64 `json:"server_millicores_per_client,omitempty"`
	// Targets (fleet): "met", or which targets were missed.
	Targets         string  `json:"targets,omitempty"`
	DocBytes        int     `json:"doc_bytes,omitempty"`
	HistoryOps      int64   `json:"history_ops,omitempty"`
	SnapshotBehind  int     `json:"snapshot_behind_ops,omitempty"`
	JoinObjects     int     `json:"join_objects,omitempty"`
	JoinColdMs      float64 `json:"join_cold_ms,omitempty"`
	JoinColdMaxMs   float64 `json:"join_cold_max_ms,omitempty"`
	JoinWarmP99Ms   float64 `json:"join_warm_p99_ms,omitempty"`
	JoinColdSamples int     `json:"join_cold_samples,omitempty"`
	JoinWarmP50Ms   float64 `json:"join_warm_p50_ms,omitempty"`
	JoinWarmMaxMs   float64 `json:"join_warm_max_ms,omitempty"`
	JoinWarmSamples int     `json:"join_warm_samples,omitempty"`
	*serverUsage
	// Timeline (-timeline): ack and presence latency by the second of the
	// load window the op or move was made in (timeline.go), and when that
	// window began, in seconds since this process started (the "@s" of its
	// GODEBUG=gctrace=1 lines).
	Timeline     []secondStats `json:"timeline,omitempty"`
	LoadStartSec float64       `json:"load_start_s,omitempty"`
	// ServerLoadStartSec is the same moment on the server's clock (-server-pid).
	ServerLoadStartSec float64 `json:"server_load_start_s,omitempty"`

	Errors       int64 `json:"errors"`
	Reconnects   int   `json:"reconnects"`
	FinalVersion int64 `json:"final_version,omitempty"`
	FinalLen     int   `json:"final_len,omitempty"`
	Converged    bool  `json:"converged"`
	Diverged     bool  `json:"diverged,omitempty"`
}

// latencies summarises a latency distribution.
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

// summary is a sorted distribution's quantiles in milliseconds.
type summary struct {
	n                       int
	p50, p90, p95, p99, max float64
}

// summarize sorts l and reads its quantiles.
func summarize(l latencies) summary {
	slices.Sort(l)
	s := summary{n: len(l), p50: ms(l.percentile(0.50)), p90: ms(l.percentile(0.90)),
		p95: ms(l.percentile(0.95)), p99: ms(l.percentile(0.99))}
	if len(l) > 0 {
		s.max = ms(l[len(l)-1])
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *result) setLatencies(l latencies) {
	s := summarize(l)
	r.AckP50Ms, r.AckP90Ms, r.AckP95Ms, r.AckP99Ms, r.AckMaxMs = s.p50, s.p90, s.p95, s.p99, s.max
}

func (r *result) setRemote(l latencies) {
	s := summarize(l)
	r.RemoteSamples = s.n
	r.RemoteP50Ms, r.RemoteP95Ms, r.RemoteP99Ms, r.RemoteMaxMs = s.p50, s.p95, s.p99, s.max
}

func (r *result) setPresence(l latencies) {
	s := summarize(l)
	r.PresenceSamples = s.n
	r.PresenceP50Ms, r.PresenceP90Ms, r.PresenceP95Ms, r.PresenceP99Ms, r.PresenceMaxMs = s.p50, s.p90, s.p95, s.p99, s.max
	if r.DurationSec > 0 {
		r.PresencePerSec = float64(s.n) / r.DurationSec
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (r *result) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s (%s)\n", r.Scenario, r.System)
	fmt.Fprintf(tw, "server\t%s\n", r.URL)
	switch {
	case r.Doc != "":
		fmt.Fprintf(tw, "document\t%s\n", r.Doc)
	case r.Docs > 0:
		fmt.Fprintf(tw, "documents\t%d\n", r.Docs)
	}
	fmt.Fprintf(tw, "clients\t%d\n", r.Clients)
	if r.Rate > 0 {
		fmt.Fprintf(tw, "offered\t%.1f ops/s per client (%.0f ops/s in all)\n", r.Rate, r.Offered)
	}
	if r.PresenceHz > 0 {
		fmt.Fprintf(tw, "caret moves\t%.1f Hz per client\n", r.PresenceHz)
	}
	fmt.Fprintf(tw, "duration\t%.1f s\n", r.DurationSec)
	if r.Scenario != "conns" && r.Scenario != "bigdoc" {
		fmt.Fprintf(tw, "committed ops\t%d (%.0f ops/s)\n", r.CommittedOps, r.OpsPerSec)
		if r.Scenario == "canvas" {
			fmt.Fprintf(tw, "sent / unacknowledged\t%d / %d\n", r.SentOps, r.MissingAcks)
		}
		fmt.Fprintf(tw, "ack latency\tp50 %.2f ms   p90 %.2f ms   p95 %.2f ms   p99 %.2f ms   max %.2f ms\n", r.AckP50Ms, r.AckP90Ms, r.AckP95Ms, r.AckP99Ms, r.AckMaxMs)
	}
	if r.SkippedOps > 0 {
		fmt.Fprintf(tw, "ops not offered\t%d (the client was still busy with the previous one)\n", r.SkippedOps)
	}
	if r.RemoteSamples > 0 {
		fmt.Fprintf(tw, "remote apply\tp50 %.2f ms   p95 %.2f ms   p99 %.2f ms   max %.2f ms   (%d samples)\n", r.RemoteP50Ms, r.RemoteP95Ms, r.RemoteP99Ms, r.RemoteMaxMs, r.RemoteSamples)
	}
	if r.PresenceSent > 0 {
		fmt.Fprintf(tw, "presence\tp50 %.2f ms   p90 %.2f ms   p95 %.2f ms   p99 %.2f ms   max %.2f ms\n", r.PresenceP50Ms, r.PresenceP90Ms, r.PresenceP95Ms, r.PresenceP99Ms, r.PresenceMaxMs)
		fmt.Fprintf(tw, "presence updates\t%d sent, %.0f/s delivered (%d samples)\n", r.PresenceSent, r.PresencePerSec, r.PresenceSamples)
	}
	if r.Conns > 0 {
		fmt.Fprintf(tw, "connections\t%d joined from %d source addresses\n", r.Conns, r.SourceIPs)
		fmt.Fprintf(tw, "connect+join all\t%.2f s (each: p50 %.1f ms, p99 %.1f ms)\n", r.ConnectAllSec, r.ConnectP50Ms, r.ConnectP99Ms)
		if r.serverUsage != nil {
			fmt.Fprintf(tw, "server memory\t%s before, %s after: %.1f KiB per connection\n", mib(r.RSSBeforeBytes), mib(r.RSSBytes), r.RSSPerConnBytes/1024)
		}
	}
	if r.DocBytes > 0 {
		fmt.Fprintf(tw, "document\t%s, %d ops of history (latest snapshot %d ops behind)\n", mib(int64(r.DocBytes)), r.HistoryOps, r.SnapshotBehind)
		fmt.Fprintf(tw, "join, document not loaded\t%.1f ms (median of %d)\n", r.JoinColdMs, r.JoinColdSamples)
		fmt.Fprintf(tw, "join, document loaded\tp50 %.1f ms   max %.1f ms   (%d joins)\n", r.JoinWarmP50Ms, r.JoinWarmMaxMs, r.JoinWarmSamples)
	}
	if r.JoinObjects > 0 {
		fmt.Fprintf(tw, "join, %d objects, not loaded\tp50 %.1f ms   max %.1f ms   (%d documents)\n", r.JoinObjects, r.JoinColdMs, r.JoinColdMaxMs, r.JoinColdSamples)
		fmt.Fprintf(tw, "join, %d objects, loaded, under the drag load\tp50 %.1f ms   p99 %.1f ms   max %.1f ms   (%d joins)\n", r.JoinObjects, r.JoinWarmP50Ms, r.JoinWarmP99Ms, r.JoinWarmMaxMs, r.JoinWarmSamples)
	}
	if u := r.serverUsage; u != nil {
		fmt.Fprintf(tw, "server CPU\t%.2f s (%.2f cores)\n", u.CPUSeconds, u.CPUCores)
		fmt.Fprintf(tw, "server RSS\t%s now, %s peak\n", mib(u.RSSBytes), mib(u.PeakRSSBytes))
	}
	if r.MillicoresPerClient > 0 {
		fmt.Fprintf(tw, "server per client\t%.3f millicores, %.1f KiB (RSS %s before the clients, %s after)\n", r.MillicoresPerClient, r.RSSPerConnBytes/1024, mib(r.RSSBeforeBytes), mib(r.RSSBytes))
	}
	if r.Targets != "" {
		fmt.Fprintf(tw, "targets\t%s\n", r.Targets)
	}
	if r.PostgresCPUCores > 0 {
		fmt.Fprintf(tw, "postgres CPU (all its processes)\t%.2f cores\n", r.PostgresCPUCores)
	}
	if r.LoadGenCPUCores > 0 {
		fmt.Fprintf(tw, "load generator CPU\t%.2f cores\n", r.LoadGenCPUCores)
	}
	if r.ClientLagSec > 0 {
		fmt.Fprintf(tw, "load generator lag\t%.2f s behind schedule at worst (it, not the server, may be the limit)\n", r.ClientLagSec)
	}
	fmt.Fprintf(tw, "errors / reconnects\t%d / %d\n", r.Errors, r.Reconnects)
	if r.Scenario != "conns" && r.Scenario != "bigdoc" {
		conv := "not checked"
		switch {
		case r.Converged && r.Scenario == "canvas":
			conv = fmt.Sprintf("every client at head v%d", r.FinalVersion)
		case r.Converged:
			conv = fmt.Sprintf("yes (v%d, %d code points)", r.FinalVersion, r.FinalLen)
		case r.Diverged:
			conv = "NO"
		}
		fmt.Fprintf(tw, "converged\t%s\n", conv)
	}
	_ = tw.Flush()
	if len(r.Timeline) > 0 {
		fmt.Fprintf(w, "timeline (by the second the op was submitted or the caret moved; second 0 began %.1f s after this process started, %.1f s after the server did):\n", r.LoadStartSec, r.ServerLoadStartSec)
		timelineTable(w, r.Timeline)
	}
}
