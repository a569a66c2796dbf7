"""What the paper scripts share: cached decent-train runs, a progress line, the checks before hours of runs.

A run is keyed by its command line (sha256): its CSV and wall time are kept in the cache directory, so that a
script run again only does what is missing, and a changed flag is a new run. The key does not see the binary:
after changing decent, rerun with --fresh (which empties the cache).
"""
import argparse
import csv
import hashlib
import math
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = pathlib.Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def arguments(doc, name, epochs, seeds, workers):
    """The flags every paper script takes (it adds its own before `parse`)."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--out", default=str(ROOT / "bench/results/paper"))
    p.add_argument("--cache", default=None, help=f"default: BUILD/paper-cache/{name}")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seeds", type=int, default=seeds)
    p.add_argument("--workers", type=int, default=workers)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--train-samples", type=int, default=0, help="0: all 60000")
    p.add_argument("--test-samples", type=int, default=0, help="0: all 10000")
    p.add_argument("--smoke", action="store_true", help="a tiny version, seconds (CI); give --out")
    p.add_argument("--fresh", action="store_true", help="empty the cache first (after changing decent)")
    return p


def parse(p, name, **smoke):
    """Parses; --smoke sets 4 workers, 1 epoch, 1 seed, batch 16, 1600/500 images and `smoke`, with a cache of
    its own emptied first (it checks the current binaries); --fresh empties the cache."""
    a = p.parse_args()
    if a.smoke:
        a.workers, a.epochs, a.seeds, a.batch, a.train_samples, a.test_samples = 4, 1, 1, 16, 1600, 500
        for key, value in smoke.items():
            setattr(a, key, value)
    a.cache = pathlib.Path(a.cache or pathlib.Path(a.build) / "paper-cache" / name)
    if a.smoke:
        a.cache = pathlib.Path(a.out) / f"cache-{name}"
    if a.smoke or a.fresh:
        shutil.rmtree(a.cache, ignore_errors=True)
    return a


def check_environment(script):
    """Exit 77 (skipped) without Fashion-MNIST; then `check_plotting`."""
    if not DATA.exists():
        print(f"{script}: Fashion-MNIST is not installed ({DATA}; Debian: dataset-fashion-mnist): skipped",
              file=sys.stderr)
        sys.exit(77)
    check_plotting(script)


def check_plotting(script):
    """Without matplotlib, run again under /usr/bin/python3 (a python3 first on PATH, e.g. pyenv's, may lack
    Debian's package), else exit 1 (before any run)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        system = "/usr/bin/python3"  # Debian's, where scripts/install-deps.sh puts python3-matplotlib
        if os.path.realpath(sys.executable) != os.path.realpath(system) and os.access(system, os.X_OK):
            os.execv(system, [system, *sys.argv])
        sys.exit(f"{script}: matplotlib is missing (Debian: scripts/install-deps.sh python3-matplotlib, then run "
                 "with /usr/bin/python3)")


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def train(build, cache, command, outputs=()):
    """decent-train with `command` (cached): {"command", "seconds", "diverged", "rows", "stderr"}, rows = the CSV
    rows as dicts (empty when the run diverged, which decent-train reports with exit status 1). `outputs`: files the
    command writes besides its CSV (e.g. --spectrum's); the run is redone when one of them is missing."""
    binary = pathlib.Path(build) / "examples" / "decent-train"
    cache = pathlib.Path(cache)
    path = cache / f"{hashlib.sha256(command.encode()).hexdigest()[:16]}.csv"
    if not path.exists() or not all(pathlib.Path(o).exists() for o in outputs):
        cache.mkdir(parents=True, exist_ok=True)
        start = time.time()
        done = subprocess.run([str(binary), *shlex.split(command), "--quiet"], capture_output=True, text=True)
        seconds = time.time() - start
        diverged = done.returncode == 1 and "training diverged" in done.stderr  # a result, kept
        if done.returncode != 0 and not diverged:  # anything else is a failure, not cached
            sys.exit(f"decent-train {command} failed ({done.returncode}): {done.stderr.strip()}")
        status = done.stderr.strip().replace("\n", "\n# ")  # every line of stderr stays a comment
        with open(path.with_suffix(".tmp"), "w") as f:
            f.write(f"# decent-train {command}\n# seconds {seconds:.1f}\n# status {done.returncode} "
                    f"{status}\n{done.stdout}")
        os.replace(path.with_suffix(".tmp"), path)
    lines = path.read_text().splitlines()
    diverged = lines[2].split()[2] != "0"
    rows = [] if diverged else list(csv.DictReader(l for l in lines if not l.startswith("#")))
    stderr = "\n".join([lines[2].split(" ", 3)[3] if lines[2].count(" ") >= 3 else ""] +
                       [l[2:] for l in lines[3:] if l.startswith("# ")])
    return {"command": f"decent-train {command}", "seconds": float(lines[1].split()[2]), "diverged": diverged,
            "rows": rows, "stderr": stderr}


def finite_mean(values):
    """The mean of the finite values (NaN when there is none)."""
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def accuracy_cell(results):
    """A table cell for runs' final accuracies [%]: the mean and (min–max) over several, or "diverged (k/n)"."""
    accs = [100 * r["accuracy"] for r in results]
    diverged = sum(math.isnan(a) for a in accs)
    if diverged:
        return f"diverged ({diverged}/{len(accs)})"
    mean = sum(accs) / len(accs)
    return f"{mean:.1f} ({min(accs):.1f}–{max(accs):.1f})" if len(accs) > 1 else f"{mean:.1f}"


def check_smoke(script, table, rows, png):
    """--smoke's own check (ctest reads the exit status): every row of `rows` in the markdown `table` with a
    number, and a non-empty PNG."""
    text = pathlib.Path(table).read_text()
    missing = [r for r in rows if not any(line.startswith(f"| {r} | ") and any(ch.isdigit() for ch in
                                          line[len(r) + 4:]) for line in text.splitlines())]
    if missing or not pathlib.Path(png).exists() or pathlib.Path(png).stat().st_size == 0:
        sys.exit(f"{script} --smoke: rows without a number: {missing}, or no plot at {png}")
    print(f"{script} --smoke: every row and the plot are there", file=sys.stderr)


def final(run):
    """The last row's accuracy (averaged model and the workers' own), consensus and bytes; NaN if it diverged."""
    last = run["rows"][-1] if run["rows"] else None
    value = (lambda key: float(last[key])) if last else (lambda key: math.nan)
    return {"command": run["command"], "seconds": run["seconds"], "diverged": run["diverged"],
            "accuracy": value("test_accuracy"), "accuracy_workers": value("test_accuracy_workers"),
            "consensus": value("consensus"), "bytes_per_worker": value("bytes_per_worker")}


class progress:
    """One line on stderr per run: how far, what it gave, about how long is left."""

    def __init__(self, total):
        self.total, self.done, self.start = total, 0, time.time()

    def step(self, what, result):
        self.done += 1
        eta = (time.time() - self.start) / self.done * (self.total - self.done)
        acc = "diverged" if result["diverged"] else f"{100 * result['accuracy']:.1f} %"
        print(f"[{self.done}/{self.total}] {what}: {acc} ({result['seconds']:.0f} s; about {eta / 60:.0f} min left)",
              file=sys.stderr, flush=True)
