// Op builders: shapes, FLOPs (multiply-add = 2) and the fewest HBM bytes each
// kernel must move (every input read once, every output written once; no
// re-reads from tiling, no L2 hits assumed). Each formula is derived beside it.
#include "sim/models/op.hpp"

#include <algorithm>
#include <numeric>

#include "sim/common/assert.hpp"

namespace masim::models {
namespace {

using spec::DType;

// Vector (CUDA-core) operations per element of the row-wise kernels. These are
// operation counts of the textbook formulas, not measurements:
//  softmax over a row: max, subtract, exp, sum, scale          -> 5 per element
//  RMSNorm: square + accumulate (2), scale by rsqrt and weight (2) -> 4 per element
//  SwiGLU: silu(g)·u = g / (1 + exp(-g)) · u: exp, add, divide, multiply
//          (the negation folds into exp's argument)                 -> 4 per element
constexpr double kSoftmaxOpsPerScore = 5.0;
constexpr double kRmsNormOpsPerElement = 4.0;
constexpr double kSwigluOpsPerElement = 4.0;
// Router: fp32 logits, 4-byte weight + 4-byte int32 index per selected slot.
constexpr std::int64_t kRouterLogitBytes = 4;
constexpr std::int64_t kRouterSlotBytes = 8;
// Permute/unpermute index (int32) and combine weight (fp32) per token-slot.
constexpr std::int64_t kIndexBytes = 4;
constexpr std::int64_t kWeightBytes = 4;

double d(std::int64_t v) { return static_cast<double>(v); }

Op base(OpKind kind, std::string_view label, DType t) {
  Op o;
  o.kind = kind;
  o.label = label;
  o.dtype = t;
  return o;
}

}  // namespace

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::kGemm: return "gemm";
    case OpKind::kGroupedGemm: return "grouped_gemm";
    case OpKind::kAttentionDecode: return "attention_decode";
    case OpKind::kAttentionPrefill: return "attention_prefill";
    case OpKind::kRmsNorm: return "rmsnorm";
    case OpKind::kRouterTopK: return "router_topk";
    case OpKind::kPermute: return "permute";
    case OpKind::kUnpermute: return "unpermute";
    case OpKind::kSwiGLU: return "swiglu";
    case OpKind::kElementwise: return "elementwise";
    case OpKind::kMemcpy: return "memcpy";
  }
  return "?";
}

Op make_gemm(std::string_view label, std::int64_t m, std::int64_t n, std::int64_t k, DType t) {
  MASIM_ASSERT(m >= 0 && n >= 0 && k >= 0, "negative GEMM shape");
  Op o = base(OpKind::kGemm, label, t);
  o.m = m;
  o.n = n;
  o.k = k;
  o.max_group_m = m;
  // C[m,n] = A[m,k]·B[k,n]: m·n outputs, each k multiply-adds = 2·m·n·k FLOPs.
  o.flops = Flops{2.0 * d(m) * d(n) * d(k)};
  // Read A (m·k) and B (k·n) once, write C (m·n) once.
  o.bytes = Bytes{(m * k + k * n + m * n) * spec::dtype_bytes(t)};
  return o;
}

Op make_grouped_gemm(std::string_view label, const std::vector<std::int64_t>& group_m,
                     std::int64_t n, std::int64_t k, DType t) {
  MASIM_ASSERT(n >= 0 && k >= 0, "negative grouped GEMM shape");
  Op o = base(OpKind::kGroupedGemm, label, t);
  o.groups = static_cast<std::int32_t>(group_m.size());
  o.n = n;
  o.k = k;
  std::int64_t rows = 0;
  std::int64_t active = 0;
  for (std::int64_t g : group_m) {
    MASIM_ASSERT(g >= 0, "negative group rows");
    rows += g;
    if (g > 0) ++active;
    o.max_group_m = std::max(o.max_group_m, g);
  }
  o.m = rows;
  // Σ_g 2·m_g·n·k.
  o.flops = Flops{2.0 * d(rows) * d(n) * d(k)};
  // Inputs Σ m_g·k and outputs Σ m_g·n once; a group's [k,n] weight only if it has
  // rows (an expert that receives no token need not be read).
  o.bytes = Bytes{(rows * k + active * k * n + rows * n) * spec::dtype_bytes(t)};
  return o;
}

Op make_decode_attention(std::string_view label, std::int64_t batch, std::int64_t context, int heads,
                         int kv_heads, int head_dim, int v_head_dim, DType t) {
  MASIM_ASSERT(batch >= 0 && context >= 0 && heads >= 0 && kv_heads >= 0, "bad attention shape");
  Op o = base(OpKind::kAttentionDecode, label, t);
  o.batch = batch;
  o.seq = 1;
  o.context = context;
  o.heads = heads;
  o.kv_heads = kv_heads;
  o.head_dim = head_dim;
  o.v_head_dim = v_head_dim;
  // Per sequence and head: scores q·K^T over `context` keys (2·context·head_dim)
  // and output P·V (2·context·v_head_dim).
  const double scores = d(batch) * heads * d(context);
  o.flops = Flops{scores * 2.0 * (head_dim + v_head_dim) + scores * kSoftmaxOpsPerScore};
  o.vector_flops = Flops{scores * kSoftmaxOpsPerScore};
  // Read the query (heads·head_dim) and the KV cache (kv_heads·context·(head_dim +
  // v_head_dim)), write the output (heads·v_head_dim), and append this step's new
  // K and V (kv_heads·(head_dim + v_head_dim)) to the cache.
  const std::int64_t per_seq = heads * head_dim + kv_heads * context * (head_dim + v_head_dim) +
                               heads * v_head_dim + kv_heads * (head_dim + v_head_dim);
  o.bytes = Bytes{batch * per_seq * spec::dtype_bytes(t)};
  return o;
}

Op make_mla_decode_attention(std::string_view label, std::int64_t batch, std::int64_t context,
                             int heads, int kv_lora_rank, int qk_rope_head_dim, DType t) {
  Op o = base(OpKind::kAttentionDecode, label, t);
  o.batch = batch;
  o.seq = 1;
  o.context = context;
  o.heads = heads;
  o.kv_heads = 1;
  o.head_dim = kv_lora_rank + qk_rope_head_dim;
  o.v_head_dim = kv_lora_rank;
  o.shared_kv = true;
  // Absorbed MLA is MQA over the latent: scores use the full (kv_lora + rope)
  // width, values the kv_lora part, for every query head.
  const double scores = d(batch) * heads * d(context);
  o.flops = Flops{scores * 2.0 * (o.head_dim + o.v_head_dim) + scores * kSoftmaxOpsPerScore};
  o.vector_flops = Flops{scores * kSoftmaxOpsPerScore};
  // Read the query (heads·(kv_lora+rope)), the latent cache once (context·(kv_lora+
  // rope): K and V are the same rows), write the output (heads·kv_lora) and append
  // this step's latent row.
  const std::int64_t per_seq = std::int64_t{heads} * o.head_dim + context * o.head_dim +
                               std::int64_t{heads} * o.v_head_dim + o.head_dim;
  o.bytes = Bytes{batch * per_seq * spec::dtype_bytes(t)};
  return o;
}

Op make_prefill_attention(std::string_view label, std::int64_t batch, std::int64_t seq, int heads,
                          int kv_heads, int head_dim, int v_head_dim, DType t) {
  MASIM_ASSERT(batch >= 0 && seq >= 0 && heads >= 0 && kv_heads >= 0, "bad attention shape");
  Op o = base(OpKind::kAttentionPrefill, label, t);
  o.batch = batch;
  o.seq = seq;
  o.context = seq;
  o.heads = heads;
  o.kv_heads = kv_heads;
  o.head_dim = head_dim;
  o.v_head_dim = v_head_dim;
  // Causal: query i attends to keys 0..i, so seq·(seq+1)/2 scores per head, about
  // half of the full seq² (a causal kernel skips the masked tiles).
  const double scores = d(batch) * heads * (d(seq) * d(seq + 1) / 2.0);
  o.flops = Flops{scores * 2.0 * (head_dim + v_head_dim) + scores * kSoftmaxOpsPerScore};
  o.vector_flops = Flops{scores * kSoftmaxOpsPerScore};
  // Fused (FlashAttention-style) kernel: read Q, K, V once, write O once; the
  // seq×seq scores never reach HBM.
  const std::int64_t per_seq =
      seq * (std::int64_t{heads} * head_dim + std::int64_t{kv_heads} * (head_dim + v_head_dim) +
             std::int64_t{heads} * v_head_dim);
  o.bytes = Bytes{batch * per_seq * spec::dtype_bytes(t)};
  return o;
}

Op make_rmsnorm(std::string_view label, std::int64_t tokens, std::int64_t width, DType t) {
  Op o = base(OpKind::kRmsNorm, label, t);
  o.tokens = tokens;
  o.width = width;
  o.flops = Flops{d(tokens) * d(width) * kRmsNormOpsPerElement};
  o.vector_flops = o.flops;
  // Read x and the weight vector, write y.
  o.bytes = Bytes{(2 * tokens * width + width) * spec::dtype_bytes(t)};
  return o;
}

Op make_router_topk(std::string_view label, std::int64_t tokens, std::int64_t experts, int top_k) {
  // Router softmax runs in fp32 (as in Mixtral's and DeepSeek's reference code).
  Op o = base(OpKind::kRouterTopK, label, DType::kFP32);
  o.tokens = tokens;
  o.width = experts;
  o.top_k = top_k;
  // Softmax over E logits (5 ops each) plus k selection passes over E (1 compare
  // each): tokens·E·(5 + k) CUDA-core operations.
  o.flops = Flops{d(tokens) * d(experts) * (kSoftmaxOpsPerScore + top_k)};
  o.vector_flops = o.flops;
  // Read tokens·E fp32 logits, write k (weight, index) pairs per token.
  o.bytes = Bytes{tokens * experts * kRouterLogitBytes + tokens * top_k * kRouterSlotBytes};
  return o;
}

Op make_permute(std::string_view label, std::int64_t tokens, std::int64_t width, int top_k, DType t) {
  Op o = base(OpKind::kPermute, label, t);
  o.tokens = tokens;
  o.width = width;
  o.top_k = top_k;
  // A gather: no arithmetic. Read each token row once and the tokens·k int32
  // destination indices, write tokens·k rows in expert order.
  o.bytes = Bytes{(tokens * width + tokens * top_k * width) * spec::dtype_bytes(t) +
                  tokens * top_k * kIndexBytes};
  return o;
}

Op make_unpermute(std::string_view label, std::int64_t tokens, std::int64_t width, int top_k, DType t) {
  Op o = base(OpKind::kUnpermute, label, t);
  o.tokens = tokens;
  o.width = width;
  o.top_k = top_k;
  // out[t] = Σ_j w[t,j]·row[t,j]: k multiply-adds per output element.
  o.flops = Flops{2.0 * d(tokens) * top_k * d(width)};
  o.vector_flops = o.flops;
  // Read tokens·k rows, their int32 indices and fp32 weights; write tokens rows.
  o.bytes = Bytes{(tokens * top_k * width + tokens * width) * spec::dtype_bytes(t) +
                  tokens * top_k * (kIndexBytes + kWeightBytes)};
  return o;
}

Op make_swiglu(std::string_view label, std::int64_t tokens, std::int64_t width, DType t) {
  Op o = base(OpKind::kSwiGLU, label, t);
  o.tokens = tokens;
  o.width = width;
  o.flops = Flops{d(tokens) * d(width) * kSwigluOpsPerElement};
  o.vector_flops = o.flops;
  // Read gate and up (tokens × width each), write tokens × width.
  o.bytes = Bytes{3 * tokens * width * spec::dtype_bytes(t)};
  return o;
}

Op make_elementwise(std::string_view label, std::int64_t tokens, std::int64_t width, int operands, DType t) {
  MASIM_ASSERT(operands >= 1, "elementwise needs an operand");
  Op o = base(OpKind::kElementwise, label, t);
  o.tokens = tokens;
  o.width = width;
  o.operands = operands;
  // Summing `operands` inputs takes operands-1 adds per element.
  o.flops = Flops{d(tokens) * d(width) * (operands - 1)};
  o.vector_flops = o.flops;
  // Read every operand, write one result.
  o.bytes = Bytes{(operands + 1) * tokens * width * spec::dtype_bytes(t)};
  return o;
}

Op make_memcpy(std::string_view label, Bytes bytes) {
  Op o = base(OpKind::kMemcpy, label, DType::kBF16);
  // A device-to-device copy reads and writes each byte: 2·bytes of HBM traffic.
  // The copy's size is kept as one row of `width` bytes.
  o.tokens = 1;
  o.width = bytes.count();
  o.bytes = Bytes{2 * bytes.count()};
  return o;
}

}  // namespace masim::models
