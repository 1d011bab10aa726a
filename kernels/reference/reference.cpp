#include "kernels/reference/reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace masim::kernels::ref {

double dot(const float* a, const float* b, std::int64_t k) {
  double s = 0.0;
  for (std::int64_t i = 0; i < k; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, const float* w, float* c) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) c[i * n + j] = static_cast<float>(dot(a + i * k, w + j * k, k));
  }
}

float AttentionShape::effective_scale() const {
  return scale != 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
}

namespace {

// softmax(scale · q·K^T) · V over `n` keys whose rows are `k_stride` floats apart.
void attend(const float* q, const float* k, const float* v, std::int64_t n, std::int64_t k_stride, int d,
            double scale, float* out) {
  std::vector<double> p(static_cast<std::size_t>(n));
  double mx = -std::numeric_limits<double>::infinity();
  for (std::int64_t t = 0; t < n; ++t) {
    p[static_cast<std::size_t>(t)] = scale * dot(q, k + t * k_stride, d);
    mx = std::max(mx, p[static_cast<std::size_t>(t)]);
  }
  double sum = 0.0;
  for (double& x : p) {
    x = std::exp(x - mx);
    sum += x;
  }
  for (int i = 0; i < d; ++i) {
    double acc = 0.0;
    for (std::int64_t t = 0; t < n; ++t) acc += p[static_cast<std::size_t>(t)] * v[t * k_stride + i];
    out[i] = static_cast<float>(acc / sum);
  }
}

}  // namespace

void decode_attention_head(const AttentionShape& s, const float* q, const float* k, const float* v,
                           float* out) {
  attend(q, k, v, s.context, s.head_dim, s.head_dim, s.effective_scale(), out);
}

void decode_attention(const AttentionShape& s, const float* q, const float* k, const float* v, float* out) {
  const int group = s.heads / s.kv_heads;
  const std::int64_t d = s.head_dim;
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const std::int64_t kvh = h / group;
      const std::int64_t cache = ((b * s.kv_heads) + kvh) * s.context * d;
      decode_attention_head(s, q + (b * s.heads + h) * d, k + cache, v + cache, out + (b * s.heads + h) * d);
    }
  }
}

void prefill_attention_row(const AttentionShape& s, const float* q, const float* k, const float* v,
                           std::int64_t b, std::int64_t pos, int h, float* out) {
  const int group = s.heads / s.kv_heads;
  const std::int64_t d = s.head_dim;
  const std::int64_t kvh = h / group;
  const float* qrow = q + ((b * s.seq + pos) * s.heads + h) * d;
  const std::int64_t kv_stride = std::int64_t{s.kv_heads} * d;
  const float* k0 = k + (b * s.seq * s.kv_heads + kvh) * d;
  const float* v0 = v + (b * s.seq * s.kv_heads + kvh) * d;
  attend(qrow, k0, v0, pos + 1, kv_stride, s.head_dim, s.effective_scale(), out);
}

void prefill_attention(const AttentionShape& s, const float* q, const float* k, const float* v, float* out) {
  const std::int64_t d = s.head_dim;
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t pos = 0; pos < s.seq; ++pos) {
      for (int h = 0; h < s.heads; ++h) {
        prefill_attention_row(s, q, k, v, b, pos, h, out + ((b * s.seq + pos) * s.heads + h) * d);
      }
    }
  }
}

void rmsnorm(std::int64_t tokens, std::int64_t width, const float* x, const float* w, float eps, float* y) {
  for (std::int64_t t = 0; t < tokens; ++t) {
    const float* row = x + t * width;
    const double ms = dot(row, row, width) / static_cast<double>(width);
    const double inv = 1.0 / std::sqrt(ms + static_cast<double>(eps));
    for (std::int64_t i = 0; i < width; ++i) y[t * width + i] = static_cast<float>(row[i] * inv * w[i]);
  }
}

void router_topk(std::int64_t tokens, int experts, int top_k, bool renormalize, const float* logits,
                 std::int32_t* idx, float* weights) {
  std::vector<double> p(static_cast<std::size_t>(experts));
  std::vector<bool> taken(static_cast<std::size_t>(experts));
  for (std::int64_t t = 0; t < tokens; ++t) {
    const float* l = logits + t * experts;
    const double mx = *std::max_element(l, l + experts);
    double sum = 0.0;
    for (int e = 0; e < experts; ++e) {
      p[static_cast<std::size_t>(e)] = std::exp(static_cast<double>(l[e]) - mx);
      sum += p[static_cast<std::size_t>(e)];
    }
    std::fill(taken.begin(), taken.end(), false);
    double picked = 0.0;
    for (int j = 0; j < top_k; ++j) {
      int best = -1;
      for (int e = 0; e < experts; ++e) {
        if (taken[static_cast<std::size_t>(e)]) continue;
        if (best < 0 || l[e] > l[best]) best = e;  // strict: ties keep the lower index
      }
      taken[static_cast<std::size_t>(best)] = true;
      idx[t * top_k + j] = best;
      weights[t * top_k + j] = static_cast<float>(p[static_cast<std::size_t>(best)] / sum);
      picked += p[static_cast<std::size_t>(best)] / sum;
    }
    if (renormalize) {
      for (int j = 0; j < top_k; ++j) {
        weights[t * top_k + j] = static_cast<float>(weights[t * top_k + j] / picked);
      }
    }
  }
}

PermutePlan plan_permute(std::int64_t tokens, int experts, int top_k, const std::int32_t* idx) {
  PermutePlan p;
  const std::int64_t slots = tokens * top_k;
  p.offset.assign(static_cast<std::size_t>(experts) + 1, 0);
  for (std::int64_t s = 0; s < slots; ++s) ++p.offset[static_cast<std::size_t>(idx[s]) + 1];
  for (int e = 0; e < experts; ++e) p.offset[static_cast<std::size_t>(e) + 1] += p.offset[static_cast<std::size_t>(e)];
  std::vector<std::int64_t> cursor(p.offset.begin(), p.offset.end() - 1);
  p.slot_row.resize(static_cast<std::size_t>(slots));
  for (std::int64_t s = 0; s < slots; ++s) {
    p.slot_row[static_cast<std::size_t>(s)] = static_cast<std::int32_t>(cursor[static_cast<std::size_t>(idx[s])]++);
  }
  return p;
}

void permute(const PermutePlan& p, std::int64_t tokens, std::int64_t width, int top_k, const float* x,
             float* rows) {
  for (std::int64_t s = 0; s < tokens * top_k; ++s) {
    const std::int64_t t = s / top_k;
    const std::int64_t r = p.slot_row[static_cast<std::size_t>(s)];
    std::copy(x + t * width, x + (t + 1) * width, rows + r * width);
  }
}

void unpermute(const PermutePlan& p, std::int64_t tokens, std::int64_t width, int top_k, const float* weights,
               const float* rows, float* out) {
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t i = 0; i < width; ++i) {
      double acc = 0.0;
      for (int j = 0; j < top_k; ++j) {
        const std::int64_t r = p.slot_row[static_cast<std::size_t>(t * top_k + j)];
        acc += static_cast<double>(weights[t * top_k + j]) * rows[r * width + i];
      }
      out[t * width + i] = static_cast<float>(acc);
    }
  }
}

void swiglu(std::int64_t rows, std::int64_t width, const float* gate_up, float* out) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < width; ++i) {
      const double g = gate_up[r * 2 * width + i];
      const double u = gate_up[r * 2 * width + width + i];
      out[r * width + i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
    }
  }
}

void add(std::int64_t count, const std::vector<const float*>& operands, float* out) {
  for (std::int64_t i = 0; i < count; ++i) {
    double s = 0.0;
    for (const float* o : operands) s += o[i];
    out[i] = static_cast<float>(s);
  }
}

double relative_error(const float* got, const float* want, std::int64_t count) {
  double num = 0.0;
  double den = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  if (den == 0.0) return num == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

}  // namespace masim::kernels::ref
