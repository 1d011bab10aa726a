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
# The full reproduction of the seed study: every table with simulated value,
# study value and delta, charts, honesty checks (about half a minute).
build/default/masim report --paper -o "$out/paper"
echo
echo "results:            $out/results.json"
echo "run report:         $out/report.html ($out/report.md)"
echo "seed-study report:  $out/paper/report.html ($out/paper/report.md)"
