// Command tandem runs the Tandem collaboration server.
//
//	tandem [serve] [flags]   run the server (the default)
//	tandem token [flags]     mint an access token for local use
//	tandem healthcheck       exit 0 when a running server's /healthz (on TANDEM_ADDR) answers 200
//	tandem version           print the version
//
// Settings come from flags and from TANDEM_* environment variables (a flag
// wins over its variable); `tandem -h` lists them. With no configuration the
// server runs on the in-memory store, open (no auth), and says so.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	// Document types beyond text (which the server links itself).
	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/internal/gcdefaults"
	_ "github.com/tandem-collab/tandem/rich"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/server/demo"
	"github.com/tandem-collab/tandem/server/home"
	"github.com/tandem-collab/tandem/store"
	_ "github.com/tandem-collab/tandem/tree"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "-version", "--version":
			fmt.Fprintln(stdout, versionString())
			return 0
		case "serve":
			args = args[1:]
		case "token":
			return runToken(args[1:], stdout, stderr)
		case "healthcheck":
			return runHealthcheck(args[1:], stdout, stderr)
		}
	}
	// Before parseFlags: the default outbox budget is a share of the
	// memory limit this sets.
	gc := gcdefaults.Apply()
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "tandem:", err)
		return 2
	}
	log, err := newLogger(opts.logLevel, opts.logFormat, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "tandem:", err)
		return 2
	}
	logGC(log, gc)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, opts, log); err != nil {
		log.Error("tandem stopped with an error", "err", err)
		return 1
	}
	return 0
}

// logGC says which collector settings are in effect and where they came from.
func logGC(log *slog.Logger, gc gcdefaults.Applied) {
	gogc, limit := "from GOGC", "from GOMEMLIMIT"
	if gc.GOGC != 0 {
		gogc = strconv.Itoa(gc.GOGC) + " (default; set GOGC to change)"
	}
	if gc.Limit != 0 {
		limit = strconv.FormatInt(gc.Limit>>20, 10) + " MiB (default: 90% of the memory available; set GOMEMLIMIT to change)"
	} else if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		limit = "none (the memory available could not be read)"
	}
	log.Info("garbage collector", "gogc", gogc, "memory_limit", limit)
}

func versionString() string {
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " (" + s.Value[:12] + ")"
			}
		}
	}
	return "tandem " + version + rev
}

// options are the command's settings after flags and environment.
type options struct {
	addr            string
	databaseURL     string
	redisURL        string
	redisPrefix     string
	authSecret      string
	allowedOrigins  string
	trustedProxies  string
	snapshotEvery   int
	retention       store.Retention
	compactEvery    time.Duration
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
	cfg             server.Config
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envParsed is envOr for a typed value; a malformed variable is an error so
// that a typo never silently falls back to the default.
func envParsed[T any](name string, def T, parse func(string) (T, error), errs *[]error) T {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: %w", name, v, err))
		return def
	}
	return x
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var (
		o    options
		errs []error
	)
	d := server.DefaultConfig()
	fs := flag.NewFlagSet("tandem", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tandem [serve] [flags] | tandem token [flags] | tandem healthcheck [-path P | -url URL] | tandem version\n\nEvery flag can also be set by the environment variable shown in brackets.\n\n")
		fs.PrintDefaults()
	}
	atoi := strconv.Atoi
	pf := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	pi64 := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

	fs.StringVar(&o.addr, "addr", envOr("TANDEM_ADDR", ":8080"), "listen address for WebSocket, REST, SSE, demo and metrics [TANDEM_ADDR]")
	fs.StringVar(&o.databaseURL, "database-url", envOr("TANDEM_DATABASE_URL", ""), "Postgres URL; empty means the in-memory store, which is NOT durable [TANDEM_DATABASE_URL]")
	fs.StringVar(&o.redisURL, "redis-url", envOr("TANDEM_REDIS_URL", ""), "Redis URL for the cross-node bus; empty means single node [TANDEM_REDIS_URL]")
	fs.StringVar(&o.redisPrefix, "redis-prefix", envOr("TANDEM_REDIS_PREFIX", "tandem:"), "prefix of the Redis channels, so that deployments can share a Redis [TANDEM_REDIS_PREFIX]")
	fs.StringVar(&o.authSecret, "auth-secret", envOr("TANDEM_AUTH_SECRET", ""), "HS256 secret for tokens; empty means open mode (no auth) [TANDEM_AUTH_SECRET]")
	fs.StringVar(&o.allowedOrigins, "allowed-origins", envOr("TANDEM_ALLOWED_ORIGINS", ""), "comma-separated browser origins allowed on the WebSocket and, by CORS, on the REST API and event streams, * for any; empty means the request's own host [TANDEM_ALLOWED_ORIGINS]")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", envOr("TANDEM_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For the REST rate limit believes; empty ignores the header [TANDEM_TRUSTED_PROXIES]")
	fs.IntVar(&o.snapshotEvery, "snapshot-every", envParsed("TANDEM_SNAPSHOT_EVERY", 0, atoi, &errs), "ops between background snapshots; 0 = store default, <0 = never [TANDEM_SNAPSHOT_EVERY]")
	fs.Func("op-retention", "keep each document's ops this long (30d, 720h), then drop them, keeping a snapshot and the last -op-retention-min-ops; 0 keeps everything (default) [TANDEM_OP_RETENTION]",
		func(s string) (err error) { o.retention.MaxAge, err = store.ParseRetentionAge(s); return err })
	o.retention.MaxAge = envParsed("TANDEM_OP_RETENTION", 0, store.ParseRetentionAge, &errs)
	fs.Int64Var(&o.retention.MinOps, "op-retention-min-ops", envParsed("TANDEM_OP_RETENTION_MIN_OPS", int64(store.DefaultRetentionMinOps), pi64, &errs), "ops of each document kept whatever their age when -op-retention is set [TANDEM_OP_RETENTION_MIN_OPS]")
	fs.DurationVar(&o.compactEvery, "compaction-interval", envParsed("TANDEM_COMPACTION_INTERVAL", store.DefaultCompactEvery, time.ParseDuration, &errs), "how often the background compaction visits every document when -op-retention is set [TANDEM_COMPACTION_INTERVAL]")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", envParsed("TANDEM_SHUTDOWN_TIMEOUT", 30*time.Second, time.ParseDuration, &errs), "how long a graceful shutdown may take [TANDEM_SHUTDOWN_TIMEOUT]")
	fs.StringVar(&o.logLevel, "log-level", envOr("TANDEM_LOG_LEVEL", "info"), "debug, info, warn or error [TANDEM_LOG_LEVEL]")
	fs.StringVar(&o.logFormat, "log-format", envOr("TANDEM_LOG_FORMAT", "text"), "text or json [TANDEM_LOG_FORMAT]")

	c := &o.cfg
	*c = d
	fs.Int64Var(&c.MaxFrameBytes, "max-frame-bytes", envParsed("TANDEM_MAX_FRAME_BYTES", d.MaxFrameBytes, pi64, &errs), "largest client frame; larger closes with 1009 [TANDEM_MAX_FRAME_BYTES]")
	fs.IntVar(&c.MaxDocBytes, "max-doc-bytes", envParsed("TANDEM_MAX_DOC_BYTES", d.MaxDocBytes, atoi, &errs), "largest document text in bytes [TANDEM_MAX_DOC_BYTES]")
	fs.IntVar(&c.MaxOpBytes, "max-op-bytes", envParsed("TANDEM_MAX_OP_BYTES", d.MaxOpBytes, atoi, &errs), "largest op (encoded) [TANDEM_MAX_OP_BYTES]")
	fs.IntVar(&c.MaxDataBytes, "max-data-bytes", envParsed("TANDEM_MAX_DATA_BYTES", d.MaxDataBytes, atoi, &errs), "largest presence data map (encoded) [TANDEM_MAX_DATA_BYTES]")
	fs.Float64Var(&c.OpRate, "op-rate", envParsed("TANDEM_OP_RATE", d.OpRate, pf, &errs), "ops per second per connection [TANDEM_OP_RATE]")
	fs.IntVar(&c.OpBurst, "op-burst", envParsed("TANDEM_OP_BURST", d.OpBurst, atoi, &errs), "op burst per connection [TANDEM_OP_BURST]")
	fs.Float64Var(&c.PresenceRate, "presence-rate", envParsed("TANDEM_PRESENCE_RATE", d.PresenceRate, pf, &errs), "presence updates per second per connection [TANDEM_PRESENCE_RATE]")
	fs.IntVar(&c.PresenceBurst, "presence-burst", envParsed("TANDEM_PRESENCE_BURST", d.PresenceBurst, atoi, &errs), "presence burst per connection [TANDEM_PRESENCE_BURST]")
	fs.IntVar(&c.OpWindow, "op-window", envParsed("TANDEM_OP_WINDOW", d.OpWindow, atoi, &errs), "recent ops kept in memory per open document [TANDEM_OP_WINDOW]")
	fs.DurationVar(&c.OpWindowAge, "op-window-age", envParsed("TANDEM_OP_WINDOW_AGE", d.OpWindowAge, time.ParseDuration, &errs), "also keep in memory the ops committed this long before the newest, so that ops lagging on a busy document need no store read; 0 = count only [TANDEM_OP_WINDOW_AGE]")
	fs.IntVar(&c.OpWindowMax, "op-window-max", envParsed("TANDEM_OP_WINDOW_MAX", d.OpWindowMax, atoi, &errs), "most ops kept for -op-window-age per open document [TANDEM_OP_WINDOW_MAX]")
	fs.IntVar(&c.OpWindowMaxBytes, "op-window-max-bytes", envParsed("TANDEM_OP_WINDOW_MAX_BYTES", d.OpWindowMaxBytes, atoi, &errs), "most bytes of ops kept for -op-window-age per open document; past it only -op-window ops are kept [TANDEM_OP_WINDOW_MAX_BYTES]")
	fs.DurationVar(&c.PresenceInterval, "presence-interval", envParsed("TANDEM_PRESENCE_INTERVAL", d.PresenceInterval, time.ParseDuration, &errs), "presence coalescing interval [TANDEM_PRESENCE_INTERVAL]")
	fs.DurationVar(&c.PresenceTTL, "presence-ttl", envParsed("TANDEM_PRESENCE_TTL", d.PresenceTTL, time.ParseDuration, &errs), "how long the carets of another node's users outlive its last heartbeat; a document's owner lease lasts half of it [TANDEM_PRESENCE_TTL]")
	fs.DurationVar(&c.IdleUnload, "idle-unload", envParsed("TANDEM_IDLE_UNLOAD", d.IdleUnload, time.ParseDuration, &errs), "how long a document with nobody joined stays loaded [TANDEM_IDLE_UNLOAD]")
	fs.DurationVar(&c.PingPeriod, "ping-period", envParsed("TANDEM_PING_PERIOD", d.PingPeriod, time.ParseDuration, &errs), "WebSocket ping period [TANDEM_PING_PERIOD]")
	fs.DurationVar(&c.PongWait, "pong-wait", envParsed("TANDEM_PONG_WAIT", d.PongWait, time.ParseDuration, &errs), "drop a peer silent for this long [TANDEM_PONG_WAIT]")
	fs.Float64Var(&c.RESTRate, "rest-rate", envParsed("TANDEM_REST_RATE", d.RESTRate, pf, &errs), "REST requests per second per token subject (per client address in open mode); 0 = no limit [TANDEM_REST_RATE]")
	fs.IntVar(&c.RESTBurst, "rest-burst", envParsed("TANDEM_REST_BURST", d.RESTBurst, atoi, &errs), "REST request burst per token subject or address [TANDEM_REST_BURST]")
	fs.IntVar(&c.OutboxMaxBytes, "outbox-max-bytes", envParsed("TANDEM_OUTBOX_MAX_BYTES", d.OutboxMaxBytes, atoi, &errs), "bytes queued for one slow connection before it is closed with 1013 [TANDEM_OUTBOX_MAX_BYTES]")
	fs.Int64Var(&c.OutboxBudget, "outbox-budget", envParsed("TANDEM_OUTBOX_BUDGET", d.OutboxBudget, pi64, &errs), "bytes all connections' outboxes may claim together; past it the largest queues are closed with 1013 (default: an eighth of the memory limit: cgroup, RAM or GOMEMLIMIT) [TANDEM_OUTBOX_BUDGET]")
	fs.IntVar(&c.SocketSendBuffer, "socket-sndbuf", envParsed("TANDEM_SOCKET_SNDBUF", d.SocketSendBuffer, atoi, &errs), "kernel send buffer (SO_SNDBUF) of each WebSocket connection in bytes, so that a client that stops reading stops taking data within a few frames; 0 = the kernel's default and autotuning [TANDEM_SOCKET_SNDBUF]")
	fs.IntVar(&c.SocketNotSentLowat, "socket-notsent-lowat", envParsed("TANDEM_SOCKET_NOTSENT_LOWAT", d.SocketNotSentLowat, atoi, &errs), "TCP_NOTSENT_LOWAT of each WebSocket connection in bytes (Linux, macOS); 0 = unset [TANDEM_SOCKET_NOTSENT_LOWAT]")
	fs.BoolVar(&c.OutboxPacing, "outbox-pacing", envParsed("TANDEM_OUTBOX_PACING", d.OutboxPacing, strconv.ParseBool, &errs), "hold frames in a connection's outbox while its client has not taken what the kernel holds for it, instead of filling the kernel's buffers (Linux) [TANDEM_OUTBOX_PACING]")

	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (try tandem -h)", fs.Arg(0))
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	if o.retention.MinOps < 0 || o.compactEvery <= 0 {
		return o, fmt.Errorf("-op-retention-min-ops must be >= 0 and -compaction-interval > 0")
	}
	var err error
	if c.TrustedProxies, err = server.ParseTrustedProxies(o.trustedProxies); err != nil {
		return o, fmt.Errorf("TANDEM_TRUSTED_PROXIES=%q: %w", o.trustedProxies, err)
	}
	for _, origin := range strings.Split(o.allowedOrigins, ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, origin)
		}
	}
	return o, nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// publicURLs are the http and ws base addresses a user on this machine
// reaches the listener at: a wildcard address (":8080", "0.0.0.0", "[::]")
// is shown as localhost.
func publicURLs(addr net.Addr) (string, string) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String(), "ws://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	hp := net.JoinHostPort(host, port)
	return "http://" + hp, "ws://" + hp
}

func openStore(ctx context.Context, o options, log *slog.Logger) (store.Store, error) {
	if o.databaseURL == "" {
		log.Warn("TANDEM_DATABASE_URL is not set: using the in-memory store; every document is LOST when the process stops")
		return store.NewMem(store.MemOptions{SnapshotEvery: o.snapshotEvery, Logger: log, Retention: o.retention, CompactEvery: o.compactEvery}), nil
	}
	st, err := store.OpenPG(ctx, o.databaseURL, store.PGOptions{SnapshotEvery: o.snapshotEvery, Logger: log, Retention: o.retention, CompactEvery: o.compactEvery})
	if err != nil {
		return nil, fmt.Errorf("open Postgres store: %w", err)
	}
	return st, nil
}

func serve(ctx context.Context, o options, log *slog.Logger) error {
	log.Info("starting", "version", versionString())
	if o.authSecret != "" {
		ja, err := auth.NewJWTAuth([]byte(o.authSecret))
		if err != nil {
			return fmt.Errorf("TANDEM_AUTH_SECRET: %w", err)
		}
		o.cfg.Authenticator = ja
		log.Info("token authentication on: every WebSocket, REST and SSE request needs an HS256 token")
	} else {
		log.Warn("no TANDEM_AUTH_SECRET: running OPEN, every client may read, write, create and delete every document")
	}

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := openStore(openCtx, o, log)
	if err != nil {
		cancel()
		return err
	}
	defer st.Close()
	rb, err := openBus(openCtx, o, log)
	cancel()
	if err != nil {
		return err
	}
	if rb != nil {
		// A nil *RedisBus must not become a non-nil Config.Bus.
		defer rb.Close()
		o.cfg.Bus, o.cfg.Leases = rb, rb.Leases()
	}

	srv, err := server.New(o.cfg, st, log)
	if err != nil {
		return err
	}
	// The multiplayer demo page (embedded bundle) at /demo/, and the landing
	// page and documentation at / and /docs/.
	if err := demo.Mount(srv.Mux()); err != nil {
		return fmt.Errorf("demo page: %w", err)
	}
	info := home.Info{Version: versionString(), Open: o.authSecret == "", Store: "Postgres", Durable: true, Demo: true}
	if o.databaseURL == "" {
		info.Store, info.Durable = "in-memory (not durable)", false
	}
	if err := home.Mount(srv.Mux(), info); err != nil {
		return fmt.Errorf("landing page: %w", err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	web, ws := publicURLs(ln.Addr())
	log.Info("open the demo in two browser windows", "url", web+"/demo/")
	log.Info("API and docs", "home", web+"/", "rest", web+"/v1/docs", "websocket", ws+"/v1/ws", "docs", web+"/docs/")

	select {
	case err := <-serveErr:
		_ = srv.Shutdown(context.Background())
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining documents and connections", "timeout", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	errSrv := srv.Shutdown(sctx)
	errHTTP := hs.Shutdown(sctx)
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, err)
	}
	if err := errors.Join(errSrv, errHTTP); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}
