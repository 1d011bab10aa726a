// The MoE transformer's op graph, one layer block at a time, for one GPU's shard.
//
// A decoder layer is: RMSNorm -> QKV projection -> attention -> output projection
// -> residual -> RMSNorm -> (MoE: router GEMM, softmax+top-k, permute, expert
// gate/up grouped GEMM, SwiGLU, expert down grouped GEMM, unpermute+weighted
// combine; plus shared experts) or (dense FFN) -> residual.
// Layouts cut this graph where communication happens (after attention, at the
// dispatch to experts, at the combine) so each builder returns one segment.
// Shapes are per shard: with tensor parallelism `tp`, heads and FFN widths are
// divided by tp (KV heads are replicated when tp > kv_heads). Ops that every TP
// shard repeats on the same data (norms, residual adds, MLA's latent
// projections) carry Op::replicated. MLA decode uses the weight-absorbed form
// over the compressed cache (kv_lora_rank + qk_rope_head_dim per token);
// layer_ops.cpp states every choice.
//
//   AttentionShard a{.tp = 8, .sequences = 256, .query_tokens = 1, .context = 2048};
//   std::vector<models::Op> ops = attention_block(model, layer, a);
#pragma once

#include <cstdint>
#include <vector>

#include "sim/models/op.hpp"
#include "sim/spec/spec.hpp"

namespace masim::workload {

struct AttentionShard {
  int tp = 1;                     // attention heads split tp ways
  std::int64_t sequences = 1;     // sequences handled by this shard
  std::int64_t query_tokens = 1;  // per sequence: 1 for decode, prompt length for prefill
  std::int64_t context = 0;       // KV length attended to (decode); = query_tokens for prefill
  bool prefill = false;
};
// input RMSNorm, QKV projection, attention, output projection, residual add.
std::vector<models::Op> attention_block(const spec::ModelSpec& m, int layer, const AttentionShard& s);

// post-attention RMSNorm, router GEMM, softmax + top-k, permute into expert order.
std::vector<models::Op> router_block(const spec::ModelSpec& m, int layer, std::int64_t tokens);

struct ExpertShard {
  int tp = 1;                                       // each expert's FFN split tp ways
  std::vector<std::int64_t> tokens_per_expert;      // rows for each expert held here (zeros allowed)
};
// gate/up grouped GEMM, SwiGLU, down grouped GEMM over the experts held here.
std::vector<models::Op> expert_block(const spec::ModelSpec& m, int layer, const ExpertShard& s);

// Shared experts (DeepSeek/Qwen2-MoE style), every token, split tp ways. Empty if none.
std::vector<models::Op> shared_expert_block(const spec::ModelSpec& m, int layer, std::int64_t tokens, int tp);

// unpermute + weighted combine of top-k rows, residual add.
std::vector<models::Op> combine_block(const spec::ModelSpec& m, int layer, std::int64_t tokens);

// Dense FFN layer (non-MoE layers): RMSNorm, gate/up GEMM, SwiGLU, down GEMM, residual.
std::vector<models::Op> dense_ffn_block(const spec::ModelSpec& m, int layer, std::int64_t tokens, int tp);

// Every forward op of layer `layer` on one GPU that holds all of it (TP = EP = 1),
// as a single-GPU calibration step runs it: attention for `a`, then for an MoE
// layer the router, the experts (`tokens_per_expert` rows each), the shared
// experts and the combine over `tokens` rows, else the dense FFN.
std::vector<models::Op> single_gpu_layer(const spec::ModelSpec& m, int layer, const AttentionShard& a,
                                         std::int64_t tokens, const std::vector<std::int64_t>& tokens_per_expert);

// Training: the backward pass of one forward op (GEMM -> data-grad and weight-grad
// GEMMs, attention -> ~2.5x its forward FLOPs, row-wise ops -> one pass of the same bytes).
std::vector<models::Op> backward_of(const models::Op& forward);

// Bytes of the activations leaving each segment per token (hidden · dtype), for transfers.
Bytes hidden_bytes_per_token(const spec::ModelSpec& m);

// Token embedding lookup (a gather of `tokens` rows of hidden; vocab-parallel
// embeddings need an all-reduce after it, which layouts add).
std::vector<models::Op> embedding_block(const spec::ModelSpec& m, std::int64_t tokens);
// Final RMSNorm and the LM-head GEMM over the vocabulary split tp ways
// (vocab-parallel, as Megatron-LM); sampling/softmax over the logits is not priced.
std::vector<models::Op> lm_head_block(const spec::ModelSpec& m, std::int64_t tokens, int tp);

// Forward FLOPs of one token through the whole model, summed over the op graph
// built with tp = 1 (so replicated work counts once): decode of one token against
// a cache of `context` tokens, every MoE layer sending it to top_k experts; with
// prefill = true, the per-token average over a prompt of `context` tokens (causal
// attention). Includes the LM head. The model-FLOPs numerator of MFU.
Flops forward_flops_per_token(const spec::ModelSpec& m, std::int64_t context, bool prefill = false);

// Inference activation working set of one GPU: the residual stream
// (tokens · hidden) kept across ops plus the largest op working set
// (models::peak_activation_bytes) over the segments it runs: attention with `a`,
// and, for MoE layers, router, `expert_slots` token-slots through experts split
// expert_tp ways, shared experts and combine; dense FFN for dense layers.
// Pass expert_slots = -1 for a GPU that runs no MoE segment (MA attention GPUs)
// and a = {.sequences = 0} for one that runs no attention (MA expert GPUs).
Bytes inference_activation_bytes(const spec::ModelSpec& m, const AttentionShard& a, std::int64_t expert_slots,
                                 int expert_tp);

}  // namespace masim::workload
