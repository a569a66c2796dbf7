#!/usr/bin/env python3
"""No doctest case name holds a ';'.

ctest registers every doctest case as its own test (doctest_discover_tests), and CMake splits names at ';': a case
named "a; b" became two ctest entries, "a" and " b", each filtering for a case that does not exist, so both
passed without running anything (doctest_discover_tests escapes the commas and globs, not this).

Usage: scripts/check_test_names.py [TESTS_DIR]   (default: tests/ next to this script); exit 1 on a bad name.
"""
import pathlib
import re
import sys

CASE = re.compile(r'\b(?:TEST_CASE|SUBCASE|TEST_CASE_TEMPLATE)\s*\(\s*"((?:[^"\\]|\\.)*)"')
BAD = set(';')


def main() -> int:
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "tests"
    bad = []
    count = 0
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".cpp", ".cu", ".hpp", ".cuh"}:
            continue
        for match in CASE.finditer(path.read_text(encoding="utf-8")):
            count += 1
            name = match.group(1)
            if any(c in BAD for c in name):
                line = path.read_text(encoding="utf-8")[: match.start()].count("\n") + 1
                bad.append(f"{path.relative_to(root)}:{line}: {name!r} holds a ';'")
    for b in bad:
        print(b, file=sys.stderr)
    print(f"check_test_names: {count} names, {len(bad)} bad")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
