// Whole-scenario regressions: each case is a scenario that once broke masim.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/scenario.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;

namespace {
layouts::ScenarioResult run_seed_study_with(const std::string& key, const nlohmann::json& value) {
  const std::string file = std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/seed_study.json";
  io::Diagnostics d;
  auto doc = io::load_json_file(file, d);
  REQUIRE(doc.has_value());
  (*doc)["workload"][key] = value;
  auto spec = frontend::parse_scenario(*doc, file, d);
  REQUIRE_MESSAGE(d.empty(), d.format());
  auto topo = topology::Topology::build(spec->topology, file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(spec->hardware.gpu);
  return layouts::simulate(*spec, *topo, roof, {});
}
}  // namespace

TEST_CASE("MA Separation at batch 768: a flow whose end moves away and back completes once") {
  // Before the fix, a flow whose completion time moved to another bucket and
  // back left two live entries in one completion bucket; it was completed and
  // delivered twice (assertion "delivery of a flow in the wrong state").
  const auto r = run_seed_study_with("batch", 768);
  REQUIRE(r.layouts.size() == 4);
  for (const auto& l : r.layouts) {
    CHECK(l.metrics.tpot_ms > 0.0);
    CHECK(l.metrics.gpu_util_mean <= 1.0);
  }
}
