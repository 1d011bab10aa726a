// BM_Sweep_* and BM_Search_*: masim sweep and masim search as a user runs them.
//  - BM_Sweep_SeedStudy/J: a sweep of 64 points of the seed study's 16-GPU
//    scenario (scenarios/paper/seed_study.json unchanged but for its routing
//    seed, 1..64: four layouts, 8 routing samples each per point) through
//    sweep::run_sweep on J threads, journal and final outputs written as
//    `masim sweep` writes them. Counter points_per_min (target, issue 18: >= 1,000
//    on this 2-core machine). Checks that every point ran.
//  - BM_Search_SeedSpace/J: scenarios/search/seed_search.json (the seed
//    study's space, 762 candidates of which ~510 are valid and simulated) on J
//    threads. Counters: simulated configurations and seconds per search
//    (target: >= 500 configurations in <= 60 s). Checks a winner was found.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/frontend/files.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/sweep/search.hpp"
#include "sim/sweep/sweep_runner.hpp"
#include "sim/sweep/sweep_spec.hpp"

using namespace masim;
using nlohmann::json;

namespace {

constexpr int kPoints = 64;

void BM_Sweep_SeedStudy(benchmark::State& state) {
  std::vector<int> seeds;
  for (int i = 1; i <= kPoints; ++i) seeds.push_back(i);
  const json doc = {{"schema", 1},
                    {"name", "bench"},
                    {"base", std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/seed_study.json"},
                    {"axes", json::array({json{{"name", "seed"}, {"pointer", "/seed"}, {"values", seeds}}})}};
  io::Diagnostics d;
  const auto s = sweep::parse_sweep(doc, "bench.json", d, frontend::FileSource{});
  if (!s) {
    state.SkipWithError(d.format_lines().c_str());
    return;
  }
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("masim_sweep_bench_" + std::to_string(::getpid()))).string();
  std::size_t points = 0;
  for (auto _ : state) {
    sweep::SweepOptions o;
    o.out_dir = dir;
    o.jobs = static_cast<int>(state.range(0));
    const sweep::SweepSummary r = sweep::run_sweep(*s, o, frontend::FileSource{});
    if (r.simulated != kPoints || r.failed != 0 || r.invalid != 0) state.SkipWithError("not every point ran");
    points += r.simulated;
  }
  std::filesystem::remove_all(dir);
  state.counters["points_per_min"] =
      benchmark::Counter(static_cast<double>(points) * 60.0, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sweep_SeedStudy)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

void BM_Search_SeedSpace(benchmark::State& state) {
  io::Diagnostics d;
  const auto s = sweep::load_search(std::string(MASIM_SOURCE_DIR) + "/scenarios/search/seed_search.json", d,
                                    frontend::FileSource{});
  if (!s) {
    state.SkipWithError(d.format_lines().c_str());
    return;
  }
  std::size_t simulated = 0;
  for (auto _ : state) {
    const sweep::SearchResult r = sweep::run_search(*s, static_cast<int>(state.range(0)), frontend::FileSource{}, "bench");
    bool winner = false;
    for (const sweep::KindResult& k : r.kinds) winner = winner || k.best.has_value();
    if (!winner) state.SkipWithError("no winner");
    simulated = r.simulated;
  }
  state.counters["configurations"] = static_cast<double>(simulated);
}
BENCHMARK(BM_Search_SeedSpace)->Arg(2)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
