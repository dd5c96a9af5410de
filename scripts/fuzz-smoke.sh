#!/usr/bin/env bash
# fuzz-smoke.sh runs every `func Fuzz...` target in the module for a fixed number of
# executions each (a count: see FUZZTIME in the Makefile for why not a duration).
set -euo pipefail
t=${1:-50000x}
# Each new interesting input is minimized first, for up to 60 s by default;
# on a target whose check is slow for a long input (FuzzAdvanceValid is
# quadratic in it) that stalled the smoke run for a minute at 0 execs/s. A
# short bound keeps the smoke to its count; a failure is still reported (its
# input minimized for as long, then written to testdata/fuzz).
minimize=${FUZZMINIMIZETIME:-5s}
cd "$(dirname "$0")/.."
found=0
while IFS= read -r f; do
  dir=$(dirname "$f")
  for name in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$f" | awk '{print $2}'); do
    found=1
    echo "fuzz: ./$dir $name ($t)"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" -fuzzminimizetime "$minimize" "./$dir"
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' 2>/dev/null || true)
[ "$found" = 1 ] || echo "fuzz: no fuzz targets yet"
