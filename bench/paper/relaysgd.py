#!/usr/bin/env python3
"""RelaySGD's Table 2 on Fashion-MNIST: final test accuracy of 16 workers under label heterogeneity.

The layout of Vogels et al. (2021), Table 2, on decent-train (an MLP on Fashion-MNIST instead of VGG-11 on
CIFAR-10): all-reduce, RelaySGD on double binary trees and on a chain, RelaySGD/Grad on a chain, D-PSGD on a
ring (with local and with quasi-global momentum), D² (γ = 1, as the reference runs it) and exact diffusion (D² with
γ = ½) and gradient tracking on a ring, and SGP on the time-varying exponential graph, for a Dirichlet(α) split of the labels, α ∈ {1, 0.1, 0.01}, and an IID split. Every worker
uses SGD with momentum 0.9 (local momentum; quasi-global momentum takes it into the rule instead).

Learning rates are tuned per (algorithm, split) on a grid with seed 0 (the best final accuracy of the averaged
model; RelaySGD/Grad's grid has two lower rates, EXTRA_LRS); the table is the mean over seeds 0 … S−1 at that rate (seed 0 is the tuning run), with the range.
Then RelaySGD on double binary trees at α = 0.01 with 0, 1 and 10 % of the messages lost (each worker fills
what it has not heard with its own last model, `--update-reference`, as the reference's runs with drops do).

Writes OUT/relaysgd_runs.csv (every run), OUT/relaysgd_table.md and OUT/relaysgd_table.png. Runs are cached in
CACHE (one CSV per command), so a rerun only does what is missing.

Exit status 77 (skipped) without the data set. Usage: bench/paper/relaysgd.py [--build build] [--out bench/results/paper] [--epochs 2] [--seeds 3]
                               [--lrs 0.05,0.1,0.2,0.4] [--train-samples 0] [--smoke]
--smoke: 4 workers, one split, one rate, one seed, tiny data — seconds, for CI (give --out).
"""
import csv
import math
import os
import pathlib
import statistics

from common import (accuracy_cell as cell, arguments, check_environment, check_smoke, final, parse as parse_flags,
                    progress, pyplot, train)

ALGORITHMS = [  # (label, decent-train flags)
    ("all-reduce", "--algorithm allreduce"),
    ("RelaySGD, double binary trees", "--algorithm relaysgd --topology double-binary-tree"),
    ("RelaySGD, chain", "--algorithm relaysgd --topology chain"),
    ("RelaySGD/Grad, chain", "--algorithm relaysgd-grad --topology chain"),
    ("D-PSGD, ring", "--algorithm gossip --topology ring"),
    ("D-PSGD + quasi-global momentum, ring", "--algorithm gossip --quasi-global-momentum --topology ring"),
    ("D², ring", "--algorithm d2 --topology ring"),
    ("exact diffusion (D², γ = ½), ring", "--algorithm d2 --gamma 0.5 --topology ring"),
    ("gradient tracking, ring", "--algorithm gradient-tracking --topology ring"),
    ("SGP, time-varying exponential", "--algorithm sgp"),
]
SPLITS = ["iid", "1", "0.1", "0.01"]  # α of the Dirichlet split, or IID
DROP_ALGORITHM = "RelaySGD, double binary trees"
DROPS = ["0", "0.01", "0.1"]
# Rates added to the grid for one algorithm: RelaySGD/Grad's best was the grid's lowest (unstable with momentum).
EXTRA_LRS = {"RelaySGD/Grad, chain": ["0.0125", "0.025"]}


def parse():
    p = arguments(__doc__, "relaysgd", epochs=2, seeds=3, workers=16)
    p.add_argument("--lrs", default="0.05,0.1,0.2,0.4")
    a = parse_flags(p, "relaysgd", lrs="0.1")
    a.lrs = [x for x in a.lrs.split(",") if x]
    return a


def run(args, flags, split, seed, lr, extra=""):
    """One decent-train run (cached): its final accuracy, consensus, bytes, the command and its wall time."""
    command = (f"{flags} --workers {args.workers} --epochs {args.epochs} --eval-every {args.epochs} "
               f"--batch {args.batch} --lr {lr} --momentum 0.9 --seed {seed} "
               f"--train-samples {args.train_samples} --test-samples {args.test_samples}"
               + ("" if split == "iid" else f" --alpha {split}") + (f" {extra}" if extra else ""))
    return final(train(args.build, args.cache, command))


def score(r):
    return -1.0 if math.isnan(r["accuracy"]) else r["accuracy"]


def main():
    args = parse()
    check_environment("relaysgd.py")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = ["0.1"] if args.smoke else SPLITS
    drops = ["0", "0.1"] if args.smoke else DROPS
    drop_split = "0.1" if args.smoke else "0.01"
    seeds = list(range(args.seeds))
    grids = {label: args.lrs if args.smoke else sorted(set(args.lrs) | set(EXTRA_LRS.get(label, [])), key=float)
             for label, _ in ALGORITHMS}
    total = (sum(len(splits) * (len(grids[label]) + len(seeds) - 1) for label, _ in ALGORITHMS)
             + len(drops) * len(seeds))
    bar = progress(total)
    records, chosen = [], {}
    for label, flags in ALGORITHMS:
        for split in splits:
            tuning = {}
            for lr in grids[label]:
                r = run(args, flags, split, 0, lr)
                tuning[lr] = r
                records.append({"table": "tuning", "algorithm": label, "split": split, "seed": 0, "lr": lr,
                                "drop": 0, **r})
                bar.step(f"{label}, α={split}, lr {lr}, seed 0", r)
            best = max(grids[label], key=lambda lr: (score(tuning[lr]), -float(lr)))
            chosen[label, split] = best
            for seed in seeds:
                r = tuning[best] if seed == 0 else run(args, flags, split, seed, best)
                records.append({"table": "main", "algorithm": label, "split": split, "seed": seed, "lr": best,
                                "drop": 0, **r})
                if seed:
                    bar.step(f"{label}, α={split}, lr {best}, seed {seed}", r)
    drop_flags = dict(ALGORITHMS)[DROP_ALGORITHM]
    drop_lr = chosen[DROP_ALGORITHM, drop_split]
    for drop in drops:
        for seed in seeds:
            r = run(args, drop_flags, drop_split, seed, drop_lr, f"--drop {drop} --update-reference")
            records.append({"table": "drops", "algorithm": DROP_ALGORITHM, "split": drop_split, "seed": seed,
                            "lr": drop_lr, "drop": drop, **r})
            bar.step(f"{DROP_ALGORITHM}, α={drop_split}, drop {drop}, seed {seed}", r)

    fields = ["table", "algorithm", "split", "seed", "lr", "drop", "accuracy", "accuracy_workers", "consensus",
              "bytes_per_worker", "diverged", "seconds", "command"]
    with open(out / "relaysgd_runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in records:
            w.writerow({k: r[k] for k in fields})

    main_rows = [r for r in records if r["table"] == "main"]
    header = " | ".join("IID" if s == "iid" else f"α = {s}" for s in splits)
    lines = [
        f"RelaySGD's Table 2 on Fashion-MNIST (decent-train's MLP 784-256-128-10): {args.workers} workers, batch "
        f"{args.batch} per worker, {args.epochs} epoch{'s' * (args.epochs != 1)}, SGD with momentum 0.9 and weight decay 1e-4, "
        f"{args.train_samples or 60000} training and {args.test_samples or 10000} test images. Test accuracy [%] of "
        f"the averaged model, mean over seeds {', '.join(map(str, seeds))} (range), at the learning rate tuned on "
        f"{{{', '.join(args.lrs)}}} with seed 0 (in brackets after the accuracy)"
        + "".join(f"; for {label} also {', '.join(extra)}" for label, extra in EXTRA_LRS.items() if not args.smoke)
        + ".",
        "",
        f"Command: `bench/paper/relaysgd.py{' --smoke' if args.smoke else ''} --epochs {args.epochs} --seeds "
        f"{args.seeds} --lrs {','.join(args.lrs)}` ({os.cpu_count()} cores).",
        "",
        f"| algorithm | {header} |",
        "|---|" + "---|" * len(splits),
    ]
    for label, _ in ALGORITHMS:
        cells = [f"{cell([r for r in main_rows if r['algorithm'] == label and r['split'] == s])} "
                 f"[{chosen[label, s]}]" for s in splits]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    drop_rows = [r for r in records if r["table"] == "drops"]
    lines += ["", f"{DROP_ALGORITHM}, α = {drop_split}, lr {drop_lr}, `--update-reference`: accuracy [%] against the "
              "share of messages lost.", "", "| messages lost | " + " | ".join(f"{float(d):.0%}" for d in drops)
              + " |", "|---|" + "---|" * len(drops),
              "| accuracy | " + " | ".join(cell([r for r in drop_rows if r["drop"] == d]) for d in drops) + " |"]
    (out / "relaysgd_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(out / "relaysgd_table.png", main_rows, splits, args)
    if args.smoke:
        check_smoke("relaysgd.py", out / "relaysgd_table.md", [label for label, _ in ALGORITHMS] + ["accuracy"],
                    out / "relaysgd_table.png")


def plot(path, rows, splits, args):
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(12, 6))
    width = 0.8 / len(ALGORITHMS)
    for k, (label, _) in enumerate(ALGORITHMS):
        means, low, high = [], [], []
        for s in splits:
            accs = [100 * r["accuracy"] for r in rows if r["algorithm"] == label and r["split"] == s]
            accs = [0.0 if math.isnan(a) else a for a in accs]
            m = statistics.fmean(accs)
            means.append(m)
            low.append(m - min(accs))
            high.append(max(accs) - m)
        xs = [i + (k - (len(ALGORITHMS) - 1) / 2) * width for i in range(len(splits))]
        ax.bar(xs, means, width, yerr=[low, high], capsize=2, label=label)
    ax.set_xticks(range(len(splits)))
    ax.set_xticklabels(["IID" if s == "iid" else f"Dirichlet α = {s}" for s in splits])
    ax.set_ylabel("test accuracy of the averaged model [%]")
    ax.set_ylim(0, 100)
    ax.set_title(f"Fashion-MNIST, {args.workers} workers, {args.epochs} epoch{'s' * (args.epochs != 1)}: mean over "
                 f"{args.seeds} seed{'s' * (args.seeds != 1)} (range), tuned learning rates")
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
