// Parameter counts of a ModelSpec, component by component (counts, not bytes;
// multiply by dtype_bytes(m.dtype) for bytes).
//
// Per layer (Hugging Face module names in brackets):
//   attention   MHA/GQA: q, k, v, o projections without biases:
//                 h·H·d + 2·h·Hkv·d + H·d·h
//               MLA (DeepSeek-V2 §2.1, config fields of DeepseekV3):
//                 [q_a_proj] h·q_lora + [q_a_layernorm] q_lora + [q_b_proj] q_lora·H·(nope+rope)
//                   (or [q_proj] h·H·(nope+rope) when q_lora_rank = 0)
//                 + [kv_a_proj_with_mqa] h·(kv_lora+rope) + [kv_a_layernorm] kv_lora
//                 + [kv_b_proj] kv_lora·H·(nope+v) + [o_proj] H·v·h
//   norms       input and post-attention RMSNorm weights: 2·h
//   router      [gate] h·E (MoE layers)
//   expert      one routed SwiGLU expert: 3·h·expert_ffn
//   shared      shared experts: n_shared·3·h·shared_ffn
//   dense_ffn   SwiGLU FFN of a dense layer: 3·h·dense_ffn
// Model: embedding V·h, LM head V·h unless tied, final norm h.
// Not counted (absent from ModelSpec, each < 0.01% of the models we check): QKV
// biases (Qwen2), per-head q/k norms (Qwen3), DeepSeek-V3's expert score bias,
// Qwen2-MoE's shared-expert gate, and DeepSeek-V3's multi-token-prediction module.
//
// Active per token follows the convention of the model cards (Mixtral-8x7B "12.9B
// active"): everything except the routed experts a token does not use, i.e.
// top_k routed experts per MoE layer, and embedding and LM head included.
// DeepSeek's "activated" counts appear to leave the input embedding out
// (DeepSeek-V2-Lite: 2.66B with it, 2.45B without, card 2.4B); subtract
// `embedding` to compare with those.
//
//   ModelParams p = count_params(model);
//   double billions = p.total() * 1e-9;     // Mixtral-8x7B: ~46.7
#pragma once

#include <cstdint>
#include <vector>

#include "sim/spec/spec.hpp"

namespace masim::models {

struct LayerParams {
  bool moe = false;
  std::int64_t attention = 0;
  std::int64_t norms = 0;
  std::int64_t router = 0;
  std::int64_t routed_expert = 0;   // ONE routed expert
  int routed_experts = 0;           // how many this layer holds (E, or 0 for dense)
  std::int64_t shared_experts = 0;  // all shared experts together
  std::int64_t dense_ffn = 0;
  std::int64_t routed_total() const { return routed_expert * routed_experts; }
  std::int64_t ffn_total() const { return router + routed_total() + shared_experts + dense_ffn; }
  std::int64_t total() const { return attention + norms + ffn_total(); }
  // Used by one token: top_k of the routed experts.
  std::int64_t active(int top_k) const {
    return attention + norms + router + routed_expert * (moe ? top_k : 0) + shared_experts + dense_ffn;
  }
};

struct ModelParams {
  std::int64_t embedding = 0;
  std::int64_t lm_head = 0;  // 0 when tied to the embedding
  std::int64_t final_norm = 0;
  int top_k = 0;
  std::vector<LayerParams> layers;

  std::int64_t layers_total() const;
  std::int64_t total() const { return embedding + lm_head + final_norm + layers_total(); }
  std::int64_t active_per_token() const;
  // Parameters of all routed experts of all layers (what EP shards).
  std::int64_t routed_experts_total() const;
};

// Attention parameters of one layer (as in LayerParams::attention).
std::int64_t attention_params(const spec::ModelSpec& m);
// Attention parameters ONE tensor-parallel shard of `tp` holds (Megatron-LM
// sharding, as sim/workload/layer_ops builds the ops): q and o split by heads;
// GQA/MHA K and V for ceil(kv_heads/tp) heads, at least one (replicated when
// tp > kv_heads); MLA's q_a/kv_a projections and latent norms on every shard,
// q_b/kv_b/o split by heads. Equals attention_params(m) at tp = 1.
std::int64_t attention_params_per_shard(const spec::ModelSpec& m, int tp);
ModelParams count_params(const spec::ModelSpec& m);
// Whether `layer` is an MoE layer: moe_layer[layer] when given, else num_experts > 0.
bool is_moe_layer(const spec::ModelSpec& m, int layer);

}  // namespace masim::models
