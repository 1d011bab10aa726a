// BM_Routing_*: expert routing samples (token-slots/s) for a Mixtral-like
// (E = 8, k = 2) and a DeepSeek-V3-like (E = 256, k = 8) router under Zipf
// popularity, 4096 tokens per sample. BM_LayerOps_*: building one MoE decoder
// layer's op lists and pricing them with the roofline (layers/s), DeepSeek-V3
// shapes (MLA decode, 256 experts over 8 GPUs).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sim/models/compute_cost.hpp"
#include "sim/workload/layer_ops.hpp"
#include "sim/workload/placement.hpp"
#include "sim/workload/routing.hpp"
#include "tests/models/test_gpus.hpp"

using namespace masim;

namespace {

void BM_Routing_Zipf(benchmark::State& state) {
  const int experts = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  constexpr std::int64_t kTokens = 4096;
  spec::RoutingSpec z;
  z.kind = spec::RoutingKind::kZipf;
  z.zipf_exponent = 1.0;
  workload::ExpertRouter router(z, experts, k, Rng(1));
  std::int64_t slots = 0;
  for (auto _ : state) {
    workload::RoutingSample s = router.sample(kTokens);
    slots += static_cast<std::int64_t>(s.assignment.size());
    benchmark::DoNotOptimize(s.tokens_per_expert.data());
  }
  if (slots != state.iterations() * kTokens * k) state.SkipWithError("wrong slot count");
  state.counters["slots/s"] = benchmark::Counter(static_cast<double>(slots), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Routing_Zipf)->Args({8, 2})->Args({256, 8});

void BM_LayerOps_DeepSeekV3Decode(benchmark::State& state) {
  const spec::ModelSpec m = test::deepseek_v3();
  const models::RooflineCostModel roof(test::a100());
  const workload::ExpertPlacement place = workload::block_placement(256, 8);
  workload::ExpertRouter router(spec::RoutingSpec{}, 256, 8, Rng(2));
  const workload::RoutingSample s = router.sample(256);
  const workload::GpuRouting g = workload::route_to_gpus(s, place);
  std::int64_t ops = 0;
  for (auto _ : state) {
    SimTime t;
    auto price = [&](const std::vector<models::Op>& v) {
      for (const models::Op& o : v) t += roof.cost(o).time;
      ops += static_cast<std::int64_t>(v.size());
    };
    price(workload::attention_block(m, 10, {.tp = 1, .sequences = 256, .query_tokens = 1, .context = 4096}));
    price(workload::router_block(m, 10, 256));
    price(workload::expert_block(m, 10, {.tp = 1, .tokens_per_expert = g.rows[0]}));
    price(workload::shared_expert_block(m, 10, 256, 1));
    price(workload::combine_block(m, 10, 256));
    benchmark::DoNotOptimize(t);
  }
  if (ops == 0) state.SkipWithError("no ops built");
  state.counters["layers/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["ops/s"] = benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LayerOps_DeepSeekV3Decode);

}  // namespace

BENCHMARK_MAIN();
