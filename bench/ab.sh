#!/usr/bin/env bash
# ab.sh: the hot, steady50 and presence workloads against two builds of
# Tandem in one run, to tell whether a change costs speed: A is a git ref
# (default main), B the working tree. Each server has a database of its own
# (the builds may differ in schema); both are driven by the same load
# generator (A's), without -database-url (documents are made over REST), so
# that only the server differs. The runs alternate A, B, B, A, ... so that
# the load of a shared machine falls on both alike. Prints one table of
# medians with B/A.
#
#   flock /tmp/tandem-bench.lock bench/ab.sh
#   A=main RUNS=5 DURATION=10s flock /tmp/tandem-bench.lock bench/ab.sh hot presence
#   STORE=mem flock /tmp/tandem-bench.lock bench/ab.sh   # the in-memory store:
#       no fsync, so the server's own CPU path decides (less noise from a
#       shared disk)
#
# This is a benchmark, not a test: it is not part of `make test`.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
A="${A:-main}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
DB_A="${DB_A:-tandem_ab_a}"
DB_B="${DB_B:-tandem_ab_b}"
STORE="${STORE:-pg}"
out="${OUT:-$(mktemp -d /tmp/tandem-ab.XXXXXX)}"
mkdir -p "$out/a" "$out/bin"
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(hot steady50 presence)

echo "building A ($A) and B (the working tree) into $out/bin" >&2
rm -rf "$out/a" && mkdir -p "$out/a"
a_rev="$(git -C "$root" rev-parse --short "$A")" # resolved once: main may move during the run
git -C "$root" archive "$a_rev" | tar -x -C "$out/a"
(cd "$out/a" && go build -o "$out/bin/tandem-a" ./cmd/tandem && go build -o "$out/bin/tandem-bench" ./cmd/tandem-bench)
(cd "$root" && go build -o "$out/bin/tandem-b" ./cmd/tandem)
b_rev="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo +changes)"

if [ "$STORE" = pg ]; then
	for db in "$DB_A" "$DB_B"; do
		psql "$PGURL/postgres" -qtAc "DROP DATABASE IF EXISTS $db" >/dev/null
		psql "$PGURL/postgres" -qtAc "CREATE DATABASE $db" >/dev/null
	done
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$STORE" = pg ]; then
		psql "$PGURL/postgres" -qtAc "DROP DATABASE IF EXISTS $DB_A" >/dev/null 2>&1 || true
		psql "$PGURL/postgres" -qtAc "DROP DATABASE IF EXISTS $DB_B" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

start() { # start NAME PORT DB
	local url=""
	[ "$STORE" = pg ] && url="$PGURL/$3?sslmode=disable"
	TANDEM_DATABASE_URL="$url" TANDEM_ADDR="127.0.0.1:$2" \
		TANDEM_OP_RATE=100000 TANDEM_OP_BURST=100000 TANDEM_LOG_LEVEL=warn \
		"$out/bin/tandem-$1" >"$out/server-$1.log" 2>&1 &
	pids+=("$!")
	eval "pid_$1=$!"
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return
		sleep 0.1
	done
	cat "$out/server-$1.log" >&2
	exit 1
}
start a 18181 "$DB_A"
start b 18182 "$DB_B"

args_for() {
	case "$1" in
	hot) echo "-scenario hot -clients 20" ;;
	steady50) echo "-scenario steady -clients 50 -rate 5 -docs 1" ;;
	presence) echo "-scenario presence -clients 100 -hz 20 -rate 1" ;;
	*) echo "unknown workload $1" >&2; return 1 ;;
	esac
}

results="$out/results.jsonl"
: >"$results"
one() { # one WORKLOAD RUN BUILD
	local port=18181 pid="$pid_a"
	[ "$3" = b ] && port=18182 pid="$pid_b"
	echo "== $1 run $2: $3 (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	# shellcheck disable=SC2046
	"$out/bin/tandem-bench" $(args_for "$1") -duration "$DURATION" -url "ws://127.0.0.1:$port/v1/ws" \
		-doc "ab-$1-$2-$3" -content "hello bench " -server-pid "$pid" >"$out/$1-$2-$3.txt" 2>>"$out/bench.log" ||
		echo "$3 $1 run $2 failed (see $out/bench.log)" >&2
	head -1 "$out/$1-$2-$3.txt" | grep '^{' | sed "s/^{/{\"workload\":\"$1\",\"build\":\"$3\",\"load1\":$(cut -d' ' -f1 /proc/loadavg),/" >>"$results" || true
}
for w in "${workloads[@]}"; do
	for run in $(seq "$RUNS"); do
		if [ $((run % 2)) = 1 ]; then one "$w" "$run" a; one "$w" "$run" b; else one "$w" "$run" b; one "$w" "$run" a; fi
	done
done
echo "raw results: $results" >&2
node "$here/ab-table.js" "$results" "A = $A ($a_rev)" "B = working tree ($b_rev)"
