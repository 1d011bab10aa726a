// The run report's "Run timeline" section, from results.json's "run_timeline"
// (docs/RESULTS.md): per-layout goodput and availability, throughput over time
// (a chart), every incident with its recovery steps, and the segments as CSV.
//
//   if (results.contains("run_timeline")) add_run_timeline(doc, results["run_timeline"]);
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"

namespace masim::report {

void add_run_timeline(Document& d, const nlohmann::json& timeline);

// Throughput over the run, one step line per layout (also the paper report's).
Chart run_timeline_chart(const nlohmann::json& timeline, const std::string& id, const std::string& title);

}  // namespace masim::report
