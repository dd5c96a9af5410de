#!/usr/bin/env bash
# bench/groupcommit.sh: steady load on one node over Postgres, the server built
# from two revisions side by side (by default the one before group commit in
# store/pg.go and this checkout), alternating, so that both see the same machine.
#
#   BASE=75314bd DB=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
#   flock /tmp/tandem-bench.lock bench/groupcommit.sh
#
# Prints each run's JSON line and table with the load average before it.
set -euo pipefail
DB=${DB:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
BASE=${BASE:-75314bd}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-/tmp/tandem-groupcommit-bench}
rm -rf "$OUT/base" && mkdir -p "$OUT/bin" "$OUT/base"
git archive "$BASE" | tar -x -C "$OUT/base"
(cd "$OUT/base" && go build -o "$OUT/bin/tandem-base" ./cmd/tandem)
go build -o "$OUT/bin/tandem-new" ./cmd/tandem
go build -o "$OUT/bin/tandem-bench" ./cmd/tandem-bench
PID=""
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; wait 2>/dev/null || true; PID=""; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# xacts: transactions committed so far in the database (pg_stat_database; the
# statistics are flushed about once a second, hence the pause).
xacts() { sleep 1.1; psql "$DB" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }

run() { # run BINARY-NAME SCENARIO-ARGS...
  local bin=$1; shift
  local p; p=$(port)
  env TANDEM_DATABASE_URL="$DB" TANDEM_ADDR=127.0.0.1:$p TANDEM_OP_RATE=100000 TANDEM_OP_BURST=100000 TANDEM_LOG_LEVEL=warn \
    "$OUT/bin/tandem-$bin" >>"$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
  echo "== $bin $* (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  local x0; x0=$(xacts)
  "$OUT/bin/tandem-bench" -url "ws://127.0.0.1:$p/v1/ws" -database-url "$DB" -server-pid "$PID" -duration "$DURATION" -content "hello bench " "$@"
  echo "postgres transactions committed in the database during the run: $(( $(xacts) - x0 ))"
  cleanup
}

for _ in $(seq "$ROUNDS"); do
  for bin in base new; do
    run "$bin" -scenario steady -clients 200 -rate 5 -docs 200
    run "$bin" -scenario steady -clients 200 -rate 2 -docs 20
    run "$bin" -scenario steady -clients 50 -rate 5
  done
done
