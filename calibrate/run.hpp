// `masim-calibrate run`: walks every op family's grid with two held-out sets
// spread evenly through the walk (random off-grid shapes, and the model shapes
// of calibrate/model_shapes.hpp), checks and times each point, and writes the
// profile atomically. Every finished point is appended to a journal
// (PROFILE.journal.jsonl) first, so an interrupted run resumes where it stopped
// (--resume), on the same GPU only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "calibrate/benches.hpp"
#include "calibrate/harness.hpp"

namespace masim::calibrate {

struct RunOptions {
  std::string out;                  // profile path
  bool resume = false;
  bool quick = false;               // small grids (smoke test)
  std::vector<std::string> only;    // tables to measure (empty: all)
  int holdout = 24;                 // off-grid shapes per table
  int model_draws = 16;             // batch/context draws per validation model for the model holdout (0: none)
  std::vector<std::string> model_scenarios;  // empty: calibrate/validation's four
  double memory_cap_gib = 24;       // largest buffer footprint per point
  std::uint64_t seed = 1;
  std::string git_commit;
  std::vector<std::string> arguments;
  TimingOptions timing;
  bool collectives = true;
  double deadline_s = 0;            // > 0: stop measuring after this many seconds (rest "skipped", resumable)
  int decode_variant = 0;           // decode attention kernel (kernels.hpp DecodeAttentionArgs::variant; 0 automatic)
  double gemm_tune_margin = 0;      // kernels/cuda/blas Blas::set_tune_margin
  bool gemm_tune_neighbors = true;  // kernels/cuda/blas Blas::set_tune_neighbors
  // "tuned" (masim's own pick, the default) or "heuristic": GEMMs run cuBLASLt's
  // heuristic top-1 algorithm, as frameworks do, and their tables are recorded
  // as the production implementation ("kernels": "production", issue 17).
  std::string gemm_algo = "tuned";
  GridOptions grids;                // extra columns, experiment grids (benches.hpp)
};

// Checks and times `b` at `x` (one grid or holdout point): a JSON record with
// "status" (ok, wrong, unsupported, skipped, error) and, when ok, the timing.
nlohmann::json measure_point(Device& dev, Bench& b, const std::vector<double>& x, bool holdout,
                             double memory_cap_gib, const TimingOptions& timing, std::uint64_t seed);

// The generator of a table's random holdout for a seed (run and recheck draw the
// same shapes from the same seed).
Rng holdout_rng(std::uint64_t seed, const std::string& table);

// Returns the process exit code (0 ok, 1 some points wrong).
int run_calibration(const RunOptions& opt);

}  // namespace masim::calibrate
