// The run report's "Serving" section, from results.json's "serving"
// (docs/RESULTS.md): per-layout latency percentiles, throughput, goodput under
// the SLOs, Little's law and the step-cost bucketing error; throughput over
// time and throughput-latency curves (charts); per-request, series and sweep CSVs.
//
//   if (results.contains("serving")) add_serving(doc, results["serving"]);
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"

namespace masim::report {

void add_serving(Document& d, const nlohmann::json& serving);

// TTFT p99 (or TPOT p50) against output tokens/s over the rate sweep, one line
// per layout (also the paper report's). Empty spec when no layout has a sweep.
Chart serving_curve_chart(const nlohmann::json& serving, const std::string& id, const std::string& title,
                          bool tpot);

}  // namespace masim::report
