#!/usr/bin/env bash
# Bit-identical outputs across refactors: runs every line of tests/golden/runs.txt with the build's decent-sim or
# decent-train and compares the SHA-256 of each run's stdout with tests/golden/expected.txt.
#   scripts/golden.sh check  [BUILD_DIR]   (default build/; exit 1 and the differing runs when one differs)
#   scripts/golden.sh record [BUILD_DIR]   rewrite expected.txt from this build (only when a change of output is meant)
#   scripts/golden.sh dump DIR [BUILD_DIR] write every run's output to DIR/NNN.csv, to diff two builds
# The hashes hold for the host executor of a Release build with GCC on x86-64 (the CI build); the runs are
# made with one thread (decent-train's BLAS sums in a thread-count-dependent order).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode=${1:-check}
dump=
if [[ $mode == dump ]]; then dump=${2:?usage: golden.sh dump DIR [BUILD_DIR]}; shift; mkdir -p "$dump"; fi
build=${2:-$root/build}
runs=$root/tests/golden/runs.txt
expected=$root/tests/golden/expected.txt
for program in decent-sim decent-train; do
  [[ -x $build/examples/$program ]] || { echo "golden.sh: no $build/examples/$program (build the examples first)" >&2; exit 2; }
done

# One thread everywhere: decent-train's BLAS sums in a thread-count-dependent order.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
index=0
while IFS= read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  read -r program flags <<<"$line"
  case $program in
    sim) binary=$build/examples/decent-sim ;;
    train) binary=$build/examples/decent-train ;;
    *) echo "golden.sh: $runs: unknown program '$program' in: $line" >&2; exit 2 ;;
  esac
  index=$((index + 1))
  # shellcheck disable=SC2086  # the flags are words
  if ! output=$("$binary" $flags); then echo "golden.sh: run $index failed: $line" >&2; exit 1; fi
  # decent-train's third column is wall-clock seconds: everything but it must repeat.
  [[ $program == train ]] && output=$(printf '%s\n' "$output" | cut -d, -f3 --complement)
  [[ -n $dump ]] && printf '%s\n' "$output" >"$dump/$(printf %03d $index).csv"
  printf '%s  %s\n' "$(printf '%s\n' "$output" | sha256sum | cut -c1-64)" "$line" >>"$out"
done <"$runs"

case $mode in
  record) cp "$out" "$expected"; echo "golden.sh: recorded $index runs in $expected" ;;
  dump) echo "golden.sh: wrote $index outputs to $dump" ;;
  check)
    if cmp -s "$expected" "$out"; then
      echo "golden.sh: $index runs bit-identical to $expected"
    else
      echo "golden.sh: outputs differ from $expected (expected, then this build):" >&2
      diff "$expected" "$out" >&2 || true
      exit 1
    fi ;;
  *) echo "usage: golden.sh check|record|dump DIR [BUILD_DIR]" >&2; exit 2 ;;
esac
