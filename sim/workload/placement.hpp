// Expert placement over the GPUs of an expert-parallel group (EP, or MA
// Separation's expert GPUs), optional replication of the hottest experts, and
// the per-GPU loads and dispatch traffic that follow from a routing sample.
//
// GPUs here are indices 0..gpus-1 within the expert group; layouts map them to
// global ranks. Choices, each stated:
//  * block_placement: expert e lives on GPU floor(e·G/E), contiguous blocks as in
//    Megatron-LM and DeepSpeed-MoE expert parallelism (E/G experts per GPU when G
//    divides E).
//  * replicate_hottest: the `count` experts with the highest expected load get one
//    extra copy each, hottest first, placed greedily on the GPU with the least
//    expected load that does not hold that expert yet (load of an expert split
//    evenly over its copies; ties to the lower index). This is the spirit of
//    DeepSeek-V3's redundant experts (§3.4) and EPLB, without their grouping rules.
//  * A replicated expert's token-slots go round-robin over its copies in token
//    order (the j-th slot to copy j mod c), which splits them evenly.
//  * Dispatch counts both token-slots and distinct tokens per (source, destination):
//    a token whose k experts share a GPU can be sent once (DeepEP-style) or once
//    per slot; layouts pick and say which.
//
//   ExpertPlacement p = replicate_hottest(block_placement(64, 8), expected_load, 4);
//   GpuRouting g = route_to_gpus(sample, p);           // g.slots_per_gpu[gpu]
//   DispatchMatrix d = dispatch_matrix(sample, g, 8);  // d.tokens[src][dst]
#pragma once

#include <cstdint>
#include <vector>

#include "sim/workload/routing.hpp"

namespace masim::workload {

struct ExpertPlacement {
  int num_gpus = 0;
  std::vector<std::vector<int>> hosts;       // per expert: GPUs holding a copy (home first)
  std::vector<std::vector<int>> experts_on;  // per GPU: experts it holds, ascending
  int num_experts() const { return static_cast<int>(hosts.size()); }
  int max_experts_per_gpu() const;           // for parameter memory
};

ExpertPlacement block_placement(int experts, int gpus);
ExpertPlacement replicate_hottest(const ExpertPlacement& base, const std::vector<double>& expected_load, int count);
// The `count` experts with the largest load, hottest first (ties: lower index).
std::vector<int> hottest_experts(const std::vector<double>& load, int count);

struct GpuRouting {
  std::vector<std::int64_t> slots_per_gpu;               // token-slots each GPU processes
  std::vector<std::vector<std::int64_t>> rows;           // per GPU, aligned with experts_on[gpu]: ExpertShard input
  std::vector<std::int32_t> slot_gpu;                    // per (token, j) slot: GPU, -1 if dropped
  int num_gpus() const { return static_cast<int>(slots_per_gpu.size()); }
  std::int64_t max_slots() const;                        // the most loaded GPU (the MoE block waits on it)
};
GpuRouting route_to_gpus(const RoutingSample& s, const ExpertPlacement& p);

// Tokens come from `sources` GPUs, token t from source floor(t·S/T) (contiguous
// equal shares, as DP attention ranks hold them).
struct DispatchMatrix {
  std::vector<std::vector<std::int64_t>> slots;   // [source][gpu] token-slots
  std::vector<std::vector<std::int64_t>> tokens;  // [source][gpu] distinct tokens
};
DispatchMatrix dispatch_matrix(const RoutingSample& s, const GpuRouting& g, int sources);
// Source GPU of token t of T over S sources.
int token_source(std::int64_t t, std::int64_t tokens, int sources);

}  // namespace masim::workload
