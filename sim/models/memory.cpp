// Per-GPU memory components. Formulas are derived beside each function; the
// sources are in sim/models/memory.hpp.
#include "sim/models/memory.hpp"

#include <algorithm>
#include <cstdio>

#include "sim/common/assert.hpp"
#include "sim/models/model_params.hpp"

namespace masim::models {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Runtime reserve, a stated choice (not a measurement): a fixed 1 GiB for the
// CUDA context with its loaded kernel images, the cuBLAS workspaces and NCCL's
// own device state (a CUDA 12 context alone takes ~0.3-0.6 GiB on A100/H100 as
// nvidia-smi shows for an idle process), plus 5% of capacity for the caching
// allocator's fragmentation (inference servers leave 8-10%, e.g. vLLM's default
// gpu_memory_utilization = 0.9, which must also cover activations).
constexpr double kReserveFixedGiB = 1.0;
constexpr double kReserveFraction = 0.05;
constexpr std::int64_t kFp32 = 4;

}  // namespace

int kv_heads_per_shard(const spec::ModelSpec& m, int tp) {
  MASIM_ASSERT(tp >= 1, "bad tp");
  if (m.attention == spec::AttentionKind::kMLA) return 1;
  const int kv = m.attention == spec::AttentionKind::kMHA ? m.num_heads : m.num_kv_heads;
  return static_cast<int>(std::max<std::int64_t>(1, ceil_div(kv, tp)));
}

Bytes kv_bytes_per_token_layer(const spec::ModelSpec& m, int kv_heads_here) {
  const std::int64_t e = spec::dtype_bytes(m.dtype);
  if (m.attention == spec::AttentionKind::kMLA) {
    MASIM_ASSERT(m.mla.has_value(), "MLA attention without mla parameters");
    // One latent row per token: kv_lora_rank + qk_rope_head_dim values.
    return Bytes{(std::int64_t{m.mla->kv_lora_rank} + m.mla->qk_rope_head_dim) * e};
  }
  // K and V, head_dim each, per KV head.
  return Bytes{2 * std::int64_t{kv_heads_here} * m.head_dim * e};
}

Bytes kv_cache_bytes(const spec::ModelSpec& m, int layers, int kv_heads_here, std::int64_t sequences,
                     std::int64_t context) {
  return kv_bytes_per_token_layer(m, kv_heads_here) * (std::int64_t{layers} * sequences * context);
}

Bytes runtime_reserve(const spec::GpuSpec& gpu) {
  return Bytes::gib(kReserveFixedGiB) +
         Bytes{static_cast<std::int64_t>(kReserveFraction * gpu.hbm_capacity.as_double())};
}

std::string shortfall_message(int gpu, const MemoryBreakdown& m, Bytes capacity) {
  const Bytes need = m.total();
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "GPU %d needs %.1f GiB, has %.1f GiB (short %.1f GiB): parameters %.1f, KV cache %.1f, "
                "activations %.1f, gradients %.1f, optimizer states %.1f, comm buffers %.1f, reserve %.1f GiB",
                gpu, need.gib(), capacity.gib(), (need - capacity).gib(), m.parameters.gib(), m.kv_cache.gib(),
                m.activations.gib(), m.gradients.gib(), m.optimizer_states.gib(), m.comm_buffers.gib(),
                m.reserve.gib());
  return buf;
}

Bytes parameter_bytes(std::int64_t params, spec::DType t) { return Bytes{params * spec::dtype_bytes(t)}; }

Bytes gradient_bytes(std::int64_t params, spec::DType t) { return Bytes{params * spec::dtype_bytes(t)}; }

Bytes optimizer_state_bytes(std::int64_t params, int bytes_per_param, int shard_ways) {
  MASIM_ASSERT(shard_ways >= 1, "bad shard_ways");
  return Bytes{ceil_div(params * bytes_per_param, shard_ways)};
}

Bytes activation_bytes(const Op& op) {
  const std::int64_t e = spec::dtype_bytes(op.dtype);
  switch (op.kind) {
    case OpKind::kGemm:
    case OpKind::kGroupedGemm:
      // Input A [m, k] and output C [m, n]; the weights are parameters.
      return Bytes{(op.m * op.k + op.m * op.n) * e};
    case OpKind::kAttentionDecode:
      // The new tokens' queries and outputs; the KV cache is counted apart.
      return Bytes{op.batch * op.heads * (std::int64_t{op.head_dim} + op.v_head_dim) * e};
    case OpKind::kAttentionPrefill:
      // Q, K, V and O of the prompt tokens (fused kernel: no score matrix).
      return Bytes{op.batch * op.seq *
                   (std::int64_t{op.heads} * (op.head_dim + op.v_head_dim) +
                    std::int64_t{op.kv_heads} * (op.head_dim + op.v_head_dim)) *
                   e};
    case OpKind::kRmsNorm:
      return Bytes{2 * op.tokens * op.width * e};
    case OpKind::kMemcpy:
      return Bytes{op.width};
    case OpKind::kRouterTopK:
    case OpKind::kPermute:
    case OpKind::kUnpermute:
    case OpKind::kSwiGLU:
    case OpKind::kElementwise:
      // No weights: everything the op reads and writes is activation.
      return op.bytes;
  }
  return op.bytes;
}

Bytes peak_activation_bytes(const std::vector<Op>& ops) {
  Bytes peak;
  for (const Op& op : ops) peak = std::max(peak, activation_bytes(op));
  return peak;
}

Bytes comm_buffer_bytes(int communicators, int p2p_peers, const CommBufferModel& model) {
  return model.buffer_size *
         (std::int64_t{communicators} * model.channels + std::int64_t{p2p_peers} * model.p2p_channels_per_peer);
}

LayerActivations training_layer_activations(const spec::ModelSpec& m, int layer, std::int64_t tokens, int tp,
                                            bool sequence_parallel, int expert_tp) {
  MASIM_ASSERT(tp >= 1 && expert_tp >= 1 && tokens >= 0, "bad activation arguments");
  const std::int64_t e = spec::dtype_bytes(m.dtype);
  const std::int64_t h = m.hidden_size;
  const std::int64_t n = tokens;
  // A tensor [n, h] outside the TP region: replicated, or split t ways under SP.
  const std::int64_t nh = sequence_parallel ? ceil_div(n * h, tp) : n * h;
  const std::int64_t heads = ceil_div(m.num_heads, tp);
  LayerActivations a;
  a.layer_input = Bytes{nh * e};

  // Attention: norm input and output (= QKV input), then the TP-sharded part.
  std::int64_t attn = 2 * nh * e;
  if (m.attention == spec::AttentionKind::kMLA) {
    MASIM_ASSERT(m.mla.has_value(), "MLA attention without mla parameters");
    const spec::MlaSpec& l = *m.mla;
    // Latents (replicated, as their projections are): q_a output and its norm
    // output (q_b input), the kv_a output c_kv ⊕ k_rope and its norm output.
    const std::int64_t latent = 2 * std::int64_t{l.q_lora_rank} + (l.kv_lora_rank + l.qk_rope_head_dim) +
                                l.kv_lora_rank;
    // Per head: Q and K of nope + rope, V and O of v_head_dim (decompressed).
    const std::int64_t per_head = 2 * (std::int64_t{l.qk_nope_head_dim} + l.qk_rope_head_dim) + 2 * l.v_head_dim;
    attn += n * (latent + heads * per_head) * e;
  } else {
    const std::int64_t kv = kv_heads_per_shard(m, tp);
    // Q (heads·d), K and V (kv·d each), O (heads·d).
    attn += n * (2 * heads + 2 * kv) * m.head_dim * e;
  }
  attn += n * heads * kFp32;  // FlashAttention's log-sum-exp per query and head
  a.attention = Bytes{attn};

  if (is_moe_layer(m, layer)) {
    // Post-attention norm input and output (the router's and permute's input),
    // and the router's fp32 probabilities (replicated on TP shards).
    a.ffn_common = Bytes{2 * nh * e + n * m.num_experts * kFp32};
    if (m.num_shared_experts > 0) {
      const std::int64_t fs = ceil_div(std::int64_t{m.num_shared_experts} * m.shared_expert_ffn_size, tp);
      a.shared_experts = Bytes{n * 3 * fs * e};  // gate/up output (2F) and SwiGLU output (F)
    }
    const std::int64_t f = ceil_div(m.expert_ffn_size, expert_tp);
    a.per_routed_slot = Bytes{(2 * h + 3 * f) * e};
  } else {
    const std::int64_t f = ceil_div(m.dense_ffn_size, tp);
    a.ffn_common = Bytes{2 * nh * e + n * 3 * f * e};
  }
  return a;
}

Bytes training_activation_bytes(const spec::ModelSpec& m, int first_layer, int count, std::int64_t tokens, int tp,
                                bool sequence_parallel, bool recompute, std::int64_t routed_slots_per_layer,
                                int expert_tp) {
  Bytes sum, inputs, largest;
  for (int l = first_layer; l < first_layer + count; ++l) {
    const LayerActivations a = training_layer_activations(m, l, tokens, tp, sequence_parallel, expert_tp);
    const Bytes full = a.stored(is_moe_layer(m, l) ? routed_slots_per_layer : 0);
    sum += full;
    inputs += a.layer_input;
    largest = std::max(largest, full);
  }
  return recompute ? inputs + largest : sum;
}

}  // namespace masim::models
