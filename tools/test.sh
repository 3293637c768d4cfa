#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs every Bazel test.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
bazel test //... "$@"
