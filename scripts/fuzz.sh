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
# The build is the sanitizer build of scripts/sanitize.sh (clang, ASan + UBSan,
# -O1; the library code is also compiled with libFuzzer's coverage
# instrumentation, which the unit tests link without libFuzzer), so CI builds once.
# Each run ends with libFuzzer's last status line: execs, coverage (cov: edges,
# ft: features) and corpus size, the figures docs/RELIABILITY.md records.
#
# Environment: MASIM_FUZZ_BUILD (build directory, default build/sanitize),
# MASIM_FUZZ_JOBS (parallel build jobs, default: ninja's), MASIM_FUZZ_TIMEOUT (seconds per
# input, default 10, topologies 30), CXX (default clang++),
# MASIM_FUZZ_PARALLEL (targets run at once, default 1; scripts/sanitize.sh runs
# one per core), MASIM_FUZZ_CONFIGURE_ONLY=1 (configure and stop: scripts/sanitize.sh).
set -eu

cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-scenario json topology results model hardware workload profile serving request_trace sweep}
build=${MASIM_FUZZ_BUILD:-build/sanitize}
cxx=${CXX:-clang++}

# Build type "Sanitize": -O1 (a third of -O2's compile time, sanitizers' usual level), assertions on.
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" \
  -DMASIM_FUZZ=ON -DMASIM_ENABLE_CUDA=OFF -DMASIM_BUILD_BENCHMARKS=OFF -DMASIM_TEST_TIME_SCALE=10 \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
[ "${MASIM_FUZZ_CONFIGURE_ONLY:-}" = 1 ] && exit 0

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
    model) echo "tests/robustness/corpus/model scenarios/models" ;;
    hardware) echo "tests/robustness/corpus/hardware scenarios/hardware" ;;
    workload) echo "tests/robustness/corpus/workload" ;;
    profile) echo "tests/robustness/corpus/profile calibrate/profiles" ;;
    serving) echo "tests/robustness/corpus/serving" ;;
    sweep) echo "tests/robustness/corpus/sweep scenarios/sweeps" ;;
    request_trace) echo "tests/robustness/corpus/request_trace scenarios/serving/traces" ;;
    *) echo "scripts/fuzz.sh: unknown target $1" >&2; exit 2 ;;
  esac
}

# One target: its run's output to stdout; non-zero on a crash, hang or sanitizer report.
fuzz_one() {
  t=$1
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  dict=""
  [ -f "tests/robustness/fuzz_$t.dict" ] && dict="-dict=tests/robustness/fuzz_$t.dict"
  # Per-input time limit: 10 s, 30 s for topologies (fuzz_topology builds
  # topologies of up to 2,000 vertices, which take seconds under ASan).
  # MASIM_FUZZ_TIMEOUT overrides both: libFuzzer's limit is wall-clock time, so
  # a fuzzer niced on a busy machine needs more (the long runs of RELIABILITY.md).
  limit=10
  [ "$t" = topology ] && limit=30
  limit=${MASIM_FUZZ_TIMEOUT:-$limit}
  echo "== fuzz_$t for ${seconds}s (corpus $corpus)"
  # shellcheck disable=SC2046,SC2086
  if ! "$build/tests/robustness/fuzz_$t" $dict -max_total_time="$seconds" -timeout="$limit" -rss_limit_mb=4096 -print_final_stats=1 \
      "$corpus" $(seeds "$t") 2>&1; then
    echo "== fuzz_$t FAILED: see crash-* / timeout-* / oom-* above" >&2
    return 1
  fi
}

# MASIM_FUZZ_PARALLEL targets at a time (default 1), one core each; each
# target's output is printed whole when it ends, in the order given.
parallel=${MASIM_FUZZ_PARALLEL:-1}
logs="$build/fuzz-logs"
rm -rf "$logs"
mkdir -p "$logs"
status=0
i=0
running=0
for t in $targets; do
  i=$((i + 1))
  ( fuzz_one "$t" > "$logs/$i.$t.log" 2>&1; echo $? > "$logs/$i.$t.rc" ) &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait
    running=0
  fi
done
wait
i=0
for t in $targets; do
  i=$((i + 1))
  cat "$logs/$i.$t.log"
  [ "$(cat "$logs/$i.$t.rc")" = 0 ] || status=1
done
exit $status
