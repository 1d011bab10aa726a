#!/bin/sh
# Builds masim's libFuzzer targets with clang (ASan + UBSan + libFuzzer) into
# build/fuzz and runs each for SECONDS (default 60). New inputs collect in
# build/fuzz/corpus/<target>/; a crash leaves crash-* in the current directory:
# minimize it, add it to tests/robustness/corpus/<target>/ with the fix, and
# ctest's fuzz_replay_<target> keeps it fixed (docs/RELIABILITY.md).
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh 600 json        # one target, 10 minutes
#
# Environment: MASIM_FUZZ_BUILD (build directory, default build/fuzz),
# MASIM_FUZZ_JOBS (parallel build jobs, default: ninja's), CXX (default clang++).
set -eu

cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-scenario json topology results}
build=${MASIM_FUZZ_BUILD:-build/fuzz}
cxx=${CXX:-clang++}

cmake -S . -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelAssert \
  -DMASIM_FUZZ=ON -DMASIM_ENABLE_CUDA=OFF -DMASIM_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"

build_targets=""
for t in $targets; do build_targets="$build_targets fuzz_$t"; done
# shellcheck disable=SC2086
cmake --build "$build" ${MASIM_FUZZ_JOBS:+-j "$MASIM_FUZZ_JOBS"} --target $build_targets

# Seeds per target: its committed corpus and the shipped inputs of its kind.
seeds() {
  case "$1" in
    scenario) echo "tests/robustness/corpus/scenario scenarios tests/bad_inputs" ;;
    json) echo "tests/robustness/corpus/json tests/bad_inputs" ;;
    topology) echo "tests/robustness/corpus/topology topologies" ;;
    results) echo "tests/robustness/corpus/results tests/report/data" ;;
    *) echo "scripts/fuzz.sh: unknown target $1" >&2; exit 2 ;;
  esac
}

status=0
for t in $targets; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  dict=""
  [ "$t" = scenario ] && dict="-dict=tests/robustness/fuzz_scenario.dict"
  echo "== fuzz_$t for ${seconds}s (corpus $corpus)"
  # shellcheck disable=SC2046,SC2086
  if ! "$build/tests/robustness/fuzz_$t" $dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
      "$corpus" $(seeds "$t"); then
    echo "== fuzz_$t FAILED: see crash-* / timeout-* / oom-* above" >&2
    status=1
  fi
done
exit $status
