#!/usr/bin/env bash
# One call on the GPU machine for the production kernels (issue 17): build
# masim-calibrate (or use the carried .carry/bin one) and masim-calibrate-torch
# (libtorch, found through the image's python3 torch), then the stages given,
# each within its own deadline, results and logs under $OUT.
#
#   calibrate/scripts/device_prod.sh [--budget-s 570] STAGE...
#   stages: gemm (gemm_bf16 with cuBLASLt's heuristic top-1, production),
#           attention (SDPA decode table), steps (production decode/prefill steps),
#           power (NVML readings for the power model),
#           tables (gemm_bf16, attention_prefill_d128, grouped_gemm_bf16 through libtorch),
#           smallops (rmsnorm, router_topk, swiglu, permute, unpermute, elementwise as
#           PyTorch runs them unfused)
# GEMM_S, ATTN_S, STEPS_S, TABLES_S, SMALL_S: per-stage deadlines in seconds; SEED (default 16).
set -u
OUT=${OUT:-/tmp/masim-out}
mkdir -p "$OUT"
BUDGET=570
STAGES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget-s) BUDGET=$2; shift 2 ;;
    *) STAGES+=("$1"); shift ;;
  esac
done
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
say() { echo "=== [$(( $(date +%s) - START ))s] $*"; }
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

say "env"
nvidia-smi --query-gpu=name,uuid,driver_version,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu --format=csv 2>&1
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
TP=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')

say "build (masim-calibrate-torch; masim-calibrate unless carried)"
( cmake -S calibrate/torch -B build/torch -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TP" \
    -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build build/torch -j8 ) > "$OUT/build-torch.txt" 2>&1 &
PT=$!
BIN=""
if [ -x .carry/bin/masim-calibrate ] && ! ldd -r .carry/bin/masim-calibrate 2>&1 | grep -qE "not found|undefined symbol" &&
   .carry/bin/masim-calibrate --version >/dev/null 2>&1; then
  BIN=.carry/bin/masim-calibrate; say "carried masim-calibrate loads"
else
  ( cmake -S . -B build/cuda -G Ninja -DMASIM_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_BUILD_TYPE=Release \
      -DMASIM_BUILD_BENCHMARKS=OFF -DMASIM_BUILD_TESTS=OFF && cmake --build build/cuda --target masim-calibrate -j8 ) \
    > "$OUT/build-cuda.txt" 2>&1 && BIN=build/cuda/calibrate/masim-calibrate
  [ -z "$BIN" ] && { say "masim-calibrate build failed"; grep -E "error|Error" "$OUT/build-cuda.txt" | head -30; }
fi
wait $PT && TB=build/torch/masim-calibrate-torch || { say "torch build failed"; grep -E "error" -A3 "$OUT/build-torch.txt" | head -60; TB=""; }
say "built: ${BIN:-none} ${TB:-none}"

for stage in "${STAGES[@]}"; do
  L=$(left)
  if [ "$L" -lt 25 ]; then say "no time left for $stage"; continue; fi
  case "$stage" in
    gemm)
      [ -z "$BIN" ] && continue
      D=${GEMM_S:-150}; [ "$D" -gt $(( L - 10 )) ] && D=$(( L - 10 ))
      say "gemm_bf16, heuristic top-1 (deadline ${D}s)"
      timeout $(( D + 40 )) $BIN run -o "$OUT/prod-gemm.json" --only gemm_bf16 --gemm-algo heuristic --no-collectives \
        --gemm-extra-n 60 --window-ms 3.5 --seed "${SEED:-16}" --deadline-s "$D" --git-commit "${COMMIT:-unknown}" 2>&1 |
        grep -vE "^\[ *[0-9]+/"
      echo "gemm exit ${PIPESTATUS[0]}" ;;
    attention)
      [ -z "$TB" ] && continue
      D=${ATTN_S:-120}; [ "$D" -gt $(( L - 10 )) ] && D=$(( L - 10 ))
      say "attention (deadline ${D}s)"
      timeout $(( D + 60 )) $TB attention -o "$OUT/torch-attention.json" --seed "${SEED:-16}" --deadline-s "$D" \
        --models calibrate/validation/production-steps.json; echo "attention exit $?" ;;
    steps)
      [ -z "$TB" ] && continue
      D=${STEPS_S:-150}; [ "$D" -gt $(( L - 10 )) ] && D=$(( L - 10 ))
      say "steps (deadline ${D}s)"
      timeout $(( D + 60 )) $TB steps calibrate/validation/production-steps.json -o "$OUT/torch-steps.json" \
        --deadline-s "$D"; echo "steps exit $?" ;;
    tables)
      [ -z "$TB" ] && continue
      D=${TABLES_S:-240}; [ "$D" -gt $(( L - 15 )) ] && D=$(( L - 15 ))
      say "tables: gemm_bf16, attention_prefill_d128, grouped_gemm_bf16 through libtorch (deadline ${D}s)"
      timeout $(( D + 90 )) $TB tables -o "$OUT/torch-tables.json" --deadline-s "$D"; echo "tables exit $?" ;;
    smallops)
      [ -z "$TB" ] && continue
      D=${SMALL_S:-120}; [ "$D" -gt $(( L - 15 )) ] && D=$(( L - 15 ))
      say "smallops: rmsnorm, router_topk, swiglu, permute, unpermute, elementwise through libtorch (deadline ${D}s)"
      timeout $(( D + 60 )) $TB smallops -o "$OUT/torch-smallops.json" --deadline-s "$D"; echo "smallops exit $?" ;;
    power)
      [ -z "$TB" ] && continue
      say "power"
      timeout $(( L - 5 )) $TB power -o "$OUT/torch-power.json" --seconds "${POWER_S:-1.5}"; echo "power exit $?" ;;
    *) say "unknown stage $stage" ;;
  esac
done
( cd "$OUT" && ls build-*.txt 2>/dev/null | tar czf builds.tgz -T - && rm -f build-*.txt )
say "done"
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv 2>&1
