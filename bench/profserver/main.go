// Command profserver is the Tandem server as cmd/tandem builds it (server.New
// on the Postgres or the memory store), plus net/http/pprof on a second
// loopback listener, so that the load scenarios of cmd/tandem-bench can be
// profiled without changing the production binary. It is a benchmarking tool:
// it runs open (no auth) and only listens on loopback.
//
//	go run ./bench/profserver -addr 127.0.0.1:18080 -pprof 127.0.0.1:16060 \
//	    -database-url 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//	go tool pprof -seconds 10 http://127.0.0.1:16060/debug/pprof/profile
//
// With -database-url empty it uses the memory store; documents are then created
// with POST /v1/docs {"id", "content"} (a minimal handler registered only when
// the server does not serve that route itself).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	textdoc "github.com/tandem-collab/tandem/doctype/text"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tandem-collab/tandem/bus"
	"github.com/tandem-collab/tandem/internal/gcdefaults"
	"github.com/tandem-collab/tandem/server"
	"github.com/tandem-collab/tandem/store"
	_ "github.com/tandem-collab/tandem/tree" // tree documents (the canvas scenario)
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "profserver:", err)
		os.Exit(1)
	}
}

func run() error {
	gcdefaults.Apply() // as cmd/tandem does: the profiles are of the server as it runs
	addr := flag.String("addr", "127.0.0.1:18080", "listen address (loopback) for WebSocket and HTTP")
	pprofAddr := flag.String("pprof", "127.0.0.1:16060", "listen address (loopback) for /debug/pprof/")
	dbURL := flag.String("database-url", os.Getenv("TANDEM_DATABASE_URL"), "Postgres URL; empty means the memory store")
	opRate := flag.Float64("op-rate", 1e6, "per-connection op rate (raised so that it does not cap a benchmark)")
	presRate := flag.Float64("presence-rate", 1e6, "per-connection presence rate")
	restRate := flag.Float64("rest-rate", server.DefaultConfig().RESTRate, "REST requests per second per client; 0 turns the limit off (the fleet scenario creates its 2,500 documents over REST)")
	committers := flag.Int("committers", 0, "group-commit goroutines of the Postgres store (store.PGOptions.Committers): 0 store.DefaultCommitters, < 0 off")
	blockRate := flag.Int("block-profile-rate", 0, "runtime.SetBlockProfileRate; 0 leaves it off")
	redisURL := flag.String("redis-url", "", "Redis URL of the cross-node bus and leases (needs -database-url); empty: single node")
	redisPrefix := flag.String("redis-prefix", "tandem:", "prefix of the Redis keys and channels")
	flag.Parse()
	for _, a := range []string{*addr, *pprofAddr} {
		if h, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(h).IsLoopback() {
			return fmt.Errorf("%q: listen on a loopback address only", a)
		}
	}
	if *blockRate > 0 {
		setBlockProfileRate(*blockRate)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var st store.Store
	if *dbURL != "" {
		pg, err := store.OpenPG(ctx, *dbURL, store.PGOptions{Logger: log, Committers: *committers})
		if err != nil {
			return fmt.Errorf("open Postgres: %w", err)
		}
		st = pg
	} else {
		st = store.NewMem(store.MemOptions{Logger: log})
	}
	defer st.Close()

	cfg := server.DefaultConfig()
	if *redisURL != "" {
		if *dbURL == "" {
			return errors.New("-redis-url needs -database-url: the nodes must share one Postgres")
		}
		rb, err := bus.OpenRedis(ctx, *redisURL, bus.RedisOptions{Prefix: *redisPrefix, Logger: log})
		if err != nil {
			return fmt.Errorf("open the Redis bus: %w", err)
		}
		defer rb.Close()
		cfg.Bus, cfg.Leases = rb, rb.Leases()
	}
	cfg.OpRate, cfg.OpBurst = *opRate, int(*opRate)
	cfg.RESTRate = *restRate
	cfg.PresenceRate, cfg.PresenceBurst = *presRate, int(*presRate)
	srv, err := server.New(cfg, st, log)
	if err != nil {
		return err
	}
	registerCreate(srv.Mux(), st)

	pm := http.NewServeMux()
	pm.HandleFunc("/debug/pprof/", pprof.Index)
	pm.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	pm.HandleFunc("/debug/pprof/trace", pprof.Trace)

	hs := &http.Server{Addr: *addr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ps := &http.Server{Addr: *pprofAddr, Handler: pm, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- hs.ListenAndServe() }()
	go func() { errc <- ps.ListenAndServe() }()
	fmt.Fprintf(os.Stderr, "profserver: ws://%s/v1/ws, pprof http://%s/debug/pprof/, pid %d\n", *addr, *pprofAddr, os.Getpid())
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	_ = hs.Shutdown(sctx)
	_ = ps.Shutdown(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// registerCreate adds a minimal POST /v1/docs for the memory store, unless the
// server already serves it (ServeMux panics on a duplicate pattern).
func registerCreate(mux *http.ServeMux, st store.Store) {
	defer func() { _ = recover() }()
	mux.HandleFunc("POST /v1/docs", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ID      string `json:"id"`
			Content string `json:"content"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		content, err := textdoc.FromString(body.Content)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, err = st.CreateDoc(r.Context(), store.NewDocument{ID: body.ID, Type: "text", Content: content})
		switch {
		case errors.Is(err, store.ErrExists):
			w.WriteHeader(http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	})
}
