#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "sim/workload/routing.hpp"

namespace masim::workload {
namespace {

spec::RoutingSpec routing(spec::RoutingKind kind) {
  spec::RoutingSpec r;
  r.kind = kind;
  return r;
}

// Every token has exactly k distinct experts in [0, E), and the counts agree.
void check_assignment(const RoutingSample& s, int experts, int k) {
  REQUIRE(s.assignment.size() == static_cast<std::size_t>(s.tokens * k));
  std::vector<std::int64_t> count(static_cast<std::size_t>(experts), 0);
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    std::set<int> seen;
    for (int j = 0; j < k; ++j) {
      const int e = s.assignment[static_cast<std::size_t>(t * k + j)];
      REQUIRE(e >= 0);
      REQUIRE(e < experts);
      seen.insert(e);
      ++count[static_cast<std::size_t>(e)];
    }
    REQUIRE(seen.size() == static_cast<std::size_t>(k));
  }
  CHECK(count == s.tokens_per_expert);
  CHECK(std::accumulate(count.begin(), count.end(), std::int64_t{0}) == s.tokens * k);
}

TEST_CASE("each token gets exactly top-k distinct experts under every distribution") {
  spec::RoutingSpec zipf = routing(spec::RoutingKind::kZipf);
  zipf.zipf_exponent = 3.0;  // very skewed: exercises the fallback scan for k = 8 of 16
  spec::RoutingSpec dir = routing(spec::RoutingKind::kDirichlet);
  dir.dirichlet_alpha = 0.01;  // most experts get ~0 probability
  spec::RoutingSpec trace = routing(spec::RoutingKind::kTrace);
  trace.trace = {5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};  // 3 non-zero experts < k
  for (const spec::RoutingSpec& r : {routing(spec::RoutingKind::kUniform), zipf, dir, trace}) {
    for (int k : {1, 2, 8}) {
      ExpertRouter router(r, 16, k, Rng(7));
      CAPTURE(spec::to_string(r.kind));
      CAPTURE(k);
      check_assignment(router.sample(500), 16, k);
    }
  }
  // k = E: every token takes every expert.
  ExpertRouter all(routing(spec::RoutingKind::kZipf), 4, 4, Rng(1));
  RoutingSample s = all.sample(10);
  check_assignment(s, 4, 4);
  CHECK(s.tokens_per_expert == std::vector<std::int64_t>{10, 10, 10, 10});
}

TEST_CASE("uniform routing gives aux loss 1 and Zipf more") {
  // Uniform: P_i = 1/E, Σ f_i = 1, so E·Σ f_i·P_i = 1 exactly.
  ExpertRouter u(routing(spec::RoutingKind::kUniform), 16, 2, Rng(3));
  std::vector<RoutingSample> us;
  for (int i = 0; i < 4; ++i) us.push_back(u.sample(2000));
  ExpertStats su = expert_stats(us, 16);
  CHECK(su.aux_loss == doctest::Approx(1.0).epsilon(1e-12));
  // Shares ~ 1/16 = 0.0625 with binomial spread: std ≈ sqrt(p(1-p)/(T·k)) =
  // sqrt(0.0625·0.9375/4000) ≈ 0.0038.
  CHECK(su.share_std < 0.008);
  CHECK(su.share_min > 0.05);
  CHECK(su.share_max < 0.075);
  CHECK(su.routed == 4 * 2000 * 2);
  CHECK(su.dropped == 0);
  // Zipf s = 1, E = 16, k = 1: f_i -> p_i, so aux -> E·Σ p_i² = 16·(Σ r^-2)/(Σ r^-1)²
  // = 16·1.58435/3.38073² = 2.218.
  spec::RoutingSpec z = routing(spec::RoutingKind::kZipf);
  z.zipf_exponent = 1.0;
  ExpertRouter zr(z, 16, 1, Rng(3));
  std::vector<RoutingSample> zs;
  for (int i = 0; i < 4; ++i) zs.push_back(zr.sample(20000));
  ExpertStats sz = expert_stats(zs, 16);
  CHECK(sz.aux_loss == doctest::Approx(2.218).epsilon(0.02));
  // Share of the top expert: 1/H_16 = 0.2958.
  CHECK(sz.share_max == doctest::Approx(0.2958).epsilon(0.03));
  // With k = 2 the shares flatten but stay skewed.
  ExpertRouter z2(z, 16, 2, Rng(3));
  ExpertStats s2 = expert_stats({z2.sample(20000)}, 16);
  CHECK(s2.aux_loss > 1.3);
  CHECK(s2.aux_loss < sz.aux_loss);
}

TEST_CASE("capacity factor drops and counts the overflow") {
  // Trace popularity {3, 1, 0, 0}/4, k = 1, T = 1000, cf = 1: C = ceil(1000/4) = 250.
  // Expert 0 is asked ~750 times: ~500 slots dropped; expert 1 ~250.
  spec::RoutingSpec r = routing(spec::RoutingKind::kTrace);
  r.trace = {3, 1, 0, 0};
  r.capacity_factor = 1.0;
  ExpertRouter router(r, 4, 1, Rng(11));
  RoutingSample s = router.sample(1000);
  CHECK(s.capacity == 250);
  std::int64_t expected_drop = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(s.tokens_per_expert[i] == std::min<std::int64_t>(s.requested_per_expert[i], 250));
    expected_drop += std::max<std::int64_t>(0, s.requested_per_expert[i] - 250);
  }
  CHECK(s.dropped == expected_drop);
  CHECK(s.dropped >= 450);
  CHECK(std::count(s.assignment.begin(), s.assignment.end(), -1) == s.dropped);
  const std::int64_t kept = std::accumulate(s.tokens_per_expert.begin(), s.tokens_per_expert.end(), std::int64_t{0});
  CHECK(kept == 1000 - s.dropped);
  ExpertStats st = expert_stats({s}, 4);
  CHECK(st.dropped == s.dropped);
  CHECK(st.routed == kept);
  // Shares are the router's choices (pre-capacity): expert 0 ≈ 0.75.
  CHECK(st.share_max == doctest::Approx(0.75).epsilon(0.06));
  CHECK(st.share_min == 0.0);
  // A generous factor drops nothing under uniform routing of 64 tokens over 4.
  spec::RoutingSpec g = routing(spec::RoutingKind::kUniform);
  g.capacity_factor = 4.0;
  CHECK(ExpertRouter(g, 4, 2, Rng(1)).sample(64).dropped == 0);
}

TEST_CASE("same seed gives the same samples, a different seed different ones") {
  spec::RoutingSpec d = routing(spec::RoutingKind::kDirichlet);
  d.dirichlet_alpha = 0.5;
  ExpertRouter a(d, 32, 4, Rng(99));
  ExpertRouter b(d, 32, 4, Rng(99));
  ExpertRouter c(d, 32, 4, Rng(100));
  for (int i = 0; i < 3; ++i) {
    RoutingSample sa = a.sample(256);
    RoutingSample sb = b.sample(256);
    RoutingSample sc = c.sample(256);
    CHECK(sa.assignment == sb.assignment);
    CHECK(sa.mean_router_prob == sb.mean_router_prob);
    CHECK(sa.assignment != sc.assignment);
  }
}

TEST_CASE("a fixed popularity can be reused across iterations") {
  spec::RoutingSpec z = routing(spec::RoutingKind::kZipf);
  z.zipf_exponent = 1.2;
  ExpertRouter r(z, 8, 2, Rng(5));
  std::vector<double> p = r.draw_popularity();
  CHECK(std::accumulate(p.begin(), p.end(), 0.0) == doctest::Approx(1.0));
  const auto hot = std::max_element(p.begin(), p.end()) - p.begin();
  // Each of 4000 tokens picks the hot expert at least as its first draw with
  // probability p_max = 1/H_{8,1.2}; over two draws its share is the largest.
  for (int i = 0; i < 3; ++i) {
    RoutingSample s = r.sample_with(p, 4000);
    const auto top = std::max_element(s.tokens_per_expert.begin(), s.tokens_per_expert.end()) -
                     s.tokens_per_expert.begin();
    CHECK(top == hot);
  }
}

TEST_CASE("expert statistics on a hand-made sample") {
  // requested {3, 1}, P {0.75, 0.25}: f = {0.75, 0.25}; aux = 2·(0.5625 + 0.0625) = 1.25;
  // std = sqrt(((0.25)² + (0.25)²)/2) = 0.25.
  RoutingSample s;
  s.requested_per_expert = {3, 1};
  s.tokens_per_expert = {3, 1};
  s.mean_router_prob = {0.75, 0.25};
  ExpertStats st = expert_stats({s}, 2);
  CHECK(st.aux_loss == doctest::Approx(1.25));
  CHECK(st.share_std == doctest::Approx(0.25));
  CHECK(st.share_min == doctest::Approx(0.25));
  CHECK(st.share_max == doctest::Approx(0.75));
  CHECK(st.routed == 4);
  CHECK(expert_stats({}, 2).aux_loss == 0.0);
}

}  // namespace
}  // namespace masim::workload
