// BM_Faults_*: faults::run_timeline on scenarios/paper/faults.json's cluster,
// model and workload (the seed study's 16 A100s, decode batch 384, context
// 2048, 4 routing samples per state).
//  - OneHourThreeFailures/i: layout i alone (0 TP=8, 1 PP=2, 2 TP=8+PP=2,
//    3 MA Separation, 4 MA Separation 2x attention) for one simulated hour with
//    three GPU failures (one repaired). Target (issue 16): under 2 s.
//  - OneHourThreeFailuresAll: all five layouts together (one Evaluator cache).
//  - RandomWeek/i: layout i for a simulated week of random GPU faults (GPU MTBF
//    50 h, repaired after 2 h: about 54 faults), the cost of a long run.
// Counters: simulated states per run and simulated seconds per wall second.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/faults/timeline.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;
using nlohmann::json;

namespace {

std::optional<spec::ScenarioSpec> load(const json& changes, int layout) {
  const std::string path = std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/faults.json";
  std::ifstream in(path);
  json doc = json::parse(in);
  doc["timeline"].erase("analyses");
  for (const auto& [k, v] : changes.items()) doc["timeline"][k] = v;
  if (layout >= 0) doc["layouts"] = json::array({doc["layouts"][static_cast<std::size_t>(layout)]});
  io::Diagnostics d;
  return frontend::parse_scenario(doc, path, d);
}

void run(benchmark::State& state, const json& changes, int layout) {
  auto s = load(changes, layout);
  if (!s) {
    state.SkipWithError("scenario did not load");
    return;
  }
  io::Diagnostics d;
  auto topo = topology::Topology::build(s->topology, s->file, d);
  models::RooflineCostModel roof(s->hardware.gpu);
  std::size_t sims = 0;
  for (auto _ : state) {
    faults::TimelineResult t = faults::run_timeline(*s, *topo, roof);
    sims = t.simulations;
    benchmark::DoNotOptimize(t);
  }
  state.counters["states"] = static_cast<double>(sims);
  state.counters["sim_s_per_s"] =
      benchmark::Counter(s->timeline->duration_s * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

const json kThreeFailures = {
    {"duration", "1 h"},
    {"faults", json::array({{{"kind", "gpu"}, {"at", "10 min"}, {"gpu", 2}, {"repair_after", "20 min"}},
                            {{"kind", "gpu"}, {"at", "20 min"}, {"gpu", 12}},
                            {{"kind", "gpu"}, {"at", "40 min"}, {"gpu", 6}}})}};

void BM_Faults_OneHourThreeFailures(benchmark::State& state) {
  run(state, kThreeFailures, static_cast<int>(state.range(0)));
}
BENCHMARK(BM_Faults_OneHourThreeFailures)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

void BM_Faults_OneHourThreeFailuresAll(benchmark::State& state) { run(state, kThreeFailures, -1); }
BENCHMARK(BM_Faults_OneHourThreeFailuresAll)->Unit(benchmark::kMillisecond);

void BM_Faults_RandomWeek(benchmark::State& state) {
  const json week = {{"duration", "7 d"},
                     {"faults", json::array()},
                     {"random", {{"seed", 5}, {"gpu_mtbf", "50 h"}, {"repair_after", "2 h"}}}};
  run(state, week, static_cast<int>(state.range(0)));
}
BENCHMARK(BM_Faults_RandomWeek)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
