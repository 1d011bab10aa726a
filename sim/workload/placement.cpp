#include "sim/workload/placement.hpp"

#include <algorithm>
#include <numeric>

#include "sim/common/assert.hpp"

namespace masim::workload {

int ExpertPlacement::max_experts_per_gpu() const {
  std::size_t m = 0;
  for (const auto& e : experts_on) m = std::max(m, e.size());
  return static_cast<int>(m);
}

ExpertPlacement block_placement(int experts, int gpus) {
  MASIM_ASSERT(experts >= 1 && gpus >= 1, "bad placement size");
  ExpertPlacement p;
  p.num_gpus = gpus;
  p.hosts.resize(static_cast<std::size_t>(experts));
  p.experts_on.resize(static_cast<std::size_t>(gpus));
  for (int e = 0; e < experts; ++e) {
    const int g = static_cast<int>(std::int64_t{e} * gpus / experts);
    p.hosts[static_cast<std::size_t>(e)].push_back(g);
    p.experts_on[static_cast<std::size_t>(g)].push_back(e);
  }
  return p;
}

std::vector<int> hottest_experts(const std::vector<double>& load, int count) {
  std::vector<int> idx(load.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    return load[static_cast<std::size_t>(a)] > load[static_cast<std::size_t>(b)];
  });
  idx.resize(std::min(idx.size(), static_cast<std::size_t>(std::max(count, 0))));
  return idx;
}

ExpertPlacement replicate_hottest(const ExpertPlacement& base, const std::vector<double>& expected_load, int count) {
  MASIM_ASSERT(static_cast<int>(expected_load.size()) == base.num_experts(), "load size != experts");
  ExpertPlacement p = base;
  auto gpu_load = [&](int g) {
    double l = 0.0;
    for (int e : p.experts_on[static_cast<std::size_t>(g)]) {
      const auto ei = static_cast<std::size_t>(e);
      l += expected_load[ei] / static_cast<double>(p.hosts[ei].size());
    }
    return l;
  };
  for (int e : hottest_experts(expected_load, count)) {
    auto& h = p.hosts[static_cast<std::size_t>(e)];
    int best = -1;
    double best_load = 0.0;
    for (int g = 0; g < p.num_gpus; ++g) {
      if (std::find(h.begin(), h.end(), g) != h.end()) continue;
      const double l = gpu_load(g);
      if (best < 0 || l < best_load) {
        best = g;
        best_load = l;
      }
    }
    if (best < 0) continue;  // every GPU already holds it
    h.push_back(best);
    auto& on = p.experts_on[static_cast<std::size_t>(best)];
    on.insert(std::upper_bound(on.begin(), on.end(), e), e);
  }
  return p;
}

std::int64_t GpuRouting::max_slots() const {
  return slots_per_gpu.empty() ? 0 : *std::max_element(slots_per_gpu.begin(), slots_per_gpu.end());
}

GpuRouting route_to_gpus(const RoutingSample& s, const ExpertPlacement& p) {
  MASIM_ASSERT(static_cast<int>(s.tokens_per_expert.size()) == p.num_experts(), "sample/placement mismatch");
  const auto g = static_cast<std::size_t>(p.num_gpus);
  GpuRouting r;
  r.slots_per_gpu.assign(g, 0);
  r.rows.resize(g);
  for (std::size_t i = 0; i < g; ++i) r.rows[i].assign(p.experts_on[i].size(), 0);
  r.slot_gpu.assign(s.assignment.size(), -1);
  // Position of expert e within experts_on[gpu], for the rows table.
  auto local = [&](int gpu, int e) {
    const auto& on = p.experts_on[static_cast<std::size_t>(gpu)];
    return static_cast<std::size_t>(std::lower_bound(on.begin(), on.end(), e) - on.begin());
  };
  std::vector<std::int64_t> seen(s.tokens_per_expert.size(), 0);
  for (std::size_t i = 0; i < s.assignment.size(); ++i) {
    const int e = s.assignment[i];
    if (e < 0) continue;
    const auto ei = static_cast<std::size_t>(e);
    const auto& h = p.hosts[ei];
    const int gpu = h[static_cast<std::size_t>(seen[ei]++ % static_cast<std::int64_t>(h.size()))];
    r.slot_gpu[i] = gpu;
    ++r.slots_per_gpu[static_cast<std::size_t>(gpu)];
    ++r.rows[static_cast<std::size_t>(gpu)][local(gpu, e)];
  }
  return r;
}

int token_source(std::int64_t t, std::int64_t tokens, int sources) {
  MASIM_ASSERT(t >= 0 && t < tokens && sources >= 1, "bad token index");
  return static_cast<int>(t * sources / tokens);
}

DispatchMatrix dispatch_matrix(const RoutingSample& s, const GpuRouting& g, int sources) {
  MASIM_ASSERT(sources >= 1, "bad source count");
  const auto n = static_cast<std::size_t>(g.num_gpus());
  DispatchMatrix d;
  d.slots.assign(static_cast<std::size_t>(sources), std::vector<std::int64_t>(n, 0));
  d.tokens.assign(static_cast<std::size_t>(sources), std::vector<std::int64_t>(n, 0));
  const int k = s.top_k;
  std::vector<std::int64_t> last_token(n, -1);  // dedup a token's slots per destination
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    const auto src = static_cast<std::size_t>(token_source(t, s.tokens, sources));
    for (int j = 0; j < k; ++j) {
      const int gpu = g.slot_gpu[static_cast<std::size_t>(t * k + j)];
      if (gpu < 0) continue;
      const auto gi = static_cast<std::size_t>(gpu);
      ++d.slots[src][gi];
      if (last_token[gi] != t) {
        last_token[gi] = t;
        ++d.tokens[src][gi];
      }
    }
  }
  return d;
}

}  // namespace masim::workload
