// BM_Serving_*: serving::serve on scenarios/serving/seed_serving.json (the seed
// study's 16 A100s and 4-layer MoE, vLLM scheduler defaults).
//  - TenThousand/i: layout i (0 TP=8 x2, 1 PP=2 x8, 2 TP=8+PP=2, 3 MA
//    Separation) serving 10,000 Poisson requests at 100 req/s, step-cost grid
//    included (built afresh each iteration). Target (issue 19): <= 5 s.
//  - TenThousandWarm/i: the same with the step-cost grid already simulated
//    (the cost of the scheduler and router alone, as in a rate sweep).
// Counters: requests per wall second, step-cost simulations.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/scenario.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/serving/simulator.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;
using nlohmann::json;

namespace {

std::optional<spec::ScenarioSpec> load(int layout) {
  const std::string path = std::string(MASIM_SOURCE_DIR) + "/scenarios/serving/seed_serving.json";
  std::ifstream in(path);
  json doc = json::parse(in);
  doc["serving"].erase("rate_sweep");
  doc["serving"]["arrivals"]["requests"] = 10000;
  doc["serving"]["arrivals"]["rate"] = 100;
  doc["layouts"] = json::array({doc["layouts"][static_cast<std::size_t>(layout)]});
  io::Diagnostics d;
  return frontend::parse_scenario(doc, path, d);
}

void run(benchmark::State& state, bool warm) {
  auto s = load(static_cast<int>(state.range(0)));
  if (!s) {
    state.SkipWithError("scenario did not load");
    return;
  }
  io::Diagnostics d;
  auto topo = topology::Topology::build(s->topology, s->file, d);
  models::RooflineCostModel roof(s->hardware.gpu);
  const std::vector<serving::Request> rq = serving::make_requests(*s->serving);
  serving::ServeOptions o;
  o.check_costs = false;
  std::unique_ptr<serving::StepCosts> costs = serving::make_step_costs(*s, 0, *topo, roof);
  if (warm) serving::serve(*s, 0, *costs, rq, o);
  std::size_t sims = 0;
  for (auto _ : state) {
    if (!warm) costs = serving::make_step_costs(*s, 0, *topo, roof);
    serving::ServingLayout r = serving::serve(*s, 0, *costs, rq, o);
    sims = costs->simulations();
    benchmark::DoNotOptimize(r.completed);
  }
  state.counters["requests_per_s"] = benchmark::Counter(static_cast<double>(rq.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["simulations"] = static_cast<double>(sims);
}

void BM_Serving_TenThousand(benchmark::State& state) { run(state, false); }
void BM_Serving_TenThousandWarm(benchmark::State& state) { run(state, true); }

}  // namespace

BENCHMARK(BM_Serving_TenThousand)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Serving_TenThousandWarm)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
