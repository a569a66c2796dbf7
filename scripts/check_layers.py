#!/usr/bin/env python3
"""The include graph of include/decent has no arrow from a lower layer to a higher one (docs/architecture.md).

Layers, lowest first; a header may include headers of its own directory, of a lower layer, and nothing else:
  0 core/, detail/      (detail/ holds core's private helpers: dense linear algebra, CUDA checks; they may include each other)
  1 exec/
  2 topology/, comm/    (independent of each other)
  3 compress/
  4 mixing/
  5 algorithm/
  6 sim/
  7 decent.hpp, cuda.cuh (the umbrellas)
Also: a .hpp never includes a .cuh (a .hpp compiles with a C++ compiler alone), the umbrella decent.hpp does
not pull in the simulator (sim/), and no compressor, rule or algorithm includes the topology spec parser.

Usage: scripts/check_layers.py [INCLUDE_DIR]   (default: include/ next to this script); exit 1 on a violation.
"""
import pathlib
import re
import sys

LAYERS = {"core": 0, "detail": 0, "exec": 1, "topology": 2, "comm": 2, "compress": 3, "mixing": 4,
          "algorithm": 5, "sim": 6, "": 7}
# Headers no algorithm, rule or compressor may include: what parses user-facing text (decent-sim's specs).
PARSERS = {"topology/spec.hpp"}
INCLUDE = re.compile(r'^\s*#\s*include\s*<decent/([^>]+)>', re.MULTILINE)


def layer_of(relative: str) -> str:
    parts = relative.split("/")
    return parts[0] if len(parts) > 1 else ""


def main() -> int:
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "include"
    base = root / "decent"
    problems = []
    headers = sorted(p for p in base.rglob("*") if p.suffix in (".hpp", ".cuh"))
    for header in headers:
        name = header.relative_to(base).as_posix()
        mine = layer_of(name)
        if mine not in LAYERS:
            problems.append(f"{name}: directory '{mine}' has no layer (add it to scripts/check_layers.py)")
            continue
        for target in INCLUDE.findall(header.read_text(encoding="utf-8")):
            theirs = layer_of(target)
            if not (base / target).exists():
                problems.append(f"{name} includes <decent/{target}>, which does not exist")
                continue
            if theirs not in LAYERS:
                problems.append(f"{name} includes <decent/{target}> of an unknown layer")
            elif theirs != mine and LAYERS[theirs] >= LAYERS[mine] and not (LAYERS[mine] == LAYERS[theirs] == 0):
                problems.append(f"{name} (layer {LAYERS[mine]}, {mine or 'umbrella'}/) includes <decent/{target}> "
                                f"(layer {LAYERS[theirs]}, {theirs}/): an arrow from a lower layer to a higher one")
            if header.suffix == ".hpp" and target.endswith(".cuh"):
                problems.append(f"{name} includes <decent/{target}>: a .hpp must compile without nvcc")
            if name == "decent.hpp" and theirs == "sim":
                problems.append(f"decent.hpp includes <decent/{target}>: the umbrella is the library, not the "
                                f"simulator")
            if target in PARSERS and mine in ("compress", "mixing", "algorithm"):
                problems.append(f"{name} includes the spec parser <decent/{target}>: algorithms take topologies, "
                                f"not text")
    for problem in problems:
        print(f"check_layers: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_layers: {len(headers)} headers, no arrow from a lower layer to a higher one")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
