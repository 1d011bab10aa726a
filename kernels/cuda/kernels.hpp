// CUDA kernels of the MoE decode path (host-callable launchers). Each launcher
// enqueues its kernels on `stream` and returns the launch status; callers wrap
// it in MASIM_CUDA_CHECK. Layouts and semantics are those of the CPU references
// in kernels/reference/reference.hpp, which the correctness checks compare with.
//
// Element types: activations and weights bf16 (`Bf16`, raw 16-bit storage of
// __nv_bfloat16), router logits and combine weights fp32, expert indices int32.
//
//   MASIM_CUDA_CHECK(kernels::cuda::rmsnorm(x, w, y, tokens, width, 1e-6f, stream));
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace masim::kernels::cuda {

using Bf16 = std::uint16_t;  // bit pattern of a bfloat16 (kernels reinterpret as __nv_bfloat16)
using Fp8 = std::uint8_t;    // bit pattern of an fp8 e4m3

// Fill with the reproducible values of numeric.hpp (random_bf16_value etc.).
cudaError_t fill_random_bf16(Bf16* p, std::int64_t n, std::uint64_t seed, float scale, cudaStream_t s);
cudaError_t fill_random_f32(float* p, std::int64_t n, std::uint64_t seed, float scale, cudaStream_t s);
cudaError_t fill_random_fp8(Fp8* p, std::int64_t n, std::uint64_t seed, float scale, cudaStream_t s);

// dst = src for `bytes` bytes (16-byte vectors, both pointers 16-byte aligned; a tail of
// fewer than 16 bytes is copied bytewise).
cudaError_t copy(void* dst, const void* src, std::int64_t bytes, cudaStream_t s);

// Counts elements that are NaN or infinite into *count (which it zeroes first):
// with outputs poisoned to NaN before a run, a nonzero count means unwritten outputs.
cudaError_t count_nonfinite_bf16(const Bf16* p, std::int64_t n, unsigned long long* count, cudaStream_t s);
cudaError_t count_nonfinite_f32(const float* p, std::int64_t n, unsigned long long* count, cudaStream_t s);

// y[t] = x[t] / sqrt(mean(x[t]²) + eps) · w; width a multiple of 8.
cudaError_t rmsnorm(const Bf16* x, const Bf16* w, Bf16* y, std::int64_t tokens, int width, float eps,
                    cudaStream_t s);

// Softmax + top-k per token (one warp per token; experts <= 256, top_k <= 8).
// Zeroes `counts` (experts ints) first, then counts the tokens routed to each expert.
cudaError_t router_topk(const float* logits, std::int64_t tokens, int experts, int top_k, bool renormalize,
                        std::int32_t* idx, float* weights, std::int32_t* counts, cudaStream_t s);

// Permute tokens into expert order: offsets[e] = Σ_{e'<e} counts[e'] (experts+1
// entries), slot s = t·k+j gets row offsets[e] + (slots before s routed to e), so
// rows within an expert are in slot order and a replay places them identically;
// rows[slot_row[s]] = x[t]. experts <= 256. `cursors` is unused (kept for callers).
cudaError_t moe_permute(const Bf16* x, const std::int32_t* idx, const std::int32_t* counts,
                        std::int64_t tokens, int width, int top_k, int experts, std::int32_t* offsets,
                        std::int32_t* cursors, std::int32_t* slot_row, Bf16* rows, cudaStream_t s);

// out[t] = Σ_j weights[t,j] · rows[slot_row[t·k+j]]; width a multiple of 8.
cudaError_t moe_unpermute(const Bf16* rows, const std::int32_t* slot_row, const float* weights,
                          std::int64_t tokens, int width, int top_k, Bf16* out, cudaStream_t s);

// out[r, i] = silu(gate_up[r, i]) · gate_up[r, width + i]; width a multiple of 8.
cudaError_t swiglu(const Bf16* gate_up, Bf16* out, std::int64_t rows, int width, cudaStream_t s);

// out = a + b (+ c when c is not null); count a multiple of 8.
cudaError_t add(const Bf16* a, const Bf16* b, const Bf16* c, Bf16* out, std::int64_t count, cudaStream_t s);

// ---------------------------------------------------------------- attention
// Decode attention (flash-decoding: the context is split across blocks, each
// block keeps an online softmax, a second kernel merges the splits).
//   q:   [batch] rows of q_stride elements; head h at q + b·q_stride + h·head_dim
//   k,v: caches [batch, kv_heads, cache_capacity, head_dim]; keys 0..context-1 used
//   out: [batch] rows of out_stride elements; head h at out + b·out_stride + h·head_dim
// head_dim ∈ {64, 128, 256}; heads a multiple of kv_heads.
struct DecodeAttentionArgs {
  const Bf16* q = nullptr;
  const Bf16* k = nullptr;
  const Bf16* v = nullptr;
  Bf16* out = nullptr;
  std::int64_t q_stride = 0;
  std::int64_t out_stride = 0;
  int batch = 1;
  int heads = 1;
  int kv_heads = 1;
  int head_dim = 128;
  int context = 1;
  int cache_capacity = 1;
  float scale = 0.0f;             // 0: 1/sqrt(head_dim)
  int splits = 0;                 // 0: decode_attention_splits()
  void* workspace = nullptr;      // decode_attention_workspace_bytes()
  // 0: automatic (variant 4 for GQA groups of 3 or more heads at head_dim 64/128,
  // CUDA cores otherwise); 1: CUDA cores; 2: tensor cores, 64-key tiles, 2 stages;
  // 3: tensor cores, 32-key tiles, 3 stages (slower on H200; kept for comparison);
  // 4: tensor cores, balanced split-KV (one block per resident slot, each taking an
  // equal run of (sequence, tile) work; kernels/reference/decode_partition.hpp).
  // For variant 4 `splits` is the partial slots per head the workspace holds
  // (decode_attention_splits gives what it needs; 1: no workspace).
  int variant = 0;
};
// The variant decode_attention runs for this shape (1 CUDA cores, 2-4 tensor cores).
int decode_attention_variant(int heads, int kv_heads, int head_dim, int requested);
// Context splits: the count (each split at least two 64-key tiles) that minimizes
// waves of resident blocks × tiles per block, plus one tile-time for the merge
// when split; resident blocks from the occupancy calculator for the kernel used.
// `set_smem_limit` false while a stream is captured (the tensor-core kernels then
// count as 2 blocks per multiprocessor unless an earlier call raised their limit).
int decode_attention_blocks_per_sm(int variant, int head_dim, int group, bool set_smem_limit = true);
int decode_attention_splits(int batch, int heads, int kv_heads, int context, int sm_count, int variant = 0,
                            int head_dim = 128, bool set_smem_limit = true);
std::size_t decode_attention_workspace_bytes(int batch, int heads, int head_dim, int splits);
cudaError_t decode_attention(const DecodeAttentionArgs& a, cudaStream_t s);
bool decode_attention_supported(int heads, int kv_heads, int head_dim);

// Append this step's K and V (from the QKV projection's output row, laid out
// [q heads | k heads | v heads] × head_dim) at cache position `pos` of every sequence.
cudaError_t kv_append(const Bf16* qkv, std::int64_t qkv_stride, int heads, int kv_heads, int head_dim,
                      int batch, int pos, int cache_capacity, Bf16* k_cache, Bf16* v_cache, cudaStream_t s);

// Causal prefill attention (FlashAttention-2 style forward on tensor cores):
// q [batch, seq, heads, d], k/v [batch, seq, kv_heads, d], out [batch, seq, heads, d].
// head_dim ∈ {64, 128}.
cudaError_t prefill_attention(const Bf16* q, const Bf16* k, const Bf16* v, Bf16* out, int batch, int seq,
                              int heads, int kv_heads, int head_dim, float scale, cudaStream_t s);
bool prefill_attention_supported(int heads, int kv_heads, int head_dim);

}  // namespace masim::kernels::cuda
