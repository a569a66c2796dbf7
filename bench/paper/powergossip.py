#!/usr/bin/env python3
"""PowerGossip's deep-learning claims on Fashion-MNIST: accuracy against bytes sent, and the spectrum of the
differences between neighbours' models.

Vogels et al. (2020) train on a ring of 8 workers with the same learning rate for every method: uncompressed
gossip, PowerGossip (rank 1 and 2, 1 and 2 power iterations per step; γ = 1.308 like gossip) and Choco-SGD with
sign-and-norm (γ = 0.45) and top-1 % (γ = 0.0375), the step sizes of their experiments; all-reduce is the
reference. Here decent-train's MLP on Fashion-MNIST (IID split), SGD with momentum 0.9. The claims: PowerGossip
reaches the accuracy of uncompressed gossip with a small fraction of its bytes and no tuning, because the
differences between neighbours' models have fast-decaying spectra (decent-train --spectrum logs them: the
singular values of x_1 − x_0 per weight matrix at every epoch, here in the uncompressed gossip run).

Writes OUT/powergossip_runs.csv (every evaluation of every run), OUT/powergossip_spectrum.csv,
OUT/powergossip_table.md and OUT/powergossip.png. Runs are cached (bench/paper/common.py).
Exit status 77 (skipped) without the data set.

Usage: bench/paper/powergossip.py [--build build] [--out bench/results/paper] [--epochs 3] [--seeds 2]
                                  [--lr 0.05] [--workers 8] [--smoke]
"""
import csv
import hashlib
import math
import os
import pathlib
import statistics

from common import (accuracy_cell, arguments, check_environment, check_smoke, final, finite_mean, parse as parse_flags,
                    progress, pyplot, train)

METHODS = [  # (label, decent-train flags)
    ("all-reduce", "--algorithm allreduce"),
    ("gossip, uncompressed", "--algorithm gossip --gamma 1.308"),
    ("PowerGossip rank 1, 1 iteration", "--algorithm powergossip --rank 1 --iterations 1 --gamma 1.308"),
    ("PowerGossip rank 1, 2 iterations", "--algorithm powergossip --rank 1 --iterations 2 --gamma 1.308"),
    ("PowerGossip rank 2, 1 iteration", "--algorithm powergossip --rank 2 --iterations 1 --gamma 1.308"),
    ("PowerGossip rank 2, 2 iterations", "--algorithm powergossip --rank 2 --iterations 2 --gamma 1.308"),
    ("Choco, sign and norm", "--algorithm choco --compressor sign --gamma 0.45"),
    ("Choco, top-1 %", "--algorithm choco --compressor topk:0.01 --gamma 0.0375"),
]
SPECTRUM_METHOD = "gossip, uncompressed"


def parse():
    p = arguments(__doc__, "powergossip", epochs=3, seeds=2, workers=8)
    p.add_argument("--lr", default="0.05")
    return parse_flags(p, "powergossip")


def main():
    args = parse()
    check_environment("powergossip.py")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    bar = progress(len(METHODS) * len(seeds))
    curves, finals = [], []
    spectrum_path = None
    for label, flags in METHODS:
        for seed in seeds:
            command = (f"{flags} --topology ring --workers {args.workers} --epochs {args.epochs} --batch {args.batch} "
                       f"--lr {args.lr} --momentum 0.9 --seed {seed} --train-samples {args.train_samples} "
                       f"--test-samples {args.test_samples}")
            spectrum_here = label == SPECTRUM_METHOD and seed == 0
            if spectrum_here:  # named after the run, so that another configuration's spectrum is never read
                spectrum_path = args.cache / f"spectrum-{hashlib.sha256(command.encode()).hexdigest()[:16]}.csv"
                command += f" --spectrum {spectrum_path}"
            run = train(args.build, args.cache, command, [spectrum_path] if spectrum_here else [])
            result = final(run)
            finals.append({"method": label, "seed": seed, **result})
            for row in run["rows"]:
                curves.append({"method": label, "seed": seed, "epoch": int(row["epoch"]),
                               "accuracy": float(row["test_accuracy"]),
                               "bytes_per_worker": float(row["bytes_per_worker"])})
            bar.step(f"{label}, seed {seed}", result)

    with open(out / "powergossip_runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["method", "seed", "epoch", "accuracy", "bytes_per_worker"])
        w.writeheader()
        w.writerows(curves)
    spectrum = list(csv.DictReader(open(spectrum_path))) if spectrum_path and spectrum_path.exists() else []
    with open(out / "powergossip_spectrum.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["epoch", "tensor", "rows", "cols", "k", "singular_value"])
        w.writeheader()
        w.writerows(spectrum)

    gossip_bytes = finite_mean([r["bytes_per_worker"] for r in finals if r["method"] == SPECTRUM_METHOD])
    lines = [
        f"PowerGossip's claims on Fashion-MNIST (decent-train's MLP 784-256-128-10): {args.workers} workers on a ring, "
        f"IID, batch {args.batch} per worker, {args.epochs} epoch{'s' * (args.epochs != 1)}, lr {args.lr} for every "
        f"method (untuned), SGD with momentum 0.9. Test accuracy [%] of the averaged model after the last epoch, mean "
        f"over seeds {', '.join(map(str, seeds))} (range), and the payload each worker sent.",
        "",
        f"Command: `bench/paper/powergossip.py{' --smoke' if args.smoke else ''} --epochs {args.epochs} --seeds "
        f"{args.seeds} --lr {args.lr} --workers {args.workers}` ({os.cpu_count()} cores).",
        "",
        "| method | accuracy [%] | sent per worker [MB] | bytes / gossip's |",
        "|---|---|---|---|",
    ]
    for label, _ in METHODS:
        rows = [r for r in finals if r["method"] == label]
        sent = finite_mean([r["bytes_per_worker"] for r in rows])
        acc = accuracy_cell(rows)
        ratio = "—" if label == "all-reduce" or math.isnan(sent / gossip_bytes) else f"{sent / gossip_bytes:.4f}"
        lines.append(f"| {label} | {acc} | {'—' if math.isnan(sent) else f'{sent / 1e6:.1f}'} | {ratio} |")
    if spectrum:
        last = max(int(r["epoch"]) for r in spectrum)
        lines += ["", f"Spectrum of x_1 − x_0 ({SPECTRUM_METHOD}, seed 0, epoch {last}): share of ‖x_1 − x_0‖²_F "
                  "in the largest 1, 2 and 4 singular values, per weight matrix.", "",
                  "| matrix | σ₁²/Σσ² | (σ₁² + σ₂²)/Σσ² | top 4 / Σσ² | σ₁/σ₂ |", "|---|---|---|---|---|"]
        for tensor in sorted({r["tensor"] for r in spectrum}, key=int):
            s = [float(r["singular_value"]) for r in spectrum if r["tensor"] == tensor and int(r["epoch"]) == last]
            rows_cols = next(f"{r['rows']}×{r['cols']}" for r in spectrum if r["tensor"] == tensor)
            total = sum(v * v for v in s) or 1.0
            share = lambda k: sum(v * v for v in s[:k]) / total  # noqa: E731
            ratio = f"{s[0] / s[1]:.2f}" if len(s) > 1 and s[1] > 0 else "—"
            lines.append(f"| {rows_cols} | {share(1):.3f} | {share(2):.3f} | {share(4):.3f} | {ratio} |")
    (out / "powergossip_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(out / "powergossip.png", curves, spectrum, args)
    if args.smoke:
        check_smoke("powergossip.py", out / "powergossip_table.md", [label for label, _ in METHODS],
                    out / "powergossip.png")


def plot(path, curves, spectrum, args):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for label, _ in METHODS:
        epochs = sorted({r["epoch"] for r in curves if r["method"] == label})
        if not epochs:  # every seed diverged: nothing to draw
            continue
        xs, ys = [], []
        for e in epochs:
            at = [r for r in curves if r["method"] == label and r["epoch"] == e]
            xs.append(statistics.fmean(r["bytes_per_worker"] for r in at) / 1e6)
            ys.append(100 * statistics.fmean(r["accuracy"] for r in at))
        if label == "all-reduce":
            left.axhline(ys[-1], color="black", linestyle=":", label=f"all-reduce (final, {ys[-1]:.1f} %)")
        else:
            left.plot(xs[1:], ys[1:], marker="o", label=label)  # epoch 0 sent nothing: off a log axis
    left.set_xscale("log")
    left.set_xlabel("MB sent per worker (after each epoch)")
    left.set_ylabel("test accuracy of the averaged model [%]")
    left.set_title(f"{args.workers} workers on a ring, lr {args.lr} for all")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    if spectrum:
        last = max(int(r["epoch"]) for r in spectrum)
        for tensor in sorted({r["tensor"] for r in spectrum}, key=int):
            for epoch, style in ((1, "--"), (last, "-")) if last > 1 else ((last, "-"),):
                s = [float(r["singular_value"]) for r in spectrum if r["tensor"] == tensor and int(r["epoch"]) == epoch]
                if not s or s[0] == 0:
                    continue
                shape = next(f"{r['rows']}×{r['cols']}" for r in spectrum if r["tensor"] == tensor)
                k = min(len(s), 30)
                right.plot(range(1, k + 1), [v / s[0] for v in s[:k]], style, marker=".",
                           label=f"{shape}, epoch {epoch}")
        right.set_yscale("log")
        right.set_ylim(1e-3, 1.5)  # a 10×128 difference has rank 9 (its rows sum to ~0): the 10th value is off it
        right.set_xlabel("k")
        right.set_ylabel("σ_k / σ_1")
        right.set_title(f"singular values of x_1 − x_0 ({SPECTRUM_METHOD})")
        right.grid(alpha=0.3)
        right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
