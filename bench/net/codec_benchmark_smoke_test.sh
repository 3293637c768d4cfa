#!/usr/bin/env bash
# Runs every codec benchmark for a moment and checks that each one reported, and that the codecs
# (not the baselines) allocated nothing.
set -euo pipefail
output="$("$1" --benchmark_min_time=0.01 --benchmark_format=csv 2>/dev/null)"
echo "$output"
for name in BM_HttpParseConnectHead BM_HttpParseConnectHeadNaive BM_HttpWriteErrorReply \
    BM_Socks5ParseHandshake BM_Socks5ParseHandshakeCopying BM_ProxyV2Parse BM_ProxyV1Parse \
    BM_ProxyV1ParseSscanf; do
  if ! grep -q "^\"$name\"," <<<"$output"; then
    echo "missing benchmark $name" >&2
    exit 1
  fi
done
# The allocs_per_iter column is last; the codecs' rows must show 0.
for name in BM_HttpParseConnectHead BM_HttpWriteErrorReply BM_Socks5ParseHandshake \
    BM_ProxyV2Parse BM_ProxyV1Parse; do
  allocations="$(grep "^\"$name\"," <<<"$output" | awk -F, '{print $NF}')"
  if [ "$allocations" != "0" ]; then
    echo "$name allocated: allocs_per_iter=$allocations" >&2
    exit 1
  fi
done
