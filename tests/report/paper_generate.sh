#!/bin/sh
# Regenerates the seed-study report into OUT_DIR with the documented command
# (masim report --paper), as a fixture for the staleness and browser tests. With
# tools/web/node_modules present the HTML is written too; without, Markdown and
# CSV only (the staleness test then does not compare the HTML).
#   tests/report/paper_generate.sh MASIM OUT_DIR
set -eu
masim=$1
out=$2
rm -rf "$out"
root=$(cd "$(dirname "$0")/../.." && pwd)
modules=${MASIM_WEB_MODULES:-$root/tools/web/node_modules}
if [ -f "$modules/vega/build/vega.min.js" ]; then
  exec "$masim" report --paper -o "$out"
fi
echo "paper_generate: $modules missing: Markdown and CSV only"
exec "$masim" report --paper -o "$out" --no-html
