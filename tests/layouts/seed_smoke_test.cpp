// The seed study's scenario end to end: all four layouts simulate, every metric
// is finite, identities hold, and the JSON is byte-identical across two runs.
#include <doctest/doctest.h>

#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sim/frontend/scenario.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/topology/topology.hpp"

namespace {

using namespace masim;

struct Loaded {
  spec::ScenarioSpec s;
  std::optional<topology::Topology> topo;
};

Loaded load(const std::string& path) {
  io::Diagnostics d;
  auto s = frontend::load_scenario(path, d);
  REQUIRE_MESSAGE(s.has_value(), d.format());
  Loaded l{*s, std::nullopt};
  l.topo = topology::Topology::build(l.s.topology, l.s.file, d);
  REQUIRE_MESSAGE(l.topo.has_value(), d.format());
  return l;
}

}  // namespace

TEST_CASE("seed study: four layouts simulate with consistent metrics") {
  Loaded l = load(std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/seed_study.json");
  models::RooflineCostModel roof(l.s.hardware.gpu);
  layouts::SimOptions opts;
  const layouts::ScenarioResult r = layouts::simulate(l.s, *l.topo, roof, opts);
  MESSAGE(layouts::format_table(r));
  REQUIRE(r.layouts.size() == 4);
  for (const auto& lr : r.layouts) {
    CAPTURE(lr.name);
    CHECK(lr.metrics.tpot_ms > 0.0);
    // Identity: tokens/s x TPOT = concurrency (decode produces one token per
    // sequence per step).
    CHECK(lr.metrics.tokens_per_s * lr.metrics.tpot_ms * 1e-3 == doctest::Approx(l.s.workload.batch).epsilon(1e-9));
    for (double u : lr.metrics.gpu_util) CHECK(u <= 1.0);
  }
  const std::string a = layouts::to_json(r).dump(2);
  const std::string b = layouts::to_json(layouts::simulate(l.s, *l.topo, roof, opts)).dump(2);
  CHECK(a == b);
}
