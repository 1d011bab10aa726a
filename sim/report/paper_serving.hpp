// The paper report's "Equal-SLO comparison on serving traffic" section
// (sim/report/paper_serving.cpp): each layout's highest arrival rate at which a
// share of requests (the scenario's `slo.attainment` choice) meets both the
// TTFT and the TPOT SLO, from the rate sweep of scenarios/paper/serving.json,
// beside the steady-state equal-SLO comparison's pick for the same layouts.
//
//   add_serving_slo_section(doc, runner(load("scenarios/paper/serving.json")), steady_tokens_per_s_per_gpu);
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"

namespace masim::report {

// `steady`: layout name -> the steady-state equal-SLO tokens/s per GPU (< 0:
// no concurrency met the SLO). Without a "serving" member the section says it
// was not simulated.
void add_serving_slo_section(Document& d, const nlohmann::json& results, const std::map<std::string, double>& steady);

}  // namespace masim::report
