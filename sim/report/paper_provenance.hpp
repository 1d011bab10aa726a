// The paper report's "Which model priced each run" section
// (sim/report/paper_provenance.cpp): for every simulated scenario run, the
// compute cost model that priced it (results.json "cost_model"), how many ops
// the profile priced and how many fell back to the roofline ("cost_sources",
// summed over the run's layouts), and whether a derived profile's error band
// came with it ("cost_band"). Paths under the source tree are shown relative to
// it, so the report does not depend on where the repository is checked out.
//
//   std::vector<PricedRun> runs;
//   runs.push_back(priced_run("seed_study", results));
//   add_cost_model_section(doc, runs, source_dir);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"

namespace masim::report {

struct PricedRun {
  std::string label;        // the report's name for the run ("scalability, 8 GPUs")
  std::string cost_model;   // results.json "cost_model"
  std::int64_t profile_ops = 0;
  std::int64_t roofline_ops = 0;
  bool band = false;        // results.json carries a cost_band
};

PricedRun priced_run(const std::string& label, const nlohmann::json& results);

// `text` with every occurrence of "<source_dir>/" removed.
std::string relative_to_source(std::string text, const std::string& source_dir);

void add_cost_model_section(Document& d, const std::vector<PricedRun>& runs, const std::string& source_dir);

}  // namespace masim::report
