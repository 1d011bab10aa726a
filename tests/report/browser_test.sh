#!/bin/sh
# ctest wrapper for browser_check.js. Skips (exit 77, ctest SKIP_RETURN_CODE)
# only where node, chromium or tools/web/node_modules is missing; otherwise runs
# the generator command (which writes the HTML) and fails on any problem.
#   tests/report/browser_test.sh HTML MIN_CHARTS [GENERATOR ARGS...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
html=$1
min_charts=$2
shift 2
modules=${MASIM_WEB_MODULES:-$root/tools/web/node_modules}
chromium=${MASIM_CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null 2>&1; then
  echo "browser_test: SKIP: node not found (scripts/setup.sh installs it)"; exit 77
fi
if [ ! -x "$chromium" ]; then
  echo "browser_test: SKIP: $chromium not found (scripts/setup.sh installs chromium)"; exit 77
fi
for p in vega vega-lite vega-embed playwright-core; do
  if [ ! -d "$modules/$p" ]; then
    echo "browser_test: SKIP: $modules/$p not found (run: npm ci --prefix tools/web)"; exit 77
  fi
done
if [ "$#" -gt 0 ]; then
  "$@"
fi
exec node "$here/browser_check.js" --html "$html" --min-charts "$min_charts" \
  --modules "$modules" --chromium "$chromium"
