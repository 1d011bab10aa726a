#!/bin/sh
# Fails when the committed seed-study report differs from a fresh regeneration.
#   tests/report/paper_fresh.sh FRESH_DIR COMMITTED_DIR
set -eu
fresh=$1
committed=$2
status=0
for f in report.md $(cd "$fresh" && ls csv/*.csv) report.html; do
  if [ ! -f "$fresh/$f" ]; then
    [ "$f" = report.html ] && { echo "paper_fresh: no fresh report.html (node_modules missing): not compared"; continue; }
    echo "paper_fresh: $fresh/$f was not generated"; status=1; continue
  fi
  if [ ! -f "$committed/$f" ]; then
    echo "paper_fresh: $committed/$f is missing"; status=1; continue
  fi
  if ! cmp -s "$fresh/$f" "$committed/$f"; then
    echo "paper_fresh: $committed/$f is stale; first differences:"
    diff "$committed/$f" "$fresh/$f" | head -20
    status=1
  fi
done
for f in $(cd "$committed" && ls report.md report.html csv/*.csv 2>/dev/null); do
  [ -f "$fresh/$f" ] || { [ "$f" = report.html ] || { echo "paper_fresh: $committed/$f is no longer generated"; status=1; }; }
done
if [ "$status" -ne 0 ]; then
  echo "paper_fresh: regenerate with: build/default/masim report --paper -o reports/paper   (then commit reports/paper)"
fi
exit $status
