// CPU references for the MoE decode-path kernels (kernels/cuda): plain C++,
// fp64 accumulation, no CUDA. Used by tests/kernels (hand-computed cases) and by
// masim-calibrate's correctness check of every measured GPU op.
//
// Layouts (row-major, the layouts the CUDA kernels use):
//   GEMM        C[m,n] = A[m,k] · W[n,k]^T        (W as an nn.Linear weight [out, in])
//   decode attn q[b, h, d], K/V cache [b, kv_h, context, d], out[b, h, dv]; query head h
//               reads KV head h / (heads / kv_heads) (GQA; MHA when heads == kv_heads)
//   prefill     q[b, s, h, d], k/v[b, s, kv_h, d], out[b, s, h, dv], causal
//   RMSNorm     y = x / sqrt(mean(x²) + eps) · w            (Zhang & Sennrich 2019)
//   router      softmax over E logits, top-k by logit (ties: lower expert index),
//               weights = the selected probabilities, renormalized to sum 1 if asked
//   permute     slot s = t·k + j goes to row plan.slot_row[s]; rows are grouped by
//               expert (expert e owns rows [offset[e], offset[e+1]))
//   unpermute   out[t] = Σ_j w[t,j] · rows[slot_row[t·k+j]]
//   SwiGLU      out[r, i] = silu(gu[r, i]) · gu[r, F + i], silu(g) = g / (1 + e^-g)
//               (Shazeer 2020), gu = [gate | up] per row
//
//   std::vector<float> c(m * n);
//   masim::kernels::ref::gemm(m, n, k, a.data(), w.data(), c.data());
#pragma once

#include <cstdint>
#include <vector>

namespace masim::kernels::ref {

// Σ a[i]·b[i] in fp64.
double dot(const float* a, const float* b, std::int64_t k);

// C[m,n] = A[m,k] · W[n,k]^T.
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, const float* w, float* c);

struct AttentionShape {
  std::int64_t batch = 1;
  std::int64_t seq = 1;       // prefill: query tokens per sequence
  std::int64_t context = 1;   // decode: keys per sequence
  int heads = 1;
  int kv_heads = 1;
  int head_dim = 64;
  // softmax scale; 0 means 1/sqrt(head_dim)
  float scale = 0.0f;
  float effective_scale() const;
};

// One (sequence, query head) of decode attention: q[d], K/V rows [context, d].
void decode_attention_head(const AttentionShape& s, const float* q, const float* k, const float* v,
                           float* out);
// Whole batch, layouts as in the header comment.
void decode_attention(const AttentionShape& s, const float* q, const float* k, const float* v, float* out);
// Causal prefill attention, layouts as in the header comment.
void prefill_attention(const AttentionShape& s, const float* q, const float* k, const float* v, float* out);
// One query row of prefill: query position `pos` of sequence `b`, head `h`.
void prefill_attention_row(const AttentionShape& s, const float* q, const float* k, const float* v,
                           std::int64_t b, std::int64_t pos, int h, float* out);

void rmsnorm(std::int64_t tokens, std::int64_t width, const float* x, const float* w, float eps, float* y);

void router_topk(std::int64_t tokens, int experts, int top_k, bool renormalize, const float* logits,
                 std::int32_t* idx, float* weights);

struct PermutePlan {
  std::vector<std::int64_t> offset;     // experts + 1 entries
  std::vector<std::int32_t> slot_row;   // tokens·top_k entries
};
// Stable plan: within an expert, slots in increasing t·k + j order.
PermutePlan plan_permute(std::int64_t tokens, int experts, int top_k, const std::int32_t* idx);
void permute(const PermutePlan& p, std::int64_t tokens, std::int64_t width, int top_k, const float* x,
             float* rows);
void unpermute(const PermutePlan& p, std::int64_t tokens, std::int64_t width, int top_k, const float* weights,
               const float* rows, float* out);

void swiglu(std::int64_t rows, std::int64_t width, const float* gate_up, float* out);

// out = Σ operands (elementwise), `count` elements each.
void add(std::int64_t count, const std::vector<const float*>& operands, float* out);

// Relative error ‖got − want‖₂ / ‖want‖₂ (METHOD.md's check); NaN in got gives +inf.
double relative_error(const float* got, const float* want, std::int64_t count);

}  // namespace masim::kernels::ref
