#!/usr/bin/env bash
# Runs each libFuzzer target for a while, one after another on one core.
#
#   tools/fuzz.sh [seconds per target, default 120] [target ...]
#
# Targets default to every *_fuzzer in tests/net. Each run starts from the committed seed corpus
# (tests/net/corpus/<unit>/, read only) and writes what it learns to a scratch corpus under
# ${STRAIT_FUZZ_DIR:-/tmp/strait-fuzz}; crashes land there too (crash-*). The run fails if a
# fuzzer finds a crash. To keep a new input as a seed, copy it into the committed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-120}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(http_codec socks5_codec proxy_protocol)
fi
work="${STRAIT_FUZZ_DIR:-/tmp/strait-fuzz}"

labels=()
for target in "${targets[@]}"; do
  labels+=("//tests/net:${target}_fuzzer")
done
bazel build --config=fuzz "${labels[@]}"
# bazel-bin follows the last build's configuration; ask for the fuzz one explicitly.
bin="$(bazel info --config=fuzz bazel-bin 2>/dev/null)"

status=0
for target in "${targets[@]}"; do
  scratch="$work/$target"
  mkdir -p "$scratch"
  echo "== $target: ${seconds}s" >&2
  log="$work/$target.log"
  if ! "$bin/tests/net/${target}_fuzzer" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$scratch/" \
      "$scratch" "tests/net/corpus/$target" >"$log" 2>&1; then
    echo "$target: FAILED, see $log" >&2
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^Done|^#[0-9]+ +DONE" "$log" >&2 || true
done
exit $status
