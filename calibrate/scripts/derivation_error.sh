#!/usr/bin/env bash
# Issue 21: the H200 -> H100 derivation's error, measured against the measured
# H100 profile, for both derivation rules, and the derived profiles regenerated
# with the measured step band (CPU only; run from the repository root after
# `cmake --build build/default --target masim-profile`).
set -euo pipefail
B=${MASIM_PROFILE:-build/default/calibrate/masim-profile}
R=calibrate/results/h100
P=calibrate/profiles
RC="$R/runs/rechecks/derived-recheck103-GPU-b2130302.json $R/runs/rechecks/derived-recheck104-GPU-b2130302.json"
models="qwen3-30b-a3b mixtral-8x7b qwen1.5-moe-a2.7b seed-moe-4l"
# Before: the first rule ("efficiency"); its real steps were run with it (call 2).
$B derive --from $P/h200.json --source h200 --target h100-sxm --rule efficiency -o /tmp/h100-sxm.efficiency.json
$B derivation-error --measured $P/h100-sxm.json --derived /tmp/h100-sxm.efficiency.json --recheck $RC \
  --validate $(for m in $models; do echo $R/validate-derived/validate-$m.json; done) \
  -o $R/derivation-error-efficiency.json
# After: rule "rates" (the default); its real steps were run with it (call 3).
$B derive --from $P/h200.json --source h200 --target h100-sxm -o /tmp/h100-sxm.rates.json
$B derivation-error --measured $P/h100-sxm.json --derived /tmp/h100-sxm.rates.json --recheck $RC \
  --validate $(for m in $models; do echo $R/validate-call3/validate-d-$m.json; done) \
  -o $R/derivation-error.json
# The committed derived profiles carry the measured band.
for t in h100-sxm a100-sxm4-80gb; do
  $B derive --from $P/h200.json --source h200 --target $t --measured-error $R/derivation-error.json -o $P/$t.derived.json
done
