// Invariants every plan must keep, checked over every layout kind on the tiny
// model (4 GPUs): token-slots reach exactly top-k experts; every layout does the
// model's FLOPs (replicated ops counted once, recomputation excluded); MA
// Separation overlaps attention and expert work only with m >= 2; memory
// errors name the GPU; the JSON is byte-identical across runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "sim/engine/engine.hpp"
#include "sim/layouts/executor.hpp"
#include "sim/layouts/planner.hpp"
#include "sim/layouts/results.hpp"
#include "tests/layouts/test_scenarios.hpp"

using namespace masim;

namespace {

struct Case {
  spec::LayoutSpec layout;
  int expert_copies_per_row;   // GPUs that process each routed token-slot (TP or expert TP degree)
};

// One of each layout kind (and variants) on 4 GPUs.
std::vector<Case> all_layouts() {
  std::vector<Case> v;
  v.push_back({test::tp_layout(4), 4});
  v.push_back({test::tp_layout(2, 2), 2});
  v.push_back({test::pp_layout(2, 2, 2), 1});
  v.push_back({test::tp_pp_layout(2, 2, 2), 2});
  spec::LayoutSpec pp_ep = test::pp_layout(2, 1);
  pp_ep.stage_parallelism = spec::StageParallelism::kExpert;
  pp_ep.ep = 2;
  v.push_back({pp_ep, 1});
  v.push_back({test::ep_layout(4), 1});
  v.push_back({test::ep_layout(2, 2, 2), 1});
  v.push_back({test::ma_layout({0, 1}, {2, 3}, 2, 2), 1});
  v.push_back({test::ma_layout({0}, {1, 2, 3}, 1, 1), 1});
  v.push_back({test::ma_layout({0, 1}, {2, 3}, 1, 2, /*etp=*/2), 2});
  v.push_back({test::ma_layout({0, 1}, {2, 3}, 1, 2, 1, /*replicas=*/2, /*hot=*/1), 1});
  return v;
}

spec::ScenarioSpec scenario(spec::WorkloadKind kind) {
  spec::ScenarioSpec s = test::tiny_scenario(4, 2);
  s.model.num_kv_heads = 4;   // no KV-head replication at TP=4 (that is real extra work)
  s.workload.kind = kind;
  s.workload.batch = 8;
  s.workload.context_length = kind == spec::WorkloadKind::kDecode ? 64 : 16;
  s.workload.micro_batch_size = 2;
  s.workload.iterations = 2;
  s.workload.routing.kind = spec::RoutingKind::kZipf;
  s.workload.routing.zipf_exponent = 1.0;
  return s;
}

}  // namespace

TEST_CASE("every token-slot reaches exactly one copy of each of its top-k experts") {
  for (spec::WorkloadKind kind : {spec::WorkloadKind::kDecode, spec::WorkloadKind::kPrefill}) {
    for (const Case& c : all_layouts()) {
      spec::ScenarioSpec s = scenario(kind);
      s.layouts = {c.layout};
      CAPTURE(spec::to_string(kind));
      CAPTURE(spec::to_string(c.layout.kind));
      CAPTURE(c.layout.ma.hot_expert_replicas);
      test::FixedCost cost(SimTime::us(1));
      const layouts::Plan plan = layouts::build_plan(s, 0, cost, 4);
      // Rows of expert GEMMs per (step, layer), divided by how many GPUs process
      // each row (TP ranks or expert-TP ranks, each 1/t of the FFN width).
      std::map<std::pair<int, int>, std::int64_t> rows;
      for (const layouts::Task& t : plan.program.tasks()) {
        if (t.kind != layouts::TaskKind::kCompute) continue;
        for (const layouts::PricedOp& op : plan.program.ops_of(t)) rows[{t.tag.step, t.tag.layer}] += op.expert_rows;
      }
      const std::int64_t tokens = std::int64_t{s.workload.batch} * (kind == spec::WorkloadKind::kDecode ? 1 : 16);
      for (int step = 0; step < 2; ++step) {
        for (int layer = 0; layer < 2; ++layer) {
          // 8 sequences x tokens each x top-2, no capacity limit: no drops.
          CHECK(rows[{step, layer}] == tokens * s.model.top_k * c.expert_copies_per_row);
        }
      }
    }
  }
}

TEST_CASE("with a capacity factor, dropped slots reach no expert") {
  spec::ScenarioSpec s = scenario(spec::WorkloadKind::kPrefill);
  s.workload.routing.capacity_factor = 0.5;   // cap = ceil(0.5 · T · k / E): half the mean load
  s.layouts = {test::ma_layout({0, 1}, {2, 3}, 2, 2)};
  test::FixedCost cost(SimTime::us(1));
  const layouts::Plan plan = layouts::build_plan(s, 0, cost, 4);
  std::int64_t rows = 0;
  for (const layouts::Task& t : plan.program.tasks()) {
    if (t.kind != layouts::TaskKind::kCompute || t.tag.step != 0) continue;
    for (const layouts::PricedOp& op : plan.program.ops_of(t)) rows += op.expert_rows;
  }
  std::int64_t routed = 0, dropped = 0;
  for (std::size_t i = 0; i < 2; ++i) {   // step 0's two MoE layers
    for (std::int64_t n : plan.routing[i].tokens_per_expert) routed += n;
    dropped += plan.routing[i].dropped;
  }
  CHECK(dropped > 0);
  CHECK(rows == routed);
  // T = 128 tokens, k = 2, E = 4: cap = 32 per expert, at most 4 x 32 per layer.
  CHECK(rows <= 2 * 4 * 32);
}

TEST_CASE("every layout does the model's FLOPs (replicated ops once, recomputation excluded)") {
  for (spec::WorkloadKind kind :
       {spec::WorkloadKind::kDecode, spec::WorkloadKind::kPrefill, spec::WorkloadKind::kTraining}) {
    for (bool recompute : {false, true}) {
      if (recompute && kind != spec::WorkloadKind::kTraining) continue;
      for (const Case& c : all_layouts()) {
        spec::ScenarioSpec s = scenario(kind);
        s.workload.recompute = recompute;
        s.layouts = {c.layout};
        CAPTURE(spec::to_string(kind));
        CAPTURE(recompute);
        CAPTURE(spec::to_string(c.layout.kind));
        CAPTURE(c.layout.tp);
        CAPTURE(c.layout.ma.expert_tp);
        test::FixedCost cost(SimTime::us(1));
        const layouts::Plan plan = layouts::build_plan(s, 0, cost, 4);
        std::vector<double> useful(2, 0.0), executed(2, 0.0);
        for (const layouts::Task& t : plan.program.tasks()) {
          if (t.kind != layouts::TaskKind::kCompute) continue;
          for (const layouts::PricedOp& op : plan.program.ops_of(t)) {
            executed[static_cast<std::size_t>(t.tag.step)] += op.flops;
            if (t.tag.recompute) continue;
            useful[static_cast<std::size_t>(t.tag.step)] += op.replicated ? op.flops / t.tag.replication : op.flops;
          }
        }
        for (int step = 0; step < 2; ++step) {
          const auto si = static_cast<std::size_t>(step);
          CHECK(useful[si] == doctest::Approx(plan.model_flops[si]).epsilon(1e-12));
          if (recompute) CHECK(executed[si] > useful[si] * 1.2);   // the forward again
        }
      }
    }
  }
}

TEST_CASE("MA Separation: attention and expert GPUs never overlap with m = 1, do with m = 2") {
  for (int m : {1, 2, 3}) {
    spec::ScenarioSpec s = test::tiny_scenario(4, 2);
    s.workload.batch = 12;
    s.layouts = {test::ma_layout({0, 1}, {2, 3}, 2, m)};
    CAPTURE(m);
    masim::models::RooflineCostModel roof(s.hardware.gpu);
    layouts::Plan plan = layouts::build_plan(s, 0, roof, 4);
    const topology::Topology topo = test::build_topology(s);
    engine::Engine e;
    network::Network net(e, topo, test::ideal_network());
    layouts::Executor(plan.program, e, net).run();
    std::vector<std::pair<std::int64_t, std::int64_t>> att, exp;
    for (const layouts::Task& t : plan.program.tasks()) {
      if (t.kind != layouts::TaskKind::kCompute || !(t.end > t.start)) continue;
      (t.gpu < 2 ? att : exp).emplace_back(t.start.count_ps(), t.end.count_ps());
    }
    std::int64_t overlap = 0;
    for (const auto& a : att) {
      for (const auto& x : exp) overlap += std::max<std::int64_t>(0, std::min(a.second, x.second) - std::max(a.first, x.first));
    }
    if (m == 1) {
      CHECK(overlap == 0);
    } else {
      CHECK(overlap > 0);
    }
  }
}

TEST_CASE("a layout that does not fit names the GPU and the shortfall") {
  spec::ScenarioSpec s = test::tiny_scenario(2, 1);
  s.hardware.gpu.hbm_capacity = Bytes::mib(64);   // less than the runtime reserve alone
  s.layouts = {test::tp_layout(2)};
  test::FixedCost cost(SimTime::us(1));
  const topology::Topology topo = test::build_topology(s);
  layouts::SimOptions o;
  o.network = test::ideal_network();
  try {
    (void)layouts::simulate(s, topo, cost, o);
    FAIL("expected io::InputError");
  } catch (const io::InputError& err) {
    const auto& items = err.diagnostics().items();
    REQUIRE(items.size() == 2);   // both GPUs, all at once
    CHECK(items[0].file == "tiny.json");
    CHECK(items[0].pointer == "/layouts/0");
    CHECK(items[0].message.find("GPU 0 needs") == 0);
    CHECK(items[0].message.find("short") != std::string::npos);
  }
  o.enforce_memory = false;
  const layouts::ScenarioResult r = layouts::simulate(s, topo, cost, o);
  CHECK_FALSE(r.layouts[0].fits);
  CHECK(r.layouts[0].memory_shortfalls.size() == 2);
  CHECK(r.layouts[0].max_batch_that_fits == 0);
}

TEST_CASE("results are byte-identical across runs for every workload") {
  for (spec::WorkloadKind kind :
       {spec::WorkloadKind::kDecode, spec::WorkloadKind::kPrefill, spec::WorkloadKind::kTraining}) {
    spec::ScenarioSpec s = scenario(kind);
    for (const Case& c : all_layouts()) s.layouts.push_back(c.layout);
    masim::models::RooflineCostModel roof(s.hardware.gpu);
    const std::string a = layouts::to_json(test::run(s, roof)).dump();
    const std::string b = layouts::to_json(test::run(s, roof)).dump();
    CHECK(a == b);
    CHECK(a.size() > 1000);
  }
}

TEST_CASE("planning errors point at the layout") {
  spec::ScenarioSpec s = test::tiny_scenario(2, 1);
  spec::LayoutSpec l = test::tp_layout(2);
  l.gpus = {0, 5};
  s.layouts = {l};
  test::FixedCost cost(SimTime::us(1));
  try {
    (void)layouts::build_plan(s, 0, cost, 2);
    FAIL("expected io::InputError");
  } catch (const io::InputError& err) {
    REQUIRE(err.diagnostics().size() == 1);
    CHECK(err.diagnostics().items()[0].pointer == "/layouts/0/gpus");
    CHECK(err.diagnostics().items()[0].message == "GPU 5 is not in the topology (2 GPUs)");
  }
  s.layouts = {test::tp_layout(4)};   // 4 GPUs on a 2-GPU topology
  CHECK_THROWS_AS((void)layouts::build_plan(s, 0, cost, 2), io::InputError);
}
