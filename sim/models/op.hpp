// Op descriptors: one GPU kernel's shape, FLOPs and bytes moved, the unit the
// compute cost models price (roofline or calibrated profile).
//
// FLOPs count a multiply-add as 2. Bytes are the fewest bytes the kernel must
// move through HBM (each input read once, each output written once).
//
//   Op o = make_gemm("qkv_proj", /*m=*/256, /*n=*/6144, /*k=*/4096, DType::kBF16);
//   // o.flops == 2·256·6144·4096, o.bytes == 2·(256·4096 + 4096·6144 + 256·6144)
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "sim/common/units.hpp"
#include "sim/spec/spec.hpp"

namespace masim::models {

enum class OpKind : std::uint8_t {
  kGemm,              // C[m,n] = A[m,k] · B[k,n]
  kGroupedGemm,       // `groups` GEMMs sharing n and k; rows per group in group_m
  kAttentionDecode,   // one new query token per sequence against a KV cache of `context`
  kAttentionPrefill,  // `seq` query tokens per sequence, causal
  kRmsNorm,           // tokens × width
  kRouterTopK,        // softmax over `width` experts and top-k, per token
  kPermute,           // gather tokens into expert order (tokens·top_k rows of width)
  kUnpermute,         // scatter back with weighted combine of top_k rows
  kSwiGLU,            // silu(gate) ⊙ up over tokens × width
  kElementwise,       // residual add and similar: tokens × width, `operands` inputs
  kMemcpy,            // device copy of `bytes`
};
const char* to_string(OpKind k);

struct Op {
  OpKind kind = OpKind::kGemm;
  std::string_view label;      // static string naming the op in the layer ("qkv_proj")
  spec::DType dtype = spec::DType::kBF16;
  // GEMM shapes
  std::int64_t m = 0, n = 0, k = 0;
  std::int32_t groups = 1;
  std::int64_t max_group_m = 0;   // grouped GEMM: rows of the largest group
  // attention shapes
  std::int64_t batch = 0, seq = 0, context = 0;
  std::int32_t heads = 0, kv_heads = 0, head_dim = 0, v_head_dim = 0;
  // row-wise ops
  std::int64_t tokens = 0, width = 0;
  std::int32_t top_k = 0, operands = 2;
  // MLA weight-absorbed decode: one latent cache row per token serves as K
  // (all head_dim columns) and V (its first v_head_dim columns), read once.
  bool shared_kv = false;
  // Training: this op is the backward pass of a forward op with the same label.
  bool backward = false;
  // Under the tensor parallelism its builder was given, every shard runs this same
  // op on the same data (norms, residual adds, MLA's latent projections): count it
  // once, not tp times, when summing useful (model) FLOPs over shards.
  bool replicated = false;
  // derived
  Flops flops;
  Flops vector_flops;  // part of `flops` done on CUDA cores (softmax, norms, activations)
  Bytes bytes;
};

Op make_gemm(std::string_view label, std::int64_t m, std::int64_t n, std::int64_t k, spec::DType t);
// Group g multiplies group_m[g] rows by the same [k, n] shape (one weight per group).
Op make_grouped_gemm(std::string_view label, const std::vector<std::int64_t>& group_m,
                     std::int64_t n, std::int64_t k, spec::DType t);
Op make_decode_attention(std::string_view label, std::int64_t batch, std::int64_t context,
                         int heads, int kv_heads, int head_dim, int v_head_dim, spec::DType t);
// MLA decode in the weight-absorbed form (DeepSeek-V2 §2.1.2): `heads` query heads
// of width kv_lora_rank + qk_rope_head_dim attend to one shared latent cache row of
// the same width per token; the value is its first kv_lora_rank columns.
Op make_mla_decode_attention(std::string_view label, std::int64_t batch, std::int64_t context,
                             int heads, int kv_lora_rank, int qk_rope_head_dim, spec::DType t);
Op make_prefill_attention(std::string_view label, std::int64_t batch, std::int64_t seq, int heads,
                          int kv_heads, int head_dim, int v_head_dim, spec::DType t);
Op make_rmsnorm(std::string_view label, std::int64_t tokens, std::int64_t width, spec::DType t);
Op make_router_topk(std::string_view label, std::int64_t tokens, std::int64_t experts, int top_k);
Op make_permute(std::string_view label, std::int64_t tokens, std::int64_t width, int top_k, spec::DType t);
Op make_unpermute(std::string_view label, std::int64_t tokens, std::int64_t width, int top_k, spec::DType t);
Op make_swiglu(std::string_view label, std::int64_t tokens, std::int64_t width, spec::DType t);
Op make_elementwise(std::string_view label, std::int64_t tokens, std::int64_t width, int operands, spec::DType t);
Op make_memcpy(std::string_view label, Bytes bytes);

}  // namespace masim::models
