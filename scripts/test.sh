#!/usr/bin/env bash
# Builds everything and runs the whole test suite with ctest.
# With CI=true: warnings are errors and CUDA targets are compiled (not run) when
# a CUDA toolkit is present.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
preset=default
if [ "${CI:-}" = "true" ]; then preset=ci; fi
jobs="$(nproc)"
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs" --timeout 900
