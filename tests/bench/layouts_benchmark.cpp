// BM_Layouts_*: layouts::simulate on the seed study's 16-GPU scenario
// (scenarios/paper/seed_study.json: decode, batch 384, context 2048, 8 steps,
// 4-layer Mixtral-shaped MoE on two DGX A100 nodes), with timelines recorded as
// `masim run` does.
//  - SeedStudy/i: layout i alone (0 TP=8, 1 PP=2, 2 TP=8+PP=2, 3 MA Separation):
//    planning, memory, engine replay over the flow-level network, metrics.
//    Target (issue 4): under 100 ms per layout.
//  - SeedStudyAll: the whole scenario (four layouts).
//  - Training/i: scenarios/paper/training.json layout i (one training step of
//    1024 x 2048 tokens with 2 steps simulated).
//  - DeepSeekV3Scale/N/i: scenarios/scale/deepseek_v3_N.json layout i (0 EP=256,
//    1 MA Separation), one decode step on N H200s (issue 18 item 2; targets
//    1,024 GPUs <= 1 s, 4,096 <= 5 s, <= 2 GB; counter peak_rss_MB).
// Counters: engine events per second and per run, tasks per run; each run checks
// that the layout produced a positive iteration time.
#include <benchmark/benchmark.h>

#include <string>

#include <sys/resource.h>

#include "sim/frontend/scenario.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;

namespace {

struct Loaded {
  spec::ScenarioSpec s;
  std::optional<topology::Topology> topo;
  bool ok = false;
};

Loaded load(const std::string& rel) {
  Loaded l;
  io::Diagnostics d;
  auto s = frontend::load_scenario(std::string(MASIM_SOURCE_DIR) + "/" + rel, d);
  if (!s) return l;
  l.s = *s;
  l.topo = topology::Topology::build(l.s.topology, l.s.file, d);
  l.ok = l.topo.has_value();
  return l;
}

void run_layouts(benchmark::State& state, const Loaded& l, spec::ScenarioSpec s, bool enforce_memory) {
  if (!l.ok) {
    state.SkipWithError("scenario did not load");
    return;
  }
  models::RooflineCostModel roof(s.hardware.gpu);
  layouts::SimOptions opts;
  opts.enforce_memory = enforce_memory;
  std::int64_t events = 0;
  for (auto _ : state) {
    layouts::ScenarioResult r = layouts::simulate(s, *l.topo, roof, opts);
    for (const auto& lr : r.layouts) {
      if (!(lr.metrics.iteration_ms > 0.0)) state.SkipWithError("no iteration time");
      events += lr.events;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["events"] = static_cast<double>(events) / static_cast<double>(state.iterations());
}

void BM_Layouts_SeedStudy(benchmark::State& state) {
  static const Loaded l = load("scenarios/paper/seed_study.json");
  spec::ScenarioSpec s = l.s;
  if (l.ok) s.layouts = {l.s.layouts.at(static_cast<std::size_t>(state.range(0)))};
  state.SetLabel(l.ok ? s.layouts[0].name : "");
  run_layouts(state, l, s, true);
}
BENCHMARK(BM_Layouts_SeedStudy)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

void BM_Layouts_SeedStudyAll(benchmark::State& state) {
  static const Loaded l = load("scenarios/paper/seed_study.json");
  run_layouts(state, l, l.s, true);
}
BENCHMARK(BM_Layouts_SeedStudyAll)->Unit(benchmark::kMillisecond);

void BM_Layouts_Training(benchmark::State& state) {
  static const Loaded l = load("scenarios/paper/training.json");
  spec::ScenarioSpec s = l.s;
  if (l.ok) s.layouts = {l.s.layouts.at(static_cast<std::size_t>(state.range(0)))};
  state.SetLabel(l.ok ? s.layouts[0].name : "");
  run_layouts(state, l, s, false);
}
BENCHMARK(BM_Layouts_Training)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_Layouts_DeepSeekV3Scale(benchmark::State& state) {
  std::string rel = "scenarios/scale/deepseek_v3_";
  rel += std::to_string(state.range(0));
  rel += ".json";
  const Loaded l = load(rel);
  spec::ScenarioSpec s = l.s;
  if (l.ok) s.layouts = {l.s.layouts.at(static_cast<std::size_t>(state.range(1)))};
  state.SetLabel(l.ok ? s.layouts[0].name : "");
  run_layouts(state, l, s, true);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_MB"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
}
BENCHMARK(BM_Layouts_DeepSeekV3Scale)
    ->ArgsProduct({{1024, 4096}, {0, 1}})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
