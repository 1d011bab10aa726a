// Expert routing: per-iteration expert loads sampled (seeded) from a distribution.
//
// Each MoE layer and iteration draws expert popularity p (uniform: p_i = 1/E;
// Zipf: p_i ∝ rank^-s over a random permutation of experts; Dirichlet(α);
// trace: the recorded counts normalized), then assigns each token k distinct
// experts by sampling without replacement from p. With a capacity factor cf,
// each expert takes at most ceil(cf · T · k / E) tokens; the rest are dropped.
//
// Statistics (ExpertStats): per-expert usage share f_i (fraction of routed
// token-slots), its std / min / max over experts, and the Switch-Transformer
// auxiliary load-balancing loss E · Σ f_i · P_i (Fedus et al. 2021), where P_i is
// the mean router probability of expert i; uniform routing gives 1.0.
// Per-token logits are not simulated: every token's router distribution is the
// layer-iteration's popularity p, so P_i = p_i (routing.cpp states the model).
// Statistics are per sample, then averaged over samples.
//
//   ExpertRouter r(spec.workload.routing, /*experts=*/64, /*top_k=*/2, Rng(seed));
//   RoutingSample s = r.sample(/*tokens=*/256);   // s.tokens_per_expert sums to 512 - s.dropped
#pragma once

#include <cstdint>
#include <vector>

#include "sim/common/rng.hpp"
#include "sim/spec/spec.hpp"

namespace masim::workload {

struct RoutingSample {
  std::vector<std::int64_t> tokens_per_expert;  // token-slots routed to each expert
  std::vector<double> mean_router_prob;         // P_i: mean router probability per expert
  std::int64_t dropped = 0;                     // token-slots over capacity
  // For each token, its k experts (tokens × k, row-major): lets layouts count
  // exactly which GPU each token goes to. Every token has k distinct experts;
  // a slot dropped by the capacity limit reads -1 (the token skips that expert).
  std::vector<std::int32_t> assignment;
  // Token-slots the router chose per expert before the capacity limit (equals
  // tokens_per_expert without one); usage shares and the aux loss use these.
  std::vector<std::int64_t> requested_per_expert;
  std::int64_t capacity = 0;                    // per-expert cap in token-slots; 0 = none
  std::int64_t tokens = 0;
  int top_k = 0;
};

class ExpertRouter {
 public:
  ExpertRouter(const spec::RoutingSpec& spec, int num_experts, int top_k, Rng rng);
  // Draws a popularity, then routes `tokens` tokens with it.
  RoutingSample sample(std::int64_t tokens);
  // The two halves, so that a layout can keep one popularity per layer across
  // iterations (a layer's hot experts stay hot) and replicate those experts.
  std::vector<double> draw_popularity();
  RoutingSample sample_with(const std::vector<double>& popularity, std::int64_t tokens);

 private:
  spec::RoutingSpec spec_;
  int num_experts_;
  int top_k_;
  Rng rng_;
};

struct ExpertStats {
  double share_std = 0.0;   // std over experts of f_i (share of token-slots)
  double share_min = 0.0;
  double share_max = 0.0;
  double aux_loss = 0.0;    // E · Σ f_i · P_i
  std::int64_t dropped = 0;
  std::int64_t routed = 0;
};
// Aggregates samples (over layers and iterations) into the statistics above.
ExpertStats expert_stats(const std::vector<RoutingSample>& samples, int num_experts);

}  // namespace masim::workload
