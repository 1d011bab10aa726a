// `masim-calibrate validate SCENARIO`: runs the real single-GPU decode step of
// the scenario's model (batch = workload.batch sequences, KV cache of
// workload.context_length tokens) with the kernels of kernels/cuda, captured in
// one CUDA graph, and compares it per op and end to end with masim's prediction
// for the same step: the ops of sim/workload/layer_ops.hpp priced by the
// calibration profile (sim/profile, roofline for uncovered ops), summed over the
// layers as one GPU stream runs them back to back.
//
// The step's routing comes from its own router on random weights; masim is
// given the same per-expert token counts, so the comparison isolates the cost
// model (routing statistics are validated elsewhere). Per-op times are measured
// by replaying a graph of that op alone over all layers (same buffers, same
// shapes) and dividing by the layer count. A model too large for the GPU runs
// fewer layers (every layer has the same ops), and the prediction covers the
// same layers. Rotary embeddings are not run (masim treats them as fused).
#pragma once

#include <string>

namespace masim::calibrate {

struct ValidateOptions {
  std::string scenario;
  std::string profile;    // empty: the scenario's profile
  int layers = 0;         // 0: all layers that fit
  std::string out;        // JSON report (optional)
  int replays = 30;
  std::string grouped_mode = "auto";  // expert GEMMs: auto | grouped | loop (kernels/cuda/blas GroupedGemm)
  int attention_variant = 0;          // kernels/cuda DecodeAttentionArgs::variant
  double gemm_tune_margin = 0;        // kernels/cuda/blas Blas::set_tune_margin (as the profile's run)
  bool gemm_tune_neighbors = true;    // kernels/cuda/blas Blas::set_tune_neighbors (as the profile's run)
};

int run_validate(const ValidateOptions& opt);

}  // namespace masim::calibrate
