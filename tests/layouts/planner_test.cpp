// build_plan(s, layout, index, ...): planning a given LayoutSpec ("this layout
// on these GPUs") instead of s.layouts[index]. With s.layouts[index] it must
// give the very plan of build_plan(s, index, ...); with explicit GPUs, every
// task must stay on them.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/layouts/executor.hpp"
#include "sim/layouts/planner.hpp"
#include "tests/layouts/test_scenarios.hpp"

using namespace masim;

namespace {

// Same program, task by task: kind, category, GPU, duration, tag, dependencies
// and collectives (ranks, bytes, matrix).
void check_same_plan(const layouts::Plan& a, const layouts::Plan& b) {
  REQUIRE(a.program.size() == b.program.size());
  CHECK(a.gpus == b.gpus);
  CHECK(a.steps == b.steps);
  CHECK(a.step_done == b.step_done);
  CHECK(a.model_flops == b.model_flops);
  CHECK(a.layer_split == b.layer_split);
  for (std::size_t i = 0; i < a.program.size(); ++i) {
    const layouts::Task& x = a.program.tasks()[i];
    const layouts::Task& y = b.program.tasks()[i];
    CAPTURE(i);
    CHECK(x.kind == y.kind);
    CHECK(x.cat == y.cat);
    CHECK(x.gpu == y.gpu);
    CHECK(x.duration == y.duration);
    CHECK(x.num_ops == y.num_ops);
    CHECK(x.tag.layer == y.tag.layer);
    CHECK(x.tag.micro_batch == y.tag.micro_batch);
    CHECK(x.tag.step == y.tag.step);
    const auto sx = a.program.successors(x);
    const auto sy = b.program.successors(y);
    CHECK(std::equal(sx.begin(), sx.end(), sy.begin(), sy.end()));
  }
  REQUIRE(a.program.collectives().size() == b.program.collectives().size());
  for (std::size_t i = 0; i < a.program.collectives().size(); ++i) {
    const auto& x = a.program.collectives()[i];
    const auto& y = b.program.collectives()[i];
    CHECK(x.request.ranks == y.request.ranks);
    CHECK(x.request.dst_ranks == y.request.dst_ranks);
    CHECK(x.request.bytes == y.request.bytes);
    CHECK(x.request.matrix == y.request.matrix);
  }
  REQUIRE(a.footprint.size() == b.footprint.size());
  for (std::size_t g = 0; g < a.footprint.size(); ++g) {
    CHECK(a.footprint[g].param_count == b.footprint[g].param_count);
    CHECK(a.footprint[g].activation_bytes == b.footprint[g].activation_bytes);
    CHECK(a.footprint[g].used == b.footprint[g].used);
  }
}

}  // namespace

TEST_CASE("build_plan with s.layouts[i] gives the plan of build_plan(s, i)") {
  for (spec::WorkloadKind kind :
       {spec::WorkloadKind::kDecode, spec::WorkloadKind::kPrefill, spec::WorkloadKind::kTraining}) {
    spec::ScenarioSpec s = test::tiny_scenario(4, 2);
    s.workload.kind = kind;
    s.workload.context_length = kind == spec::WorkloadKind::kDecode ? 64 : 16;
    s.workload.micro_batch_size = 2;
    s.workload.iterations = 2;
    spec::LayoutSpec pp_ep = test::pp_layout(2, 1);
    pp_ep.stage_parallelism = spec::StageParallelism::kExpert;
    pp_ep.ep = 2;
    s.layouts = {test::tp_layout(2, 2),        test::pp_layout(2, 2, 2), test::tp_pp_layout(2, 2, 2), pp_ep,
                 test::ep_layout(2, 2, 2),     test::ma_layout({0, 1}, {2, 3}, 2, 2),
                 test::ma_layout({0, 1}, {2, 3}, 1, 2, /*etp=*/2),
                 test::ma_layout({0, 1}, {2, 3}, 1, 2, 1, /*replicas=*/2, /*hot=*/1)};
    models::RooflineCostModel roof(s.hardware.gpu);
    for (std::size_t i = 0; i < s.layouts.size(); ++i) {
      CAPTURE(spec::to_string(kind));
      CAPTURE(i);
      const int index = static_cast<int>(i);
      const layouts::Plan old_api = layouts::build_plan(s, index, roof, 4);
      const layouts::Plan new_api = layouts::build_plan(s, s.layouts[i], index, roof, 4);
      check_same_plan(old_api, new_api);
      // A copy of the layout (not an element of s.layouts) plans the same.
      const spec::LayoutSpec copy = s.layouts[i];
      check_same_plan(old_api, layouts::build_plan(s, copy, index, roof, 4));
    }
  }
}

TEST_CASE("TP=8 on explicit GPUs 8..15 of 16 keeps every task on those GPUs") {
  spec::ScenarioSpec s = test::tiny_scenario(16, 2);
  s.model.num_heads = 8;      // 8 heads of 8 (hidden 64), one KV head per TP rank
  s.model.num_kv_heads = 8;
  s.model.head_dim = 8;
  s.layouts = {test::tp_layout(2)};   // s.layouts[0] is not what is planned below
  spec::LayoutSpec survivors = test::tp_layout(8);
  survivors.gpus.resize(8);
  std::iota(survivors.gpus.begin(), survivors.gpus.end(), 8);   // {8, ..., 15}
  models::RooflineCostModel roof(s.hardware.gpu);
  layouts::Plan plan = layouts::build_plan(s, survivors, /*index=*/0, roof, 16);
  CHECK(plan.gpus == survivors.gpus);
  CHECK(plan.parallelism.tp == 8);
  int compute = 0;
  for (const layouts::Task& t : plan.program.tasks()) {
    if (t.kind != layouts::TaskKind::kCompute) continue;
    ++compute;
    CHECK(t.gpu >= 8);
    CHECK(t.gpu <= 15);
  }
  // 3 steps x 8 ranks x (2 MoE layers x {attention, router, experts, combine}
  // + LM head); the tiny model has no shared experts.
  CHECK(compute == 3 * 8 * (2 * 4 + 1));
  for (const auto& c : plan.program.collectives()) {
    for (int g : c.gpus) CHECK((g >= 8 && g <= 15));
  }
  for (int g = 0; g < 16; ++g) {
    CAPTURE(g);
    CHECK(plan.footprint[static_cast<std::size_t>(g)].used == (g >= 8));
  }
  // And it replays on the 16-GPU topology.
  const topology::Topology topo = test::build_topology(s);
  engine::Engine e;
  network::Network net(e, topo, test::ideal_network());
  layouts::Executor(plan.program, e, net).run();
  for (const layouts::Task& t : plan.program.tasks()) CHECK(t.end < SimTime::max());
}

TEST_CASE("build_plan with a layout names /layouts/<index> in its errors") {
  spec::ScenarioSpec s = test::tiny_scenario(4, 1);
  s.layouts = {test::tp_layout(2)};
  spec::LayoutSpec l = test::tp_layout(2);
  l.gpus = {0, 9};
  test::FixedCost cost(SimTime::us(1));
  try {
    (void)layouts::build_plan(s, l, /*index=*/3, cost, 4);
    FAIL("expected io::InputError");
  } catch (const io::InputError& err) {
    REQUIRE(err.diagnostics().size() == 1);
    CHECK(err.diagnostics().items()[0].pointer == "/layouts/3/gpus");
    CHECK(err.diagnostics().items()[0].message == "GPU 9 is not in the topology (4 GPUs)");
  }
}
