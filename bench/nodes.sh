#!/usr/bin/env bash
# bench/nodes.sh: the hot and steady scenarios on one node, then with the
# same clients spread over three nodes (Redis bus and leases: one owner per
# document), in one run on this machine. Every node, Postgres, Redis and the
# load generator share the machine's cores.
#
#   DB=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
#   REDIS=redis://127.0.0.1:6379/6 flock /tmp/tandem-bench.lock bench/nodes.sh
#
# Prints each run's JSON line and table, with the load average before it, the
# server CPU and the catch-ups from the store (bus gap fills) of all nodes.
# PRESENCE=1 adds a presence run (30 clients moving carets at 10 Hz and
# sending 2 ops/s each) to each set-up. BASE=<another checkout> adds, to each
# round, the three nodes again with that checkout's server (an earlier
# revision side by side, alternating; a directory, or a commit of this
# repository, which is exported and built). ONLY=hot|steady|presence runs
# that scenario alone; SERVER_ENV="VAR=value ..." is added to every node's
# environment.
set -euo pipefail
DB=${DB:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS=${REDIS:-redis://127.0.0.1:6379/0}
DURATION=${DURATION:-10s}
OUT=${OUT:-/tmp/tandem-nodes-bench}
mkdir -p "$OUT/bin"
go build -o "$OUT/bin/tandem" ./cmd/tandem
go build -o "$OUT/bin/tandem-bench" ./cmd/tandem-bench
if [ -n "${BASE:-}" ]; then
  if [ -d "$BASE" ]; then
    (cd "$BASE" && go build -o "$OUT/bin/tandem-base" ./cmd/tandem)
  else
    # A commit of this repository: build it from an export of its tree.
    rm -rf "$OUT/base-src" && mkdir -p "$OUT/base-src"
    git archive "$BASE" | tar -x -C "$OUT/base-src"
    (cd "$OUT/base-src" && go build -o "$OUT/bin/tandem-base" ./cmd/tandem)
  fi
fi
SERVER=$OUT/bin/tandem
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start N [redis]: starts N nodes, sets URLS.
start() {
  local n=$1 redis=${2:-} prefix="bench-nodes-$RANDOM$RANDOM:"
  URLS=""
  PORTS=()
  for _ in $(seq "$n"); do
    local p; p=$(port)
    local envs=(TANDEM_DATABASE_URL="$DB" TANDEM_ADDR=127.0.0.1:$p TANDEM_OP_RATE=100000 TANDEM_OP_BURST=100000 TANDEM_LOG_LEVEL=warn)
    # SERVER_ENV: extra VAR=value settings of every node (space-separated).
    if [ -n "${SERVER_ENV:-}" ]; then read -r -a extra <<<"$SERVER_ENV"; envs+=("${extra[@]}"); fi
    if [ -n "$redis" ]; then envs+=(TANDEM_REDIS_URL="$redis" TANDEM_REDIS_PREFIX="$prefix"); fi
    env "${envs[@]}" "$SERVER" >>"$OUT/server.log" 2>&1 &
    PIDS+=($!)
    local ok=""
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && ok=1 && break; sleep 0.1; done
    [ -n "$ok" ] || { echo "node on port $p did not come up; see $OUT/server.log" >&2; exit 1; }
    URLS="${URLS:+$URLS,}ws://127.0.0.1:$p/v1/ws"
    PORTS+=("$p")
  done
}
stop() { cleanup; PIDS=(); }

# cpu: CPU seconds (user+system) used so far by the running nodes together.
cpu() {
  local t=0
  for p in "${PIDS[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}

# metric NAME: the sum of a counter over the running nodes.
metric() {
  local t=0
  for p in "${PORTS[@]}"; do
    t=$(echo "$t + $(curl -sf "http://127.0.0.1:$p/metrics" | awk -v m="$1" '$1 == m {print $2; f=1} END {if (!f) print 0}')" | bc)
  done
  echo "$t"
}

bench() {
  if [ -n "${ONLY:-}" ] && [ "$2" != "$ONLY" ]; then return; fi
  echo "== $* (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  local c0 g0; c0=$(cpu); g0=$(metric tandem_bus_gap_fills_total)
  "$OUT/bin/tandem-bench" -url "$URLS" -database-url "$DB" -duration "$DURATION" -content "hello bench " "$@"
  echo "server CPU, all nodes together, during the run and its settling: $(echo "$(cpu) - $c0" | bc) s"
  echo "bus gap fills (reads of the store), all nodes: $(echo "$(metric tandem_bus_gap_fills_total) - $g0" | bc)"
}

for round in $(seq "${ROUNDS:-1}"); do
  start 1
  echo "### one node: $URLS"
  bench -scenario hot -clients 20
  bench -scenario steady -clients 50 -rate 5
  if [ "${PRESENCE:-0}" = 1 ] || [ "${ONLY:-}" = presence ]; then bench -scenario presence -clients 30 -rate 2 -hz 10; fi
  stop
  start 3 "$REDIS"
  echo "### three nodes, Redis bus and leases: $URLS"
  bench -scenario hot -clients 20
  bench -scenario steady -clients 50 -rate 5
  if [ "${PRESENCE:-0}" = 1 ] || [ "${ONLY:-}" = presence ]; then bench -scenario presence -clients 30 -rate 2 -hz 10; fi
  stop
  if [ -n "${BASE:-}" ]; then
    SERVER=$OUT/bin/tandem-base
    start 3 "$REDIS"
    echo "### three nodes, the server of $BASE: $URLS"
    bench -scenario hot -clients 20
    bench -scenario steady -clients 50 -rate 5
    if [ "${PRESENCE:-0}" = 1 ] || [ "${ONLY:-}" = presence ]; then bench -scenario presence -clients 30 -rate 2 -hz 10; fi
    stop
    SERVER=$OUT/bin/tandem
  fi
done
