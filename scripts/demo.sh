#!/usr/bin/env bash
# Builds the simulator (if needed) into build/ — the directory README's other commands use — and prints the
# comparison of every available algorithm on 16 simulated workers. Reuses build/ when scripts/test.sh made it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh cmake ninja-build g++
if [[ ! -f build/CMakeCache.txt ]]; then
  # Host only, without the tests (and their packages); scripts/test.sh turns everything on in the same directory.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDECENT_BUILD_TESTS=OFF -DDECENT_BUILD_BENCHMARKS=OFF \
    >/dev/null
fi
cmake --build build --target decent-demo decent-sim >/dev/null
build/examples/decent-demo
