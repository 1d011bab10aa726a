#include "sim/models/model_params.hpp"

#include <algorithm>

#include "sim/common/assert.hpp"

namespace masim::models {

bool is_moe_layer(const spec::ModelSpec& m, int layer) {
  MASIM_ASSERT(layer >= 0 && layer < m.num_layers, "layer out of range");
  if (!m.moe_layer.empty()) {
    MASIM_ASSERT(static_cast<int>(m.moe_layer.size()) == m.num_layers, "moe_layer size != num_layers");
    return m.moe_layer[static_cast<std::size_t>(layer)] && m.num_experts > 0;
  }
  return m.num_experts > 0;
}

std::int64_t attention_params(const spec::ModelSpec& m) {
  const std::int64_t h = m.hidden_size;
  const std::int64_t heads = m.num_heads;
  if (m.attention == spec::AttentionKind::kMLA) {
    MASIM_ASSERT(m.mla.has_value(), "MLA attention without mla parameters");
    const spec::MlaSpec& a = *m.mla;
    const std::int64_t qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
    std::int64_t q = 0;
    if (a.q_lora_rank > 0) {
      q = h * a.q_lora_rank + a.q_lora_rank + std::int64_t{a.q_lora_rank} * heads * qk;
    } else {
      q = h * heads * qk;
    }
    const std::int64_t kv = h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank +
                            std::int64_t{a.kv_lora_rank} * heads * (a.qk_nope_head_dim + a.v_head_dim);
    const std::int64_t o = heads * a.v_head_dim * h;
    return q + kv + o;
  }
  const std::int64_t d = m.head_dim;
  const std::int64_t kv_heads = m.attention == spec::AttentionKind::kMHA ? heads : m.num_kv_heads;
  return h * heads * d + 2 * h * kv_heads * d + heads * d * h;
}

std::int64_t attention_params_per_shard(const spec::ModelSpec& m, int tp) {
  MASIM_ASSERT(tp >= 1, "bad tp");
  const std::int64_t h = m.hidden_size;
  const std::int64_t heads = (m.num_heads + tp - 1) / tp;
  if (m.attention == spec::AttentionKind::kMLA) {
    MASIM_ASSERT(m.mla.has_value(), "MLA attention without mla parameters");
    const spec::MlaSpec& a = *m.mla;
    const std::int64_t qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
    const std::int64_t replicated = h * (a.q_lora_rank + a.kv_lora_rank + a.qk_rope_head_dim) +
                                    a.q_lora_rank + a.kv_lora_rank;
    const std::int64_t q = a.q_lora_rank > 0 ? std::int64_t{a.q_lora_rank} * heads * qk : h * heads * qk;
    const std::int64_t kv_b = std::int64_t{a.kv_lora_rank} * heads * (a.qk_nope_head_dim + a.v_head_dim);
    return replicated + q + kv_b + heads * a.v_head_dim * h;
  }
  const std::int64_t d = m.head_dim;
  const int kv_total = m.attention == spec::AttentionKind::kMHA ? m.num_heads : m.num_kv_heads;
  const std::int64_t kv = std::max<std::int64_t>(1, (kv_total + tp - 1) / tp);
  return 2 * h * heads * d + 2 * h * kv * d;
}

ModelParams count_params(const spec::ModelSpec& m) {
  const std::int64_t h = m.hidden_size;
  ModelParams p;
  p.embedding = std::int64_t{m.vocab_size} * h;
  p.lm_head = m.tie_embeddings ? 0 : std::int64_t{m.vocab_size} * h;
  p.final_norm = h;
  p.top_k = m.top_k;
  const std::int64_t attn = attention_params(m);
  p.layers.reserve(static_cast<std::size_t>(m.num_layers));
  for (int l = 0; l < m.num_layers; ++l) {
    LayerParams lp;
    lp.moe = is_moe_layer(m, l);
    lp.attention = attn;
    lp.norms = 2 * h;
    if (lp.moe) {
      lp.router = h * m.num_experts;
      lp.routed_expert = 3 * h * m.expert_ffn_size;
      lp.routed_experts = m.num_experts;
      lp.shared_experts = std::int64_t{m.num_shared_experts} * 3 * h * m.shared_expert_ffn_size;
    } else {
      lp.dense_ffn = 3 * h * m.dense_ffn_size;
    }
    p.layers.push_back(lp);
  }
  return p;
}

std::int64_t ModelParams::layers_total() const {
  std::int64_t s = 0;
  for (const LayerParams& l : layers) s += l.total();
  return s;
}

std::int64_t ModelParams::active_per_token() const {
  std::int64_t s = embedding + lm_head + final_norm;
  for (const LayerParams& l : layers) s += l.active(top_k);
  return s;
}

std::int64_t ModelParams::routed_experts_total() const {
  std::int64_t s = 0;
  for (const LayerParams& l : layers) s += l.routed_total();
  return s;
}

}  // namespace masim::models
