#include <doctest/doctest.h>

#include <numeric>

#include "sim/workload/placement.hpp"

namespace masim::workload {
namespace {

RoutingSample hand_sample(std::int64_t tokens, int k, int experts, std::vector<std::int32_t> assignment) {
  RoutingSample s;
  s.tokens = tokens;
  s.top_k = k;
  s.assignment = std::move(assignment);
  s.tokens_per_expert.assign(static_cast<std::size_t>(experts), 0);
  for (int e : s.assignment) {
    if (e >= 0) ++s.tokens_per_expert[static_cast<std::size_t>(e)];
  }
  s.requested_per_expert = s.tokens_per_expert;
  return s;
}

TEST_CASE("block placement and hottest experts") {
  ExpertPlacement p = block_placement(8, 4);
  CHECK(p.experts_on[1] == std::vector<int>{2, 3});
  CHECK(p.hosts[7] == std::vector<int>{3});
  CHECK(p.max_experts_per_gpu() == 2);
  // 5 experts over 2 GPUs: floor(e·2/5) = 0, 0, 0, 1, 1.
  CHECK(block_placement(5, 2).experts_on[0] == std::vector<int>{0, 1, 2});
  // Ties go to the lower index.
  CHECK(hottest_experts({1, 5, 3, 5}, 2) == std::vector<int>{1, 3});
}

TEST_CASE("the hottest expert is replicated onto the least loaded GPU") {
  // Loads {10, 1, 1, 1}: GPU 0 holds 0, 1 (11), GPU 1 holds 2, 3 (2). Expert 0's
  // copy goes to GPU 1; expected loads become 5 + 1 = 6 and 5 + 2 = 7.
  ExpertPlacement p = replicate_hottest(block_placement(4, 2), {10, 1, 1, 1}, 1);
  CHECK(p.hosts[0] == std::vector<int>{0, 1});
  CHECK(p.experts_on[1] == std::vector<int>{0, 2, 3});
  CHECK(p.max_experts_per_gpu() == 3);
  // Replicating more experts than there are free GPUs stops quietly.
  ExpertPlacement full = replicate_hottest(block_placement(2, 2), {1, 1}, 2);
  CHECK(full.hosts[0].size() == 2);
  CHECK(full.hosts[1].size() == 2);
  CHECK(replicate_hottest(full, {1, 1}, 2).hosts[0].size() == 2);

  // Round-robin over copies: four slots {0, 0, 0, 2} -> GPUs 0, 1, 0, 1.
  GpuRouting g = route_to_gpus(hand_sample(4, 1, 4, {0, 0, 0, 2}), p);
  CHECK(g.slot_gpu == std::vector<std::int32_t>{0, 1, 0, 1});
  CHECK(g.slots_per_gpu == std::vector<std::int64_t>{2, 2});
  CHECK(g.rows[0] == std::vector<std::int64_t>{2, 0});     // experts 0, 1 on GPU 0
  CHECK(g.rows[1] == std::vector<std::int64_t>{1, 1, 0});  // experts 0, 2, 3 on GPU 1
  CHECK(g.max_slots() == 2);
}

TEST_CASE("dispatch counts slots and distinct tokens per source and destination") {
  // 4 experts on 2 GPUs ({0,1} on 0, {2,3} on 1), 4 tokens top-2, 2 sources:
  // token 0 (src 0) -> 0, 1: both GPU 0: 2 slots, 1 token;
  // token 1 (src 0) -> 2, 3: GPU 1: 2 slots, 1 token;
  // tokens 2, 3 (src 1) -> one expert on each GPU each: 2 slots, 2 tokens per GPU.
  RoutingSample s = hand_sample(4, 2, 4, {0, 1, 2, 3, 0, 2, 1, 3});
  GpuRouting g = route_to_gpus(s, block_placement(4, 2));
  DispatchMatrix d = dispatch_matrix(s, g, 2);
  CHECK(d.slots[0] == std::vector<std::int64_t>{2, 2});
  CHECK(d.tokens[0] == std::vector<std::int64_t>{1, 1});
  CHECK(d.slots[1] == std::vector<std::int64_t>{2, 2});
  CHECK(d.tokens[1] == std::vector<std::int64_t>{2, 2});
  CHECK(token_source(3, 4, 2) == 1);
  CHECK(token_source(1, 4, 2) == 0);
}

TEST_CASE("routing over placements conserves slots; hot-expert replicas flatten Zipf load") {
  spec::RoutingSpec z;
  z.kind = spec::RoutingKind::kZipf;
  z.zipf_exponent = 1.2;
  z.capacity_factor = 3.0;
  ExpertRouter r(z, 16, 2, Rng(21));
  const std::vector<double> pop = r.draw_popularity();
  const RoutingSample s = r.sample_with(pop, 4096);
  const ExpertPlacement base = block_placement(16, 8);
  const GpuRouting g0 = route_to_gpus(s, base);
  const std::int64_t total = std::accumulate(g0.slots_per_gpu.begin(), g0.slots_per_gpu.end(), std::int64_t{0});
  CHECK(total == 4096 * 2 - s.dropped);
  for (int gpu = 0; gpu < 8; ++gpu) {
    const auto& rows = g0.rows[static_cast<std::size_t>(gpu)];
    CHECK(std::accumulate(rows.begin(), rows.end(), std::int64_t{0}) == g0.slots_per_gpu[static_cast<std::size_t>(gpu)]);
  }
  // The Zipf(1.2) top expert takes ~25% of slots, so its GPU carries ~2x the mean
  // (1/8); replicating the 4 hottest experts splits their load and lowers the max.
  const GpuRouting g1 = route_to_gpus(s, replicate_hottest(base, pop, 4));
  CHECK(g1.max_slots() < g0.max_slots());
  const DispatchMatrix d = dispatch_matrix(s, g1, 4);
  std::int64_t sent = 0;
  for (const auto& row : d.slots) sent += std::accumulate(row.begin(), row.end(), std::int64_t{0});
  CHECK(sent == total);
}

}  // namespace
}  // namespace masim::workload
