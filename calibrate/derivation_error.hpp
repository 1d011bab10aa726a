// How wrong is a derived profile? The derivation's error, measured on a GPU that
// was both derived and measured (issue 21: H200 -> H100 by datasheet ratios,
// against a calibration of a real H100). CPU only.
//
// Everything is priced twice, by the derived profile's fits and by the measured
// profile (or taken as measured), and the error is 100 · (derived − measured) /
// measured, signed (positive: the derived profile is slow):
//   - grid:   every valid grid point of each measured table, priced by the derived
//             table's fit (same grids: the derived table's own value there);
//   - random: the measured profile's random off-grid shapes and those of its
//             rechecks (`masim-calibrate recheck`, re-measured on the measured GPU);
//   - model:  the measured profile's model-shape holdout;
//   - steps:  whole single-GPU decode and prefill steps of the validation models
//             (every layer's ops as sim/workload/layer_ops.hpp builds them, routing
//             sampled as masim samples it) priced by each profile, summed;
//   - real:   real decode steps run on the measured GPU (`masim-calibrate validate
//             --profile DERIVED`): measured against the derived profile's prediction.
// Per set: median |error|, p95 |error| (nearest rank), bias (median signed error),
// min and max. The band carried to other derived profiles is [min, max] over the
// step errors (steps and real): a whole step priced by a derived profile is
// taken to lie within t / (1 + max) .. t / (1 + min) of the truth.
//
//   io::Diagnostics d;
//   DerivationError e = derivation_error(measured, derived, rechecks, models, validations, 4, 1, d);
//   e.band.max_pct   // the worst over-estimate of a whole step
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "calibrate/model_shapes.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/profile/profile.hpp"

namespace masim::calibrate {

struct ErrorStats {
  int points = 0;
  double median_abs_pct = 0;
  double p95_abs_pct = 0;
  double bias_pct = 0;  // median of the signed errors
  double min_pct = 0;
  double max_pct = 0;
};
ErrorStats error_stats(std::vector<double> signed_pct);

// A real step measured by `masim-calibrate validate` (its JSON report).
struct ValidateReport {
  std::string file;
  std::string model;
  std::string profile;      // the profile that priced it
  std::string gpu;
  int batch = 0, context = 0;
  double measured_ms = 0, predicted_ms = 0;
};
std::optional<ValidateReport> parse_validate_report(const nlohmann::json& doc, const std::string& file,
                                                    io::Diagnostics& diags);

struct DerivationError {
  struct Table {
    std::string name;
    ErrorStats grid, random, model;
  };
  struct Step {
    std::string model;
    bool prefill = false;
    int batch = 0, context = 0;
    double measured_ms = 0, derived_ms = 0, error_pct = 0;
  };
  std::vector<Table> tables;  // in the measured profile's order
  ErrorStats grid, random, model;  // pooled over tables
  std::vector<Step> steps;         // priced by both profiles
  ErrorStats decode, prefill;
  std::vector<Step> real;          // measured on the GPU (decode), priced by the derived profile
  ErrorStats real_steps;
  ErrorStats band;                 // steps and real together
  int unpriced_ops = 0;            // step ops one of the profiles does not price (left out of both sums)
};

// `rechecks` must carry random shapes re-measured on the measured profile's GPU
// model (their notes say so); problems go to `diags` and the result is then empty.
DerivationError derivation_error(const profile::Profile& measured, const profile::Profile& derived,
                                 const std::vector<std::pair<std::string, profile::Profile>>& rechecks,
                                 const std::vector<NamedModel>& models, const std::vector<ValidateReport>& real,
                                 int draws, std::uint64_t seed, io::Diagnostics& diags);

// JSON of the result (deterministic key order), with the inputs named.
nlohmann::json to_json(const DerivationError& e, const std::string& measured_path, const std::string& derived_path);

}  // namespace masim::calibrate
