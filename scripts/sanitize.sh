#!/usr/bin/env bash
# The sanitizer and fuzz job (docs/RELIABILITY.md): builds masim with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer (clang's -fsanitize=undefined
# includes float-cast-overflow, which GCC's does not: a double too large for an
# integer is caught), every UB report fatal, into build/sanitize; runs the
# sanitizer subset of the suite there with time limits scaled for the slower
# build (MASIM_TEST_TIME_SCALE=10); then runs each libFuzzer target briefly
# (scripts/fuzz.sh, same build). scripts/test.sh runs it when CI=true.
#
#   scripts/sanitize.sh                       # subset + 30 s of fuzzing per target
#   MASIM_FUZZ_SECONDS=0 scripts/sanitize.sh  # subset only
#
# The subset: the unit tests of the libraries (engine, io, topology, network,
# models, workload, profile, layouts, frontend), the fuzz corpus replays, and
# masim itself on the bad-input corpus and every command's odd inputs
# (cli_test). Left to the plain build, which runs them: report_test and the
# paper report (the whole seed study), faults_test (timelines with hundreds of
# re-simulations), estimate_test (accuracy, not memory safety), the robustness
# mutation and determinism tests: each minutes under ASan on 2 cores. Environment: MASIM_SANITIZE_BUILD (default build/sanitize),
# MASIM_JOBS (default nproc), MASIM_FUZZ_SECONDS (default 30), CXX (clang++).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${MASIM_SANITIZE_BUILD:-build/sanitize}
jobs=${MASIM_JOBS:-$(nproc)}
fuzz_seconds=${MASIM_FUZZ_SECONDS:-30}
start=$(date +%s)

MASIM_FUZZ_BUILD="$build" MASIM_FUZZ_CONFIGURE_ONLY=1 sh scripts/fuzz.sh

tests=(engine_test io_test topology_test network_test models_test workload_test profile_test
       layouts_test frontend_test cli_test)
replays=()
for t in scenario json topology results model hardware workload profile serving request_trace sweep; do replays+=("fuzz_${t}_replay"); done
cmake --build "$build" -j "$jobs" --target masim "${tests[@]}" "${replays[@]}"
built=$(date +%s)
echo "sanitize: build took $((built - start)) s"

# Every sanitizer report is fatal; leaks are reported too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
regex="^($(IFS='|'; echo "${tests[*]}")|fuzz_replay_.*)\$"
ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 9000 -R "$regex"
tested=$(date +%s)
echo "sanitize: tests took $((tested - built)) s"

if [ "$fuzz_seconds" -gt 0 ]; then
  MASIM_FUZZ_BUILD="$build" sh scripts/fuzz.sh "$fuzz_seconds"
fi
echo "sanitize: fuzzing took $(( $(date +%s) - tested )) s; the whole job $(( $(date +%s) - start )) s"
