#!/usr/bin/env bash
# The simulator at scale: every algorithm with N workers of D parameters (f32, consensus: workers start from
# N(0,1) points, no gradients), through decent-sim --timing: set-up time (every worker's start point and state, to
# the row of step 0), time per step (or per unit of virtual time for the asynchronous algorithms, which run in the
# event simulator), peak resident memory, and the bytes per parameter and worker that makes. Writes
# bench/results/scale.md. Usage: bench/scale.sh [BUILD_DIR] [WORKERS] [DIM]   (defaults: build 1024 1000000;
# about 10 minutes on 2 cores at the default size, which needs about 16 GiB of memory).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-1024}
d=${3:-1000000}
side=$(python3 -c "import math; print(math.isqrt($d))")
out=bench/results/scale.md
runs=(
  "relaysgd --topology binary-tree:$n --dim $d --steps 2"
  "gossip --topology ring:$n --dim $d --steps 2"
  "powergossip --topology ring:$n --shape ${side}x${side} --steps 2"
  "choco --topology ring:$n --dim $d --steps 2"
  "allreduce --topology ring:$n --dim $d --steps 2"
  "a2cid2 --topology ring:$n --dim $d --time 1"
  "async-gossip --topology ring:$n --dim $d --time 1"
)
{
  echo "decent-sim at scale: $n workers, f32, consensus problem, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB of memory."
  echo "Command: bench/scale.sh $build $n $d (one decent-sim --timing run per line). Time per step: the mean over the"
  echo "run's steps, the first included (buffers a rule allocates at its first step, e.g. gossip's received copies, are"
  echo "first touched in it); per unit of virtual time for the event simulator (async-gossip, a2cid2)."
  echo
  echo "| algorithm | run | set-up [s] | time per step [s] | peak resident memory [GiB] | bytes per parameter and worker |"
  echo "|---|---|---|---|---|---|"
  for r in "${runs[@]}"; do
    read -r algorithm rest <<<"$r"
    line=$("$build/examples/decent-sim" --algorithm $r --every 1000 --timing 2>&1 >/dev/null | tail -1) || true
    echo "$line" >&2
    python3 - "$algorithm" "$rest" "$n" "$d" "$line" <<'PY'
import re, sys
algorithm, rest, n, d, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
m = re.search(r"set-up ([0-9.e+-]+) s, then .* \(([0-9.e+-]+) s per (?:step|unit of time)\), peak resident memory ([0-9.e+-]+) GiB", line)
if not m:
    print(f"| {algorithm} | `{rest}` | failed: {line} | | | |")
else:
    setup, per, gib = (float(g) for g in m.groups())
    numel = d
    shape = re.search(r"--shape (\d+)x(\d+)", rest)
    if shape:
        numel = int(shape.group(1)) * int(shape.group(2))
    per_param = gib * 2**30 / (n * numel)
    unit = " (per unit of virtual time)" if "--time" in rest else ""
    print(f"| {algorithm} | `{rest}` | {setup:.1f} | {per:.2f}{unit} | {gib:.2f} | {per_param:.1f} |")
PY
  done
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
