// Per-GPU memory: what a GPU must hold, component by component.
//
// Parameters (bytes = params · dtype bytes), KV cache (2 · layers · kv_heads ·
// head_dim · context · sequences · dtype bytes; MLA caches kv_lora_rank +
// qk_rope_head_dim per token and layer), activations, gradients (training: one
// copy of the parameters in the compute dtype), optimizer states (Adam with fp32
// master weights: 12 bytes per parameter by default), communication buffers, and
// a runtime reserve (CUDA context, allocator fragmentation).
//
//   MemoryBreakdown m;  m.parameters = Bytes::gb(18.2);  ...;  m.total();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/common/units.hpp"
#include "sim/models/op.hpp"
#include "sim/spec/spec.hpp"

namespace masim::models {

struct MemoryBreakdown {
  Bytes parameters;
  Bytes kv_cache;
  Bytes activations;
  Bytes gradients;
  Bytes optimizer_states;
  Bytes comm_buffers;
  Bytes reserve;
  Bytes total() const {
    return parameters + kv_cache + activations + gradients + optimizer_states + comm_buffers + reserve;
  }
};

// KV-cache bytes for `layers` layers of `m`, `kv_heads_here` KV heads (per shard),
// `sequences` sequences of `context` tokens each.
Bytes kv_cache_bytes(const spec::ModelSpec& m, int layers, int kv_heads_here, std::int64_t sequences,
                     std::int64_t context);

// Runtime reserve per GPU: CUDA context and allocator slack (documented default).
Bytes runtime_reserve(const spec::GpuSpec& gpu);

// A GPU whose total exceeds capacity: "GPU 3 needs 91.2 GiB, has 80.0 GiB (short 11.2 GiB)".
std::string shortfall_message(int gpu, const MemoryBreakdown& m, Bytes capacity);

// ---- more building blocks for per-GPU memory (layouts assemble them)

// KV-cache bytes of ONE token in ONE layer on a shard holding `kv_heads_here` KV
// heads: 2·kv_heads_here·head_dim·dtype, or (kv_lora_rank + qk_rope_head_dim)·dtype
// for MLA (the compressed latent, identical on every TP shard).
Bytes kv_bytes_per_token_layer(const spec::ModelSpec& m, int kv_heads_here);
// KV heads a TP shard of `tp` holds: ceil(kv_heads / tp), at least 1 (replicated
// when tp > kv_heads). MHA uses num_heads; MLA returns 1 (the latent).
int kv_heads_per_shard(const spec::ModelSpec& m, int tp);

// Parameters, gradients, optimizer states for `params` parameters on one GPU.
Bytes parameter_bytes(std::int64_t params, spec::DType t);
// One gradient copy in `t` (the compute dtype by default; pass kFP32 for fp32
// main-gradient accumulation as Megatron-LM's accumulate_allreduce_grads_in_fp32).
Bytes gradient_bytes(std::int64_t params, spec::DType t);
// Adam with fp32 master weights: fp32 master copy + two fp32 moments = 12 B per
// parameter (Rajbhandari et al. 2020, ZeRO §3.1, "K = 12"); configurable via
// workload.optimizer_bytes_per_param; shard_ways > 1 for ZeRO-1 sharding over DP.
Bytes optimizer_state_bytes(std::int64_t params, int bytes_per_param, int shard_ways = 1);

// Activation bytes an op holds live while it runs: its non-weight inputs and its
// outputs (GEMMs: A and C; attention: Q, K, V or the new token's query, and O
// without the KV cache; row-wise ops: inputs and outputs).
Bytes activation_bytes(const Op& op);
// Largest activation_bytes over `ops`: the working set of a segment's peak op.
Bytes peak_activation_bytes(const std::vector<Op>& ops);

// NCCL communication buffers. Assumption, stated: each communicator a GPU joins
// keeps `channels` receive buffers of NCCL_BUFFSIZE (default 4 MiB, NCCL
// environment-variable docs) for its ring/tree neighbours, and each peer of
// point-to-point traffic (all-to-all, send/recv, token dispatch)
// `p2p_channels_per_peer` more. LL/LL128 buffers (smaller) are not counted.
struct CommBufferModel {
  int channels = 16;                     // NCCL picks 2-32 by topology; 16 is an A100/H100 NVSwitch middle
  int p2p_channels_per_peer = 2;
  Bytes buffer_size = Bytes::mib(4);     // NCCL_BUFFSIZE default
};
Bytes comm_buffer_bytes(int communicators, int p2p_peers, const CommBufferModel& model = {});

// Training activations of one layer for `tokens` tokens (sequence · micro-batch)
// on one GPU, adapted from Korthikanti et al. 2022, "Reducing Activation
// Recomputation in Large Transformer Models", §4 (per layer sbh·(34 + 5as/h) for
// GPT with fp16, no parallelism; 10 + 24/t under TP; divided by t under sequence
// parallelism). Adapted to today's MoE models, each change stated:
//  * no dropout (masks and dropout outputs gone); FlashAttention stores Q, K, V, O
//    and the fp32 log-sum-exp, not the a·s² scores (Korthikanti's 5as/h term);
//  * GQA/MLA: K and V are kv_heads wide; MLA also stores its latent tensors;
//  * RMSNorm inputs (as LayerNorm's), SwiGLU stores gate/up (2F) and its output (F);
//  * MoE: the router's fp32 probabilities (E per token), and per routed token-slot
//    (on the GPU running its expert) the permuted input h, gate/up 2F/et, SwiGLU
//    output F/et and the expert output h (needed for the combine weights' gradient);
//  * tensors outside the TP region (norm inputs and outputs) are replicated on
//    every TP shard unless sequence parallelism splits them t ways.
// Element size is the model dtype; fp32 where stated.
struct LayerActivations {
  Bytes layer_input;         // what full recomputation keeps per layer
  Bytes attention;           // attention block incl. its input norm
  Bytes ffn_common;          // MoE: post-attention norm, router probs; dense: the whole FFN
  Bytes shared_experts;      // MoE shared experts (input counted in ffn_common)
  Bytes per_routed_slot;     // per token-slot processed by an expert on this GPU
  // Stored for backward without recomputation, with `routed_slots` token-slots here.
  Bytes stored(std::int64_t routed_slots) const {
    return attention + ffn_common + shared_experts + per_routed_slot * routed_slots;
  }
};
LayerActivations training_layer_activations(const spec::ModelSpec& m, int layer, std::int64_t tokens,
                                            int tp, bool sequence_parallel, int expert_tp = 1);
// Layers [first, first + count) of one micro-batch. Without recomputation: the
// sum of stored(). With full recomputation (Korthikanti §5): each layer keeps its
// input, and the layer being back-propagated rebuilds its full set, so
// Σ layer_input + max stored(). `routed_slots_per_layer` = token-slots this GPU's
// experts process per MoE layer. Pipeline layouts multiply by the micro-batches
// in flight (1F1B: up to pp on the first stage).
Bytes training_activation_bytes(const spec::ModelSpec& m, int first_layer, int count, std::int64_t tokens,
                                int tp, bool sequence_parallel, bool recompute,
                                std::int64_t routed_slots_per_layer, int expert_tp = 1);

// Largest n in [0, upper] with need(n) <= capacity, by binary search (need must
// not decrease with n): "the largest batch that fits". -1 when need(0) > capacity.
template <typename NeedFn>
std::int64_t largest_fitting(NeedFn&& need, Bytes capacity, std::int64_t upper) {
  if (need(std::int64_t{0}) > capacity) return -1;
  std::int64_t lo = 0, hi = upper;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (need(mid) <= capacity) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace masim::models
