#!/usr/bin/env bash
# End-to-end bench: Strait against HAProxy, nginx stream, squid, tinyproxy, dante and microsocks,
# and against direct connections, on loopback. Installs the peers from Debian, builds the load
# generator (and the daemon when it is in the tree), then runs bench/side_by_side.py, which
# writes the section "End-to-end: Strait vs peers" of bench/README.md.
#
#   bench/run_peers.sh                 # the full run, about 10-15 minutes
#   bench/run_peers.sh --only haproxy,tinyproxy --reps 1 --idle 1000   # a quick look
#
# Any option is passed on to bench/side_by_side.py (see its --help). Needs root (the peers drop
# privileges themselves) and 2 CPUs: the proxy runs on CPU 0, the generator and target on CPU 1.
set -euo pipefail
cd "$(dirname "$0")/.."

# The peers are installed here only: they are the bench's, not the build's, dependencies.
peer_packages=(haproxy nginx libnginx-mod-stream squid tinyproxy dante-server microsocks
               openssl util-linux python3)
missing=()
for package in "${peer_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo_prefix=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_prefix=(sudo)
  fi
  "${sudo_prefix[@]}" apt-get update
  # policy-rc.d or not, the services the packages ship are not wanted running: the bench starts
  # its own instances on loopback with its own configurations.
  DEBIAN_FRONTEND=noninteractive "${sudo_prefix[@]}" apt-get install -y --no-install-recommends \
    "${missing[@]}"
  for service in haproxy nginx squid tinyproxy danted; do
    "${sudo_prefix[@]}" systemctl stop "$service" 2>/dev/null || true
  done
fi

if [ "$(nproc)" -lt 2 ]; then
  echo "the bench pins the proxy and the generator on two different CPUs; this box has one" >&2
  exit 1
fi

bazel build --config=opt //tools:strait_load
load_binary="$(bazel info --config=opt bazel-bin)/tools/strait_load"
strait_binary=""
if bazel query //tools:strait >/dev/null 2>&1; then
  bazel build --config=opt //tools:strait
  strait_binary="$(bazel info --config=opt bazel-bin)/tools/strait"
else
  echo "//tools:strait is not in the tree: the Strait rows are skipped" >&2
fi

# Copied out of bazel-bin so a concurrent build cannot swap the binaries mid-run.
work="$(mktemp -d /tmp/strait-bench-bin.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$load_binary" "$work/strait_load"
strait_arg=()
if [ -n "$strait_binary" ]; then
  cp "$strait_binary" "$work/strait"
  strait_arg=(--strait "$work/strait")
fi

exec_command="bench/run_peers.sh${*:+ $*}"
python3 bench/side_by_side.py --load "$work/strait_load" "${strait_arg[@]}" \
  --command "$exec_command" "$@"
