#!/bin/sh
# Regenerates the seed-study report into OUT_DIR (a fixture for the staleness and
# browser tests). With tools/web/node_modules present the HTML is written too;
# without, Markdown and CSV only (the staleness test then skips the HTML).
#   tests/report/paper_generate.sh REPORT_TOOL OUT_DIR
set -eu
tool=$1
out=$2
rm -rf "$out"
root=$(cd "$(dirname "$0")/../.." && pwd)
modules=${MASIM_WEB_MODULES:-$root/tools/web/node_modules}
if [ -f "$modules/vega/build/vega.min.js" ]; then
  exec "$tool" --paper "$out"
fi
echo "paper_generate: $modules missing: Markdown and CSV only"
exec "$tool" --paper "$out" --no-html
