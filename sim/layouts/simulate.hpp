// Turning a scenario into results: plan every layout into per-GPU task programs,
// replay them in the engine over the flow-level network, and measure.
//
//   auto topo = topology::Topology::build(s.topology, s.file, diags);
//   models::RooflineCostModel roof(s.hardware.gpu);
//   ScenarioResult r = simulate(s, *topo, roof, {});
//   std::cout << format_table(r);
//   write_json(r, "out/results.json");
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/models/compute_cost.hpp"
#include "sim/network/network.hpp"
#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::layouts {

struct SimOptions {
  bool record_timeline = true;         // keep per-GPU task intervals (for Perfetto and charts)
  network::NetworkParams network;
  // true: a layout that does not fit in GPU memory is an io::InputError (nothing
  // is simulated). false: it is simulated anyway and flagged (LayoutResult::fits,
  // memory_shortfalls), e.g. to show a paper's memory table that exceeds capacity.
  bool enforce_memory = true;
  // Per global GPU rank: compute-task durations are multiplied by this factor
  // (a straggler: thermal throttling, a slow HBM stack). Empty = all 1.
  std::vector<double> compute_slowdown;
};

struct ScenarioResult;  // defined in sim/layouts/results.hpp

// Throws io::InputError for problems only visible while planning (e.g. memory
// does not fit: names the GPU and the shortfall).
ScenarioResult simulate(const spec::ScenarioSpec& s, const topology::Topology& topo,
                        const models::ComputeCostModel& cost, const SimOptions& opts);

}  // namespace masim::layouts
