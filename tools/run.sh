#!/usr/bin/env bash
# Builds the daemon optimized and runs it. With no arguments it serves the built-in demo
# configuration on 127.0.0.1:8000; arguments go to strait (e.g. --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
bazel build --config=opt //tools:strait
exec bazel-bin/tools/strait "$@"
