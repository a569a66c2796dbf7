#!/usr/bin/env python3
"""A²CiD²'s deep-learning claims on Fashion-MNIST: asynchronous workers of heterogeneous speeds on rings.

Nabli, Belilovsky and Oyallon (2023) train with asynchronous pairwise gossip, each worker computing at its own
pace, and compare on poorly connected graphs (the ring): asynchronous gossip at 1 and at 2 exchanges per gradient,
A²CiD² (their continuous momentum) at 1 exchange per gradient, and all-reduce SGD. The claims: A²CiD² at rate 1
closes most of the gap between gossip at rate 1 and at rate 2 (in consensus distance and in accuracy), and the
asynchronous methods do not wait for the slowest worker, where all-reduce does.

Here decent-train's threaded runtime (a worker and its communication thread per ring node, in one process),
decent-train's MLP, IID split, SGD with momentum 0.9. So that the pace is the model's and not that of this
machine's two shared cores, every gradient step lasts --compute-time ms of wall time (the rest is slept), and a
seeded quarter of the workers is 2 to 5 times slower (--slow 0.25:2-5). The asynchronous runs share one budget of
gradients (--global-budget: workers × steps per epoch per epoch, the reference's rule: faster workers take more
steps), take time from the clock (--wall-clock) and skip a meeting with a partner that is not ready after
--patience ms. Evaluations every --eval-every epochs of gradients; the time axis leaves them out.

Writes OUT/a2cid2_runs.csv (every evaluation of every run), OUT/a2cid2_table.md and OUT/a2cid2.png. Runs are
cached (bench/paper/common.py); they depend on timing, so a rerun with --fresh gives other (similar) numbers.
Exit status 77 (skipped) without the data set.

Usage: bench/paper/a2cid2.py [--build build] [--out bench/results/paper] [--epochs 3] [--seeds 2]
                             [--rings 16,32] [--lr 0.05] [--compute-time 60] [--smoke]
"""
import csv
import math
import os
import pathlib
import statistics

from common import accuracy_cell, arguments, check_environment, check_smoke, final, finite_mean
from common import parse as parse_flags
from common import progress, pyplot, train

METHODS = [  # (label, decent-train flags)
    ("all-reduce", "--algorithm allreduce"),
    ("async gossip, rate 1", "--algorithm async-gossip --rate 1"),
    ("async gossip, rate 2", "--algorithm async-gossip --rate 2"),
    ("A²CiD², rate 1", "--algorithm a2cid2 --rate 1"),
]
ASYNC = " --wall-clock --global-budget"


def parse():
    p = arguments(__doc__, "a2cid2", epochs=3, seeds=2, workers=16)
    p.add_argument("--rings", default="16,32", help="ring sizes (replaces --workers)")
    p.add_argument("--lr", default="0.05")
    p.add_argument("--compute-time", default="60", help="ms per gradient step of a fast worker")
    p.add_argument("--slow", default="0.25:2-5")
    p.add_argument("--patience", default="2", help="ms")
    p.add_argument("--eval-every", default="0.5", help="epochs")
    return parse_flags(p, "a2cid2", rings="4", compute_time="4", eval_every="0.5")


def main():
    args = parse()
    check_environment("a2cid2.py")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rings = [int(n) for n in args.rings.split(",")]
    seeds = list(range(args.seeds))
    bar = progress(len(rings) * len(METHODS) * len(seeds))
    curves, finals, unpaced = [], [], []
    for n in rings:
        for label, flags in METHODS:
            for seed in seeds:
                asynchronous = "async" in flags or "a2cid2" in flags
                extra = f"{ASYNC} --patience {args.patience}" if asynchronous else ""
                command = (f"{flags}{extra} --topology ring --workers {n} --epochs {args.epochs} --eval-every {args.eval_every} "
                           f"--batch {args.batch} --lr {args.lr} --momentum 0.9 --seed {seed} "
                           f"--compute-time {args.compute_time} --slow {args.slow} "
                           f"--train-samples {args.train_samples} --test-samples {args.test_samples}")
                run = train(args.build, args.cache, command)
                if "took longer than --compute-time" in run["stderr"]:  # the machine did not keep the pace
                    unpaced.append(f"ring:{n}, {label}, seed {seed}")
                result = final(run)
                result["time"] = float(run["rows"][-1]["time"]) if run["rows"] else math.nan
                finals.append({"n": n, "method": label, "seed": seed, **result})
                for row in run["rows"]:
                    curves.append({"n": n, "method": label, "seed": seed, "epoch": float(row["epoch"]),
                                   "step": float(row["step"]), "time": float(row["time"]),
                                   "accuracy": float(row["test_accuracy"]), "consensus": float(row["consensus"]),
                                   "bytes_per_worker": float(row["bytes_per_worker"])})
                bar.step(f"ring:{n}, {label}, seed {seed}", result)

    with open(out / "a2cid2_runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["n", "method", "seed", "epoch", "step", "time", "accuracy", "consensus",
                                          "bytes_per_worker"])
        w.writeheader()
        w.writerows(curves)

    lines = [
        f"A²CiD²'s claims on Fashion-MNIST (decent-train's MLP 784-256-128-10, threaded runtime): rings of "
        f"{' and '.join(map(str, rings))} workers, IID, batch {args.batch} per worker, {args.epochs} "
        f"epoch{'s' * (args.epochs != 1)} of gradients, lr {args.lr}, momentum 0.9. A gradient step lasts "
        f"{args.compute_time} ms; a seeded quarter of the workers is slower (--slow {args.slow}); asynchronous runs: "
        f"one budget of gradients for all workers, the clock's time, patience {args.patience} ms. Test accuracy [%] "
        f"of the averaged model at the end, mean over seeds {', '.join(map(str, seeds))} (range); wall time of "
        "training (evaluations left out); consensus (1/n)Σ‖x_i − x̄‖², mean over the evaluations of the second half.",
        "",
        f"Command: `bench/paper/a2cid2.py{' --smoke' if args.smoke else ''} --epochs {args.epochs} --seeds "
        f"{args.seeds} --rings {args.rings} --lr {args.lr} --compute-time {args.compute_time}` ({os.cpu_count()} "
        "cores).",
        "",
        "| ring | method | accuracy [%] | wall time [s] | consensus, 2nd half | MB sent per worker |",
        "|---|---|---|---|---|---|",
    ]
    for n in rings:
        for label, _ in METHODS:
            rows = [r for r in finals if r["n"] == n and r["method"] == label]
            late = [c["consensus"] for c in curves if c["n"] == n and c["method"] == label and
                    c["epoch"] >= args.epochs / 2]
            sent = finite_mean([r["bytes_per_worker"] for r in rows])
            lines.append(f"| {n} | {label} | {accuracy_cell(rows)} | "
                         f"{finite_mean([r['time'] for r in rows]):.0f} | "
                         f"{finite_mean(late):.3g} | {sent / 1e6:.0f} |")
    if unpaced:
        lines += ["", f"**Warning:** in {len(unpaced)} run(s) more than 1 % of the steps took longer than "
                  f"--compute-time, so their pace was partly this machine's: {'; '.join(unpaced)}."]
    (out / "a2cid2_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(out / "a2cid2.png", curves, rings, args)
    if args.smoke:
        check_smoke("a2cid2.py", out / "a2cid2_table.md", [str(n) for n in rings], out / "a2cid2.png")


def mean_curve(curves, n, label, x):
    """The seeds' mean of accuracy and consensus at each evaluation, against `x` (epoch or time, averaged)."""
    at = {}
    for c in curves:
        if c["n"] == n and c["method"] == label:
            at.setdefault(c["epoch"], []).append(c)
    epochs = sorted(at)
    return ([statistics.fmean(c[x] for c in at[e]) for e in epochs],
            [100 * statistics.fmean(c["accuracy"] for c in at[e]) for e in epochs],
            [statistics.fmean(c["consensus"] for c in at[e]) for e in epochs])


def plot(path, curves, rings, args):
    plt = pyplot()
    fig, axes = plt.subplots(len(rings), 3, figsize=(15, 4.2 * len(rings)), squeeze=False)
    color = {label: f"C{k}" for k, (label, _) in enumerate(METHODS)}  # one colour per method in every panel
    for row, n in zip(axes, rings):
        for label, _ in METHODS:
            if not any(c["n"] == n and c["method"] == label for c in curves):
                continue
            times, acc, _ = mean_curve(curves, n, label, "time")
            epochs, _, consensus = mean_curve(curves, n, label, "epoch")
            row[0].plot(times[1:], acc[1:], marker=".", label=label, color=color[label])
            row[1].plot(epochs[1:], acc[1:], marker=".", label=label, color=color[label])
            if label != "all-reduce":  # exact averaging: zero consensus, off a log axis
                row[2].plot(epochs[1:], consensus[1:], marker=".", label=label, color=color[label])
        row[0].set_xlabel("wall time of training [s]")
        row[1].set_xlabel("epochs of gradients (all workers together)")
        row[2].set_xlabel("epochs of gradients (all workers together)")
        for ax in row[:2]:
            ax.set_ylabel("test accuracy of the averaged model [%]")
        row[2].set_ylabel("consensus (1/n)Σ‖x_i − x̄‖²")
        row[2].set_yscale("log")
        row[0].set_title(f"ring:{n}, {args.slow.split(':')[0]} of the workers {args.slow.split(':')[1]}× slower")
        row[1].set_title(f"ring:{n}: accuracy against gradients")
        row[2].set_title(f"ring:{n}: consensus distance")
        for ax in row:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
