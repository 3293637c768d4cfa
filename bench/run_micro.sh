#!/usr/bin/env bash
# Runs every Google Benchmark micro-benchmark of the project, optimized, one after the other, and
# prints their tables. Extra arguments go to every binary (e.g. --benchmark_filter=Parse or
# --benchmark_repetitions=5 --benchmark_report_aggregates_only=true).
#
#   bench/run_micro.sh
#
# Each binary compares against a baseline of its own in the same run; read ratios, not absolute
# times (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
targets=$(bazel query 'kind("cc_binary", //bench/...) intersect attr(name, "_benchmark$", //bench/...)' \
  2>/dev/null)
bazel build --config=opt $targets
for target in $targets; do
  binary="bazel-bin/$(sed -e 's|^//||' -e 's|:|/|' <<<"$target")"
  echo "=== $target"
  "$binary" "$@"
done
