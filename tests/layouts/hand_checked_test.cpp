// Small hand-checkable cases, one per layout: the tiny model of
// test_scenarios.hpp on an ideal star (B = 1 GB/s per GPU link, no latency),
// every op costing exactly c = 10 us (FixedCost), decode of 8 sequences.
//
// Op counts per segment (sim/workload/layer_ops):
//   attention block: input_norm, qkv_proj, attention, o_proj, residual  = 5
//     (+ the embedding gather in layer 0                               = 6)
//   router block: post_attn_norm, router, router_topk, permute          = 4
//   expert block: expert_gate_up, expert_swiglu, expert_down            = 3
//   combine block: unpermute, residual                                  = 2
//   LM head: final_norm, lm_head                                        = 2
// A token's hidden state is 64 x 2 bytes = 128 bytes; 8 tokens = 1024 bytes,
// which crosses one GPU link in 1024 B / 1 GB/s = 1.024 us.
// Ring all-reduce of S bytes on 2 GPUs: each GPU sends 2(n-1)/n · S = S over its
// link (nccl-tests doc/PERFORMANCE.md), so it takes S / B.
// TPOT is the mean step after the first of 3 steps.
#include <doctest/doctest.h>

#include "sim/layouts/results.hpp"
#include "tests/layouts/test_scenarios.hpp"

using namespace masim;
using masim::test::FixedCost;

namespace {

constexpr double kC = 10.0;   // us per op
// The network rounds each transfer's end up to a whole picosecond: a few ps on
// ~200 us, far below anything a wrong schedule would change.
constexpr double kTol = 1e-7;

double tpot_us(const spec::ScenarioSpec& s) {
  FixedCost cost(SimTime::us(kC));
  const layouts::ScenarioResult r = test::run(s, cost);
  REQUIRE(r.layouts.size() == 1);
  return r.layouts[0].metrics.tpot_ms * 1e3;
}

}  // namespace

TEST_CASE("TP=2, one layer: compute plus two all-reduces per step") {
  spec::ScenarioSpec s = test::tiny_scenario(2, 1);
  s.layouts = {test::tp_layout(2)};
  // Each rank: 6 attention ops + AR(1024 B) + 4 router + 3 expert + 2 combine +
  // AR(1024 B) + 2 LM head = 17 ops · 10 us + 2 · 1.024 us = 172.048 us; the next
  // step starts when both ranks finished their LM head.
  CHECK(tpot_us(s) == doctest::Approx(172.048).epsilon(kTol));

  // Sequence parallelism: reduce-scatter + all-gather of 1024 B each on 2 GPUs:
  // each sends (n-1)/n · S = 512 B per collective: 2 · 0.512 us per block, the
  // same total as one all-reduce.
  s.layouts[0].sequence_parallel = true;
  CHECK(tpot_us(s) == doctest::Approx(172.048).epsilon(kTol));
}

TEST_CASE("TP=2 with dp=2 on 4 GPUs: replicas run side by side, same TPOT") {
  spec::ScenarioSpec s = test::tiny_scenario(4, 1);
  s.layouts = {test::tp_layout(2, 2)};
  // Each replica has 4 sequences: 512 B per all-reduce, 0.512 us. The replicas
  // use disjoint links of the star: 170 us + 2 · 0.512 us = 171.024 us.
  CHECK(tpot_us(s) == doctest::Approx(171.024).epsilon(kTol));
}

TEST_CASE("PP=2, two layers: stage times, hand-off and the pipeline period") {
  spec::ScenarioSpec s = test::tiny_scenario(2, 2);
  s.layouts = {test::pp_layout(2, 1)};
  // One micro-batch: stage 0 = embedding + 14 ops of layer 0 = 15 ops, send of
  // 1024 B (1.024 us), stage 1 = 14 ops + 2 LM head = 16 ops: 310 + 1.024 us.
  CHECK(tpot_us(s) == doctest::Approx(311.024).epsilon(kTol));

  // Two micro-batches of 4 sequences (same op counts, 512 B hand-offs):
  // t0 = 150 us, t1 = 160 us, one sequence's round trip t0 + 0.512 + t1 =
  // 310.512 us < 2 · t1, so stage 1 is the bottleneck: in steady state it runs
  // m0 and m1 back to back, a period of 2 · t1 = 320 us (traced by hand: step
  // ends at 470.512, 790.512, 1110.512 us).
  s.layouts = {test::pp_layout(2, 2)};
  CHECK(tpot_us(s) == doctest::Approx(320.0).epsilon(kTol));
}

TEST_CASE("TP=2 x PP=2 on 4 GPUs") {
  spec::ScenarioSpec s = test::tiny_scenario(4, 2);
  s.layouts = {test::tp_pp_layout(2, 2, 1)};
  // Stage 0 (GPUs 0,1): 6 + 9 ops (router, expert, combine) with two ARs;
  // hand-off: each rank sends the full 1024 B to its peer on stage 1 (1.024 us,
  // disjoint links); stage 1 (GPUs 2,3): 5 + 9 + 2 ops with two ARs.
  // 31 ops · 10 us + 4 · 1.024 + 1.024 us = 315.12 us.
  CHECK(tpot_us(s) == doctest::Approx(315.12).epsilon(kTol));
}

TEST_CASE("EP=2, one layer, every token routed to expert 0") {
  spec::ScenarioSpec s = test::tiny_scenario(2, 1);
  s.model = test::tiny_model(1, /*experts=*/2, /*top_k=*/1);
  s.workload.routing.kind = spec::RoutingKind::kTrace;
  s.workload.routing.trace = {1.0, 0.0};   // expert 0 gets every token
  s.layouts = {test::ep_layout(2)};
  // Expert 0 lives on GPU 0. Each GPU: 6 attention + 4 router ops on its 4
  // sequences (100 us); dispatch: GPU 1's 4 tokens (512 B) to GPU 0 (0.512 us);
  // 3 expert ops on both GPUs (GPU 1's with no rows still launch): 30 us;
  // combine: 512 B back (0.512 us); 2 combine + 2 LM head ops: 40 us.
  // 100 + 0.512 + 30 + 0.512 + 40 = 171.024 us.
  CHECK(tpot_us(s) == doctest::Approx(171.024).epsilon(kTol));
}

TEST_CASE("MA Separation, 1 attention + 1 expert GPU, m = 1 and m = 2") {
  spec::ScenarioSpec s = test::tiny_scenario(2, 1);
  s.model = test::tiny_model(1, 2, 1);
  s.workload.routing.kind = spec::RoutingKind::kTrace;
  s.workload.routing.trace = {1.0, 0.0};
  s.layouts = {test::ma_layout({0}, {1}, /*atp=*/1, /*m=*/1)};
  // m = 1: attention side 6 + 4 ops (100 us), dispatch of all 8 tokens (1024 B,
  // 1.024 us), 3 expert ops (30 us), combine back (1.024 us), 2 combine + 2 LM
  // head ops (40 us): 172.048 us, nothing overlaps.
  CHECK(tpot_us(s) == doctest::Approx(172.048).epsilon(kTol));

  // m = 2 (4 sequences each, 512 B exchanges). Attention GPU order per step:
  // S(m0) S(m1) F(m0) F(m1) with S = 10 ops = 100 us and F = combine + LM head =
  // 40 us; the expert GPU runs E(m0) at 100.512-130.512 while the attention GPU
  // runs S(m1) (overlap). F(m0) waits for S(m1) (in-order stream) and starts at
  // 200; F(m1) 240-280. The next step's S(m0) starts at 280. The attention GPU
  // is the bottleneck: 2 · (100 + 40) = 280 us per step (every op costs the same
  // however few tokens it has, so splitting only adds work here).
  s.layouts = {test::ma_layout({0}, {1}, 1, 2)};
  CHECK(tpot_us(s) == doctest::Approx(280.0).epsilon(kTol));
}

TEST_CASE("MA Separation with attention TP=2: reduce-scatter, slices, all-gather") {
  spec::ScenarioSpec s = test::tiny_scenario(3, 1);
  s.model = test::tiny_model(1, 2, 1);
  s.workload.routing.kind = spec::RoutingKind::kTrace;
  s.workload.routing.trace = {1.0, 0.0};
  s.layouts = {test::ma_layout({0, 1}, {2}, /*atp=*/2, /*m=*/1)};
  // Attention GPUs 0,1 (TP=2), expert GPU 2. Per step:
  //   6 attention ops (60 us); reduce-scatter of 1024 B on 2 GPUs: 512 B each
  //   (0.512 us); 4 router ops on each rank's 4-token slice (40 us); dispatch:
  //   both ranks send 512 B to GPU 2, whose link takes 1024 B (1.024 us);
  //   3 expert ops (30 us); combine: 1024 B out of GPU 2 (1.024 us); 2 combine
  //   ops (20 us); all-gather of the slices, 512 B each (0.512 us); 2 LM head
  //   ops (20 us). 170 + 0.512 + 1.024 + 1.024 + 0.512 = 173.072 us.
  CHECK(tpot_us(s) == doctest::Approx(173.072).epsilon(kTol));
}

TEST_CASE("training, TP=2: forward, backward, reductions, optimizer; with dp=2 the gradient all-reduce") {
  // One layer, 2 sequences of 4 tokens, micro_batch_size 1: two micro-batches of
  // 4 tokens (512 B per all-reduce: 0.512 us on 2 GPUs). Ops per micro-batch:
  //   forward: 6 attention + 4 router + 3 expert + 2 combine + 2 LM head = 17
  //   backward (workload::backward_of: a GEMM or grouped GEMM gives 2 ops, the
  //   rest 1): LM head 1 + 2 = 3; router 1+2+1+1 = 5, experts 2+1+2 = 5,
  //   combine 1+1 = 2; attention: embedding 1, norm 1, qkv 2, attention 1,
  //   o 2, residual 1 = 8; 23 in all.
  //   all-reduces: 2 forward; backward after the LM head, the FFN block and the
  //   attention block, except layer 0's input (nothing consumes it): 2 + 2 = 4.
  // Then one optimizer op. Step: 2 · 40 ops · 10 us + 8 · 0.512 + 10 = 814.096 us.
  spec::ScenarioSpec s = test::tiny_scenario(2, 1);
  s.workload.kind = spec::WorkloadKind::kTraining;
  s.workload.batch = 2;
  s.workload.context_length = 4;
  s.workload.micro_batch_size = 1;
  s.workload.iterations = 2;
  s.layouts = {test::tp_layout(2)};
  FixedCost cost(SimTime::us(kC));
  layouts::ScenarioResult r = test::run(s, cost);
  CHECK(r.layouts[0].metrics.iteration_ms * 1e3 == doctest::Approx(814.096).epsilon(kTol));
  CHECK(r.layouts[0].communication[static_cast<int>(layouts::CommTag::kGradSync)].calls == 0);

  // dp = 2 on 4 GPUs (batch 4: each replica the same 2 micro-batches). Each
  // GPU's layer-0 gradients: attention shard 2·64·2·16 + 2·64·1·16 = 6144,
  // norms 128, router 64·4 = 256, experts 4 · 3·64·128 / 2 = 49152, embedding
  // 256·64 / 2 = 8192: 63872 parameters = 127744 B, all-reduced between the two
  // replicas' peers (2 GPUs: 127744 B / 1 GB/s = 127.744 us) once layer 0's last
  // backward is done, so fully exposed before the optimizer. The LM head's
  // gradients (256·64/2 + 64 = 8256 parameters, 16512 B) start right after the
  // last LM-head backward and share GPU 0's link with that micro-batch's TP
  // all-reduce (512 B): both get 0.5 GB/s until the TP flow ends, so that
  // all-reduce takes 1.024 us instead of 0.512 (+0.512 on the critical path);
  // the 16.5 us head reduction then hides behind the FFN backward.
  // 814.096 + 0.512 + 127.744 = 942.352 us.
  s = test::tiny_scenario(4, 1);
  s.workload.kind = spec::WorkloadKind::kTraining;
  s.workload.batch = 4;
  s.workload.context_length = 4;
  s.workload.micro_batch_size = 1;
  s.workload.iterations = 2;
  s.layouts = {test::tp_layout(2, 2)};
  r = test::run(s, cost);
  const layouts::LayoutResult& l = r.layouts[0];
  CHECK(l.metrics.iteration_ms * 1e3 == doctest::Approx(942.352).epsilon(kTol));
  const layouts::CommStats& g = l.communication[static_cast<int>(layouts::CommTag::kGradSync)];
  // Two peer pairs (GPUs 0-2, 1-3) x (layer 0 + head); a 2-GPU all-reduce of S
  // moves 2S: 2 · 2 · (127744 + 16512) = 577024 B.
  CHECK(g.calls == 4);
  CHECK(g.bytes == 577024);
  // Exposed (in flight while the compute stream idles): the layer-0 reduction
  // (127.744 us) on every GPU, plus the first 1.024 us of the head's, during
  // which compute waits for the slowed TP all-reduce; the rest of the head's
  // hides behind the FFN backward: 128.768 us.
  CHECK(g.exposed_ms * 1e3 == doctest::Approx(128.768).epsilon(1e-6));
}
