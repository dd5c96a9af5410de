// Command tandem-bench is a load generator for a Tandem server, built on the Go
// client package. Each scenario drives real WebSocket clients and prints one
// JSON line (for scripts) followed by a human-readable table.
//
//	tandem-bench -scenario hot -url ws://127.0.0.1:8080/v1/ws -clients 20 -duration 10s
//
// Scenario hot: C clients on one document, each submitting its next op as soon
// as the previous one is acknowledged; it measures committed ops/s on a single
// hot document and the ack latency (submit to ack) distribution.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// config is what every scenario gets from the command line.
type config struct {
	URL         string
	Token       string
	Clients     int
	Duration    time.Duration
	Doc         string
	Content     string
	DatabaseURL string
	Seed        uint64
	Verify      bool
	Log         *slog.Logger
}

// scenario is one kind of load. New scenarios (steady, presence, conns,
// bigdoc) register themselves in scenarios with the same signature.
type scenario func(ctx context.Context, cfg config) (*result, error)

var scenarios = map[string]scenario{
	"hot": runHot,
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tandem-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tandem-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	var cfg config
	name := fs.String("scenario", "hot", "scenario to run: "+strings.Join(names, ", "))
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/v1/ws", "WebSocket endpoint of the server")
	fs.StringVar(&cfg.Token, "token", os.Getenv("TANDEM_TOKEN"), "bearer token (servers started with an auth secret); env TANDEM_TOKEN")
	fs.IntVar(&cfg.Clients, "clients", 20, "number of concurrent clients")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to apply load")
	fs.StringVar(&cfg.Doc, "doc", "", "document id (default: a fresh bench-<time> document)")
	fs.StringVar(&cfg.Content, "content", "", "initial content when the document is created")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "create the document directly in this Postgres (same URL as the server) instead of through POST /v1/docs")
	fs.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "random seed for the generated edits")
	fs.BoolVar(&cfg.Verify, "verify", true, "after the run, check that every client converged to the same text")
	verbose := fs.Bool("v", false, "log connection events to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sc, ok := scenarios[*name]
	if !ok {
		return fmt.Errorf("unknown scenario %q (have %s)", *name, strings.Join(names, ", "))
	}
	if cfg.Clients < 1 || cfg.Duration <= 0 {
		return errors.New("-clients must be >= 1 and -duration > 0")
	}
	if cfg.Doc == "" {
		cfg.Doc = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := sc(ctx, cfg)
	if err != nil {
		return fmt.Errorf("scenario %s: %w", *name, err)
	}
	res.Scenario = *name
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	fmt.Fprintln(stdout, string(line))
	res.table(stdout)
	if res.Diverged {
		return errors.New("clients did not converge to the same text")
	}
	return nil
}
