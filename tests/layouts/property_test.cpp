// Property tests over generated cases (layout kind, model shape, workload, GPU
// count drawn from a seeded Rng): a faster link or a faster GPU never makes an
// iteration slower, no GPU is busy more than 100% of the time, and the
// communication and compute accounting stays within the window.
#include <doctest/doctest.h>

#include <string>

#include "sim/common/rng.hpp"
#include "sim/layouts/results.hpp"
#include "tests/layouts/test_scenarios.hpp"

using namespace masim;

namespace {

int pick(Rng& r, std::initializer_list<int> v) {
  return *(v.begin() + static_cast<std::ptrdiff_t>(r.below(v.size())));
}

// A random valid scenario with one layout on a star of `gpus` GPUs.
spec::ScenarioSpec generate(std::uint64_t seed, Bandwidth bw) {
  Rng r(seed);
  const int gpus = pick(r, {2, 4, 6, 8});
  spec::ScenarioSpec s = test::tiny_scenario(gpus, pick(r, {1, 2, 4}), bw);
  s.seed = seed;
  s.hardware.gpu.kernel_launch_overhead = SimTime::us(2);
  s.model.hidden_size = pick(r, {64, 128});
  s.model.num_heads = pick(r, {4, 8});
  s.model.head_dim = s.model.hidden_size / s.model.num_heads;
  s.model.num_kv_heads = pick(r, {2, 4});
  s.model.num_experts = pick(r, {4, 8});
  s.model.top_k = pick(r, {1, 2});
  s.model.expert_ffn_size = pick(r, {128, 256});
  const int kind = static_cast<int>(r.below(3));
  s.workload.kind = kind == 0 ? spec::WorkloadKind::kDecode
                              : (kind == 1 ? spec::WorkloadKind::kPrefill : spec::WorkloadKind::kTraining);
  s.workload.batch = pick(r, {8, 12, 16});
  s.workload.context_length = s.workload.kind == spec::WorkloadKind::kDecode ? pick(r, {64, 512}) : pick(r, {16, 32});
  s.workload.micro_batch_size = pick(r, {1, 2});
  s.workload.iterations = pick(r, {2, 3});
  s.workload.recompute = r.below(2) == 1;
  s.workload.routing.kind = r.below(2) ? spec::RoutingKind::kZipf : spec::RoutingKind::kUniform;
  const int half = gpus / 2;
  switch (r.below(5)) {
    case 0:
      s.layouts = {test::tp_layout(2, gpus / 2)};
      break;
    case 1:
      s.layouts = {test::pp_layout(std::min(2, s.model.num_layers), pick(r, {1, 2}), gpus / std::min(2, s.model.num_layers))};
      break;
    case 2:
      if (gpus % 4 == 0 && s.model.num_layers >= 2) {
        s.layouts = {test::tp_pp_layout(2, 2, pick(r, {1, 2}))};
        s.layouts[0].dp = gpus / 4;
      } else {
        s.layouts = {test::tp_layout(2, gpus / 2)};
      }
      break;
    case 3: {
      const int ep = s.model.num_experts % gpus == 0 ? gpus : 2;
      s.layouts = {test::ep_layout(ep, gpus / ep, pick(r, {1, 2}))};
      break;
    }
    default: {
      std::vector<int> att, exp;
      for (int i = 0; i < half; ++i) att.push_back(i);
      for (int i = half; i < gpus; ++i) exp.push_back(i);
      const int atp = half % 2 == 0 ? pick(r, {1, 2}) : 1;
      s.layouts = {test::ma_layout(att, exp, atp, pick(r, {1, 2, 3}), 1, 1,
                                   static_cast<int>(r.below(2)))};
      break;
    }
  }
  return s;
}

double iteration_ms(const spec::ScenarioSpec& s, const models::ComputeCostModel& cost) {
  const layouts::ScenarioResult res = test::run(s, cost, false);
  const layouts::LayoutResult& l = res.layouts.at(0);
  for (double u : l.metrics.gpu_util) {
    CHECK(u >= 0.0);
    CHECK(u <= 1.0);
  }
  CHECK(l.communication_total.share >= 0.0);
  CHECK(l.communication_total.exposed_ms <= l.metrics.iteration_ms * (1.0 + 1e-9));
  return l.metrics.iteration_ms;
}

}  // namespace

TEST_CASE("a faster link or a faster GPU never makes an iteration slower") {
  constexpr int kCases = 200;
  for (std::uint64_t seed = 1; seed <= kCases; ++seed) {
    const spec::ScenarioSpec slow = generate(seed, Bandwidth::gb_per_s(5));
    const spec::ScenarioSpec fast_link = generate(seed, Bandwidth::gb_per_s(10));
    CAPTURE(seed);
    CAPTURE(spec::to_string(slow.layouts[0].kind));
    CAPTURE(spec::to_string(slow.workload.kind));
    models::RooflineCostModel roof(slow.hardware.gpu);
    test::ScaledCost fast_gpu(roof, 0.5);
    const double base = iteration_ms(slow, roof);
    CHECK(base > 0.0);
    // Strictly "not slower"; 1 ps of slack per transfer for end-time rounding.
    CHECK(iteration_ms(fast_link, roof) <= base * (1.0 + 1e-7));
    CHECK(iteration_ms(slow, fast_gpu) <= base * (1.0 + 1e-7));
  }
}
