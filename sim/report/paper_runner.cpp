// The real simulator behind the paper report: load, build, simulate, serialize.
#include <nlohmann/json.hpp>

#include "sim/faults/timeline.hpp"
#include "sim/frontend/echo.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/report/paper.hpp"
#include "sim/serving/results.hpp"
#include "sim/topology/topology.hpp"

namespace masim::report {

using nlohmann::json;

ScenarioLoader default_scenario_loader() {
  return [](const std::string& path) {
    io::Diagnostics d;
    auto s = frontend::load_scenario(path, d);
    if (!s) throw io::InputError(d);
    return *s;
  };
}

ScenarioRunner default_scenario_runner(bool timelines) {
  return [timelines](const spec::ScenarioSpec& s) {
    io::Diagnostics d;
    auto topo = topology::Topology::build(s.topology, s.file, d);
    if (!topo) throw io::InputError(d);
    // As `masim run`: the scenario's calibration profile when it names one
    // (roofline for ops the profile does not cover), else the roofline.
    const auto cost = profile::make_cost_model(s, d);
    if (!cost) throw io::InputError(d);
    layouts::SimOptions opts;
    opts.record_timeline = timelines;
    const layouts::ScenarioResult r = layouts::simulate(s, *topo, *cost, opts);
    json j = layouts::to_json(r, frontend::resolved_json(s));
    if (s.timeline) j["run_timeline"] = faults::to_json(faults::run_timeline(s, *topo, *cost), *s.timeline);
    if (s.serving) j["serving"] = serving::to_json(serving::run_serving(s, *topo, *cost), *s.serving);
    return j;
  };
}

}  // namespace masim::report
