#!/usr/bin/env bash
# Time per training step of decent-train, split into the model's compute (forward, backward, the optimizer) and
# decent's part (mix(), or apply() for the asynchronous runtime), for every algorithm: 16 workers in one process
# and 4 MPI ranks. Both phases are measured per worker in wall time and in thread CPU time; on a machine with
# fewer cores than workers the wall times include waiting for the CPU, so the CPU ratio is the one to read.
# Writes bench/results/train/speed.md. Usage: bench/train/speed.sh [BUILD_DIR] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
epochs=${2:-1}
out=bench/results/train
mkdir -p "$out"
algorithms=(allreduce gossip relaysgd relaysgd-grad powergossip choco async-gossip a2cid2 a2cid2-low-rank)
lr_of() { case $1 in relaysgd-grad|a2cid2-low-rank) echo 0.02 ;; powergossip) echo 0.05 ;; *) echo 0.1 ;; esac; }
row() {  # parses decent-train's summary line into a table row
  sed -nE 's/.*: ([a-z0-9-]+) on ([^,]+), ([0-9]+) workers, per step and worker: compute ([0-9.]+) ms wall \/ ([0-9.]+) ms CPU, decent ([0-9.]+) ms wall \/ ([0-9.]+) ms CPU \(CPU ratio decent\/compute ([0-9.]+)\).*/| \1 | \2 | \3 | \4 | \5 | \6 | \7 | \8 |/p'
}
{
  echo "decent-train, MLP 784-256-128-10 (235,146 parameters), batch 32 per worker, $epochs epoch(s), $(nproc) cores."
  echo "Command: bench/train/speed.sh $build $epochs"
  echo
  echo "| algorithm | topology | workers | compute wall [ms] | compute CPU [ms] | decent wall [ms] | decent CPU [ms] | CPU ratio decent/compute |"
  echo "|---|---|---|---|---|---|---|---|"
  for a in "${algorithms[@]}"; do
    "$build/examples/decent-train" --algorithm "$a" --workers 16 --epochs "$epochs" --lr "$(lr_of "$a")" \
      --test-samples 1000 --csv /dev/null 2>&1 | row
  done
  if [[ -x $(command -v mpirun) ]]; then
    for a in "${algorithms[@]}"; do
      OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo OMP_NUM_THREADS=1 \
        mpirun -np 4 --allow-run-as-root --oversubscribe "$build/examples/decent-train" --launch mpi --algorithm "$a" \
        --epochs "$epochs" --lr "$(lr_of "$a")" --test-samples 1000 --csv /dev/null 2>&1 | row
    done
  fi
} | tee "$out/speed.md"
