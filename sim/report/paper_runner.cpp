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
#include "sim/sweep/point_runner.hpp"
#include "sim/sweep/sweep_spec.hpp"
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

SweepLoader default_sweep_loader() {
  return [](const std::string& path) {
    io::Diagnostics d;
    const frontend::FileSource files;
    auto sw = sweep::load_sweep(path, d, files);
    if (!sw) throw io::InputError(d);
    sweep::check_point_count(*sw, sweep::kDefaultMaxPoints, "--max-points", d);
    if (!d.empty()) throw io::InputError(d);
    LoadedSweep out;
    out.file = path;
    out.name = sw->name;
    for (const sweep::Axis& a : sw->axes) {
      SweepAxis x{a.name, a.reason, {}};
      for (const sweep::AxisValue& v : a.values) x.labels.push_back(v.label);
      out.axes.push_back(std::move(x));
    }
    const auto n = static_cast<std::size_t>(sw->point_count());
    for (std::size_t i = 0; i < n; ++i) {
      const sweep::Point p = sweep::point_at(*sw, i);
      // As `masim sweep` validates a point: every problem at the sweep file's pointer when an axis set it.
      const sweep::Resolved r = sweep::resolve_point(*sw, p, files, frontend::Limits{}, "paper");
      if (!r.spec) {
        for (const io::Diagnostic& x : r.problems) d.error(x.file, x.pointer, "point " + std::to_string(i) + " (" +
                                                                               sweep::describe(*sw, p) + "): " + x.message);
        if (r.problems.empty()) d.error(path, "/axes", "point " + std::to_string(i) + ": " + r.status);
        continue;
      }
      SweepPoint sp;
      sp.spec = *r.spec;
      for (std::size_t a = 0; a < p.labels.size(); ++a) {
        sp.label += (a == 0 ? "" : ", ") + p.labels[a];
        if (!p.descriptions[a].empty()) sp.description += (sp.description.empty() ? "" : "; ") + p.descriptions[a];
      }
      out.points.push_back(std::move(sp));
    }
    if (!d.empty()) throw io::InputError(d);
    return out;
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
