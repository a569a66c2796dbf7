#!/usr/bin/env bash
# Builds the host-only simulator (if needed) and prints the comparison of every available algorithm on
# 16 simulated workers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh cmake ninja-build g++
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DDECENT_BUILD_TESTS=OFF \
  -DDECENT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-demo --target decent-demo decent-sim >/dev/null
build-demo/examples/decent-demo
