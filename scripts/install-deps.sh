#!/usr/bin/env bash
# Installs the Debian packages decent's build and tests need, when missing (run as root). Idempotent.
# Usage: scripts/install-deps.sh [package...]   (default: everything the tests need)
set -euo pipefail
packages=("$@")
if ((${#packages[@]} == 0)); then
  packages=(cmake ninja-build g++ doctest-dev libbenchmark-dev libopenmpi-dev openmpi-bin ccache libdlpack-dev
    libopenblas-dev zlib1g-dev dataset-fashion-mnist python3-matplotlib)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
