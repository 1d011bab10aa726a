// masim against the production path (issue 17): whole decode and prefill steps
// that `masim-calibrate-torch steps` ran through libtorch's production kernels
// in one CUDA graph (calibrate/torch/production.cpp), priced by masim. CPU only.
//
// For every measured step the model is built from the step spec's validation
// scenario (calibrate/validation/production-steps.json names one per model) and
// checked against the dimensions the GPU ran; masim's ops for the same layers
// (sim/workload/layer_ops.hpp: attention, router, experts with the measured
// per-expert row counts, shared experts, combine) are priced by the cost model
// of the profile with the chosen kernels and summed, as one GPU stream runs them.
// Per op, labels match (masim numbers repeats "residual#2"); ops only one side
// has (the KV-cache write, which masim folds into attention) are listed as such.
// Errors are 100 · (masim − measured) / measured.
//
// Summaries: decode and prefill steps (median, p95 nearest rank, bias = median
// signed error); dense GEMMs measured at 50 us or more per layer (qkv_proj, o_proj,
// router, shared expert GEMMs); expert grouped GEMMs; decode attention.
//
//   io::Diagnostics d;
//   auto r = price_production_steps(report_json, "steps.json", spec_json, "spec.json", profile, "production", d);
//   r->decode.median_abs_pct
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/derivation_error.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/profile/profile.hpp"

namespace masim::calibrate {

struct ProductionStepsResult {
  nlohmann::json report;     // per step and per op, plus the summaries below
  ErrorStats decode, prefill, gemm_50us, grouped_gemm, decode_attention;
};

// `report` is masim-calibrate-torch's steps output (read from `report_file`),
// `spec` the steps spec it ran (`spec_file`; scenarios are relative to it).
// `hardware`, when not empty, "HARDWARE.json,TOPOLOGY.json", replaces the
// scenarios' hardware and topology files (to price with a profile of another GPU). nullopt with diagnostics (file + JSON Pointer) on bad input: a scenario that
// cannot be read, a model whose dimensions differ from what the GPU ran, a step
// of a model the spec does not name.
std::optional<ProductionStepsResult> price_production_steps(const nlohmann::json& report, const std::string& report_file,
                                                            const nlohmann::json& spec, const std::string& spec_file,
                                                            const std::string& profile_path,
                                                            const std::string& kernels, const std::string& hardware,
                                                            io::Diagnostics& diags);

}  // namespace masim::calibrate
