#!/usr/bin/env bash
# Builds everything and runs the whole test suite with ctest.
# With CI=true: warnings are errors and CUDA targets are compiled (not run) when
# a CUDA toolkit is present; then the sanitizer and fuzz job (scripts/sanitize.sh:
# clang, ASan + UBSan, a subset of the suite, 30 s per fuzz target).
# MASIM_SANITIZE_JOB=0 skips that job; MASIM_SANITIZE_JOB=1 runs it without CI.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
preset=default
if [ "${CI:-}" = "true" ]; then preset=ci; fi
jobs="$(nproc)"
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs" --timeout 900
if [ "${MASIM_SANITIZE_JOB:-$([ "${CI:-}" = "true" ] && echo 1 || echo 0)}" = "1" ]; then
  bash scripts/sanitize.sh
fi
