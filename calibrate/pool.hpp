// Pooling held-out shapes of several measurements of one profile (CPU only).
//
// A run's own random holdout is one draw of 24 shapes per table; rechecks
// (`masim-calibrate recheck`) measure more draws against the same grids. Pooling
// prices every file's random off-grid shapes with the base profile's fits (its
// quanta, alignment and iso-bytes, whatever the files' own were) and summarizes
// them per table and over all tables, per file and pooled. Model shapes are left
// out: a recheck without --model-draws carries the run's own model shapes, which
// would count twice.
//
//   io::Diagnostics d;
//   auto r = pool_holdouts(base, {{"recheck-103.json", recheck}}, d);
//   r.all.p95_abs_pct   // over the files' random shapes, priced by base
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/io/diagnostics.hpp"
#include "sim/profile/profile.hpp"

namespace masim::calibrate {

struct PoolResult {
  struct Table {
    profile::ErrorSummary errors;
    int over_10_pct = 0;  // shapes with |error| > 10%
  };
  std::map<std::string, Table> tables;                  // pooled over the files, by table name
  std::vector<std::pair<std::string, Table>> files;     // over all tables, per file
  Table all;                                            // over every file and table
  int unpriced = 0;  // shapes the base's fits do not price (the cost model falls back to the roofline)
};

// Every file must be of the base's GPU model (measured, if the base is) and its
// tables tables of `base` with the same axes and grid (a recheck of it, the run
// it was refit from, or another run of the same grids); each problem is reported
// in `diags` (file and JSON Pointer) and the result is then empty.
PoolResult pool_holdouts(const profile::Profile& base,
                         const std::vector<std::pair<std::string, profile::Profile>>& files,
                         io::Diagnostics& diags);

}  // namespace masim::calibrate
