#!/usr/bin/env bash
# Runs the routing-parser benchmark briefly: every benchmark must run, and the compact parser must
# report zero allocations per parse. No timing is asserted.
set -euo pipefail

output=$("$1" --benchmark_min_time=0.01 2>&1)
echo "$output"

compact=$(grep -c '^BM_RoutingParseCompact/' <<<"$output" || true)
baseline=$(grep -c '^BM_RoutingParseBaseline/' <<<"$output" || true)
if [ "$compact" -ne 11 ] || [ "$baseline" -ne 11 ]; then
  echo "expected 11 compact and 11 baseline results, got $compact and $baseline" >&2
  exit 1
fi

# The counter works: the baseline, which builds strings, is seen allocating.
if grep '^BM_RoutingParseBaseline/' <<<"$output" | grep -Eq 'allocs_per_parse=0([^.0-9]|$)'; then
  echo "the allocation counter saw no allocation in the baseline" >&2
  exit 1
fi

allocating=$(grep '^BM_RoutingParseCompact/' <<<"$output" |
  grep -Ev 'allocs_per_parse=0([^.0-9]|$)' || true)
if [ -n "$allocating" ]; then
  echo "the compact parser allocated:" >&2
  echo "$allocating" >&2
  exit 1
fi
