#!/usr/bin/env python3
"""Plots bench/relaysgd_steps output: steps to loss 1e-6 (best learning rate of the sweep) against n.

Usage: plot_relaysgd_steps.py RESULTS.csv OUT.png   (needs matplotlib: pip install matplotlib)
Methods that never reached the target within the budget are drawn at the top edge with an open marker.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(path, out):
    best = defaultdict(dict)  # (algorithm, family) -> n -> steps or None
    for row in csv.DictReader(open(path)):
        key = (row["algorithm"], row["topology"].split(":")[0])
        n = int(row["n"])
        steps = int(row["steps_to_target"]) if row["steps_to_target"] else None
        current = best[key].get(n, "unset")
        if current == "unset" or (steps is not None and (current is None or steps < current)):
            best[key][n] = steps
    reached = [s for series in best.values() for s in series.values() if s is not None]
    ceiling = max(reached) * 3 if reached else 1000
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (algorithm, family), series in sorted(best.items()):
        ns = sorted(series)
        label = f"{algorithm} ({family})"
        xs = [n for n in ns if series[n] is not None]
        color = None
        if xs:
            color = ax.plot(xs, [series[n] for n in xs], marker="o", label=label)[0].get_color()
        missing = [n for n in ns if series[n] is None]
        if missing:
            ax.plot(missing, [ceiling] * len(missing), marker="o", linestyle="none", markerfacecolor="none",
                    color=color, label=f"{label}: not reached within the budget")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("workers n")
    ax.set_ylabel("steps to f(x̄) − f* ≤ 1e-6 (best lr)")
    ax.set_title("Heterogeneous quadratics, ζ² = 1, d = 10")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
