// Row-wise kernels of the MoE decode path: fills, RMSNorm, router softmax +
// top-k, permute / unpermute, SwiGLU, residual add. Memory-bound: 16-byte
// accesses (8 bf16) per thread, fp32 arithmetic.
#include <cuda_bf16.h>

#include <algorithm>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.hpp"
#include "kernels/reference/numeric.hpp"

namespace masim::kernels::cuda {
namespace {

using detail::pack8;
using detail::unpack8;

__global__ void fill_bf16_kernel(Bf16* p, std::int64_t n, std::uint64_t seed, float scale) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    p[i] = float_to_bf16(random_uniform(seed, static_cast<std::uint64_t>(i)) * scale);
  }
}

__global__ void fill_f32_kernel(float* p, std::int64_t n, std::uint64_t seed, float scale) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    p[i] = random_uniform(seed, static_cast<std::uint64_t>(i)) * scale;
  }
}

__global__ void fill_fp8_kernel(Fp8* p, std::int64_t n, std::uint64_t seed, float scale) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    p[i] = float_to_fp8e4m3(random_uniform(seed, static_cast<std::uint64_t>(i)) * scale);
  }
}

// One block per row, one thread per 16-byte vector up to 1024 threads (a single
// pass for widths up to 8192, so the time grows smoothly with the width): sum of
// squares, then scale. The second pass re-reads the row (an L1/L2 hit).
__global__ void __launch_bounds__(1024) rmsnorm_kernel(const uint4* x, const uint4* w, uint4* y, int vecs,
                                                     float inv_width, float eps) {
  const std::int64_t row = blockIdx.x;
  const uint4* xr = x + row * vecs;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < vecs; i += blockDim.x) {
    float f[8];
    unpack8(xr[i], f);
#pragma unroll
    for (int j = 0; j < 8; ++j) ss += f[j] * f[j];
  }
  __shared__ float partial[32];
  ss = detail::warp_sum(ss);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float t = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.0f;
    t = detail::warp_sum(t);
    if (threadIdx.x == 0) partial[0] = rsqrtf(t * inv_width + eps);
  }
  __syncthreads();
  const float inv = partial[0];
  for (int i = threadIdx.x; i < vecs; i += blockDim.x) {
    float f[8], g[8];
    unpack8(xr[i], f);
    unpack8(w[i], g);
#pragma unroll
    for (int j = 0; j < 8; ++j) f[j] = f[j] * inv * g[j];
    y[row * vecs + i] = pack8(f);
  }
}

constexpr int kMaxExpertsPerLane = 8;  // experts <= 256
constexpr int kMaxTopK = 8;

// One warp per token. Selection by logit (ties: lower index); weights are the
// softmax probabilities of the selected experts.
__global__ void router_topk_kernel(const float* logits, std::int64_t tokens, int experts, int top_k,
                                   bool renormalize, std::int32_t* idx, float* weights, std::int32_t* counts) {
  const std::int64_t token = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (token >= tokens) return;
  const float* l = logits + token * experts;
  float v[kMaxExpertsPerLane];
  float mx = -INFINITY;
#pragma unroll
  for (int i = 0; i < kMaxExpertsPerLane; ++i) {
    const int e = i * 32 + lane;
    v[i] = e < experts ? l[e] : -INFINITY;
    mx = fmaxf(mx, v[i]);
  }
  mx = detail::warp_max(mx);
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kMaxExpertsPerLane; ++i) {
    const int e = i * 32 + lane;
    if (e < experts) sum += __expf(v[i] - mx);
  }
  sum = detail::warp_sum(sum);
  float picked_w[kMaxTopK];
  int picked_e[kMaxTopK];
  float picked_sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= top_k) break;
    // Lane-local best (lowest index on ties), then warp arg-max.
    float best = -INFINITY;
    int best_e = 0x7FFFFFFF;
#pragma unroll
    for (int i = 0; i < kMaxExpertsPerLane; ++i) {
      const int e = i * 32 + lane;
      if (e < experts && (v[i] > best || (v[i] == best && e < best_e))) {
        best = v[i];
        best_e = e;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ob = __shfl_xor_sync(detail::kFullMask, best, o);
      const int oe = __shfl_xor_sync(detail::kFullMask, best_e, o);
      if (ob > best || (ob == best && oe < best_e)) {
        best = ob;
        best_e = oe;
      }
    }
    // The owner retires the winner.
#pragma unroll
    for (int i = 0; i < kMaxExpertsPerLane; ++i) {
      if (i * 32 + lane == best_e) v[i] = -INFINITY;
    }
    picked_e[j] = best_e;
    picked_w[j] = __expf(best - mx) / sum;
    picked_sum += picked_w[j];
  }
  if (lane == 0) {
    const float norm = renormalize ? 1.0f / picked_sum : 1.0f;
#pragma unroll
    for (int j = 0; j < kMaxTopK; ++j) {
      if (j < top_k) {
        idx[token * top_k + j] = picked_e[j];
        weights[token * top_k + j] = picked_w[j] * norm;
        atomicAdd(&counts[picked_e[j]], 1);
      }
    }
  }
}

// One block of 1024 threads: exclusive scan of counts into offsets (experts + 1
// entries), then each slot's row: offsets[e] + the number of earlier slots routed
// to e. Slots are ranked 1024 at a time: within a warp by __match_any_sync, across
// warps by per-warp counts in shared memory, across batches by a running cursor,
// so the placement is the same on every run (no atomics).
constexpr int kRankThreads = 1024;
constexpr int kRankWarps = kRankThreads / 32;
constexpr int kRankMaxExperts = 256;

__global__ void __launch_bounds__(kRankThreads) moe_rows_kernel(const std::int32_t* idx, const std::int32_t* counts,
                                                                std::int64_t slots, int experts,
                                                                std::int32_t* offsets, std::int32_t* slot_row) {
  __shared__ std::int32_t base[kRankMaxExperts + 1];
  __shared__ std::uint16_t wcnt[kRankWarps][kRankMaxExperts];
  __shared__ std::int32_t wsum[kRankMaxExperts / 32];
  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  // Exclusive scan of the counts, one thread per expert: within warps by
  // shuffles, then across the (at most 8) warp totals by the first warp.
  int count = 0;
  int inclusive = 0;
  if (tid < kRankMaxExperts) {
    count = tid < experts ? counts[tid] : 0;
    inclusive = count;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int v = __shfl_up_sync(detail::kFullMask, inclusive, o);
      if (lane >= o) inclusive += v;
    }
    if (lane == 31) wsum[warp] = inclusive;
  }
  __syncthreads();
  if (tid < 32) {
    const int total = tid < kRankMaxExperts / 32 ? wsum[tid] : 0;
    int running = total;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int v = __shfl_up_sync(detail::kFullMask, running, o);
      if (lane >= o) running += v;
    }
    __syncwarp();
    if (tid < kRankMaxExperts / 32) wsum[tid] = running - total;  // warps before this one
  }
  __syncthreads();
  if (tid < experts) {
    const std::int32_t exclusive = inclusive - count + wsum[warp];
    base[tid] = exclusive;
    if (tid == experts - 1) base[experts] = exclusive + count;
  }
  __syncthreads();
  for (int e = tid; e <= experts; e += kRankThreads) offsets[e] = base[e];
  const unsigned below = (1u << lane) - 1u;
  for (std::int64_t first = 0; first < slots; first += kRankThreads) {
    for (int i = tid; i < kRankWarps * kRankMaxExperts; i += kRankThreads) (&wcnt[0][0])[i] = 0;
    __syncthreads();
    const std::int64_t slot = first + tid;
    const bool live = slot < slots;
    const int e = live ? idx[slot] : -1 - lane;  // dead lanes match nobody
    const unsigned same = __match_any_sync(detail::kFullMask, e);
    const int rank = __popc(same & below);
    if (live && rank == 0) wcnt[warp][e] = static_cast<std::uint16_t>(__popc(same));
    __syncthreads();
    if (live) {
      std::int32_t row = base[e] + rank;
      for (int w = 0; w < warp; ++w) row += wcnt[w][e];
      slot_row[slot] = row;
    }
    __syncthreads();
    for (int x = tid; x < experts; x += kRankThreads) {
      std::int32_t add = 0;
      for (int w = 0; w < kRankWarps; ++w) add += wcnt[w][x];
      base[x] += add;
    }
    __syncthreads();
  }
}

// Permute: each slot's row is a copy of its token's row. One thread per 16-byte
// vector of the flattened (slot, vector) space in a grid-stride loop, so the time
// grows with slots × width without steps at block-size multiples of the width.
__global__ void moe_permute_kernel(const uint4* x, const std::int32_t* slot_row, int top_k, int vecs,
                                   std::int64_t slots, uint4* rows) {
  const std::int64_t total = slots * vecs;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total; i += stride) {
    const std::int64_t slot = i / vecs;
    const std::int64_t v = i - slot * vecs;
    const std::int64_t token = slot / top_k;
    rows[static_cast<std::int64_t>(slot_row[slot]) * vecs + v] = x[token * vecs + v];
  }
}

// Unpermute: fp32 weighted sum of a token's top_k rows, one thread per output
// vector of the flattened (token, vector) space (grid-stride, as permute).
__global__ void moe_unpermute_kernel(const uint4* rows, const std::int32_t* slot_row, const float* weights,
                                     int top_k, int vecs, std::int64_t tokens, uint4* out) {
  const std::int64_t total = tokens * vecs;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total; i += stride) {
    const std::int64_t token = i / vecs;
    const std::int64_t v = i - token * vecs;
    const std::int32_t* r = slot_row + token * top_k;
    const float* w = weights + token * top_k;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < top_k; ++j) {
      float f[8];
      unpack8(rows[static_cast<std::int64_t>(r[j]) * vecs + v], f);
      const float wj = w[j];
#pragma unroll
      for (int q = 0; q < 8; ++q) acc[q] += wj * f[q];
    }
    out[i] = pack8(acc);
  }
}

__global__ void swiglu_kernel(const uint4* gate_up, uint4* out, std::int64_t rows, int vecs) {
  const std::int64_t total = rows * vecs;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total; i += stride) {
    const std::int64_t r = i / vecs;
    const std::int64_t c = i - r * vecs;
    float g[8], u[8];
    unpack8(gate_up[r * 2 * vecs + c], g);
    unpack8(gate_up[r * 2 * vecs + vecs + c], u);
#pragma unroll
    for (int q = 0; q < 8; ++q) g[q] = g[q] / (1.0f + __expf(-g[q])) * u[q];
    out[i] = pack8(g);
  }
}

__global__ void add_kernel(const uint4* a, const uint4* b, const uint4* c, uint4* out, std::int64_t vecs) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < vecs; i += stride) {
    float x[8], y[8];
    unpack8(a[i], x);
    unpack8(b[i], y);
#pragma unroll
    for (int q = 0; q < 8; ++q) x[q] += y[q];
    if (c != nullptr) {
      unpack8(c[i], y);
#pragma unroll
      for (int q = 0; q < 8; ++q) x[q] += y[q];
    }
    out[i] = pack8(x);
  }
}

__global__ void copy_kernel(uint4* dst, const uint4* src, std::int64_t n, int tail) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    dst[i] = __ldcs(src + i);
  }
  if (blockIdx.x == 0 && threadIdx.x < tail) {
    reinterpret_cast<unsigned char*>(dst + n)[threadIdx.x] = reinterpret_cast<const unsigned char*>(src + n)[threadIdx.x];
  }
}

__global__ void count_nonfinite_bf16_kernel(const Bf16* p, std::int64_t n, unsigned long long* count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  unsigned long long c = 0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    c += (p[i] & 0x7F80u) == 0x7F80u ? 1 : 0;  // exponent all ones: inf or NaN
  }
  if (c) atomicAdd(count, c);
}

__global__ void count_nonfinite_f32_kernel(const float* p, std::int64_t n, unsigned long long* count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  unsigned long long c = 0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    c += (__float_as_uint(p[i]) & 0x7F800000u) == 0x7F800000u ? 1 : 0;
  }
  if (c) atomicAdd(count, c);
}

// Enough blocks to fill the GPU several times over for grid-stride loops.
unsigned stride_blocks(std::int64_t work, int threads) { return detail::blocks_for(work, threads, 132 * 32); }

}  // namespace

cudaError_t fill_random_bf16(Bf16* p, std::int64_t n, std::uint64_t seed, float scale, cudaStream_t s) {
  fill_bf16_kernel<<<stride_blocks(n, 256), 256, 0, s>>>(p, n, seed, scale);
  return cudaGetLastError();
}

cudaError_t fill_random_f32(float* p, std::int64_t n, std::uint64_t seed, float scale, cudaStream_t s) {
  fill_f32_kernel<<<stride_blocks(n, 256), 256, 0, s>>>(p, n, seed, scale);
  return cudaGetLastError();
}

cudaError_t fill_random_fp8(Fp8* p, std::int64_t n, std::uint64_t seed, float scale, cudaStream_t s) {
  fill_fp8_kernel<<<stride_blocks(n, 256), 256, 0, s>>>(p, n, seed, scale);
  return cudaGetLastError();
}

cudaError_t copy(void* dst, const void* src, std::int64_t bytes, cudaStream_t s) {
  if (bytes <= 0) return cudaSuccess;
  const std::int64_t n = bytes / 16;
  copy_kernel<<<stride_blocks(std::max<std::int64_t>(n, 1), 512), 512, 0, s>>>(
      static_cast<uint4*>(dst), static_cast<const uint4*>(src), n, static_cast<int>(bytes % 16));
  return cudaGetLastError();
}

cudaError_t count_nonfinite_bf16(const Bf16* p, std::int64_t n, unsigned long long* count, cudaStream_t s) {
  cudaError_t e = cudaMemsetAsync(count, 0, sizeof *count, s);
  if (e != cudaSuccess || n <= 0) return e;
  count_nonfinite_bf16_kernel<<<stride_blocks(n, 256), 256, 0, s>>>(p, n, count);
  return cudaGetLastError();
}

cudaError_t count_nonfinite_f32(const float* p, std::int64_t n, unsigned long long* count, cudaStream_t s) {
  cudaError_t e = cudaMemsetAsync(count, 0, sizeof *count, s);
  if (e != cudaSuccess || n <= 0) return e;
  count_nonfinite_f32_kernel<<<stride_blocks(n, 256), 256, 0, s>>>(p, n, count);
  return cudaGetLastError();
}

cudaError_t rmsnorm(const Bf16* x, const Bf16* w, Bf16* y, std::int64_t tokens, int width, float eps,
                    cudaStream_t s) {
  if (width % 8 != 0 || tokens <= 0) return cudaErrorInvalidValue;
  const int vecs = width / 8;
  const int threads = std::min(1024, (vecs + 31) / 32 * 32);
  rmsnorm_kernel<<<static_cast<unsigned>(tokens), threads, 0, s>>>(
      reinterpret_cast<const uint4*>(x), reinterpret_cast<const uint4*>(w), reinterpret_cast<uint4*>(y), vecs,
      1.0f / static_cast<float>(width), eps);
  return cudaGetLastError();
}

cudaError_t router_topk(const float* logits, std::int64_t tokens, int experts, int top_k, bool renormalize,
                        std::int32_t* idx, float* weights, std::int32_t* counts, cudaStream_t s) {
  if (experts > 32 * kMaxExpertsPerLane || top_k > kMaxTopK || top_k > experts || top_k < 1) {
    return cudaErrorInvalidValue;
  }
  cudaError_t e = cudaMemsetAsync(counts, 0, sizeof(std::int32_t) * static_cast<std::size_t>(experts), s);
  if (e != cudaSuccess) return e;
  const int threads = 128;  // 4 tokens per block
  router_topk_kernel<<<detail::blocks_for(tokens * 32, threads, 1LL << 30), threads, 0, s>>>(
      logits, tokens, experts, top_k, renormalize, idx, weights, counts);
  return cudaGetLastError();
}

cudaError_t moe_permute(const Bf16* x, const std::int32_t* idx, const std::int32_t* counts,
                        std::int64_t tokens, int width, int top_k, int experts, std::int32_t* offsets,
                        std::int32_t* /*cursors*/, std::int32_t* slot_row, Bf16* rows, cudaStream_t s) {
  if (width % 8 != 0 || experts < 1 || experts > kRankMaxExperts || top_k < 1) return cudaErrorInvalidValue;
  const std::int64_t slots = tokens * top_k;
  moe_rows_kernel<<<1, kRankThreads, 0, s>>>(idx, counts, std::max<std::int64_t>(slots, 0), experts, offsets,
                                             slot_row);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  if (slots <= 0) return cudaSuccess;
  moe_permute_kernel<<<stride_blocks(slots * (width / 8), 256), 256, 0, s>>>(
      reinterpret_cast<const uint4*>(x), slot_row, top_k, width / 8, slots, reinterpret_cast<uint4*>(rows));
  return cudaGetLastError();
}

cudaError_t moe_unpermute(const Bf16* rows, const std::int32_t* slot_row, const float* weights,
                          std::int64_t tokens, int width, int top_k, Bf16* out, cudaStream_t s) {
  if (width % 8 != 0 || top_k > kMaxTopK) return cudaErrorInvalidValue;
  if (tokens <= 0) return cudaSuccess;
  moe_unpermute_kernel<<<stride_blocks(tokens * (width / 8), 256), 256, 0, s>>>(
      reinterpret_cast<const uint4*>(rows), slot_row, weights, top_k, width / 8, tokens, reinterpret_cast<uint4*>(out));
  return cudaGetLastError();
}

cudaError_t swiglu(const Bf16* gate_up, Bf16* out, std::int64_t rows, int width, cudaStream_t s) {
  if (width % 8 != 0) return cudaErrorInvalidValue;
  if (rows <= 0) return cudaSuccess;
  const std::int64_t vecs = rows * (width / 8);
  swiglu_kernel<<<stride_blocks(vecs, 256), 256, 0, s>>>(reinterpret_cast<const uint4*>(gate_up),
                                                         reinterpret_cast<uint4*>(out), rows, width / 8);
  return cudaGetLastError();
}

cudaError_t add(const Bf16* a, const Bf16* b, const Bf16* c, Bf16* out, std::int64_t count, cudaStream_t s) {
  if (count % 8 != 0) return cudaErrorInvalidValue;
  if (count <= 0) return cudaSuccess;
  add_kernel<<<stride_blocks(count / 8, 256), 256, 0, s>>>(
      reinterpret_cast<const uint4*>(a), reinterpret_cast<const uint4*>(b), reinterpret_cast<const uint4*>(c),
      reinterpret_cast<uint4*>(out), count / 8);
  return cudaGetLastError();
}

}  // namespace masim::kernels::cuda
