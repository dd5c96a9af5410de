#!/usr/bin/env bash
# compare.sh: the hot, steady and presence workloads against Tandem and against
# ShareDB 7 (sharedb-postgres, ot-text-unicode) on the same Postgres, on this
# machine, then one side-by-side table of medians with the ratio Tandem/ShareDB.
#
#   bench/compare.sh                      # every workload, 3 runs each, 10 s per run
#   RUNS=5 DURATION=20s bench/compare.sh hot steady50
#   OUT=/tmp/cmp NO_BUILD=1 bench/compare.sh   # reuse $OUT/bin/{tandem,tandem-bench}
#
# Workloads (the ones issue 8 sets targets for):
#   hot         20 closed-loop clients on one document
#   steady50    50 clients x 5 ops/s on one document
#   steady200   200 clients x 2 ops/s over 20 documents
#   presence    100 clients moving carets at 20 Hz plus 1 op/s each, one document
#
# This is a benchmark, not a test: it is not part of `make test`. Both servers
# run on loopback ports; both load generators run here too, sharing the
# machine's cores with the servers (docs/benchmarks.md says what that means).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
DB="${TANDEM_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
TANDEM_PORT="${TANDEM_PORT:-18080}"
SHAREDB_PORT="${SHAREDB_PORT:-18090}"
out="${OUT:-$(mktemp -d /tmp/tandem-compare.XXXXXX)}"
mkdir -p "$out/bin"
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(hot steady50 steady200 presence)

if [ -n "${NO_BUILD:-}" ] && [ -x "$out/bin/tandem" ] && [ -x "$out/bin/tandem-bench" ]; then
	echo "using the binaries already in $out/bin (NO_BUILD)" >&2
else
	echo "building into $out/bin" >&2
	(cd "$root" && go build -o "$out/bin/tandem" ./cmd/tandem && go build -o "$out/bin/tandem-bench" ./cmd/tandem-bench)
fi
if [ ! -d "$here/sharedb/node_modules" ]; then
	(cd "$here/sharedb" && npm ci --no-audit --no-fund >&2)
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

TANDEM_DATABASE_URL="$DB" TANDEM_ADDR="127.0.0.1:$TANDEM_PORT" \
	TANDEM_OP_RATE=100000 TANDEM_OP_BURST=100000 TANDEM_LOG_LEVEL=warn \
	"$out/bin/tandem" >"$out/tandem-server.log" 2>&1 &
tpid=$!
pids+=("$tpid")
(cd "$here/sharedb" && exec node server.js --addr "127.0.0.1:$SHAREDB_PORT" --database-url "$DB") >"$out/sharedb-server.log" 2>&1 &
spid=$!
pids+=("$spid")
for _ in $(seq 100); do
	if curl -fs "http://127.0.0.1:$TANDEM_PORT/healthz" >/dev/null 2>&1 && grep -q listening "$out/sharedb-server.log"; then break; fi
	sleep 0.1
done
grep -q listening "$out/sharedb-server.log" || { cat "$out/sharedb-server.log" >&2; exit 1; }
curl -fs "http://127.0.0.1:$TANDEM_PORT/healthz" >/dev/null || { cat "$out/tandem-server.log" >&2; exit 1; }

# args_for WORKLOAD prints the flags both load generators take for it.
args_for() {
	case "$1" in
	hot) echo "--scenario hot --clients 20" ;;
	steady50) echo "--scenario steady --clients 50 --rate 5 --docs 1" ;;
	steady200) echo "--scenario steady --clients 200 --rate 2 --docs 20" ;;
	presence) echo "--scenario presence --clients 100 --hz 20 --rate 1" ;;
	*) echo "unknown workload $1" >&2; return 1 ;;
	esac
}

results="$out/results.jsonl"
: >"$results"
for w in "${workloads[@]}"; do
	a="$(args_for "$w")"
	for run in $(seq "$RUNS"); do
		echo "== $w run $run/$RUNS: tandem" >&2
		one="$out/$w-$run-tandem.txt"
		# shellcheck disable=SC2086
		"$out/bin/tandem-bench" $a -duration "$DURATION" -url "ws://127.0.0.1:$TANDEM_PORT/v1/ws" \
			-content "hello bench " -database-url "$DB" -server-pid "$tpid" >"$one" 2>>"$out/tandem-bench.log" ||
			echo "tandem $w run $run failed (see $out/tandem-bench.log)" >&2
		head -1 "$one" | grep '^{' | sed "s/^{/{\"workload\":\"$w\",/" >>"$results" || true
		echo "== $w run $run/$RUNS: sharedb" >&2
		one="$out/$w-$run-sharedb.txt"
		# shellcheck disable=SC2086
		(cd "$here/sharedb" && node driver.js $a --duration "$DURATION" --url "ws://127.0.0.1:$SHAREDB_PORT" \
			--content "hello bench " --server-pid "$spid") >"$one" 2>>"$out/sharedb-driver.log" ||
			echo "sharedb $w run $run failed (see $out/sharedb-driver.log)" >&2
		head -1 "$one" | grep '^{' | sed "s/^{/{\"workload\":\"$w\",/" >>"$results" || true
		if ! kill -0 "$spid" 2>/dev/null || ! kill -0 "$tpid" 2>/dev/null; then
			echo "a server died; see $out/*-server.log" >&2
			exit 1
		fi
	done
done
echo "raw results: $results" >&2
node "$here/compare-table.js" "$results"
