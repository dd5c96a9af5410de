#!/usr/bin/env bash
# bench/fleet.sh: the fleet scenario of issue 17 (5,000 clients on 2,500
# documents by default) against one tandem node over Postgres, on a database
# emptied before each run, with what the scenario cannot see for itself: the
# load average before and after, the transactions committed in the run's
# database, the server's commit histograms, and how often it paced a
# connection or closed one as too slow (0 and 0 when the server kept every
# client fed; server/pacing.go). (The scenario itself reports
# the CPU of the server, of itself and of every Postgres process.)
#
#   DB=postgres://postgres@127.0.0.1:5432/t_fleet?sslmode=disable RUNS=3 \
#   flock /tmp/tandem-bench.lock bench/fleet.sh [extra tandem-bench flags]
#
# REV=<commit> builds the server from that commit instead of this checkout
# (the load generator always comes from this checkout). The database named
# in DB is dropped and created again before each run.
#
# PROF=1 runs bench/profserver (the same server plus net/http/pprof; its op
# and presence rate limits are raised) instead of cmd/tandem and writes CPU
# profiles of the server and of the load generator over the load window to
# $OUT/server-<run>.pprof and $OUT/loadgen-<run>.pprof, and the server's
# allocations over the same window to $OUT/server-allocs-<run>.pprof
# (go tool pprof -sample_index=alloc_space). ENVS="GODEBUG=gctrace=1"
# writes the server's GC trace to $OUT/server.log. Extra flags go to
# tandem-bench, e.g. -timeline (latency second by second) or -clients 1000.
set -euo pipefail
DB=${DB:-postgres://postgres@127.0.0.1:5432/t_fleet?sslmode=disable}
RUNS=${RUNS:-1}
OUT=${OUT:-/tmp/tandem-fleet-bench}
REV=${REV:-}
ENVS=${ENVS:-} # extra server environment, e.g. "GOGC=200"
BENCHENV=${BENCHENV:-} # extra load generator environment, e.g. "GOMAXPROCS=1"
PROF=${PROF:-}
PROFFLAGS=${PROFFLAGS:-} # extra bench/profserver flags with PROF=1, e.g. "-committers 2"
SERVER=./cmd/tandem
[ -z "$PROF" ] || SERVER=./bench/profserver
mkdir -p "$OUT/bin"
if [ -n "$REV" ]; then
  rm -rf "$OUT/src" && mkdir -p "$OUT/src"
  git archive "$REV" | tar -x -C "$OUT/src"
  (cd "$OUT/src" && go build -o "$OUT/bin/tandem" "$SERVER")
else
  go build -o "$OUT/bin/tandem" "$SERVER"
fi
go build -o "$OUT/bin/tandem-bench" ./cmd/tandem-bench
ulimit -n 20000

DBNAME=${DB##*/}
DBNAME=${DBNAME%%\?*}
ADMIN=${DB%/*}/postgres?sslmode=disable
PID=""
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; wait 2>/dev/null || true; PID=""; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
xacts() { sleep 1.1; psql "$DB" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }

for r in $(seq "$RUNS"); do
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" -c "CREATE DATABASE $DBNAME"
  p=$(port)
  prof=()
  if [ -n "$PROF" ]; then
    pp=$(port)
    env $ENVS "$OUT/bin/tandem" -addr 127.0.0.1:$p -pprof 127.0.0.1:$pp -database-url "$DB" -rest-rate 0 $PROFFLAGS >>"$OUT/server.log" 2>&1 &
    prof=(-server-pprof "127.0.0.1:$pp" -server-profile "$OUT/server-$r.pprof" -server-allocs "$OUT/server-allocs-$r.pprof" -load-cpuprofile "$OUT/loadgen-$r.pprof")
  else
    env TANDEM_DATABASE_URL="$DB" TANDEM_ADDR=127.0.0.1:$p TANDEM_REST_RATE=0 TANDEM_LOG_LEVEL=warn $ENVS \
      "$OUT/bin/tandem" >>"$OUT/server.log" 2>&1 &
  fi
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
  echo "== run $r, server ${REV:-of this checkout ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo +changes))} $ENVS${BENCHENV:+, load generator $BENCHENV} (load average before: $(cut -d' ' -f1-3 /proc/loadavg)) $(date -u +%H:%M:%S) UTC"
  x0=$(xacts)
  env $BENCHENV "$OUT/bin/tandem-bench" -scenario fleet -url "ws://127.0.0.1:$p/v1/ws" -server-pid "$PID" -doc "fleet$r" "${prof[@]}" "$@"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "postgres transactions committed in $DBNAME: $(( $(xacts) - x0 ))"
  curl -sf "http://127.0.0.1:$p/metrics" | grep -E '^tandem_outbox_paced_total|^tandem_ws_slow_closes_total|^tandem_commit_(seconds|batch_ops)_(sum|count)|^tandem_commit_seconds_bucket\{le="(0.0016|0.0032|0.0064|0.0128|0.0256|0.0512)"' || true
  cleanup
done
