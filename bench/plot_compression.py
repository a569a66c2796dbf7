#!/usr/bin/env python3
"""Plots bench/compression output: consensus against bytes on the 8-ring, and compression ratios per model.

Usage: plot_compression.py CURVES.csv RATIOS.csv OUT.png   (needs matplotlib: pip install matplotlib)
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(curves_path, ratios_path, out):
    curves = defaultdict(lambda: ([], []))
    for row in csv.DictReader(open(curves_path)):
        consensus = float(row["relative_consensus"])
        bytes_sent = float(row["bytes_per_worker"])
        if consensus > 0 and bytes_sent > 0:
            curves[row["method"]][0].append(bytes_sent)
            curves[row["method"]][1].append(consensus)
    ratios = defaultdict(dict)
    for row in csv.DictReader(open(ratios_path)):
        ratios[row["model"]][row["method"]] = float(row["ratio"])

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
        right.bar([i + k * width for i in range(len(models))], [ratios[m][method] for m in models], width, label=method)
    right.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models)
    right.set_yscale("log")
    right.set_ylabel("compression ratio per step (×)")
    right.set_title("Bytes per step and neighbour, uncompressed / compressed")
    right.grid(True, axis="y", which="both", alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
