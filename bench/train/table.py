"""Markdown table of bench/train/heterogeneity.sh's summary: each algorithm at its best learning rate."""
import csv
import math
import sys

path, alpha, epochs = sys.argv[1], sys.argv[2], sys.argv[3]
best = {}
grid = {}
for row in csv.DictReader(open(path)):
    loss = float(row["train_loss"]) if row["train_loss"] else math.nan
    acc = float(row["test_accuracy"]) if row["test_accuracy"] not in ("", "nan") else math.nan
    if not math.isfinite(loss):  # diverged: the run stopped with non-finite values
        acc = math.nan
    grid.setdefault(row["algorithm"], []).append((row["lr"], acc))
    if not math.isnan(acc) and (row["algorithm"] not in best or acc > best[row["algorithm"]][1]):
        best[row["algorithm"]] = (row["lr"], acc, row["test_accuracy_workers"], row["consensus"])
print(f"16 workers, Dirichlet alpha = {alpha}, {epochs} epochs, MLP 784-256-128-10, batch 32 per worker, momentum 0.9,"
      " weight decay 1e-4; learning rate: the best of the grid")
print()
print("| algorithm | best lr | test accuracy (averaged model) | mean of the workers' own models | consensus | accuracy at each lr of the grid |")
print("|---|---|---|---|---|---|")
for name, runs in grid.items():
    cells = ", ".join(f"{lr}: {'diverged' if math.isnan(a) else f'{100 * a:.1f}'}" for lr, a in runs)
    if name in best:
        lr, acc, accw, cons = best[name]
        print(f"| {name} | {lr} | {100 * acc:.1f} % | {100 * float(accw):.1f} % | {float(cons):.3g} | {cells} |")
    else:
        print(f"| {name} | - | diverged | - | - | {cells} |")
