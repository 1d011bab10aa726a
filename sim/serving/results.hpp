// A serving run over every layout of a scenario, and its results.json member
// "serving" (docs/RESULTS.md) and terminal summary.
//
//   ServingResult r = run_serving(scenario, topo, cost);
//   results["serving"] = to_json(r, *scenario.serving);
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/faults/timeline.hpp"
#include "sim/serving/simulator.hpp"

namespace masim::serving {

struct SweepPoint {             // one layout at one arrival rate (no per-request data)
  double rate_per_s = 0.0;
  ServingLayout result;
};

struct ServingResult {
  std::vector<ServingLayout> layouts;
  std::vector<std::vector<SweepPoint>> sweeps;   // per layout, per rate_sweep entry
  std::int64_t requests = 0;
};

// The replica states of one layout's run timeline, for serve() (ServeOptions::faults).
FaultSchedule fault_schedule(const faults::LayoutTimeline& t);

// With s.timeline, every layout serves through the timeline's faults and recoveries.
ServingResult run_serving(const spec::ScenarioSpec& s, const topology::Topology& topo,
                          const models::ComputeCostModel& cost, const ServeOptions& opts = {});

nlohmann::json to_json(const ServingResult& r, const spec::ServingSpec& sv);
std::string format_summary(const ServingResult& r);

}  // namespace masim::serving
