// Command tandem-bench is a load generator for a Tandem server, built on the Go
// client package. Each scenario drives real WebSocket clients and prints one
// JSON line (for scripts) followed by a human-readable table.
//
//	tandem-bench -scenario hot -url ws://127.0.0.1:8080/v1/ws -clients 20 -duration 10s
//
// Scenarios:
//
//   - hot: C clients on one document, each submitting its next op as soon as the
//     previous one is acknowledged: committed ops/s and ack latency.
//   - steady: C clients at R ops/s each over D documents: ack latency and
//     remote-apply latency (an op carries the time it was made, see stamp.go).
//   - presence: C clients on one document moving carets at P Hz plus R ops/s:
//     presence latency, presence updates delivered per second, server CPU.
//   - conns: N joined idle connections from several 127.0.0.x source addresses:
//     server memory per connection, time to connect and join them all.
//   - canvas: C clients (default 50) on one tree document, each creating an
//     object and dragging it with `set` of x and y at R Hz (default 30):
//     every op acknowledged, ack and remote-apply latency, server CPU.
//   - bigdoc: time to join a large document (1 MiB, 100,000 ops of history),
//     first while it is not loaded, then while it is.
//   - fleet: C clients (default 5,000) on D documents (default 2,500), each
//     with R ops/s (default 0.5) and a caret move at P Hz (default 1): ack and
//     presence latency against the targets, server CPU and RSS per
//     client (fleet.go).
//
// Server CPU and memory are read from /proc/<pid> of the server process given
// with -server-pid (the server must run on this machine); without it those
// figures are left out rather than guessed.
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
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"
)

// config is what every scenario gets from the command line.
type config struct {
	// URL is the first node's WebSocket endpoint (REST calls go to its
	// host); URLs every node's, from -url's comma-separated list: client i
	// connects to URLs[i mod len(URLs)] (nodeURL).
	URL         string
	URLs        []string
	Token       string
	Clients     int
	Duration    time.Duration
	Doc         string
	Content     string
	DatabaseURL string
	Seed        uint64
	Verify      bool
	Log         *slog.Logger

	Rate       float64 // steady, presence: ops/s per client
	Docs       int     // steady, conns: documents the clients are spread over
	PresenceHz float64 // presence: caret moves per second per client
	ServerPID  int     // read CPU and memory of this process
	SourceIPs  int     // conns: 127.0.0.1 .. 127.0.0.N as client source addresses
	Parallel   int     // conns: connections being set up at once
	Hold       time.Duration
	BigBytes   int // bigdoc: document size
	BigOps     int // bigdoc: ops of history
	BigBehind  int // bigdoc: ops between the latest snapshot and the head
	BigCold    int // bigdoc: documents built, one cold join each
	Joins      int // bigdoc: warm joins; canvas: joins of the loaded big document
	// JoinObjects (canvas): objects of the tree documents joined cold and
	// loaded; 0 skips the join measurement.
	JoinObjects int
	// Timeline (steady, presence, fleet): also report latency second by
	// second (timeline.go).
	Timeline bool
	// ServerPprof (open-loop scenarios) is the host:port of the server's
	// net/http/pprof (bench/profserver -pprof): a CPU profile of the server
	// over the load window is written to ServerProfile. LoadProfile is a CPU
	// profile of this process over the same window (-cpuprofile covers the
	// whole run, set-up included). ServerAllocs, when set, is where the
	// server's allocations over the window go (a heap profile's alloc_space
	// and alloc_objects).
	ServerPprof   string
	ServerProfile string
	ServerAllocs  string
	LoadProfile   string
}

// nodeURL is the endpoint client i connects to: the nodes in turn.
func (c config) nodeURL(i int) string {
	if len(c.URLs) == 0 {
		return c.URL
	}
	return c.URLs[i%len(c.URLs)]
}

// scenario is one kind of load. New scenarios (steady, presence, conns,
// bigdoc) register themselves in scenarios with the same signature.
type scenario func(ctx context.Context, cfg config) (*result, error)

var scenarios = map[string]scenario{
	"hot":      runHot,
	"steady":   runSteady,
	"presence": runPresence,
	"conns":    runConns,
	"bigdoc":   runBigDoc,
	"canvas":   runCanvas,
}

// scenarioDefaults are flag values a scenario sets for the flags not given
// on the command line (a scenario file fills it in its init).
var scenarioDefaults = map[string]map[string]string{}

// loadGenGOGC is the load generator's GC target unless GOGC is set. Its live
// heap is small (a few MiB for 20 clients) while it allocates for every op
// every client receives, so at Go's default of 100 it collects dozens of times
// a second and spends a quarter of its CPU on it: CPU the server under test
// then lacks on a shared machine. The server keeps the default.
const loadGenGOGC = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(loadGenGOGC)
	}
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
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/v1/ws", "WebSocket endpoint of the server, or a comma-separated list of the endpoints of several nodes (client i on node i mod n)")
	fs.StringVar(&cfg.Token, "token", os.Getenv("TANDEM_TOKEN"), "bearer token (servers started with an auth secret); env TANDEM_TOKEN")
	fs.IntVar(&cfg.Clients, "clients", 20, "number of concurrent clients")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to apply load")
	fs.StringVar(&cfg.Doc, "doc", "", "document id (default: a fresh bench-<time> document)")
	fs.StringVar(&cfg.Content, "content", "", "initial content when the document is created")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "create the document directly in this Postgres (same URL as the server) instead of through POST /v1/docs")
	fs.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "random seed for the generated edits")
	fs.BoolVar(&cfg.Verify, "verify", true, "after the run, check that every client converged to the same text")
	fs.Float64Var(&cfg.Rate, "rate", 5, "steady, presence: ops per second per client")
	fs.IntVar(&cfg.Docs, "docs", 1, "steady: documents the clients are spread over (client i on document i mod docs); conns: likewise")
	fs.Float64Var(&cfg.PresenceHz, "hz", 20, "presence: caret moves per second per client")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "pid of the server process (same machine): CPU seconds and RSS are read from /proc/<pid>")
	fs.IntVar(&cfg.SourceIPs, "source-ips", 8, "conns: spread client sockets over 127.0.0.1 .. 127.0.0.N (each source address has its own ephemeral ports)")
	fs.IntVar(&cfg.Parallel, "parallel", 32, "conns: connections being opened at once")
	fs.DurationVar(&cfg.Hold, "hold", 3*time.Second, "conns: how long to hold the idle connections before reading the server's memory")
	fs.IntVar(&cfg.BigBytes, "doc-bytes", 1<<20, "bigdoc: document size in bytes")
	fs.IntVar(&cfg.BigOps, "history", 100_000, "bigdoc: ops of history")
	fs.IntVar(&cfg.BigBehind, "snapshot-behind", 499, "bigdoc: ops between the latest snapshot and the head (499: worst case of the default snapshot interval)")
	fs.IntVar(&cfg.BigCold, "cold", 3, "bigdoc: documents to build (one join of each while it is not loaded)")
	fs.IntVar(&cfg.Joins, "joins", 10, "bigdoc: joins of the loaded document")
	fs.IntVar(&cfg.JoinObjects, "join-objects", 0, "canvas: also time joins of tree documents of this many objects (-cold documents joined once each before the load, -joins joins of the loaded one during it); 0: no join measurement")
	fs.BoolVar(&cfg.Timeline, "timeline", false, "steady, presence, fleet: also print ack and presence latency second by second (stalls against saturation)")
	fs.StringVar(&cfg.ServerPprof, "server-pprof", "", "steady, presence, fleet: host:port of the server's pprof listener (bench/profserver -pprof); a CPU profile of the load window goes to -server-profile")
	fs.StringVar(&cfg.ServerProfile, "server-profile", "server-cpu.pprof", "where -server-pprof's profile is written")
	fs.StringVar(&cfg.ServerAllocs, "server-allocs", "", "with -server-pprof: also write the server's allocations over the load window (go tool pprof -sample_index=alloc_space) to this file")
	fs.StringVar(&cfg.LoadProfile, "load-cpuprofile", "", "steady, presence, fleet: write a CPU profile of the load generator over the load window only to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load generator itself to this file")
	verbose := fs.Bool("v", false, "log connection events to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "canvas" {
		// The canvas target load unless told otherwise: 50 clients at 30 Hz.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["clients"] {
			cfg.Clients = 50
		}
		if !set["rate"] {
			cfg.Rate = 30
		}
	}
	if defaults := scenarioDefaults[*name]; defaults != nil {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for k, v := range defaults {
			if !set[k] {
				if err := fs.Set(k, v); err != nil {
					return fmt.Errorf("default -%s=%s: %w", k, v, err)
				}
			}
		}
	}
	for _, u := range strings.Split(cfg.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.URLs = append(cfg.URLs, u)
		}
	}
	if len(cfg.URLs) == 0 {
		return errors.New("-url is empty")
	}
	cfg.URL = cfg.URLs[0]
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

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := sc(ctx, cfg)
	if err != nil {
		return fmt.Errorf("scenario %s: %w", *name, err)
	}
	res.Scenario = *name
	res.URL = strings.Join(cfg.URLs, ",")
	res.System = "tandem"
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	fmt.Fprintln(stdout, string(line))
	res.table(stdout)
	if res.MissingAcks > 0 {
		return fmt.Errorf("%d ops sent were never acknowledged", res.MissingAcks)
	}
	if res.Diverged {
		return errors.New("clients did not converge to the same text")
	}
	return nil
}
