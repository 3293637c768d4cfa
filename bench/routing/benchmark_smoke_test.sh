#!/usr/bin/env bash
# Runs a benchmark binary briefly and checks that every named benchmark produced a result, that
# none reported an error, and that every selection (BM_Select*) allocated nothing. Timings are
# not asserted.
#   $1: the binary; $2: comma-separated benchmark names; further arguments go to the binary.
set -euo pipefail

binary=$1
names=$2
shift 2

status=0
output=$("$binary" --benchmark_min_time=0.01 "$@" 2>&1) || status=$?
echo "$output"
if [ "$status" -ne 0 ]; then
  echo "the benchmark binary exited with status $status" >&2
  exit 1
fi

if grep -q 'ERROR OCCURRED' <<<"$output"; then
  echo "a benchmark reported an error" >&2
  exit 1
fi
for name in ${names//,/ }; do
  if ! grep -q "^${name}[/ ]" <<<"$output"; then
    echo "no result for ${name}" >&2
    exit 1
  fi
done

allocating=$(grep '^BM_Select' <<<"$output" | grep -Ev 'allocs_per_pick=0([^.0-9]|$)' || true)
if [ -n "$allocating" ]; then
  echo "selection allocated:" >&2
  echo "$allocating" >&2
  exit 1
fi
