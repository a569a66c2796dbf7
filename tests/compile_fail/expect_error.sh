#!/usr/bin/env bash
# Compiles FILE and passes when the compiler refuses it with exactly one error containing MESSAGE.
# Usage: expect_error.sh COMPILER INCLUDE_DIR FILE MESSAGE
set -u
out=$("$1" -std=c++20 -fsyntax-only -I"$2" "$3" 2>&1)
rc=$?
errors=$(grep -c 'error:' <<<"$out")
if [[ $rc -ne 0 && $errors -eq 1 ]] && grep -qF -- "$4" <<<"$out"; then
  echo "refused with one error: $4"
  exit 0
fi
echo "expected one error containing '$4'; exit $rc, $errors errors:"
echo "$out" | head -40
exit 1
