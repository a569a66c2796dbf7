#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer over the host test suite, with one compiler:
#   scripts/sanitize.sh gcc|clang
# Builds into build-sanitize-<compiler>/ (host only: no CUDA, with MPI, tests and examples) and runs every test
# that does not need a GPU. Any ASan, LSan or UBSan report fails the test that triggered it. With clang the
# libFuzzer harnesses of tests/fuzz are built too and each fuzzes for DECENT_FUZZ_SECONDS (default 20).
# Compiler flags: DECENT_SANITIZE_FLAGS (default "-O1 -g1": line tables, which is what the reports' stack frames
# need; full -g made GCC take 243 s instead of 106 s for tests/sim/event_simulator_test.cpp, Clang 60 s instead of 54).
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=${1:?usage: scripts/sanitize.sh gcc|clang}
case $compiler in
  gcc) cxx=g++ fuzzers=OFF packages=(g++) ;;
  clang) cxx=clang++ fuzzers=ON packages=(clang libclang-rt-dev libomp-dev) ;;
  *) echo "scripts/sanitize.sh: unknown compiler '$compiler' (gcc or clang)" >&2; exit 2 ;;
esac
scripts/install-deps.sh
scripts/install-deps.sh "${packages[@]}"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
dir=build-sanitize-$compiler
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="${DECENT_SANITIZE_FLAGS:-"-O1 -g1"}" -DCMAKE_CXX_COMPILER="$cxx" -DDECENT_WERROR=ON -DDECENT_BUILD_CHECKS=OFF \
  -DDECENT_SANITIZE=address,undefined -DDECENT_TSAN_TESTS=OFF -DDECENT_BUILD_FUZZERS=$fuzzers \
  -DDECENT_FUZZ_SECONDS="${DECENT_FUZZ_SECONDS:-20}" \
  -DDECENT_BUILD_TESTS=ON -DDECENT_BUILD_EXAMPLES=ON -DDECENT_BUILD_BENCHMARKS=OFF \
  -DDECENT_ENABLE_CUDA=OFF -DDECENT_ENABLE_NCCL=OFF -DDECENT_ENABLE_MPI=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$dir" -j "$(nproc)"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
asan=detect_stack_use_after_return=1:strict_string_checks=1
# Everything but the processes that load Open MPI, with leak detection (tests/sanitizers/lsan.supp: OpenBLAS).
ASAN_OPTIONS=$asan:detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0 \
  ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 900 -LE "gpu|mpi" -E "under mpirun"
# Under mpirun: addresses and UB still checked, leaks not — Open MPI's components (dlopen'ed, unloaded before
# exit) leave allocations LeakSanitizer cannot attribute or suppress.
ASAN_OPTIONS=$asan:detect_leaks=0 \
  ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 900 -L mpi -LE gpu
ASAN_OPTIONS=$asan:detect_leaks=0 \
  ctest --test-dir "$dir" --output-on-failure --timeout 900 -R "under mpirun"
