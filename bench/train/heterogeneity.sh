#!/usr/bin/env bash
# Final test accuracy of decent-train on Fashion-MNIST with 16 workers and the Dirichlet(alpha) label split,
# for each algorithm at each learning rate of a small grid (the RelaySum paper's heterogeneity experiment, on
# an MLP). Writes one CSV per run under bench/results/train/alpha-ALPHA/, a summary CSV and a markdown table.
# Usage: bench/train/heterogeneity.sh [BUILD_DIR] [ALPHA] [EPOCHS]   (defaults: build 0.01 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
alpha=${2:-0.01}
epochs=${3:-5}
out=bench/results/train/alpha-$alpha
mkdir -p "$out"
lrs=(0.00625 0.0125 0.025 0.05 0.1 0.2 0.4)
# name | flags
configs=(
  "allreduce|--algorithm allreduce"
  "relaysgd binary-tree|--algorithm relaysgd --topology binary-tree"
  "relaysgd double-binary-tree|--algorithm relaysgd --topology double-binary-tree"
  "gossip ring|--algorithm gossip --topology ring"
  "powergossip ring (rank 1)|--algorithm powergossip --topology ring"
  "async-gossip ring|--algorithm async-gossip --topology ring"
  "a2cid2 ring|--algorithm a2cid2 --topology ring"
)
summary=$out/summary.csv
echo "algorithm,lr,train_loss,test_accuracy,test_accuracy_workers,consensus,bytes_per_worker" > "$summary"
for c in "${configs[@]}"; do
  name=${c%%|*}
  flags=${c#*|}
  for lr in "${lrs[@]}"; do
    file="$out/$(echo "$name" | tr ' ()' '___')-lr$lr.csv"
    if [[ ! -s $file ]]; then
      # shellcheck disable=SC2086
      "$build/examples/decent-train" --workers 16 --epochs "$epochs" --eval-every "$epochs" --alpha "$alpha" \
        --lr "$lr" $flags --quiet --csv "$file" || echo "failed: $name lr $lr" >&2
    fi
    last=$(tail -n 1 "$file" 2>/dev/null || true)
    IFS=, read -r _ _ _ loss acc accw cons bytes <<<"$last"
    echo "$name,$lr,${loss:-nan},${acc:-nan},${accw:-nan},${cons:-nan},${bytes:-nan}" >> "$summary"
    echo "$name lr $lr: test accuracy ${acc:-diverged} (workers ${accw:-})" >&2
  done
done
python3 bench/train/table.py "$summary" "$alpha" "$epochs" > "$out/table.md"
cat "$out/table.md"
