package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tandem-collab/tandem/bus"
)

// openBus connects to the cross-node bus when TANDEM_REDIS_URL is set (its
// Redis keeps the document leases too). It returns nil (single node) when it
// is not. The caller closes the bus after the server's Shutdown.
func openBus(ctx context.Context, o options, log *slog.Logger) (*bus.RedisBus, error) {
	if o.redisURL == "" {
		log.Info("no TANDEM_REDIS_URL: single node (documents open on this node only hear this node)")
		return nil, nil
	}
	if o.databaseURL == "" {
		// Each node would have a private memory store: their histories would
		// differ and the bus would mix them up.
		return nil, errors.New("TANDEM_REDIS_URL needs TANDEM_DATABASE_URL: the nodes of a deployment must share one Postgres")
	}
	b, err := bus.OpenRedis(ctx, o.redisURL, bus.RedisOptions{Prefix: o.redisPrefix, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open the Redis bus: %w", err)
	}
	log.Info("scale-out bus on Redis: several nodes may serve the same documents, each sequenced by the node holding its lease", "node", b.Node(), "prefix", o.redisPrefix)
	return b, nil
}
