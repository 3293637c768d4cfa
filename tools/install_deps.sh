#!/usr/bin/env bash
# Installs the Debian 12 packages Strait builds and tests with. Idempotent: when every package is
# already present it changes nothing and needs no network.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-java build-essential pkg-config
  liburing-dev libabsl-dev libmimalloc-dev android-libboringssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libc-ares-dev
  clang-14 libclang-rt-14-dev lld-14
  curl iproute2 python3 procps util-linux
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo_prefix=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_prefix=(sudo)
fi
"${sudo_prefix[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${sudo_prefix[@]}" apt-get install -y --no-install-recommends \
  "${missing[@]}"
