#!/usr/bin/env python3
"""RelaySGD's time per step beside the authors' single-process simulator, on the same machine and in one run.

The authors' simulator is `relaysum_model` in paper-figures/algorithms.py of epfml/relaysgd (commit e1e332bf): one
torch tensor of shape (n, d) for all workers, f32, with dictionaries of messages per edge. This script does not
contain or copy it: it imports it from a checkout given with --reference (fetch the repository yourself; it needs
torch, networkx and seaborn, `pip install torch networkx seaborn`).

Both sides run the consensus problem on a binary tree of n workers (theirs: BinaryTreeTopology, degrees 1 and 3;
decent's binary-tree:n, heap order, degrees 1, 2 and 3: the same number of edges), f32, no gradient (their step
still subtracts lr·g = 0 from the state: one more pass over it, which decent's consensus runs do not make).
Time per step is marginal: the run of S2 steps minus the run of S1 steps over S2 − S1 (set-up cancels), best of
--repeat; decent-sim runs as a subprocess with one thread per worker; torch uses its default threads.

Usage: bench/reference_steps.py --reference PATH/TO/relaysgd [--build build] [--workers 16]
       [--dims 100000,1000000] [--steps 10,40] [--repeat 3] [--out bench/results/reference_steps.md]
"""
import argparse
import os
import subprocess
import sys
import time


def reference_seconds(algorithms, topologies, torch, n, d, steps):
    class Consensus:
        def init_state(self):
            generator = torch.Generator().manual_seed(1)
            return torch.randn(n, d, generator=generator, dtype=torch.float32)

        def grad(self, state):
            return 0.0

    world = topologies.BinaryTreeTopology(n)
    start = time.perf_counter()
    for _ in algorithms.relaysum_model(Consensus(), world, 0.0, steps):
        pass
    return time.perf_counter() - start


def decent_seconds(build, n, d, steps):
    command = [os.path.join(build, "examples", "decent-sim"), "--algorithm", "relaysgd", "--topology",
               f"binary-tree:{n}", "--dim", str(d), "--steps", str(steps), "--every", str(steps + 1),
               "--precision", "f32"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def marginal(run, steps, repeat):
    first = min(run(steps[0]) for _ in range(repeat))
    second = min(run(steps[1]) for _ in range(repeat))
    return (second - first) / (steps[1] - steps[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a checkout of epfml/relaysgd")
    parser.add_argument("--build", default="build")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--dims", default="100000,1000000")
    parser.add_argument("--steps", default="10,40")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default="bench/results/reference_steps.md")
    args = parser.parse_args()
    figures = os.path.join(args.reference, "paper-figures")
    if not os.path.isfile(os.path.join(figures, "algorithms.py")):
        sys.exit(f"reference_steps.py: no paper-figures/algorithms.py under {args.reference}")
    steps = [int(s) for s in args.steps.split(",")]
    if len(steps) != 2 or not 0 < steps[0] < steps[1] or args.repeat < 1 or args.workers < 2:
        sys.exit("reference_steps.py: need --steps S1,S2 with 0 < S1 < S2, --repeat >= 1, --workers >= 2")
    sys.path.insert(0, figures)
    try:
        import torch
        import algorithms
        import topologies
    except ImportError as e:
        sys.exit(f"reference_steps.py: cannot import the reference ({e}); pip install torch networkx seaborn")
    lines = [f"RelaySGD, binary tree of {args.workers} workers, f32 consensus: marginal time per step, decent-sim "
             f"against the authors' paper-figures simulator (`relaysum_model`, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads), in the same run (`bench/reference_steps.py --steps {args.steps} "
             f"--repeat {args.repeat}`).", "",
             "| d | decent [ms] | reference [ms] | reference / decent |", "|---|---|---|---|"]
    for d in (int(x) for x in args.dims.split(",")):
        ours = marginal(lambda s: decent_seconds(args.build, args.workers, d, s), steps, args.repeat)
        theirs = marginal(lambda s: reference_seconds(algorithms, topologies, torch, args.workers, d, s), steps,
                          args.repeat)
        lines.append(f"| {d} | {ours * 1e3:.3g} | {theirs * 1e3:.3g} | {theirs / ours:.3g} |")
        print(lines[-1], flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"table: {args.out}")


if __name__ == "__main__":
    main()
