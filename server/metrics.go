package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are registered on a registry of their own per Server, so that tests
// can run many servers in one process.
type metrics struct {
	reg *prometheus.Registry

	connections    prometheus.Gauge
	joined         prometheus.Gauge
	actors         prometheus.Gauge
	opsCommitted   prometheus.Counter
	batchSize      prometheus.Histogram
	commitLatency  prometheus.Histogram
	conflicts      prometheus.Counter
	messagesSent   prometheus.Counter
	coalesced      prometheus.Counter
	slowCloses     prometheus.Counter
	errors         *prometheus.CounterVec
	panics         prometheus.Counter
	presenceFlushs prometheus.Counter
	restLimited    prometheus.Counter
	budgetCloses   prometheus.Counter
	paced          prometheus.Counter
	tokens         *prometheus.CounterVec
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tandem_ws_connections", Help: "Open WebSocket connections.",
		}),
		joined: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tandem_joined_documents", Help: "Document subscriptions (a connection joined to a document counts once).",
		}),
		actors: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tandem_loaded_documents", Help: "Document actors currently loaded.",
		}),
		opsCommitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_ops_committed_total", Help: "Ops committed to the store by this node.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tandem_commit_batch_ops", Help: "Ops per store append.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tandem_commit_seconds", Help: "Store append latency per batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_commit_conflicts_total", Help: "Appends that lost a version race to another writer.",
		}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_ws_frames_sent_total", Help: "WebSocket frames written to clients.",
		}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_ws_coalesced_frames_total", Help: "Array frames that carried several queued messages.",
		}),
		slowCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_ws_slow_closes_total", Help: "Connections closed (1013) because they could not keep up.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_errors_total", Help: "Error messages sent to clients, by protocol code.",
		}, []string{"code"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_recovered_panics_total", Help: "Panics recovered in message handlers (each closed its connection).",
		}),
		presenceFlushs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_presence_messages_total", Help: "Coalesced presence messages broadcast.",
		}),
		budgetCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_outbox_budget_closes_total", Help: "Connections closed (1013) because all outboxes together reached the budget (also counted in tandem_ws_slow_closes_total).",
		}),
		paced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_outbox_paced_total", Help: "Times a connection's frames were held in its outbox because its client had not taken what the kernel held for it (TANDEM_OUTBOX_PACING, pacing.go).",
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_token_events_total", Help: "Tokens of live connections: expired (the connection was ended), renewed (auth accepted), refused (auth refused).",
		}, []string{"event"}),
		restLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_rest_rate_limited_total", Help: "REST requests answered 429 by the per-client rate limit.",
		}),
	}
	reg.MustRegister(m.connections, m.joined, m.actors, m.opsCommitted, m.batchSize,
		m.commitLatency, m.conflicts, m.messagesSent, m.coalesced, m.slowCloses, m.errors,
		m.panics, m.presenceFlushs, m.restLimited, m.budgetCloses, m.paced, m.tokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watchBudget exports the outbox budget and what is claimed of it.
func (m *metrics) watchBudget(b *outboxBudget) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tandem_outbox_bytes", Help: "Bytes claimed by all WebSocket outboxes together: queued, or handed to a writer and not yet written.",
		}, func() float64 { return float64(b.used.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tandem_outbox_budget_bytes", Help: "The outbox budget (TANDEM_OUTBOX_BUDGET).",
		}, func() float64 { return float64(b.limit) }),
	)
}
