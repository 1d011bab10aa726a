// Step costs of one serving replica, from the same planner, cost model and
// flow-level network as a steady-state run (layouts::simulate), simulated on a
// grid of batch compositions and interpolated between grid points.
//
// Decode: a step of B sequences whose contexts average c is priced at
// decode(B, c), bilinear between the grid points B in {1, 2, ..., 16, 20, 24,
// 28, 32, 40, ...} (every batch to 16, then four per octave) and c in {16, 24,
// 32, 48, ...} (two per octave), both capped at the replica's limits. Attention reads each
// sequence's KV cache, so a batch of mixed contexts costs about what a batch of
// equal contexts with the same mean does; the linear interpolation between grid
// points is the bucketing, and its error is measured per run (check_points).
// Prefill: n prompts of mean length L at prefill(n, L) on the same kind of grid.
// A grid point that the planner refuses (EP needs B >= ep, MA one sequence per
// attention group and micro-batch) takes the value of the smallest feasible batch.
// Mixed (chunked prefill: B decodes and n prompt chunks of mean length L in one
// forward pass of T = B + nL tokens): decode(B, c) + prefill(n, L) counts the
// part of a step that depends only on its token count (weights streamed,
// GEMMs, MoE dispatch and experts, collectives) twice. That part is
// tokens(x) = decode(x, 16), a decode step of x sequences at the shortest
// context (its attention is negligible), on a one-dimensional grid of token
// counts; so
//   mixed = decode(B, c) + prefill(n, L) - tokens(B) - tokens(nL) + tokens(T),
// attention priced per group by its own query length and context (inside
// decode and prefill), the token-count part once at T, clamped to
// [max(decode, prefill), decode + prefill]. The decomposition's error is
// measured per run where the planner can price the combined step directly: a
// decode step of B sequences against the mixture of its two halves, and a
// prefill of n prompts against its halves (check_points "mixed_decode",
// "mixed_prefill").
//
//   StepCosts c(scenario, replica_layout, topo, cost, /*max_batch=*/256, /*max_context=*/4096, 8192);
//   double s = c.decode_s(37, 1200.0);
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/models/compute_cost.hpp"
#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::serving {

// What the scheduler asks of a replica's costs (tests give hand-set ones).
class StepCostModel {
 public:
  virtual ~StepCostModel() = default;
  virtual bool ok() const = 0;
  virtual const std::string& error() const = 0;
  virtual double decode_s(std::int64_t batch, double mean_context) = 0;
  virtual double prefill_s(std::int64_t prompts, double mean_length) = 0;
  virtual double decode_exact_s(std::int64_t batch, std::int64_t context) = 0;
  virtual double prefill_exact_s(std::int64_t prompts, std::int64_t length) = 0;
  // One forward pass of `batch` decodes (mean context `mean_context`) and
  // `prompts` prompt chunks (mean length `mean_length`). This default is the
  // upper bound decode + prefill (two passes); StepCosts prices one pass.
  virtual double mixed_s(std::int64_t batch, double mean_context, std::int64_t prompts, double mean_length) {
    return combine_s(decode_s(batch, mean_context), static_cast<double>(batch), prefill_s(prompts, mean_length),
                     static_cast<double>(prompts) * mean_length);
  }
  // One pass over two groups of tokens priced apart at `a_s` (a_tokens tokens)
  // and `b_s` (b_tokens tokens); the default is the two-pass sum.
  virtual double combine_s(double a_s, double /*a_tokens*/, double b_s, double /*b_tokens*/) { return a_s + b_s; }
  // The smallest batch (decode) or prompt count (prefill) the planner prices
  // itself; smaller ones take its price.
  virtual std::int64_t min_batch(bool /*decode*/) { return 1; }
  virtual std::int64_t kv_capacity_tokens() const = 0;
  virtual double swap_s_per_token() const = 0;
  // Seconds to ship `tokens` tokens' KV cache from a prefill replica to a decode
  // replica (disaggregated serving): every GPU sends its shard to its
  // counterpart, in parallel.
  virtual double kv_transfer_s(std::int64_t tokens) const = 0;
  virtual std::size_t simulations() const = 0;
};

class StepCosts final : public StepCostModel {
 public:
  StepCosts(const spec::ScenarioSpec& s, const spec::LayoutSpec& replica, const topology::Topology& topo,
            const models::ComputeCostModel& cost, std::int64_t max_batch, std::int64_t max_context,
            std::int64_t max_prefill_tokens, int kv_src_gpu = -1, int kv_dst_gpu = -1);

  bool ok() const override { return ok_; }
  const std::string& error() const override { return error_; }
  double decode_s(std::int64_t batch, double mean_context) override;
  double prefill_s(std::int64_t prompts, double mean_length) override;
  // Direct simulations (no interpolation), to measure the bucketing error.
  double decode_exact_s(std::int64_t batch, std::int64_t context) override;
  double prefill_exact_s(std::int64_t prompts, std::int64_t length) override;
  double combine_s(double a_s, double a_tokens, double b_s, double b_tokens) override;
  // As the base, with the token counts of the steps actually priced (a batch
  // below min_batch is priced as min_batch).
  double mixed_s(std::int64_t batch, double mean_context, std::int64_t prompts, double mean_length) override;
  std::int64_t min_batch(bool decode) override;
  // The token-count part of a step of `tokens` tokens (decode at context 16), interpolated.
  double tokens_s(double tokens);

  // Paged KV pool of the replica in tokens (memory left after weights,
  // activations at max_batch, communication buffers and reserve, on the GPU
  // with the least room), times kv_memory_fraction. 0: the weights do not fit.
  std::int64_t kv_capacity_tokens() const override { return kv_tokens_; }
  // Seconds to copy one token's KV cache to or from host memory (every GPU
  // over its own host link, in parallel).
  double swap_s_per_token() const override { return swap_s_per_token_; }
  // Through the flow-level network between the first GPUs of the two replicas
  // (kv_src_gpu, kv_dst_gpu): latency + bytes / bandwidth, fitted to two
  // transfers (1 MiB and 64 MiB). 0 without a pair.
  double kv_transfer_s(std::int64_t tokens) const override {
    return tokens > 0 && kv_bytes_per_token_ > 0 ? transfer_a_ + transfer_b_ * kv_bytes_per_token_ * static_cast<double>(tokens)
                                                 : 0.0;
  }
  std::size_t simulations() const override { return simulations_; }

 private:
  double point(bool decode, std::int64_t n, std::int64_t len);
  double run(bool decode, std::int64_t n, std::int64_t len);
  double interpolate(bool decode, const std::vector<std::int64_t>& ns, const std::vector<std::int64_t>& ls, double n,
                     double len);

  const spec::ScenarioSpec& s_;
  spec::LayoutSpec layout_;
  const topology::Topology& topo_;
  const models::ComputeCostModel& cost_;
  std::vector<std::int64_t> batches_, contexts_, prompts_, lengths_, tokens_;
  std::map<std::pair<std::int64_t, std::int64_t>, double> decode_, prefill_;
  std::int64_t min_batch_[2] = {0, 0};   // smallest feasible batch (decode, prefill); 0 = not yet known
  bool ok_ = true;
  std::string error_;
  std::int64_t kv_tokens_ = 0;
  double swap_s_per_token_ = 0.0;
  double kv_bytes_per_token_ = 0.0;   // on the GPU that holds the most
  double transfer_a_ = 0.0, transfer_b_ = 0.0;
  std::size_t simulations_ = 0;
};

}  // namespace masim::serving
