#!/usr/bin/env bash
# The sanitizer and fuzz job (docs/RELIABILITY.md): builds masim with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer (clang's -fsanitize=undefined
# includes float-cast-overflow, which GCC's does not: a double too large for an
# integer is caught), every UB report fatal, into build/sanitize; runs the
# sanitizer subset of the suite there with time limits scaled for the slower
# build (MASIM_TEST_TIME_SCALE=10); then runs each libFuzzer target briefly
# (scripts/fuzz.sh, same build; one target per core). scripts/test.sh runs it when CI=true.
#
#   scripts/sanitize.sh                       # the suite + 60 s of fuzzing per target
#   MASIM_FUZZ_SECONDS=0 scripts/sanitize.sh  # the suite only
#
# The suite under the sanitizers: every test of the plain suite except these,
# which the plain build runs (under ASan each would take minutes on 2 cores, or
# measures what ASan changes):
#   report_paper_generate / report_paper_fresh: the whole paper report, 52 full
#     simulations (640 s under ASan); report_test runs the paper's code on a
#     stand-in simulator, and the simulations' code is the layouts, faults and
#     serving tests' below.
#   estimate_test: the estimate's accuracy against counted events over every
#     shipped scenario (300 s; accuracy, not memory safety); estimate_memory_test:
#     peak RSS against the estimate, which ASan's shadow memory makes meaningless.
#   robustness_test / robustness_determinism: the mutation battery and byte
#     determinism of masim run (480 s and 330 s); the same parsers run under ASan
#     in the eleven fuzz targets and the corpus replays, masim itself in cli_test.
#   report_browser_*: need a headless browser, not a sanitizer.
# Breadth tests (random fault sets) run their first seed only under ASan
# (tests/test_time.hpp, testing::breadth). Environment: MASIM_SANITIZE_BUILD
# (default build/sanitize), MASIM_JOBS (default nproc), MASIM_FUZZ_SECONDS
# (default 60 per target, one target per core), CXX (clang++).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${MASIM_SANITIZE_BUILD:-build/sanitize}
jobs=${MASIM_JOBS:-$(nproc)}
fuzz_seconds=${MASIM_FUZZ_SECONDS:-60}
start=$(date +%s)

MASIM_FUZZ_BUILD="$build" MASIM_FUZZ_CONFIGURE_ONLY=1 sh scripts/fuzz.sh

tests=(engine_test io_test topology_test network_test models_test workload_test profile_test
       layouts_test frontend_test cli_test faults_test serving_test report_test sweep_test
       regression_test kernels_test calibrate_test)
# ctest names without a target of their own (they run masim or masim-profile).
extra_tests=(masim_profile_bad_args)
command -v mpirun >/dev/null 2>&1 && extra_tests+=(sweep_mpi_test)
replays=()
for t in scenario json topology results model hardware workload profile serving request_trace sweep; do replays+=("fuzz_${t}_replay"); done
cmake --build "$build" -j "$jobs" --target masim masim-profile "${tests[@]}" "${replays[@]}"
built=$(date +%s)
echo "sanitize: build took $((built - start)) s"

# Every sanitizer report is fatal; leaks are reported too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
regex="^($(IFS='|'; echo "${tests[*]} ${extra_tests[*]}" | tr ' ' '|')|fuzz_replay_.*)\$"
ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 9000 -R "$regex"
tested=$(date +%s)
echo "sanitize: tests took $((tested - built)) s"

if [ "$fuzz_seconds" -gt 0 ]; then
  MASIM_FUZZ_BUILD="$build" MASIM_FUZZ_PARALLEL="${MASIM_FUZZ_PARALLEL:-$jobs}" sh scripts/fuzz.sh "$fuzz_seconds"
fi
echo "sanitize: fuzzing took $(( $(date +%s) - tested )) s; the whole job $(( $(date +%s) - start )) s"
