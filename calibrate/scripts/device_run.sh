#!/usr/bin/env bash
# One call on the GPU machine: check the environment, get a masim-calibrate
# binary (the one carried in .carry/bin if it loads here, else a fresh build),
# then run the requested stages within a time budget, writing logs and results
# under $OUT (at most 8 files come back).
#
#   calibrate/scripts/device_run.sh [--budget-s 560] [--commit SHA] STAGE...
#   stages: env smoke smoke4 quality run resume validate validate-all recheck nccl
# (smoke4: the decode attention smoke with the balanced split-KV kernel, variant 4)
# SEED (default 1) seeds the run's inputs and its off-grid holdout shapes;
# RUN_ARGS adds options to `masim-calibrate run` (e.g. --no-collectives),
# VALIDATE_ARGS to `masim-calibrate validate` (e.g. --gemm-tune-margin 0.05).
#
# `run` starts a full calibration (profile $OUT/h200.json, journal beside it);
# `resume` continues one from .carry/journal/h200.json.journal.jsonl.
# `recheck` measures fresh off-grid shapes against $OUT/h200.json (else the
# committed profile): RECHECK_SEEDS (default 101), RECHECK_N shapes per table
# (default 100), RECHECK_ARGS more options. Reports, smoke and quality files are
# packed into $OUT/results.tgz at the end (at most 8 files come back).
set -u
OUT=${OUT:-/tmp/masim-out}
mkdir -p "$OUT"
BUDGET=560
COMMIT=unknown
STAGES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget-s) BUDGET=$2; shift 2 ;;
    --commit) COMMIT=$2; shift 2 ;;
    *) STAGES+=("$1"); shift ;;
  esac
done
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
say() { echo "=== [$(( $(date +%s) - START ))s] $*"; }
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

say "env"
nvidia-smi --query-gpu=name,uuid,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu,memory.used,memory.total --format=csv 2>&1
nvcc --version 2>&1 | tail -2
cmake --version 2>&1 | head -1
ls /usr/include/nvml.h /usr/local/cuda/include/nvml.h 2>&1 | head -2
ldconfig -p 2>/dev/null | grep -E "libnvidia-ml|libnccl|libcublas\." | head -5
command -v mpirun mpicxx 2>&1 | head -2

BIN=""
if [ -x .carry/bin/masim-calibrate ]; then
  if ldd -r .carry/bin/masim-calibrate 2>&1 | grep -qE "not found|undefined symbol"; then
    say "carried binary does not load here:"; ldd -r .carry/bin/masim-calibrate 2>&1 | grep -E "not found|undefined" | head -5
  elif .carry/bin/masim-calibrate --version >/dev/null 2>&1; then
    BIN=.carry/bin/masim-calibrate
    say "using the carried binary ($($BIN --version))"
  fi
fi
if [ -z "$BIN" ]; then
  say "building"
  cmake -S . -B build/cuda -G Ninja -DMASIM_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_BUILD_TYPE=Release -DMASIM_BUILD_BENCHMARKS=OFF -DMASIM_BUILD_TESTS=OFF > "$OUT/build.txt" 2>&1 &&
  cmake --build build/cuda --target masim-calibrate -j16 >> "$OUT/build.txt" 2>&1 || { tail -40 "$OUT/build.txt"; exit 3; }
  BIN=build/cuda/calibrate/masim-calibrate
  say "built"
fi
$BIN info

for stage in "${STAGES[@]}"; do
  L=$(left)
  if [ "$L" -lt 30 ]; then say "no time left for $stage"; continue; fi
  case "$stage" in
    smoke)
      say "smoke (quick grids: GEMMs, permute, decode attention)"
      timeout 90 $BIN run --quick --holdout 4 --model-draws 2 --no-collectives \
        --only gemm_bf16,gemm_fp8,grouped_gemm_bf16,permute,unpermute,attention_decode_d128,attention_decode_d64,memcpy_d2h \
        -o "$OUT/smoke.json" 2>&1 | grep -vE "^\[ *[0-9]+/"; echo "smoke exit ${PIPESTATUS[0]}"
      rm -f "$OUT/smoke.json.journal.jsonl" ;;
    smoke4)
      say "smoke4 (quick grid: decode attention d128, balanced split-KV)"
      timeout 60 $BIN run --quick --holdout 4 --model-draws 2 --no-collectives --decode-variant 4 \
        --only attention_decode_d128 -o "$OUT/smoke4.json" 2>&1 | grep -vE "^\[ *[0-9]+/"; echo "smoke4 exit ${PIPESTATUS[0]}"
      rm -f "$OUT/smoke4.json.journal.jsonl" ;;
    quality)
      say "quality (limit $(( L < 120 ? L : 120 ))s)"
      timeout $(( L < 120 ? L : 120 )) $BIN quality -o "$OUT/quality.json"; echo "quality exit $?" ;;
    run|resume)
      R=$(( L - ${RESERVE_S:-150} )); [ "$R" -lt 60 ] && R=$(( L - 20 ))
      EXTRA=""
      if [ "$stage" = resume ] && [ -f .carry/journal/h200.json.journal.jsonl ]; then
        cp .carry/journal/h200.json.journal.jsonl "$OUT/h200.json.journal.jsonl"; EXTRA=--resume
      fi
      say "calibration $stage (deadline ${R}s)"
      timeout $(( R + 60 )) $BIN run -o "$OUT/h200.json" $EXTRA --deadline-s "$R" --git-commit "$COMMIT" --seed "${SEED:-1}" ${RUN_ARGS:-}
      RC=$?
      echo "run exit $RC"
      if [ "$RC" = 3 ] && [ -n "$EXTRA" ]; then
        # Another GPU than the journal's: measure everything here.
        L=$(left); R=$(( L - ${RESERVE_S:-150} )); [ "$R" -lt 60 ] && R=$(( L - 20 ))
        say "journal is from another GPU: full calibration (deadline ${R}s)"
        timeout $(( R + 60 )) $BIN run -o "$OUT/h200.json" --deadline-s "$R" --git-commit "$COMMIT" --seed "${SEED:-1}" ${RUN_ARGS:-}
        echo "run exit $?"
      fi ;;
    nccl)
      # Collectives over every GPU of the machine, one process per GPU (issue 7).
      N=$(nvidia-smi -L 2>/dev/null | wc -l)
      say "nccl over $N GPUs"
      timeout $(( L - 5 )) $BIN nccl --ranks "$N" -o "$OUT/nccl$N.json"; echo "nccl exit $?" ;;
    validate|validate-all)
      P="$OUT/h200.json"; [ -f "$P" ] || P=calibrate/profiles/h200.json
      LIST="qwen3-30b-a3b mixtral-8x7b"
      [ "$stage" = validate-all ] && LIST="qwen3-30b-a3b mixtral-8x7b qwen1.5-moe-a2.7b seed-moe-4l"
      for v in $LIST; do
        L=$(left); [ "$L" -lt 25 ] && { say "no time left for validate $v"; continue; }
        say "validate $v"
        timeout $(( L - 5 )) $BIN validate calibrate/validation/$v.json --profile "$P" -o "$OUT/validate-$v.json" ${VALIDATE_ARGS:-}
        echo "validate $v exit $?"
      done ;;
    recheck)
      P="$OUT/h200.json"; [ -f "$P" ] || P=calibrate/profiles/h200.json
      for sd in ${RECHECK_SEEDS:-101}; do
        L=$(left); [ "$L" -lt 30 ] && { say "no time left for recheck seed $sd"; continue; }
        say "recheck $P, seed $sd (deadline $(( L - 20 ))s)"
        timeout $(( L - 5 )) $BIN recheck "$P" -o "$OUT/recheck-$sd.json" --seed "$sd" --holdout "${RECHECK_N:-100}" \
          --deadline-s $(( L - 20 )) ${RECHECK_ARGS:-}
        echo "recheck seed $sd exit $?"
      done ;;
    *) say "unknown stage $stage" ;;
  esac
done
( cd "$OUT" && ls validate-*.json recheck-*.json smoke*.json quality.json 2>/dev/null | tar czf results.tgz -T - &&
  ls validate-*.json recheck-*.json smoke*.json quality.json 2>/dev/null | xargs -r rm -f )
say "done"
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv 2>&1
