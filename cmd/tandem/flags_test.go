package main

import (
	"io"
	"testing"
	"time"
)

// TestHardeningSettings: the settings of the outbox budget, the REST rate
// limit and the op-log retention, from the environment and from flags, and a
// malformed value refusing to start rather than falling back.
func TestHardeningSettings(t *testing.T) {
	t.Setenv("TANDEM_OUTBOX_BUDGET", "134217728")
	t.Setenv("TANDEM_SOCKET_SNDBUF", "32768")
	t.Setenv("TANDEM_OUTBOX_PACING", "false")
	t.Setenv("TANDEM_REST_RATE", "5")
	t.Setenv("TANDEM_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7")
	t.Setenv("TANDEM_OP_RETENTION", "30d")
	t.Setenv("TANDEM_OP_RETENTION_MIN_OPS", "50")
	o, err := parseFlags([]string{"-rest-burst", "9", "-compaction-interval", "10m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.OutboxBudget != 128<<20 || c.SocketSendBuffer != 32<<10 || c.OutboxPacing || c.RESTRate != 5 || c.RESTBurst != 9 || len(c.TrustedProxies) != 2 ||
		o.retention.MaxAge != 30*24*time.Hour || o.retention.MinOps != 50 || o.compactEvery != 10*time.Minute {
		t.Fatalf("parsed %+v, retention %+v, compaction every %v", c, o.retention, o.compactEvery)
	}
	o, err = parseFlags([]string{"-op-retention", "720h"}, io.Discard)
	if err != nil || o.retention.MaxAge != 720*time.Hour {
		t.Fatalf("-op-retention 720h: %v, %v", o.retention, err)
	}
	for name, val := range map[string]string{
		"TANDEM_OP_RETENTION":         "30 days",
		"TANDEM_TRUSTED_PROXIES":      "10.0.0.0/40",
		"TANDEM_OUTBOX_BUDGET":        "lots",
		"TANDEM_SOCKET_SNDBUF":        "big",
		"TANDEM_OUTBOX_PACING":        "sometimes",
		"TANDEM_OP_RETENTION_MIN_OPS": "-1",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, val)
			if _, err := parseFlags(nil, io.Discard); err == nil {
				t.Fatalf("%s=%q was accepted", name, val)
			}
		})
	}
}
