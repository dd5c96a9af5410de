#!/usr/bin/env bash
# bench/fleet.sh: the fleet scenario of issue 17 (5,000 clients on 2,500
# documents by default) against one tandem node over Postgres, on a database
# emptied before each run, with what the scenario cannot see for itself: the
# load average before and after, the transactions committed in the run's
# database, and the server's commit histograms. (The scenario itself reports
# the CPU of the server, of itself and of every Postgres process.)
#
#   DB=postgres://postgres@127.0.0.1:5432/t_fleet?sslmode=disable RUNS=3 \
#   flock /tmp/tandem-bench.lock bench/fleet.sh [extra tandem-bench flags]
#
# REV=<commit> builds the server from that commit instead of this checkout
# (the load generator always comes from this checkout). The database named
# in DB is dropped and created again before each run.
set -euo pipefail
DB=${DB:-postgres://postgres@127.0.0.1:5432/t_fleet?sslmode=disable}
RUNS=${RUNS:-1}
OUT=${OUT:-/tmp/tandem-fleet-bench}
REV=${REV:-}
ENVS=${ENVS:-} # extra server environment, e.g. "GOGC=200"
mkdir -p "$OUT/bin"
if [ -n "$REV" ]; then
  rm -rf "$OUT/src" && mkdir -p "$OUT/src"
  git archive "$REV" | tar -x -C "$OUT/src"
  (cd "$OUT/src" && go build -o "$OUT/bin/tandem" ./cmd/tandem)
else
  go build -o "$OUT/bin/tandem" ./cmd/tandem
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
  env TANDEM_DATABASE_URL="$DB" TANDEM_ADDR=127.0.0.1:$p TANDEM_REST_RATE=0 TANDEM_LOG_LEVEL=warn $ENVS \
    "$OUT/bin/tandem" >>"$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
  echo "== run $r (load average before: $(cut -d' ' -f1-3 /proc/loadavg)) $(date -u +%H:%M:%S) UTC"
  x0=$(xacts)
  "$OUT/bin/tandem-bench" -scenario fleet -url "ws://127.0.0.1:$p/v1/ws" -server-pid "$PID" -doc "fleet$r" "$@"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "postgres transactions committed in $DBNAME: $(( $(xacts) - x0 ))"
  curl -sf "http://127.0.0.1:$p/metrics" | grep -E '^tandem_commit_(seconds|batch_ops)_(sum|count)|^tandem_commit_seconds_bucket\{le="(0.0016|0.0032|0.0064|0.0128|0.0256|0.0512)"' || true
  cleanup
done
