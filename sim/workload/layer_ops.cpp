// Layer segments as op lists, per shard. Choices, each stated:
//  * Sharding under TP follows Megatron-LM (Shoeybi et al. 2019): QKV and gate/up
//    column-parallel, output and down projections row-parallel; norms and residual
//    adds run on every shard (marked Op::replicated). A width that tp does not
//    divide is rounded up (the largest shard); layouts validate divisibility.
//  * KV heads: each shard holds ceil(kv_heads / tp) of them, at least one, so with
//    tp > kv_heads every shard computes (and caches) a replica of one KV head, as
//    vLLM does; this is real redundant work and is not marked replicated.
//  * MLA (DeepSeek-V2 §2.1): the latent down-projections q_a and kv_a are fused
//    into one GEMM (as SGLang's fused_qkv_a_proj) and replicated across TP shards;
//    q_b, kv_b and o are sharded by heads. Decode uses the weight-absorbed form
//    (DeepSeek-V2 §2.1.2 / appendix): W_UK is applied to the query (a per-head
//    batched GEMM nope -> kv_lora), attention runs as MQA over the compressed
//    cache of kv_lora_rank + qk_rope_head_dim values per token, and W_UV is
//    applied to the per-head latent output (kv_lora -> v_head_dim). Prefill uses
//    the non-absorbed form: kv_b decompresses K_nope and V per head and attention
//    runs with head_dim nope+rope and v_head_dim.
//  * Rotary embeddings are fused into the QKV epilogue / attention kernel and not
//    priced separately; the residual add is one elementwise op per segment.
//  * Shared experts of one layer run as one fused SwiGLU FFN of width
//    n_shared · shared_ffn (DeepSeek's implementation); their output joins the
//    routed output in the combine's residual add (three operands).
#include "sim/workload/layer_ops.hpp"

#include <algorithm>
#include <numeric>

#include "sim/common/assert.hpp"
#include "sim/models/memory.hpp"
#include "sim/models/model_params.hpp"

namespace masim::workload {
namespace {

using models::Op;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

bool moe_layer(const spec::ModelSpec& m, int layer) { return models::is_moe_layer(m, layer); }

Op replicated_if(Op o, bool r) {
  o.replicated = r;
  return o;
}

void mla_attention(const spec::ModelSpec& m, const AttentionShard& s, std::int64_t tokens,
                   std::vector<Op>& ops) {
  MASIM_ASSERT(m.mla.has_value(), "MLA attention without mla parameters");
  const spec::MlaSpec& a = *m.mla;
  const spec::DType t = m.dtype;
  const bool rep = s.tp > 1;
  const int heads = static_cast<int>(ceil_div(m.num_heads, s.tp));
  const std::int64_t qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
  // Latent projections: [q_lora] + kv_lora + rope outputs from the hidden state.
  const std::int64_t latent = a.q_lora_rank + a.kv_lora_rank + a.qk_rope_head_dim;
  ops.push_back(replicated_if(models::make_gemm("qkv_a_proj", tokens, latent, m.hidden_size, t), rep));
  if (a.q_lora_rank > 0) {
    ops.push_back(replicated_if(models::make_rmsnorm("q_a_norm", tokens, a.q_lora_rank, t), rep));
    ops.push_back(models::make_gemm("q_b_proj", tokens, heads * qk, a.q_lora_rank, t));
  } else {
    ops.push_back(models::make_gemm("q_proj", tokens, heads * qk, m.hidden_size, t));
  }
  ops.push_back(replicated_if(models::make_rmsnorm("kv_a_norm", tokens, a.kv_lora_rank, t), rep));
  if (!s.prefill) {
    const std::vector<std::int64_t> per_head(static_cast<std::size_t>(heads), tokens);
    ops.push_back(models::make_grouped_gemm("q_absorb", per_head, a.kv_lora_rank, a.qk_nope_head_dim, t));
    ops.push_back(models::make_mla_decode_attention("attention", s.sequences, s.context, heads,
                                                    a.kv_lora_rank, a.qk_rope_head_dim, t));
    ops.push_back(models::make_grouped_gemm("v_absorb", per_head, a.v_head_dim, a.kv_lora_rank, t));
  } else {
    ops.push_back(models::make_gemm("kv_b_proj", tokens, heads * (a.qk_nope_head_dim + a.v_head_dim),
                                    a.kv_lora_rank, t));
    ops.push_back(models::make_prefill_attention("attention", s.sequences, s.query_tokens, heads, heads,
                                                 static_cast<int>(qk), a.v_head_dim, t));
  }
  ops.push_back(models::make_gemm("o_proj", tokens, m.hidden_size, std::int64_t{heads} * a.v_head_dim, t));
}

void mha_gqa_attention(const spec::ModelSpec& m, const AttentionShard& s, std::int64_t tokens,
                       std::vector<Op>& ops) {
  const spec::DType t = m.dtype;
  const int heads = static_cast<int>(ceil_div(m.num_heads, s.tp));
  const int kv_total = m.attention == spec::AttentionKind::kMHA ? m.num_heads : m.num_kv_heads;
  MASIM_ASSERT(kv_total > 0, "model without KV heads");
  const int kv = static_cast<int>(std::max<std::int64_t>(1, ceil_div(kv_total, s.tp)));
  const int d = m.head_dim;
  ops.push_back(models::make_gemm("qkv_proj", tokens, std::int64_t{heads + 2 * kv} * d, m.hidden_size, t));
  if (s.prefill) {
    ops.push_back(models::make_prefill_attention("attention", s.sequences, s.query_tokens, heads, kv, d, d, t));
  } else {
    ops.push_back(models::make_decode_attention("attention", s.sequences, s.context, heads, kv, d, d, t));
  }
  ops.push_back(models::make_gemm("o_proj", tokens, m.hidden_size, std::int64_t{heads} * d, t));
}

// gate/up GEMM, SwiGLU, down GEMM of one (possibly fused) SwiGLU FFN of width `w`.
void swiglu_ffn(std::string_view gate_up, std::string_view act, std::string_view down, std::int64_t tokens,
                std::int64_t hidden, std::int64_t w, spec::DType t, std::vector<Op>& ops) {
  ops.push_back(models::make_gemm(gate_up, tokens, 2 * w, hidden, t));
  ops.push_back(models::make_swiglu(act, tokens, w, t));
  ops.push_back(models::make_gemm(down, tokens, hidden, w, t));
}

}  // namespace

std::vector<Op> attention_block(const spec::ModelSpec& m, int layer, const AttentionShard& s) {
  MASIM_ASSERT(layer >= 0 && layer < m.num_layers, "layer out of range");
  MASIM_ASSERT(s.tp >= 1 && s.sequences >= 0 && s.query_tokens >= 0, "bad attention shard");
  const std::int64_t tokens = s.sequences * s.query_tokens;
  const bool rep = s.tp > 1;
  std::vector<Op> ops;
  ops.reserve(10);
  ops.push_back(replicated_if(models::make_rmsnorm("input_norm", tokens, m.hidden_size, m.dtype), rep));
  if (m.attention == spec::AttentionKind::kMLA) {
    mla_attention(m, s, tokens, ops);
  } else {
    mha_gqa_attention(m, s, tokens, ops);
  }
  ops.push_back(replicated_if(models::make_elementwise("residual", tokens, m.hidden_size, 2, m.dtype), rep));
  return ops;
}

std::vector<Op> router_block(const spec::ModelSpec& m, int layer, std::int64_t tokens) {
  MASIM_ASSERT(moe_layer(m, layer), "router_block on a dense layer");
  return {models::make_rmsnorm("post_attn_norm", tokens, m.hidden_size, m.dtype),
          models::make_gemm("router", tokens, m.num_experts, m.hidden_size, m.dtype),
          models::make_router_topk("router_topk", tokens, m.num_experts, m.top_k),
          models::make_permute("permute", tokens, m.hidden_size, m.top_k, m.dtype)};
}

std::vector<Op> expert_block(const spec::ModelSpec& m, int layer, const ExpertShard& s) {
  MASIM_ASSERT(moe_layer(m, layer), "expert_block on a dense layer");
  MASIM_ASSERT(s.tp >= 1, "bad expert tp");
  const std::int64_t w = ceil_div(m.expert_ffn_size, s.tp);
  const std::int64_t rows = std::accumulate(s.tokens_per_expert.begin(), s.tokens_per_expert.end(), std::int64_t{0});
  // Kernels launch even when this GPU's experts got no token (MoE kernels take the
  // whole expert list); their cost is then the launch overhead.
  return {models::make_grouped_gemm("expert_gate_up", s.tokens_per_expert, 2 * w, m.hidden_size, m.dtype),
          models::make_swiglu("expert_swiglu", rows, w, m.dtype),
          models::make_grouped_gemm("expert_down", s.tokens_per_expert, m.hidden_size, w, m.dtype)};
}

std::vector<Op> shared_expert_block(const spec::ModelSpec& m, int layer, std::int64_t tokens, int tp) {
  MASIM_ASSERT(tp >= 1, "bad tp");
  if (!moe_layer(m, layer) || m.num_shared_experts <= 0 || m.shared_expert_ffn_size <= 0) return {};
  const std::int64_t w = ceil_div(std::int64_t{m.num_shared_experts} * m.shared_expert_ffn_size, tp);
  std::vector<Op> ops;
  swiglu_ffn("shared_gate_up", "shared_swiglu", "shared_down", tokens, m.hidden_size, w, m.dtype, ops);
  return ops;
}

std::vector<Op> combine_block(const spec::ModelSpec& m, int layer, std::int64_t tokens) {
  MASIM_ASSERT(moe_layer(m, layer), "combine_block on a dense layer");
  const bool shared = m.num_shared_experts > 0 && m.shared_expert_ffn_size > 0;
  return {models::make_unpermute("unpermute", tokens, m.hidden_size, m.top_k, m.dtype),
          models::make_elementwise("residual", tokens, m.hidden_size, shared ? 3 : 2, m.dtype)};
}

std::vector<Op> dense_ffn_block(const spec::ModelSpec& m, int layer, std::int64_t tokens, int tp) {
  MASIM_ASSERT(layer >= 0 && layer < m.num_layers, "layer out of range");
  MASIM_ASSERT(tp >= 1, "bad tp");
  const bool rep = tp > 1;
  const std::int64_t w = ceil_div(m.dense_ffn_size, tp);
  std::vector<Op> ops;
  ops.push_back(replicated_if(models::make_rmsnorm("post_attn_norm", tokens, m.hidden_size, m.dtype), rep));
  swiglu_ffn("ffn_gate_up", "ffn_swiglu", "ffn_down", tokens, m.hidden_size, w, m.dtype, ops);
  ops.push_back(replicated_if(models::make_elementwise("residual", tokens, m.hidden_size, 2, m.dtype), rep));
  return ops;
}

// Backward passes. Sources of the factors:
//  * GEMM C = A·B: dA = dC·B^T ([m,n]·[n,k]) and dB = A^T·dC ([k,m]·[m,n]), each
//    2·m·n·k FLOPs and the same minimal bytes as the forward (three matrices of the
//    same sizes): backward = 2x forward, the usual 1:2 split (Narayanan et al. 2021).
//  * Grouped GEMM: the same per group; dgrad swaps n and k, wgrad keeps the shape
//    fields of the forward (the weight-gradient shape is [k, n] reduced over m_g).
//  * Attention (FlashAttention-2, Dao 2023, §3.1.2): the backward recomputes QK^T
//    and runs four more matmuls (dV, dP, dQ, dK): 5 vs 2 forward -> 2.5x tensor
//    FLOPs; the softmax gradient costs about twice the forward's vector ops; it
//    reads Q, K, V, O, dO and writes dQ, dK, dV: about twice the forward bytes.
//  * Row-wise ops: one pass of the same bytes and FLOPs as their forward.
std::vector<Op> backward_of(const Op& f) {
  auto mark = [&](Op o) {
    o.backward = true;
    o.replicated = f.replicated;
    o.label = f.label;
    return o;
  };
  switch (f.kind) {
    case models::OpKind::kGemm:
      return {mark(models::make_gemm(f.label, f.m, f.k, f.n, f.dtype)),
              mark(models::make_gemm(f.label, f.k, f.n, f.m, f.dtype))};
    case models::OpKind::kGroupedGemm: {
      Op dgrad = f;
      dgrad.n = f.k;
      dgrad.k = f.n;
      return {mark(dgrad), mark(f)};
    }
    case models::OpKind::kAttentionDecode:
    case models::OpKind::kAttentionPrefill: {
      Op b = f;
      const double tensor = f.flops.count() - f.vector_flops.count();
      b.vector_flops = f.vector_flops * 2.0;
      b.flops = Flops{tensor * 2.5} + b.vector_flops;
      b.bytes = f.bytes * 2;
      return {mark(b)};
    }
    default:
      return {mark(f)};
  }
}

Bytes hidden_bytes_per_token(const spec::ModelSpec& m) {
  return Bytes{std::int64_t{m.hidden_size} * spec::dtype_bytes(m.dtype)};
}

std::vector<Op> embedding_block(const spec::ModelSpec& m, std::int64_t tokens) {
  // A gather: read one table row and write it, per token (no arithmetic).
  return {models::make_elementwise("embedding", tokens, m.hidden_size, 1, m.dtype)};
}

std::vector<Op> lm_head_block(const spec::ModelSpec& m, std::int64_t tokens, int tp) {
  MASIM_ASSERT(tp >= 1, "bad tp");
  return {replicated_if(models::make_rmsnorm("final_norm", tokens, m.hidden_size, m.dtype), tp > 1),
          models::make_gemm("lm_head", tokens, ceil_div(m.vocab_size, tp), m.hidden_size, m.dtype)};
}

Flops forward_flops_per_token(const spec::ModelSpec& m, std::int64_t context, bool prefill) {
  const std::int64_t tokens = prefill ? context : 1;
  auto add = [](Flops& f, const std::vector<Op>& ops) {
    for (const Op& o : ops) f += o.flops;
  };
  Flops f;
  add(f, embedding_block(m, tokens));
  const AttentionShard a{.tp = 1, .sequences = 1, .query_tokens = tokens, .context = context, .prefill = prefill};
  for (int l = 0; l < m.num_layers; ++l) {
    add(f, attention_block(m, l, a));
    if (moe_layer(m, l)) {
      add(f, router_block(m, l, tokens));
      // FLOPs depend on the total rows only: all token-slots in one group.
      add(f, expert_block(m, l, {.tp = 1, .tokens_per_expert = {tokens * m.top_k}}));
      add(f, shared_expert_block(m, l, tokens, 1));
      add(f, combine_block(m, l, tokens));
    } else {
      add(f, dense_ffn_block(m, l, tokens, 1));
    }
  }
  add(f, lm_head_block(m, tokens, 1));
  return f * (1.0 / static_cast<double>(std::max<std::int64_t>(tokens, 1)));
}

Bytes inference_activation_bytes(const spec::ModelSpec& m, const AttentionShard& a, std::int64_t expert_slots,
                                 int expert_tp) {
  const std::int64_t tokens = a.sequences * a.query_tokens;
  Bytes peak;
  auto consider = [&](const std::vector<Op>& ops) { peak = std::max(peak, models::peak_activation_bytes(ops)); };
  // Every layer of one kind has the same shapes: one MoE and one dense layer suffice.
  int first_moe = -1, first_dense = -1;
  for (int l = 0; l < m.num_layers; ++l) {
    int& first = moe_layer(m, l) ? first_moe : first_dense;
    if (first < 0) first = l;
  }
  if (first_moe >= 0) {
    if (tokens > 0) consider(attention_block(m, first_moe, a));
    if (expert_slots >= 0) {
      if (tokens > 0) {
        consider(router_block(m, first_moe, tokens));
        consider(shared_expert_block(m, first_moe, tokens, a.tp));
        consider(combine_block(m, first_moe, tokens));
      }
      consider(expert_block(m, first_moe, {.tp = expert_tp, .tokens_per_expert = {expert_slots}}));
    }
  }
  if (first_dense >= 0 && tokens > 0) {
    consider(attention_block(m, first_dense, a));
    consider(dense_ffn_block(m, first_dense, tokens, a.tp));
  }
  // The residual stream lives across all ops; expert-only GPUs hold their
  // received token-slots instead.
  const std::int64_t rows = tokens > 0 ? tokens : std::max<std::int64_t>(expert_slots, 0);
  return peak + hidden_bytes_per_token(m) * rows;
}

std::vector<models::Op> single_gpu_layer(const spec::ModelSpec& m, int layer, const AttentionShard& a,
                                         std::int64_t tokens, const std::vector<std::int64_t>& tokens_per_expert) {
  std::vector<models::Op> ops = attention_block(m, layer, a);
  auto append = [&](std::vector<models::Op> more) {
    for (models::Op& o : more) ops.push_back(std::move(o));
  };
  if (models::is_moe_layer(m, layer)) {
    append(router_block(m, layer, tokens));
    append(expert_block(m, layer, ExpertShard{1, tokens_per_expert}));
    append(shared_expert_block(m, layer, tokens, 1));
    append(combine_block(m, layer, tokens));
  } else {
    append(dense_ffn_block(m, layer, tokens, 1));
  }
  return ops;
}

}  // namespace masim::workload
