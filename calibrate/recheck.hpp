// `masim-calibrate recheck PROFILE`: measures fresh held-out shapes on this GPU
// against a profile's fitted tables, without re-measuring its grids. For each
// table it draws --holdout random off-grid shapes from --seed (as `run` draws
// them; shapes that fall on the profile's grid are drawn again) and, with
// --model-draws, the validation models' off-grid decode shapes; checks and
// times each as `run` does; and writes a copy of the profile whose holdout
// lists are the new measurements (predictions and error summaries refit), so
// `masim-profile summary` reports them. A profile's own holdout is one draw of
// 24 shapes per table; a recheck with other seeds and more shapes says how far
// its p95 moves between draws, and on another GPU of the same model how well
// the profile carries over.
//
//   masim-calibrate recheck calibrate/profiles/h200.json --seed 101 --holdout 100 -o recheck.json
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calibrate/harness.hpp"

namespace masim::calibrate {

struct RecheckOptions {
  std::string profile;             // profile to check
  std::string out;                 // the copy with re-measured holdouts
  std::vector<std::string> only;   // tables (empty: every table of the profile a bench measures)
  int holdout = 100;               // random off-grid shapes per table
  int model_draws = 0;             // batch/context draws per validation model (0: none)
  std::uint64_t seed = 1000;
  double memory_cap_gib = 24;
  TimingOptions timing;
  double deadline_s = 0;           // > 0: stop measuring after this long (the rest left out)
  double gemm_tune_margin = 0;     // as the profile's run
  bool gemm_tune_neighbors = true; // as the profile's run
  std::vector<std::string> arguments;
};

// Returns the exit code (0 ok, 1 some shapes measured wrong; 2 bad profile).
int run_recheck(const RecheckOptions& opt);

}  // namespace masim::calibrate
