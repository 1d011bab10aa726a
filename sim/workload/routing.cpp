// Expert routing samples and their statistics.
//
// Model of the router, stated: a layer-iteration has an expert popularity p
// (drawn per RoutingSpec). Every token's router distribution is p itself: the
// token picks k distinct experts by sampling without replacement from p (the
// first from p, the next from p restricted to the experts not yet chosen,
// renormalized). We do not simulate per-token logits, so the mean router
// probability of expert i over the tokens is P_i = p_i; the aux loss
// E·Σ f_i·P_i then measures how much the realized shares f_i line up with the
// popularity (uniform p: exactly 1; skewed p: > 1). With k > 1, f_i is flatter
// than p_i because no expert can take two slots of one token.
//
// Sampling is exact: a draw from p by inverse CDF (binary search) is rejected if
// it hits an expert already chosen, which yields p restricted to the rest; after
// kMaxRejections failed draws (very skewed p with large k) the remaining
// probability is scanned directly (same distribution, O(E)).
//
// Capacity (GShard, Lepikhin et al. 2021; Switch, Fedus et al. 2021): expert i
// accepts at most C = ceil(cf · T · k / E) token-slots, first come first served in
// token order; the rest are dropped (the token keeps its residual only).
#include "sim/workload/routing.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "sim/common/assert.hpp"

namespace masim::workload {
namespace {

constexpr int kMaxRejections = 32;

bool contains(const std::int32_t* begin, int n, std::int32_t e) {
  for (int i = 0; i < n; ++i) {
    if (begin[i] == e) return true;
  }
  return false;
}

}  // namespace

ExpertRouter::ExpertRouter(const spec::RoutingSpec& spec, int num_experts, int top_k, Rng rng)
    : spec_(spec), num_experts_(num_experts), top_k_(top_k), rng_(rng) {
  MASIM_ASSERT(num_experts >= 1, "router needs experts");
  MASIM_ASSERT(top_k >= 1 && top_k <= num_experts, "top_k must be in [1, experts]");
  MASIM_ASSERT(spec.kind != spec::RoutingKind::kTrace ||
                   static_cast<int>(spec.trace.size()) == num_experts,
               "routing trace length != number of experts (front end should have said so)");
}

std::vector<double> ExpertRouter::draw_popularity() {
  const auto n = static_cast<std::size_t>(num_experts_);
  std::vector<double> p(n, 0.0);
  switch (spec_.kind) {
    case spec::RoutingKind::kUniform:
      std::fill(p.begin(), p.end(), 1.0 / static_cast<double>(n));
      break;
    case spec::RoutingKind::kZipf: {
      // Rank r (1-based) gets r^-s; which expert holds rank r is a fresh random
      // permutation (Fisher-Yates), so the hot experts differ between samples.
      std::vector<std::size_t> perm(n);
      std::iota(perm.begin(), perm.end(), std::size_t{0});
      for (std::size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[rng_.below(i)]);
      for (std::size_t r = 0; r < n; ++r) {
        p[perm[r]] = std::pow(static_cast<double>(r + 1), -spec_.zipf_exponent);
      }
      break;
    }
    case spec::RoutingKind::kDirichlet:
      // Dirichlet(α,...,α) as normalized Gamma(α, 1) draws.
      for (double& x : p) x = rng_.gamma(spec_.dirichlet_alpha);
      break;
    case spec::RoutingKind::kTrace:
      for (std::size_t i = 0; i < n; ++i) p[i] = std::max(0.0, spec_.trace[i]);
      break;
  }
  const double sum = std::accumulate(p.begin(), p.end(), 0.0);
  if (!(sum > 0.0)) {
    // A Dirichlet with tiny α can underflow to all zeros: put all mass on one
    // expert (the limit α -> 0). A trace of zeros is a front-end error; treat it
    // the same way rather than divide by zero.
    std::fill(p.begin(), p.end(), 0.0);
    p[rng_.below(n)] = 1.0;
    return p;
  }
  for (double& x : p) x /= sum;
  return p;
}

RoutingSample ExpertRouter::sample(std::int64_t tokens) { return sample_with(draw_popularity(), tokens); }

RoutingSample ExpertRouter::sample_with(const std::vector<double>& popularity, std::int64_t tokens) {
  MASIM_ASSERT(static_cast<int>(popularity.size()) == num_experts_, "popularity size != experts");
  MASIM_ASSERT(tokens >= 0, "negative token count");
  const auto n = static_cast<std::size_t>(num_experts_);
  const int k = top_k_;
  RoutingSample s;
  s.tokens = tokens;
  s.top_k = k;
  s.tokens_per_expert.assign(n, 0);
  s.requested_per_expert.assign(n, 0);
  s.mean_router_prob = popularity;
  s.assignment.assign(static_cast<std::size_t>(tokens * k), -1);
  s.capacity = 0;
  std::int64_t cap = std::numeric_limits<std::int64_t>::max();
  if (spec_.capacity_factor) {
    const double c = std::ceil(*spec_.capacity_factor * static_cast<double>(tokens) * k /
                               static_cast<double>(num_experts_));
    cap = std::max<std::int64_t>(0, static_cast<std::int64_t>(c));
    s.capacity = cap;
  }

  std::vector<double> cdf(n);
  std::partial_sum(popularity.begin(), popularity.end(), cdf.begin());
  const double total = cdf.back();
  MASIM_ASSERT(total > 0.0, "popularity sums to zero");

  std::vector<std::int32_t> chosen(static_cast<std::size_t>(k));
  for (std::int64_t t = 0; t < tokens; ++t) {
    double chosen_mass = 0.0;
    for (int j = 0; j < k; ++j) {
      std::int32_t e = -1;
      for (int tries = 0; tries < kMaxRejections; ++tries) {
        const double u = rng_.uniform() * total;
        auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
        if (it == cdf.end()) --it;
        const auto cand = static_cast<std::int32_t>(it - cdf.begin());
        if (popularity[static_cast<std::size_t>(cand)] > 0.0 && !contains(chosen.data(), j, cand)) {
          e = cand;
          break;
        }
      }
      if (e < 0) {
        // Direct scan of the remaining probability (or uniform over the unchosen
        // experts once the remaining probability is zero).
        const double rest = total - chosen_mass;
        if (rest > total * 1e-12) {
          double u = rng_.uniform() * rest;
          for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<std::int32_t>(i);
            if (contains(chosen.data(), j, c) || popularity[i] <= 0.0) continue;
            e = c;
            u -= popularity[i];
            if (u < 0.0) break;
          }
        }
        if (e < 0) {
          std::uint64_t pick = rng_.below(n - static_cast<std::size_t>(j));
          for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<std::int32_t>(i);
            if (contains(chosen.data(), j, c)) continue;
            if (pick-- == 0) {
              e = c;
              break;
            }
          }
        }
      }
      MASIM_ASSERT(e >= 0, "routing found no expert");
      chosen[static_cast<std::size_t>(j)] = e;
      chosen_mass += popularity[static_cast<std::size_t>(e)];
      const auto ei = static_cast<std::size_t>(e);
      ++s.requested_per_expert[ei];
      if (s.tokens_per_expert[ei] < cap) {
        ++s.tokens_per_expert[ei];
        s.assignment[static_cast<std::size_t>(t * k + j)] = e;
      } else {
        ++s.dropped;
      }
    }
  }
  return s;
}

// Per-sample statistics averaged over samples: popularity is redrawn per layer
// and iteration (Zipf with a fresh ranking), so pooling counts over samples
// would hide the imbalance each MoE block actually sees.
ExpertStats expert_stats(const std::vector<RoutingSample>& samples, int num_experts) {
  ExpertStats st;
  int used = 0;
  const double e = static_cast<double>(num_experts);
  for (const RoutingSample& s : samples) {
    MASIM_ASSERT(static_cast<int>(s.requested_per_expert.size()) == num_experts, "sample size != experts");
    st.dropped += s.dropped;
    st.routed += std::accumulate(s.tokens_per_expert.begin(), s.tokens_per_expert.end(), std::int64_t{0});
    const double total = static_cast<double>(
        std::accumulate(s.requested_per_expert.begin(), s.requested_per_expert.end(), std::int64_t{0}));
    if (total <= 0.0) continue;
    double mean = 1.0 / e, var = 0.0, lo = 1.0, hi = 0.0, aux = 0.0;
    for (std::size_t i = 0; i < s.requested_per_expert.size(); ++i) {
      const double f = static_cast<double>(s.requested_per_expert[i]) / total;
      var += (f - mean) * (f - mean);
      lo = std::min(lo, f);
      hi = std::max(hi, f);
      aux += f * s.mean_router_prob[i];
    }
    st.share_std += std::sqrt(var / e);
    st.share_min += lo;
    st.share_max += hi;
    st.aux_loss += e * aux;
    ++used;
  }
  if (used > 0) {
    st.share_std /= used;
    st.share_min /= used;
    st.share_max /= used;
    st.aux_loss /= used;
  }
  return st;
}

}  // namespace masim::workload
