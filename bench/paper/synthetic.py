#!/usr/bin/env python3
"""The papers' claims on synthetic problems, each from decent's own binaries: one command, CSV, markdown, PNG.

- RelaySGD (Vogels et al. 2021): on heterogeneous quadratics (ζ² = 1, d = 10, f64), the steps to f(x̄) − f* ≤ 1e-6
  at the best learning rate of a sweep grow slowly with n on a binary tree, linearly on a chain, and gossip on a
  ring never gets there (its fixed point is biased by the heterogeneity). `bench/relaysgd_steps`.
- PowerGossip (Vogels et al. 2020): on the 8-worker ring, the bytes to reach relative consensus 1e-6 for gossip,
  PowerGossip (rank, iterations, warm start) and Choco; and the compression ratio per step on real layer
  shapes. `bench/compression`.
- A²CiD² (Nabli et al. 2023): consensus only (no gradients) in the event simulator (virtual time, Poisson
  gradient and communication events): (1/n)Σ‖x_i − x̄‖² relative to the start decays like exp(−t/χ₁) for
  asynchronous gossip and like exp(−t/√(χ₁χ₂)) with A²CiD², a speed-up that grows with the ring's size.
  `decent-sim --problem consensus --precision f64`, rings of 16, 32 and 64, seeds averaged on the log scale;
  the decay rate is fitted on the second half of the run.

Writes into OUT: relaysgd_steps.{csv,md,png}, compression_curves.csv, compression_ratios.csv, compression.{md,png},
a2cid2_consensus.{csv,md,png}. No data set needed; about 3 minutes on 2 cores (--smoke: seconds).

Usage: bench/paper/synthetic.py [--build build] [--out bench/results/paper] [--smoke]
"""
import argparse
import csv
import math
import pathlib
import re
import subprocess
import sys

from common import ROOT, check_plotting, check_smoke, pyplot

A2CID2 = [  # (label, decent-sim flags)
    ("async gossip, rate 1", "--algorithm async-gossip --rate 1"),
    ("async gossip, rate 2", "--algorithm async-gossip --rate 2"),
    ("A²CiD², rate 1", "--algorithm a2cid2 --rate 1"),
]


def run(command, script="synthetic.py"):
    """A binary's stdout; a failure ends the script with its stderr."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{script}: {' '.join(map(str, command))} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def markdown(text):
    """A binary's fixed-width tables (columns apart by two or more spaces) as markdown; other lines as text."""
    out, header = [], None
    for line in text.splitlines():
        fields = re.split(r"\s{2,}", line.strip())
        if not line.strip():
            header = None
            out.append("")
        elif header is None and len(fields) >= 3 and not any(ch.isdigit() for ch in line):
            header = fields
            out += ["", "| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
        elif header is not None and len(fields) == len(header):
            out.append("| " + " | ".join(fields) + " |")
        else:
            header = None
            out.append(line.strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def write_markdown(path, title, commands, body):
    lines = [f"# {title}", "", "Made by `bench/paper/synthetic.py` (this project's 2-core machine, no GPU):", ""]
    lines += [f"    {c}" for c in commands]
    path.write_text("\n".join(lines) + "\n\n" + body)


def relaysgd_steps(args, out):
    binary = pathlib.Path(args.build) / "bench" / "relaysgd_steps"
    csv_path = out / "relaysgd_steps.csv"
    flags = ["--sizes", "6", "--budget", "200"] if args.smoke else []
    command = [str(binary), "--out", str(csv_path), *flags]
    text = run(command).replace(str(out), "OUT")
    write_markdown(out / "relaysgd_steps.md", "RelaySGD: steps to 1e-6 on heterogeneous quadratics",
                   [" ".join(["build/bench/relaysgd_steps", "--out", "OUT/relaysgd_steps.csv", *flags])],
                   markdown(text))
    best = {}  # (algorithm, family) -> n -> steps or None
    for row in csv.DictReader(open(csv_path)):
        key = (row["algorithm"], row["topology"].split(":")[0])
        n, steps = int(row["n"]), int(row["steps_to_target"]) if row["steps_to_target"] else None
        series = best.setdefault(key, {})
        if n not in series or (steps is not None and (series[n] is None or steps < series[n])):
            series[n] = steps
    reached = [s for series in best.values() for s in series.values() if s is not None]
    ceiling = max(reached) * 3 if reached else 1000
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (algorithm, family), series in sorted(best.items()):
        ns = sorted(series)
        label = f"{algorithm} ({family})"
        xs = [n for n in ns if series[n] is not None]
        color = ax.plot(xs, [series[n] for n in xs], marker="o", label=label)[0].get_color() if xs else None
        missing = [n for n in ns if series[n] is None]
        if missing:  # drawn at the top edge with an open marker
            ax.plot(missing, [ceiling] * len(missing), marker="o", linestyle="none", markerfacecolor="none",
                    color=color, label=f"{label}: not reached within the budget")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("workers n")
    ax.set_ylabel("steps to f(x̄) − f* ≤ 1e-6 (best lr)")
    ax.set_title("Heterogeneous quadratics, ζ² = 1, d = 10")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, 0.9))  # below the top edge's open markers
    fig.tight_layout()
    fig.savefig(out / "relaysgd_steps.png", dpi=120)
    plt.close(fig)
    return ["relaysgd", "allreduce"]


def compression(args, out):
    binary = pathlib.Path(args.build) / "bench" / "compression"
    curves_path, ratios_path = out / "compression_curves.csv", out / "compression_ratios.csv"
    flags = ["--budget", "20"] if args.smoke else []
    text = run([str(binary), "--curves", str(curves_path), "--ratios", str(ratios_path), *flags])
    write_markdown(out / "compression.md", "PowerGossip: bytes to consensus, and compression ratios",
                   [" ".join(["build/bench/compression", "--curves", "OUT/compression_curves.csv", "--ratios",
                              "OUT/compression_ratios.csv", *flags])], markdown(text))
    curves = {}
    for row in csv.DictReader(open(curves_path)):
        consensus, sent = float(row["relative_consensus"]), float(row["bytes_per_worker"])
        if consensus > 0 and sent > 0:
            xs, ys = curves.setdefault(row["method"], ([], []))
            xs.append(sent)
            ys.append(consensus)
    ratios = {}
    for row in csv.DictReader(open(ratios_path)):
        ratios.setdefault(row["model"], {})[row["method"]] = float(row["ratio"])
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    for method, (xs, ys) in curves.items():
        style = "-" if "warm" in method or "powergossip" not in method else "--"
        left.plot(xs, ys, style, label=method, linewidth=1.2)
    left.axhline(1e-6, color="grey", linewidth=0.8, linestyle=":")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_ylim(1e-7, 2)
    left.set_xlabel("bytes sent per worker")
    left.set_ylabel("relative consensus")
    left.set_title("8-worker ring, 100×100 N(0,1) per worker, f32")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    models = list(ratios)
    methods = [m for m in next(iter(ratios.values())) if m != "uncompressed"]
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        right.bar([i + k * width for i in range(len(models))], [ratios[m][method] for m in models], width,
                  label=method)
    right.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models)
    right.set_yscale("log")
    right.set_yticks([10, 30, 100, 300, 1000], ["10", "30", "100", "300", "1000"])
    right.set_ylabel("compression ratio per step (×)")
    right.set_title("Bytes per step and neighbour, uncompressed / compressed")
    right.grid(True, axis="y", which="both", alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "compression.png", dpi=110)
    plt.close(fig)
    return ["gossip", "powergossip r1 i1 warm"]


def decay_rate(times, values):
    """−d ln(value)/dt, least squares over the second half of the run (the transient left out)."""
    points = [(t, math.log(v)) for t, v in zip(times, values) if t >= times[-1] / 2 and v > 1e-25]
    mt = sum(t for t, _ in points) / len(points)
    mv = sum(v for _, v in points) / len(points)
    return -sum((t - mt) * (v - mv) for t, v in points) / sum((t - mt) ** 2 for t, _ in points)


def a2cid2_consensus(args, out):
    sim = pathlib.Path(args.build) / "examples" / "decent-sim"
    # Long enough for gossip's slowest mode to dominate, short enough for A²CiD² to stay above f64's floor.
    horizons = {8: 20} if args.smoke else {16: 100, 32: 200, 64: 400}
    seeds = (0,) if args.smoke else (0, 1, 2)
    rows, table, commands = [], [], []
    curves = {}
    for n, horizon in horizons.items():
        describe = run([str(sim), "--describe", "--topology", f"ring:{n}", "--rate", "1"])
        chi1 = float(re.search(r'"chi1": ([0-9.e+-]+)', describe).group(1))
        chi2 = float(re.search(r'"chi2": ([0-9.e+-]+)', describe).group(1))
        rates = {}
        for label, flags in A2CID2:
            logs = {}
            for seed in seeds:
                flags_run = f"{flags} --topology ring:{n} --problem consensus --precision f64 --time {horizon} --every 1 --seed {seed}"
                commands.append(f"build/examples/decent-sim {flags_run}")
                for row in csv.DictReader(run([str(sim), *flags_run.split()]).splitlines()):
                    logs.setdefault(float(row["time"]), []).append(math.log(max(float(row["relative_consensus"]),
                                                                                 1e-300)))
            times = sorted(logs)
            mean = [math.exp(sum(logs[t]) / len(logs[t])) for t in times]  # geometric mean over the seeds
            curves[(n, label)] = (times, mean)
            rates[label] = decay_rate(times, mean)
            rows += [{"n": n, "method": label, "time": t, "relative_consensus": v} for t, v in zip(times, mean)]
        ends = " | ".join(f"{curves[(n, label)][1][-1]:.2g}" for label, _ in A2CID2)
        decays = " | ".join(f"{rates[label]:.4f}" for label, _ in A2CID2)
        measured = rates[A2CID2[2][0]] / rates[A2CID2[0][0]]
        table.append(f"| ring:{n} | {ends} | {decays} | {measured:.2f}× | {math.sqrt(chi1 / chi2):.2f}× |")
    with open(out / "a2cid2_consensus.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["n", "method", "time", "relative_consensus"])
        w.writeheader()
        w.writerows(rows)
    names = " | ".join(label for label, _ in A2CID2)
    body = (f"Relative consensus at the end (time {', '.join(f'{h} on ring:{n}' for n, h in horizons.items())}; "
            f"f64; geometric mean over seeds {', '.join(map(str, seeds))}) and its "
            "decay rate −d ln(consensus)/dt, fitted on the second half of the run; A²CiD²'s speed-up = its rate / "
            "async gossip's at rate 1, against the theory's √(χ₁/χ₂) (rates 1/χ₁ and 1/√(χ₁χ₂)).\n\n"
            f"| topology | at the end: {names.replace(' | ', ' | at the end: ')} | rate: "
            f"{names.replace(' | ', ' | rate: ')} | A²CiD² speed-up | √(χ₁/χ₂) |\n"
            "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(table) + "\n")
    shown = sorted({c.split(" --seed")[0] + " --seed S" for c in commands})
    write_markdown(out / "a2cid2_consensus.md", "A²CiD²: consensus only, asynchronous gossip against A²CiD²", shown,
                   body)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(horizons), figsize=(4.6 * len(horizons), 4), squeeze=False)
    for ax, n in zip(axes[0], horizons):
        for label, _ in A2CID2:
            ax.plot(*curves[(n, label)], label=label)
        ax.set_yscale("log")
        ax.set_xlabel("time (gradients per worker)")
        ax.set_ylabel("relative consensus")
        ax.set_title(f"ring:{n}, event simulator")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "a2cid2_consensus.png", dpi=110)
    plt.close(fig)
    return [f"ring:{next(iter(horizons))}"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--out", default=str(ROOT / "bench/results/paper"))
    p.add_argument("--smoke", action="store_true", help="a tiny version, seconds (CI); give --out")
    args = p.parse_args()
    check_plotting("synthetic.py")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, make in (("relaysgd_steps", relaysgd_steps), ("compression", compression),
                       ("a2cid2_consensus", a2cid2_consensus)):
        print(f"synthetic.py: {name} ...", file=sys.stderr, flush=True)
        rows = make(args, out)
        if args.smoke:
            check_smoke("synthetic.py", out / f"{name}.md", rows, out / f"{name}.png")
    print(f"synthetic.py: wrote {out}/relaysgd_steps.*, compression*, a2cid2_consensus.*", file=sys.stderr)


if __name__ == "__main__":
    main()
