#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the seed study's report:
# installs dependencies, builds masim, runs the embedded seed-study scenario
# (TP=8, PP=2, TP8+PP2, MA Separation on 16x A100-80GB), prints the layout
# comparison table and writes results and the report under out/seed-study/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default
out="${1:-out/seed-study}"
build/default/masim run -o "$out" --report
echo
echo "results: $out/results.json"
ls "$out"
