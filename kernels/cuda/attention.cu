// Attention kernels.
//
// Decode (flash-decoding, Dao et al. 2023 "Flash-Decoding for long-context
// inference"): block (split, kv head [, head subgroup], sequence) walks its slice
// of the context in tiles of 64 keys with an online softmax (Milakov & Gimelshein
// 2018) for the GQA group of query heads that share the KV head, so each K/V row is
// read from HBM once. 16 lanes (head_dim 128) hold one key row as 16-byte vectors;
// the per-head dot products are reduced across those lanes by a transposing
// butterfly (G−1 + log2(P/G) shuffles instead of G·log2 P). A second kernel merges
// the splits' (max, sum, output) triples.
//
// Prefill (FlashAttention-2 forward, Dao 2023): block = 64 query rows of one head,
// 4 warps × 16 rows; S = QK^T and O += PV on tensor cores (WMMA bf16 16×16×16,
// fp32 accumulate); online softmax per row in shared memory; causal tiles skipped.
#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.hpp"
#include "kernels/reference/decode_partition.hpp"

namespace masim::kernels::cuda {
namespace {

using ref::DecodePartition;

using detail::kFullMask;
using detail::unpack8;

constexpr int kDecThreads = 128;
constexpr int kDecWarps = kDecThreads / 32;
constexpr int kTileKeys = 64;
constexpr int kMaxGroup = 8;   // query heads per block (larger GQA groups use subgroups)
constexpr int kTcRows = 16;    // tensor-core kernels: query heads per block (one WMMA tile)
constexpr float kLog2e = 1.4426950408889634f;

struct DecodeKernelArgs {
  const uint4* q;
  const uint4* k;
  const uint4* v;
  uint4* out;
  float* part_o;    // [batch, heads, splits, head_dim]
  float* part_ml;   // [batch, heads, splits, 2]
  std::int64_t q_stride_vec;
  std::int64_t out_stride_vec;
  int heads;
  int kv_heads;
  int group;        // heads / kv_heads
  int subgroups;    // ceil(group / GP)
  int context;
  int cache_capacity;
  int chunk;        // keys per split
  int splits;
  float scale_log2; // softmax scale · log2(e)
};

// Sum over the P lanes holding one key of G per-lane partial sums, one per head.
// Afterwards the lane with part p (= lane % P) holds head p / (P / G)'s total.
template <int G, int P>
__device__ __forceinline__ float transpose_reduce(float (&v)[G], int lane) {
  int c = G;
  int o = P / 2;
#pragma unroll
  for (int stage = 0; stage < 5; ++stage) {
    if (c > 1) {
      const bool upper = (lane & o) != 0;
#pragma unroll
      for (int i = 0; i < G / 2; ++i) {
        if (i < c / 2) {
          const float send = upper ? v[i] : v[i + c / 2];
          const float keep = upper ? v[i + c / 2] : v[i];
          v[i] = keep + __shfl_xor_sync(kFullMask, send, o);
        }
      }
      c >>= 1;
      o >>= 1;
    }
  }
  // The remaining offsets o, o/2, ..., 1 sum the single value.
#pragma unroll
  for (int r = 16; r >= 1; r >>= 1) {
    if (r <= o) v[0] += __shfl_xor_sync(kFullMask, v[0], r);
  }
  return v[0];
}

template <int D, int GP>
__global__ void __launch_bounds__(kDecThreads) decode_attention_kernel(DecodeKernelArgs a) {
  constexpr int P = D / 8;                            // lanes per key row
  constexpr int KPW = 32 / P;                         // keys per warp step
  constexpr int KEYS_PER_WARP = kTileKeys / kDecWarps;
  constexpr int STEPS = KEYS_PER_WARP / KPW;
  constexpr int LANES_PER_HEAD = P / GP;
  static_assert(GP <= P, "group larger than lanes per key");
  static_assert(STEPS >= 1, "tile too small");

  const int split = blockIdx.x;
  const int kvh = blockIdx.y / a.subgroups;
  const int sg = blockIdx.y % a.subgroups;
  const int b = blockIdx.z;
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int part = lane % P;
  const int kslot = lane / P;
  const int h0 = kvh * a.group + sg * GP;
  const int nh = min(GP, a.group - sg * GP);

  __shared__ float s_p[GP][kTileKeys];
  __shared__ float s_m[GP];
  __shared__ float s_l[GP];
  __shared__ float s_alpha[GP];
  __shared__ float s_red[kDecWarps][GP][D];   // per-warp partial outputs, summed in warp order

  if (threadIdx.x < GP) {
    s_m[threadIdx.x] = -INFINITY;
    s_l[threadIdx.x] = 0.0f;
  }

  float q[GP][8];
#pragma unroll
  for (int j = 0; j < GP; ++j) {
    if (j < nh) {
      unpack8(a.q[b * a.q_stride_vec + static_cast<std::int64_t>(h0 + j) * P + part], q[j]);
#pragma unroll
      for (int i = 0; i < 8; ++i) q[j][i] *= a.scale_log2;
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) q[j][i] = 0.0f;
    }
  }
  float acc[GP][8];
#pragma unroll
  for (int j = 0; j < GP; ++j) {
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[j][i] = 0.0f;
  }

  const std::int64_t cache_base = (static_cast<std::int64_t>(b) * a.kv_heads + kvh) * a.cache_capacity * P;
  const uint4* kb = a.k + cache_base;
  const uint4* vb = a.v + cache_base;
  const int start = split * a.chunk;
  const int end = min(a.context, start + a.chunk);
  const uint4 zero = make_uint4(0, 0, 0, 0);
  __syncthreads();

  for (int tile = start; tile < end; tile += kTileKeys) {
    // Issue this tile's K and V loads together (V is used after the softmax
    // update), so twice the bytes are in flight per warp.
    uint4 kv[STEPS];
    uint4 vv[STEPS];
#pragma unroll
    for (int s = 0; s < STEPS; ++s) {
      const int key = tile + warp * KEYS_PER_WARP + s * KPW + kslot;
      kv[s] = key < end ? __ldcs(kb + static_cast<std::int64_t>(key) * P + part) : zero;
    }
#pragma unroll
    for (int s = 0; s < STEPS; ++s) {
      const int key = tile + warp * KEYS_PER_WARP + s * KPW + kslot;
      vv[s] = key < end ? __ldcs(vb + static_cast<std::int64_t>(key) * P + part) : zero;
    }
    // Phase A: scores of this warp's 16 keys for the GP heads.
#pragma unroll
    for (int s = 0; s < STEPS; ++s) {
      float kf[8];
      unpack8(kv[s], kf);
      float sc[GP];
#pragma unroll
      for (int j = 0; j < GP; ++j) {
        float t = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) t = fmaf(q[j][i], kf[i], t);
        sc[j] = t;
      }
      const float r = transpose_reduce<GP, P>(sc, lane);
      const int key_local = warp * KEYS_PER_WARP + s * KPW + kslot;
      if (part % LANES_PER_HEAD == 0) {
        s_p[part / LANES_PER_HEAD][key_local] = (tile + key_local < end) ? r : -INFINITY;
      }
    }
    __syncthreads();
    // Phase B: online softmax update per head.
    for (int j = warp; j < GP; j += kDecWarps) {
      const float x0 = s_p[j][lane];
      const float x1 = s_p[j][lane + 32];
      const float mx = detail::warp_max(fmaxf(x0, x1));
      const float m_old = s_m[j];
      const float m_new = fmaxf(m_old, mx);
      const float p0 = exp2f(x0 - m_new);
      const float p1 = exp2f(x1 - m_new);
      s_p[j][lane] = p0;
      s_p[j][lane + 32] = p1;
      const float sum = detail::warp_sum(p0 + p1);
      if (lane == 0) {
        const float alpha = exp2f(m_old - m_new);
        s_alpha[j] = alpha;
        s_l[j] = s_l[j] * alpha + sum;
        s_m[j] = m_new;
      }
    }
    __syncthreads();
    // Phase C: acc = alpha·acc + Σ p·V.
#pragma unroll
    for (int j = 0; j < GP; ++j) {
      const float alpha = s_alpha[j];
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[j][i] *= alpha;
    }
#pragma unroll
    for (int s = 0; s < STEPS; ++s) {
      float vf[8];
      unpack8(vv[s], vf);
      const int key_local = warp * KEYS_PER_WARP + s * KPW + kslot;
#pragma unroll
      for (int j = 0; j < GP; ++j) {
        const float p = s_p[j][key_local];
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[j][i] = fmaf(p, vf[i], acc[j][i]);
      }
    }
    __syncthreads();
  }

  // Reduce over the key slots of a warp, then over warps through shared memory.
#pragma unroll
  for (int o = P; o < 32; o <<= 1) {
#pragma unroll
    for (int j = 0; j < GP; ++j) {
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[j][i] += __shfl_xor_sync(kFullMask, acc[j][i], o);
    }
  }
  if (kslot == 0) {
#pragma unroll
    for (int j = 0; j < GP; ++j) {
#pragma unroll
      for (int i = 0; i < 8; ++i) s_red[warp][j][part * 8 + i] = acc[j][i];
    }
  }
  __syncthreads();
  // Fixed summation order (no float atomics): a replay gives the same bits.
  auto out_at = [&](int j, int d) {
    float v = s_red[0][j][d];
#pragma unroll
    for (int w = 1; w < kDecWarps; ++w) v += s_red[w][j][d];
    return v;
  };

  if (a.splits == 1) {
    // Normalize and write bf16 directly: threads cover (head, 8-dim vector).
    for (int t = threadIdx.x; t < nh * P; t += kDecThreads) {
      const int j = t / P;
      const int pv = t % P;
      const float inv = 1.0f / s_l[j];
      float f[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) f[i] = out_at(j, pv * 8 + i) * inv;
      a.out[b * a.out_stride_vec + static_cast<std::int64_t>(h0 + j) * P + pv] = detail::pack8(f);
    }
  } else {
    for (int t = threadIdx.x; t < nh * D; t += kDecThreads) {
      const int j = t / D;
      const int d = t % D;
      const std::int64_t row = (static_cast<std::int64_t>(b) * a.heads + h0 + j) * a.splits + split;
      a.part_o[row * D + d] = out_at(j, d);
      if (d == 0) {
        a.part_ml[row * 2] = s_m[j];
        a.part_ml[row * 2 + 1] = s_l[j];
      }
    }
  }
}

// The merge of a row's partials runs blockDim.y lanes of D threads (up to
// kMergeLanes, no more than the partials per row rounded up to a power of two):
// lane p folds partials p, p + lanes, ... (its own max, then its weighted sums),
// and lane 0 combines the lanes through shared memory. One lane of D threads
// walking every partial serially was latency-bound at few rows with many
// partials (small batch, long context: 5 streams of 110 tiles gave rows of about
// 50 partials).
constexpr int kMergeThreads = 512;
template <int D>
constexpr int kMergeLanes = kMergeThreads / D;

// Merges `count` partial (O, m, l) triples of one (sequence, head) row; thread
// (d, lane 0) returns output element d (other lanes return 0). Every thread of
// the block must call it (it synchronizes).
template <int D>
__device__ __forceinline__ float merge_partials(const float* part_o, const float* ml, int count) {
  constexpr int kMaxLanes = kMergeLanes<D>;
  const int lanes = static_cast<int>(blockDim.y);
  __shared__ float s_m[kMaxLanes];
  __shared__ float s_l[kMaxLanes];
  __shared__ float s_o[kMaxLanes][D];
  const int d = threadIdx.x;
  const int lane = threadIdx.y;
  float mx = -INFINITY;
  for (int s = lane; s < count; s += lanes) mx = fmaxf(mx, ml[2 * s]);
  float l = 0.0f;
  float o = 0.0f;
  for (int s = lane; s < count; s += lanes) {
    const float w = exp2f(ml[2 * s] - mx);
    l += ml[2 * s + 1] * w;
    o += part_o[static_cast<std::int64_t>(s) * D + d] * w;
  }
  s_o[lane][d] = o;
  if (d == 0) {
    s_m[lane] = mx;
    s_l[lane] = l;
  }
  __syncthreads();
  if (lane != 0) return 0.0f;
  float m_all = -INFINITY;
  for (int p = 0; p < lanes; ++p) m_all = fmaxf(m_all, s_m[p]);
  float l_all = 0.0f;
  float o_all = 0.0f;
  for (int p = 0; p < lanes; ++p) {
    // A lane without partials has m = -inf and l = o = 0: weight 0.
    const float w = s_m[p] == -INFINITY ? 0.0f : exp2f(s_m[p] - m_all);
    l_all += s_l[p] * w;
    o_all += s_o[p][d] * w;
  }
  return o_all / l_all;
}

// One block per (sequence, head): merge the splits' partial outputs.
template <int D>
__global__ void __launch_bounds__(kMergeThreads) decode_combine_kernel(const float* part_o, const float* part_ml,
                                                                       int splits, int heads, std::int64_t out_stride,
                                                                       __nv_bfloat16* out) {
  const std::int64_t bh = blockIdx.x;
  const std::int64_t b = bh / heads;
  const int h = static_cast<int>(bh % heads);
  const float o = merge_partials<D>(part_o + bh * splits * D, part_ml + bh * splits * 2, splits);
  if (threadIdx.y == 0) out[b * out_stride + static_cast<std::int64_t>(h) * D + threadIdx.x] = __float2bfloat16_rn(o);
}

// The balanced variant's merge: a row's partial count is the number of blocks
// its stream's tiles were spread over (slots is the per-row capacity).
template <int D>
__global__ void __launch_bounds__(kMergeThreads) decode_balanced_combine_kernel(const float* part_o,
                                                                                const float* part_ml, int slots,
                                                                                int heads, int group, int subgroups,
                                                                                DecodePartition part,
                                                                                std::int64_t out_stride,
                                                                                __nv_bfloat16* out) {
  const std::int64_t bh = blockIdx.x;
  const std::int64_t b = bh / heads;
  const int h = static_cast<int>(bh % heads);
  const std::int64_t stream = (b * (heads / group) + h / group) * subgroups + (h % group) / kTcRows;
  const int count = static_cast<int>(part.parts(stream));
  const float o = merge_partials<D>(part_o + bh * slots * D, part_ml + bh * slots * 2, count);
  if (threadIdx.y == 0) out[b * out_stride + static_cast<std::int64_t>(h) * D + threadIdx.x] = __float2bfloat16_rn(o);
}

// The merge kernels' block for rows of at most `parts` partials: D threads (one
// per output element) × lanes.
template <int D>
dim3 merge_block(std::int64_t parts) {
  int lanes = 1;
  while (lanes < parts && lanes < kMergeLanes<D>) lanes *= 2;
  return dim3(D, static_cast<unsigned>(lanes));
}

template <int D>
cudaError_t dispatch_group(const DecodeKernelArgs& k, int batch, int gp, cudaStream_t s) {
  dim3 grid(static_cast<unsigned>(k.splits), static_cast<unsigned>(k.kv_heads * k.subgroups),
            static_cast<unsigned>(batch));
  switch (gp) {
    case 1: decode_attention_kernel<D, 1><<<grid, kDecThreads, 0, s>>>(k); break;
    case 2: decode_attention_kernel<D, 2><<<grid, kDecThreads, 0, s>>>(k); break;
    case 4: decode_attention_kernel<D, 4><<<grid, kDecThreads, 0, s>>>(k); break;
    case 8: decode_attention_kernel<D, 8><<<grid, kDecThreads, 0, s>>>(k); break;
    default: return cudaErrorInvalidValue;
  }
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || k.splits == 1) return e;
  decode_combine_kernel<D>
      <<<static_cast<unsigned>(static_cast<std::int64_t>(batch) * k.heads), merge_block<D>(k.splits), 0, s>>>(
      k.part_o, k.part_ml, k.splits, k.heads, k.out_stride_vec * 8, reinterpret_cast<__nv_bfloat16*>(k.out));
  return cudaGetLastError();
}

int padded_group(int group) {
  int gp = 1;
  while (gp < group && gp < kMaxGroup) gp <<= 1;
  return gp;
}

// ---------------------------------------------------------------- decode, tensor cores
// GQA groups of 3..16 query heads: the group's heads are the 16 rows of one WMMA
// tile (rows past the group are zero), so S = Q·K^T and O += P·V run on tensor
// cores and the kernel stays bound by the KV-cache reads (the CUDA-core kernel
// above spends about 8 FLOPs per cache byte at group 8, near the fp32 rate).
// K and V tiles of 64 keys stream into shared memory with cp.async, two stages
// deep; the online softmax runs in shared memory, 8 threads per head row.
namespace wmma_dec = nvcuda::wmma;

constexpr float kRescaleSlack = 8.0f;  // log2 units: p <= 256 before the reference max moves
// Two configurations (keys per stage, cp.async stages), both measured on H200 at
// group 8, batch·kv_heads 2048, context 4096: 64 keys × 2 stages (2 blocks/SM)
// read the cache at 76% of the copy kernel's bandwidth, 32 keys × 3 stages
// (3 blocks/SM) at 64% — the per-tile barriers cost more than the deeper
// pipeline gains. Variant 2 is the first, variant 3 the second.

constexpr std::size_t align128(std::size_t v) { return (v + 127) / 128 * 128; }

template <int D, int kTcKeys, int kTcStages>
struct DecTcSmem {
  static constexpr int kLdh = D + 8;
  static constexpr int kLdS = kTcKeys + 4;
  static constexpr int kLdP = kTcKeys + 8;
  static constexpr int kLdO = D + 4;
  static constexpr std::size_t kTile = align128(sizeof(__nv_bfloat16) * kTcKeys * kLdh);
  static constexpr std::size_t kQ = 0;
  static constexpr std::size_t kK = kQ + align128(sizeof(__nv_bfloat16) * kTcRows * kLdh);
  static constexpr std::size_t kV = kK + kTcStages * kTile;
  static constexpr std::size_t kS = kV + kTcStages * kTile;
  static constexpr std::size_t kP = kS + align128(sizeof(float) * kTcRows * kLdS);
  static constexpr std::size_t kO = kP + align128(sizeof(__nv_bfloat16) * kTcRows * kLdP);
  static constexpr std::size_t kM = kO + align128(sizeof(float) * kTcRows * kLdO);
  static constexpr std::size_t kBytes = kM + 3 * 128;
};

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// One block's work on keys [start, end) of sequence b, KV head kvh, head subgroup
// sg: the online softmax over 64-key tiles, then either the final bf16 output
// (slots == 1) or partial (O, m, l) at slot `slot` of `slots` per head for a merge.
template <int D, int kTcKeys, int kTcStages>
__device__ __forceinline__ void decode_tc_range(const DecodeKernelArgs& a, unsigned char* smem, int b, int kvh,
                                                int sg, int start, int end, int slot, int slots) {
  using L = DecTcSmem<D, kTcKeys, kTcStages>;
  constexpr int P = D / 8;
  constexpr int kColsPerThread = kTcKeys / 8;   // softmax: 8 threads per head row
  auto* sQ = reinterpret_cast<__nv_bfloat16*>(smem + L::kQ);
  auto* sK = reinterpret_cast<__nv_bfloat16*>(smem + L::kK);
  auto* sV = reinterpret_cast<__nv_bfloat16*>(smem + L::kV);
  auto* sS = reinterpret_cast<float*>(smem + L::kS);
  auto* sP = reinterpret_cast<__nv_bfloat16*>(smem + L::kP);
  auto* sO = reinterpret_cast<float*>(smem + L::kO);
  auto* sM = reinterpret_cast<float*>(smem + L::kM);
  float* sL = sM + 32;
  float* sA = sM + 64;
  constexpr std::size_t kTileElems = L::kTile / sizeof(__nv_bfloat16);

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const int h0 = kvh * a.group + sg * kTcRows;
  const int nh = min(kTcRows, a.group - sg * kTcRows);

  for (int i = tid; i < kTcRows * P; i += kDecThreads) {
    const int r = i / P;
    const int c = i % P;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < nh) v = a.q[b * a.q_stride_vec + static_cast<std::int64_t>(h0 + r) * P + c];
    *reinterpret_cast<uint4*>(sQ + r * L::kLdh + c * 8) = v;
  }
  for (int i = tid; i < kTcRows * L::kLdO; i += kDecThreads) sO[i] = 0.0f;
  if (tid < kTcRows) {
    sM[tid] = -INFINITY;
    sL[tid] = 0.0f;
  }

  const std::int64_t cache_base = (static_cast<std::int64_t>(b) * a.kv_heads + kvh) * a.cache_capacity * P;
  const uint4* kb = a.k + cache_base;
  const uint4* vb = a.v + cache_base;
  const int tiles = (end - start + kTcKeys - 1) / kTcKeys;

  // Loads tile t into stage t % kTcStages; past the last tile it commits an empty
  // group, so "all but the newest kTcStages-1 groups done" always means tile t is in.
  auto issue = [&](int t) {
    if (t < tiles) {
      __nv_bfloat16* dk = sK + (t % kTcStages) * kTileElems;
      __nv_bfloat16* dv = sV + (t % kTcStages) * kTileElems;
      for (int i = tid; i < kTcKeys * P; i += kDecThreads) {
        const int r = i / P;
        const int c = i % P;
        // Keys past the end re-read the last key; the softmax masks them.
        const int key = min(start + t * kTcKeys + r, end - 1);
        cp_async16(dk + r * L::kLdh + c * 8, kb + static_cast<std::int64_t>(key) * P + c);
        cp_async16(dv + r * L::kLdh + c * 8, vb + static_cast<std::int64_t>(key) * P + c);
      }
    }
    cp_async_commit();
  };

  for (int t = 0; t < kTcStages - 1; ++t) issue(t);
  wmma_dec::fragment<wmma_dec::accumulator, 16, 16, 16, float> of[D / 4 / 16];
#pragma unroll
  for (int f = 0; f < D / 4 / 16; ++f) wmma_dec::fill_fragment(of[f], 0.0f);
  const int row = tid >> 3;
  const int part = tid & 7;
  for (int t = 0; t < tiles; ++t) {
    issue(t + kTcStages - 1);
    cp_async_wait<kTcStages - 1>();
    __syncthreads();
    const __nv_bfloat16* cK = sK + (t % kTcStages) * kTileElems;
    const __nv_bfloat16* cV = sV + (t % kTcStages) * kTileElems;
    if (warp < kTcKeys / 16) {
      // S[16 × kTcKeys]: warp w takes keys 16w..16w+15.
      wmma_dec::fragment<wmma_dec::accumulator, 16, 16, 16, float> acc;
      wmma_dec::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma_dec::fragment<wmma_dec::matrix_a, 16, 16, 16, __nv_bfloat16, wmma_dec::row_major> qf;
        wmma_dec::fragment<wmma_dec::matrix_b, 16, 16, 16, __nv_bfloat16, wmma_dec::col_major> kf;
        wmma_dec::load_matrix_sync(qf, sQ + kk * 16, L::kLdh);
        wmma_dec::load_matrix_sync(kf, cK + warp * 16 * L::kLdh + kk * 16, L::kLdh);
        wmma_dec::mma_sync(acc, qf, kf, acc);
      }
      wmma_dec::store_matrix_sync(sS + warp * 16, acc, L::kLdS, wmma_dec::mem_row_major);
    }
    __syncthreads();
    {
      const int key0 = start + t * kTcKeys;
      float x[kColsPerThread];
      float mx = -INFINITY;
#pragma unroll
      for (int c = 0; c < kColsPerThread; ++c) {
        const int col = part * kColsPerThread + c;
        x[c] = key0 + col < end ? sS[row * L::kLdS + col] * a.scale_log2 : -INFINITY;
        mx = fmaxf(mx, x[c]);
      }
#pragma unroll
      for (int o = 1; o < 8; o <<= 1) mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, o));
      // Lazy rescaling: the reference max moves only when a score exceeds it by
      // more than kRescaleSlack (log2 units), so most tiles leave O untouched;
      // p <= 2^kRescaleSlack stays well inside bf16 and fp32 range.
      const float m_old = sM[row];
      const float m_new = mx > m_old + kRescaleSlack ? mx : m_old;
      float sum = 0.0f;
#pragma unroll
      for (int c = 0; c < kColsPerThread; ++c) {
        const float p = exp2f(x[c] - m_new);
        sum += p;
        sP[row * L::kLdP + part * kColsPerThread + c] = __float2bfloat16_rn(p);
      }
#pragma unroll
      for (int o = 1; o < 8; o <<= 1) sum += __shfl_xor_sync(kFullMask, sum, o);
      if (part == 0) {
        const float alpha = exp2f(m_old - m_new);
        sA[row] = alpha;
        sL[row] = sL[row] * alpha + sum;
        sM[row] = m_new;
      }
    }
    __syncthreads();
    {
      // O[16 × D] += P · V: warp w owns columns w·D/4 .. (w+1)·D/4, held in
      // accumulator fragments across tiles; they pass through shared memory only
      // when some row's reference max moved (alpha != 1).
      constexpr int kCols = D / 4;
      bool rescale = false;
#pragma unroll
      for (int r = 0; r < kTcRows; ++r) rescale |= sA[r] != 1.0f;
      if (rescale) {
#pragma unroll
        for (int f = 0; f < kCols / 16; ++f) {
          wmma_dec::store_matrix_sync(sO + warp * kCols + f * 16, of[f], L::kLdO, wmma_dec::mem_row_major);
        }
        __syncwarp();
        for (int i = lane; i < kTcRows * kCols; i += 32) {
          const int r = i / kCols;
          const int c = warp * kCols + i % kCols;
          sO[r * L::kLdO + c] *= sA[r];
        }
        __syncwarp();
#pragma unroll
        for (int f = 0; f < kCols / 16; ++f) {
          wmma_dec::load_matrix_sync(of[f], sO + warp * kCols + f * 16, L::kLdO, wmma_dec::mem_row_major);
        }
      }
#pragma unroll
      for (int kk = 0; kk < kTcKeys / 16; ++kk) {
        wmma_dec::fragment<wmma_dec::matrix_a, 16, 16, 16, __nv_bfloat16, wmma_dec::row_major> pf;
        wmma_dec::load_matrix_sync(pf, sP + kk * 16, L::kLdP);
#pragma unroll
        for (int f = 0; f < kCols / 16; ++f) {
          wmma_dec::fragment<wmma_dec::matrix_b, 16, 16, 16, __nv_bfloat16, wmma_dec::row_major> vf;
          wmma_dec::load_matrix_sync(vf, cV + kk * 16 * L::kLdh + warp * kCols + f * 16, L::kLdh);
          wmma_dec::mma_sync(of[f], pf, vf, of[f]);
        }
      }
    }
    __syncthreads();
  }
  {
    constexpr int kCols = D / 4;
#pragma unroll
    for (int f = 0; f < kCols / 16; ++f) {
      wmma_dec::store_matrix_sync(sO + warp * kCols + f * 16, of[f], L::kLdO, wmma_dec::mem_row_major);
    }
  }
  __syncthreads();
  cp_async_wait<0>();

  if (slots == 1) {
    for (int i = tid; i < nh * P; i += kDecThreads) {
      const int j = i / P;
      const int pv = i % P;
      const float inv = 1.0f / sL[j];
      float f[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) f[e] = sO[j * L::kLdO + pv * 8 + e] * inv;
      a.out[b * a.out_stride_vec + static_cast<std::int64_t>(h0 + j) * P + pv] = detail::pack8(f);
    }
  } else {
    for (int i = tid; i < nh * D; i += kDecThreads) {
      const int j = i / D;
      const int d = i % D;
      const std::int64_t r = (static_cast<std::int64_t>(b) * a.heads + h0 + j) * slots + slot;
      a.part_o[r * D + d] = sO[j * L::kLdO + d];
      if (d == 0) {
        a.part_ml[r * 2] = sM[j];
        a.part_ml[r * 2 + 1] = sL[j];
      }
    }
  }
}

// Block (split, kv head [, subgroup], sequence): one split of one sequence's context.
template <int D, int kTcKeys, int kTcStages>
__global__ void __launch_bounds__(kDecThreads) decode_attention_tc_kernel(DecodeKernelArgs a) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int split = blockIdx.x;
  const int start = split * a.chunk;
  decode_tc_range<D, kTcKeys, kTcStages>(a, smem, blockIdx.z, blockIdx.y / a.subgroups, blockIdx.y % a.subgroups,
                                        start, min(a.context, start + a.chunk), split, a.splits);
}

// Balanced split-KV (variant 4): block p takes work items [begin(p), begin(p+1))
// of the (stream, 64-key tile) space in stream-major order (kernels/reference/
// decode_partition.hpp), one range per stream it touches, so every block does
// the same number of tiles (±1) whatever the batch and context, and no wave is
// partly empty. Each range is written as a partial at slot p − first_cta(stream).
template <int D>
__global__ void __launch_bounds__(kDecThreads) decode_attention_balanced_kernel(DecodeKernelArgs a,
                                                                                 DecodePartition part, int slots) {
  extern __shared__ __align__(128) unsigned char smem[];
  const std::int64_t p = blockIdx.x;
  const std::int64_t g0 = part.begin(p);
  const std::int64_t g1 = part.begin(p + 1);
  for (std::int64_t st = g0 / part.tiles; st * part.tiles < g1; ++st) {
    const std::int64_t lo = (g0 > st * part.tiles ? g0 : st * part.tiles) - st * part.tiles;
    const std::int64_t hi = (g1 < (st + 1) * part.tiles ? g1 : (st + 1) * part.tiles) - st * part.tiles;
    const int sg = static_cast<int>(st % a.subgroups);
    const int kvh = static_cast<int>((st / a.subgroups) % a.kv_heads);
    const int b = static_cast<int>(st / (static_cast<std::int64_t>(a.subgroups) * a.kv_heads));
    const int start = static_cast<int>(lo) * kTileKeys;
    const int end = min(a.context, static_cast<int>(hi) * kTileKeys);
    decode_tc_range<D, kTileKeys, 2>(a, smem, b, kvh, sg, start, end, static_cast<int>(p - part.first_cta(st)),
                                     slots);
    __syncthreads();  // the next range reuses the shared memory
  }
}


template <int D, int TK, int ST>
cudaError_t launch_decode_tc(const DecodeKernelArgs& k, int batch, cudaStream_t s) {
  using L = DecTcSmem<D, TK, ST>;
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  cudaError_t e = cudaStreamIsCapturing(s, &capturing);
  if (e != cudaSuccess) return e;
  if (capturing == cudaStreamCaptureStatusNone) {
    e = cudaFuncSetAttribute(decode_attention_tc_kernel<D, TK, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(L::kBytes));
    if (e != cudaSuccess) return e;
  }
  dim3 grid(static_cast<unsigned>(k.splits), static_cast<unsigned>(k.kv_heads * k.subgroups),
            static_cast<unsigned>(batch));
  decode_attention_tc_kernel<D, TK, ST><<<grid, kDecThreads, L::kBytes, s>>>(k);
  e = cudaGetLastError();
  if (e != cudaSuccess || k.splits == 1) return e;
  decode_combine_kernel<D>
      <<<static_cast<unsigned>(static_cast<std::int64_t>(batch) * k.heads), merge_block<D>(k.splits), 0, s>>>(
      k.part_o, k.part_ml, k.splits, k.heads, k.out_stride_vec * 8, reinterpret_cast<__nv_bfloat16*>(k.out));
  return cudaGetLastError();
}

// ---------------------------------------------------------------- kv append
__global__ void kv_append_kernel(const uint4* qkv, std::int64_t qkv_stride_vec, int heads, int kv_heads,
                                 int vec_per_head, int pos, int cache_capacity, uint4* k_cache, uint4* v_cache) {
  const int b = blockIdx.y;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;  // over kv_heads · vec_per_head
  if (t >= kv_heads * vec_per_head) return;
  const int h = t / vec_per_head;
  const int c = t % vec_per_head;
  const uint4* row = qkv + static_cast<std::int64_t>(b) * qkv_stride_vec;
  const std::int64_t dst = ((static_cast<std::int64_t>(b) * kv_heads + h) * cache_capacity + pos) * vec_per_head + c;
  k_cache[dst] = row[static_cast<std::int64_t>(heads + h) * vec_per_head + c];
  v_cache[dst] = row[static_cast<std::int64_t>(heads + kv_heads + h) * vec_per_head + c];
}

// ---------------------------------------------------------------- prefill
namespace wmma = nvcuda::wmma;

constexpr int kPfThreads = 128;
constexpr int kBQ = 64;
constexpr int kBK = 64;

template <int D>
struct PrefillSmem {
  static constexpr int kLdh = D + 8;       // bf16 row pitch of Q, K, V tiles
  static constexpr int kLdS = kBK + 4;     // float pitch of S
  static constexpr int kLdP = kBK + 8;     // bf16 pitch of P
  static constexpr int kLdO = D + 4;       // float pitch of O
  static constexpr std::size_t kQ = 0;
  static constexpr std::size_t kK = kQ + sizeof(__nv_bfloat16) * kBQ * kLdh;
  static constexpr std::size_t kV = kK + sizeof(__nv_bfloat16) * kBK * kLdh;
  static constexpr std::size_t kS = kV + sizeof(__nv_bfloat16) * kBK * kLdh;
  static constexpr std::size_t kP = kS + sizeof(float) * kBQ * kLdS;
  static constexpr std::size_t kO = kP + sizeof(__nv_bfloat16) * kBQ * kLdP;
  static constexpr std::size_t kM = kO + sizeof(float) * kBQ * kLdO;
  static constexpr std::size_t kL = kM + sizeof(float) * kBQ;
  static constexpr std::size_t kBytes = kL + sizeof(float) * kBQ;
};

// Loads `rows` rows of D bf16 (global row pitch `pitch_vec` uint4) into a tile; zero past `valid`.
template <int D>
__device__ __forceinline__ void load_tile(__nv_bfloat16* tile, const uint4* src, std::int64_t pitch_vec, int valid) {
  constexpr int V = D / 8;
  constexpr int kLdh = D + 8;
  for (int i = threadIdx.x; i < kBK * V; i += kPfThreads) {
    const int r = i / V;
    const int c = i % V;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r < valid) val = src[static_cast<std::int64_t>(r) * pitch_vec + c];
    *reinterpret_cast<uint4*>(tile + r * kLdh + c * 8) = val;
  }
}

template <int D>
__global__ void __launch_bounds__(kPfThreads) prefill_attention_kernel(const uint4* q, const uint4* k, const uint4* v,
                                                                        __nv_bfloat16* out, int seq, int heads,
                                                                        int kv_heads, float scale_log2) {
  using L = PrefillSmem<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  auto* sQ = reinterpret_cast<__nv_bfloat16*>(smem + L::kQ);
  auto* sK = reinterpret_cast<__nv_bfloat16*>(smem + L::kK);
  auto* sV = reinterpret_cast<__nv_bfloat16*>(smem + L::kV);
  auto* sS = reinterpret_cast<float*>(smem + L::kS);
  auto* sP = reinterpret_cast<__nv_bfloat16*>(smem + L::kP);
  auto* sO = reinterpret_cast<float*>(smem + L::kO);
  auto* sM = reinterpret_cast<float*>(smem + L::kM);
  auto* sL = reinterpret_cast<float*>(smem + L::kL);

  constexpr int V = D / 8;
  const int q_tile = blockIdx.x;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const int kvh = h / (heads / kv_heads);
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int q0 = q_tile * kBQ;

  // Q rows q0.. of head h: global pitch heads·V uint4 per token.
  load_tile<D>(sQ, q + (static_cast<std::int64_t>(b) * seq + q0) * heads * V + static_cast<std::int64_t>(h) * V,
               static_cast<std::int64_t>(heads) * V, seq - q0);
  for (int i = threadIdx.x; i < kBQ * L::kLdO; i += kPfThreads) sO[i] = 0.0f;
  if (threadIdx.x < kBQ) {
    sM[threadIdx.x] = -INFINITY;
    sL[threadIdx.x] = 0.0f;
  }

  const int key_tiles = min((seq + kBK - 1) / kBK, q_tile + 1);
  const std::int64_t kv_pitch = static_cast<std::int64_t>(kv_heads) * V;
  const int r = lane >> 1;               // this lane's row within the warp's 16
  const int c0 = (lane & 1) * (kBK / 2);  // and its half of the 64 columns
  const int row = warp * 16 + r;
  const int qpos = q0 + row;
  float* sSw = sS + warp * 16 * L::kLdS;
  __nv_bfloat16* sPw = sP + warp * 16 * L::kLdP;
  float* sOw = sO + warp * 16 * L::kLdO;

  for (int kt = 0; kt < key_tiles; ++kt) {
    __syncthreads();
    const int k0 = kt * kBK;
    const std::int64_t kv_off = (static_cast<std::int64_t>(b) * seq + k0) * kv_pitch + static_cast<std::int64_t>(kvh) * V;
    load_tile<D>(sK, k + kv_off, kv_pitch, seq - k0);
    load_tile<D>(sV, v + kv_off, kv_pitch, seq - k0);
    __syncthreads();

    // S = Q_w · K^T (16 × 64 per warp).
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf[kBK / 16];
#pragma unroll
    for (int n = 0; n < kBK / 16; ++n) wmma::fill_fragment(sf[n], 0.0f);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> af;
      wmma::load_matrix_sync(af, sQ + warp * 16 * L::kLdh + kk * 16, L::kLdh);
#pragma unroll
      for (int n = 0; n < kBK / 16; ++n) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> bf;
        wmma::load_matrix_sync(bf, sK + n * 16 * L::kLdh + kk * 16, L::kLdh);
        wmma::mma_sync(sf[n], af, bf, sf[n]);
      }
    }
#pragma unroll
    for (int n = 0; n < kBK / 16; ++n) wmma::store_matrix_sync(sSw + n * 16, sf[n], L::kLdS, wmma::mem_row_major);
    __syncwarp();

    // Online softmax of row `row`, two lanes per row.
    float x[kBK / 2];
    float mx = -INFINITY;
#pragma unroll
    for (int c = 0; c < kBK / 2; ++c) {
      const int key = k0 + c0 + c;
      const float s = sSw[r * L::kLdS + c0 + c] * scale_log2;
      x[c] = (key > qpos || key >= seq) ? -INFINITY : s;
      mx = fmaxf(mx, x[c]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
    const float m_old = sM[row];
    const float m_new = fmaxf(m_old, mx);
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kBK / 2; ++c) {
      const float p = exp2f(x[c] - m_new);
      sum += p;
      sPw[r * L::kLdP + c0 + c] = __float2bfloat16_rn(p);
    }
    sum += __shfl_xor_sync(kFullMask, sum, 1);
    const float alpha = exp2f(m_old - m_new);
    __syncwarp();
    if ((lane & 1) == 0) {
      sM[row] = m_new;
      sL[row] = sL[row] * alpha + sum;
    }
    for (int c = (lane & 1) * (D / 2); c < (lane & 1) * (D / 2) + D / 2; ++c) sOw[r * L::kLdO + c] *= alpha;
    __syncwarp();

    // O_w += P_w · V.
#pragma unroll
    for (int dj = 0; dj < D / 16; ++dj) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
      wmma::load_matrix_sync(of, sOw + dj * 16, L::kLdO, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> pf;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> vf;
        wmma::load_matrix_sync(pf, sPw + kk * 16, L::kLdP);
        wmma::load_matrix_sync(vf, sV + kk * 16 * L::kLdh + dj * 16, L::kLdh);
        wmma::mma_sync(of, pf, vf, of);
      }
      wmma::store_matrix_sync(sOw + dj * 16, of, L::kLdO, wmma::mem_row_major);
    }
    __syncwarp();
  }
  __syncthreads();

  // Write O / l for the valid rows.
  for (int i = threadIdx.x; i < kBQ * V; i += kPfThreads) {
    const int rr = i / V;
    const int c = i % V;
    const int pos = q0 + rr;
    if (pos >= seq) continue;
    const float inv = 1.0f / sL[rr];
    float f[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) f[e] = sO[rr * L::kLdO + c * 8 + e] * inv;
    reinterpret_cast<uint4*>(out)[((static_cast<std::int64_t>(b) * seq + pos) * heads + h) * V + c] = detail::pack8(f);
  }
}

template <int D>
cudaError_t launch_prefill(const Bf16* q, const Bf16* k, const Bf16* v, Bf16* out, int batch, int seq, int heads,
                           int kv_heads, float scale_log2, cudaStream_t s) {
  using L = PrefillSmem<D>;
  // Raise the kernel's shared-memory limit outside stream capture (during capture
  // the attribute set by an earlier eager launch still holds).
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  cudaError_t e = cudaStreamIsCapturing(s, &capturing);
  if (e != cudaSuccess) return e;
  if (capturing == cudaStreamCaptureStatusNone) {
    e = cudaFuncSetAttribute(prefill_attention_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(L::kBytes));
    if (e != cudaSuccess) return e;
  }
  dim3 grid(static_cast<unsigned>((seq + kBQ - 1) / kBQ), static_cast<unsigned>(heads), static_cast<unsigned>(batch));
  prefill_attention_kernel<D><<<grid, kPfThreads, L::kBytes, s>>>(
      reinterpret_cast<const uint4*>(q), reinterpret_cast<const uint4*>(k), reinterpret_cast<const uint4*>(v),
      reinterpret_cast<__nv_bfloat16*>(out), seq, heads, kv_heads, scale_log2);
  return cudaGetLastError();
}

}  // namespace

bool decode_attention_supported(int heads, int kv_heads, int head_dim) {
  return kv_heads > 0 && heads % kv_heads == 0 && (head_dim == 64 || head_dim == 128 || head_dim == 256);
}

int decode_attention_variant(int heads, int kv_heads, int head_dim, int requested) {
  const int group = kv_heads > 0 ? heads / kv_heads : 1;
  const bool tc_ok = head_dim == 64 || head_dim == 128;
  if (requested == 1 || !tc_ok) return 1;
  if (requested >= 2 && requested <= 4) return requested;
  // CUDA cores for 1-2 heads per KV head (above 100% of the copy kernel's bandwidth
  // on H200), tensor cores from 3 (at group 4 on H200: 98% of copy against 88% for
  // the CUDA-core kernel, which becomes FMA-bound as the group grows), with the
  // balanced split-KV partition: on H200 it reached 99-102% of copy at large
  // batch × context where the split-count variant reached 92-97%, and it has no
  // wave steps (calibrate/results/h200/quality.json, decode_attention_uneven).
  return group >= 3 ? 4 : 1;
}

int decode_attention_blocks_per_sm(int variant, int head_dim, int group, bool set_smem_limit) {
  // Resident blocks per multiprocessor of the kernel this shape runs, from the
  // occupancy calculator (2 when no device answers). Asked at plan time, not per
  // launch (callers pass the splits they planned), so nothing is cached.
  const int v = std::clamp(variant, 1, 4);
  const int d = head_dim == 64 ? 0 : (head_dim == 128 ? 1 : 2);
  const int gp = padded_group(group);
  const int gi = v >= 2 ? 0 : (gp == 1 ? 0 : gp == 2 ? 1 : gp == 4 ? 2 : 3);
  const void* fn = nullptr;
  std::size_t smem = 0;
  if (v == 2) {
    fn = head_dim == 64 ? reinterpret_cast<const void*>(decode_attention_tc_kernel<64, 64, 2>)
                        : reinterpret_cast<const void*>(decode_attention_tc_kernel<128, 64, 2>);
    smem = head_dim == 64 ? DecTcSmem<64, 64, 2>::kBytes : DecTcSmem<128, 64, 2>::kBytes;
  } else if (v == 4) {
    fn = head_dim == 64 ? reinterpret_cast<const void*>(decode_attention_balanced_kernel<64>)
                        : reinterpret_cast<const void*>(decode_attention_balanced_kernel<128>);
    smem = head_dim == 64 ? DecTcSmem<64, 64, 2>::kBytes : DecTcSmem<128, 64, 2>::kBytes;
  } else if (v == 3) {
    fn = head_dim == 64 ? reinterpret_cast<const void*>(decode_attention_tc_kernel<64, 32, 3>)
                        : reinterpret_cast<const void*>(decode_attention_tc_kernel<128, 32, 3>);
    smem = head_dim == 64 ? DecTcSmem<64, 32, 3>::kBytes : DecTcSmem<128, 32, 3>::kBytes;
  } else {
    const void* table[3][4] = {
        {reinterpret_cast<const void*>(decode_attention_kernel<64, 1>), reinterpret_cast<const void*>(decode_attention_kernel<64, 2>),
         reinterpret_cast<const void*>(decode_attention_kernel<64, 4>), reinterpret_cast<const void*>(decode_attention_kernel<64, 8>)},
        {reinterpret_cast<const void*>(decode_attention_kernel<128, 1>), reinterpret_cast<const void*>(decode_attention_kernel<128, 2>),
         reinterpret_cast<const void*>(decode_attention_kernel<128, 4>), reinterpret_cast<const void*>(decode_attention_kernel<128, 8>)},
        {reinterpret_cast<const void*>(decode_attention_kernel<256, 1>), reinterpret_cast<const void*>(decode_attention_kernel<256, 2>),
         reinterpret_cast<const void*>(decode_attention_kernel<256, 4>), reinterpret_cast<const void*>(decode_attention_kernel<256, 8>)}};
    fn = table[d][gi];
  }
  int blocks = 0;
  // The tensor-core kernels need their shared-memory limit raised before the
  // calculator counts them; that is not done while a stream is being captured.
  if (smem > 0 && set_smem_limit) {
    cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  }
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, fn, kDecThreads, smem) != cudaSuccess || blocks < 1) {
    cudaGetLastError();
    return 2;
  }
  return blocks;
}

namespace {

// The balanced variant's partition of this shape over `sm_count` multiprocessors.
DecodePartition balanced_plan(int batch, int kv_heads, int group, int context, int sm_count, int head_dim,
                              bool set_smem_limit) {
  const std::int64_t streams = static_cast<std::int64_t>(batch) * kv_heads * ((group + kTcRows - 1) / kTcRows);
  const std::int64_t resident = static_cast<std::int64_t>(std::max(sm_count, 1)) *
                                decode_attention_blocks_per_sm(4, head_dim, group, set_smem_limit);
  return ref::balanced_partition(streams, (context + kTileKeys - 1) / kTileKeys, resident);
}

}  // namespace

int decode_attention_splits(int batch, int heads, int kv_heads, int context, int sm_count, int variant,
                            int head_dim, bool set_smem_limit) {
  const int group = heads / kv_heads;
  const int v = decode_attention_variant(heads, kv_heads, head_dim, variant);
  if (v == 4) {
    // The balanced variant: the partial slots per head its merge needs.
    return static_cast<int>(
        balanced_plan(batch, kv_heads, group, context, sm_count, head_dim, set_smem_limit).max_parts());
  }
  const int rows = v >= 2 ? kTcRows : padded_group(group);
  const int subgroups = (group + rows - 1) / rows;
  const std::int64_t blocks = static_cast<std::int64_t>(batch) * kv_heads * subgroups;
  const std::int64_t resident = static_cast<std::int64_t>(std::max(sm_count, 1)) *
                                decode_attention_blocks_per_sm(v, head_dim, group, set_smem_limit);
  // The critical path in tile-times: waves of resident blocks × tiles per block,
  // plus about one tile-time for the merge kernel when the context is split.
  // Each split keeps at least two tiles of keys; ties go to fewer splits.
  const std::int64_t max_splits = std::max<std::int64_t>(1, context / (2 * kTileKeys));
  std::int64_t best = 1;
  double best_cost = 0;
  for (std::int64_t sp = 1; sp <= max_splits; ++sp) {
    std::int64_t chunk = (context + sp - 1) / sp;
    chunk = (chunk + kTileKeys - 1) / kTileKeys * kTileKeys;
    const std::int64_t real = (context + chunk - 1) / chunk;
    if (real != sp) continue;  // same chunk as a smaller split count
    const std::int64_t waves = (blocks * sp + resident - 1) / resident;
    const double cost = static_cast<double>(waves * (chunk / kTileKeys)) + (sp > 1 ? 1.0 : 0.0);
    if (sp == 1 || cost < best_cost) {
      best = sp;
      best_cost = cost;
    }
    if (waves > 1 && blocks * sp >= 8 * resident) break;  // deep in the bandwidth-bound regime
  }
  return static_cast<int>(best);
}

std::size_t decode_attention_workspace_bytes(int batch, int heads, int head_dim, int splits) {
  const std::size_t rows = static_cast<std::size_t>(batch) * heads * splits;
  return rows * sizeof(float) * (static_cast<std::size_t>(head_dim) + 2);
}

namespace {

DecodeKernelArgs kernel_args(const DecodeAttentionArgs& a, int group, int subgroups, int chunk, int splits) {
  DecodeKernelArgs k{};
  k.q = reinterpret_cast<const uint4*>(a.q);
  k.k = reinterpret_cast<const uint4*>(a.k);
  k.v = reinterpret_cast<const uint4*>(a.v);
  k.out = reinterpret_cast<uint4*>(a.out);
  k.q_stride_vec = a.q_stride / 8;
  k.out_stride_vec = a.out_stride / 8;
  k.heads = a.heads;
  k.kv_heads = a.kv_heads;
  k.group = group;
  k.subgroups = subgroups;
  k.context = a.context;
  k.cache_capacity = a.cache_capacity;
  k.chunk = chunk;
  k.splits = splits;
  const float scale = a.scale != 0.0f ? a.scale : 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  k.scale_log2 = scale * kLog2e;
  if (splits > 1) {
    k.part_o = static_cast<float*>(a.workspace);
    k.part_ml = k.part_o + static_cast<std::size_t>(a.batch) * a.heads * splits * a.head_dim;
  }
  return k;
}

cudaError_t device_sms(cudaStream_t s, int& sms, bool& eager) {
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  if (e == cudaSuccess) e = cudaStreamIsCapturing(s, &capturing);
  eager = capturing == cudaStreamCaptureStatusNone;
  return e;
}

template <int D>
cudaError_t launch_balanced(const DecodeAttentionArgs& a, int group, cudaStream_t s) {
  using L = DecTcSmem<D, kTileKeys, 2>;
  int sms = 0;
  bool eager = true;
  cudaError_t e = device_sms(s, sms, eager);
  if (e != cudaSuccess) return e;
  const int subgroups = (group + kTcRows - 1) / kTcRows;
  const DecodePartition part = balanced_plan(a.batch, a.kv_heads, group, a.context, sms, a.head_dim, eager);
  const int slots = static_cast<int>(part.max_parts());
  // `splits`, when given, is the partial slots per head the workspace holds.
  if (slots > 1 && (a.workspace == nullptr || (a.splits > 0 && a.splits < slots))) return cudaErrorInvalidValue;
  const DecodeKernelArgs k = kernel_args(a, group, subgroups, kTileKeys, slots);
  if (eager) {
    e = cudaFuncSetAttribute(decode_attention_balanced_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(L::kBytes));
    if (e != cudaSuccess) return e;
  }
  decode_attention_balanced_kernel<D><<<static_cast<unsigned>(part.ctas), kDecThreads, L::kBytes, s>>>(k, part, slots);
  e = cudaGetLastError();
  if (e != cudaSuccess || slots == 1) return e;
  decode_balanced_combine_kernel<D>
      <<<static_cast<unsigned>(static_cast<std::int64_t>(a.batch) * a.heads), merge_block<D>(slots), 0, s>>>(
      k.part_o, k.part_ml, slots, a.heads, group, subgroups, part, k.out_stride_vec * 8,
      reinterpret_cast<__nv_bfloat16*>(k.out));
  return cudaGetLastError();
}

}  // namespace

cudaError_t decode_attention(const DecodeAttentionArgs& a, cudaStream_t s) {
  if (!decode_attention_supported(a.heads, a.kv_heads, a.head_dim) || a.context < 1 ||
      a.context > a.cache_capacity || a.batch < 1) {
    return cudaErrorInvalidValue;
  }
  const int group = a.heads / a.kv_heads;
  const int variant = decode_attention_variant(a.heads, a.kv_heads, a.head_dim, a.variant);
  if (variant == 4) {
    return a.head_dim == 64 ? launch_balanced<64>(a, group, s) : launch_balanced<128>(a, group, s);
  }
  const int gp = variant >= 2 ? kTcRows : padded_group(group);
  int splits = a.splits;
  if (splits <= 0) {
    int sms = 0;
    bool eager = true;
    const cudaError_t e = device_sms(s, sms, eager);
    if (e != cudaSuccess) return e;
    splits = decode_attention_splits(a.batch, a.heads, a.kv_heads, a.context, sms, variant, a.head_dim, eager);
  }
  // Keys per split rounded to whole tiles; recompute splits so none is empty.
  int chunk = (a.context + splits - 1) / splits;
  chunk = (chunk + kTileKeys - 1) / kTileKeys * kTileKeys;
  splits = (a.context + chunk - 1) / chunk;
  if (splits > 1 && a.workspace == nullptr) return cudaErrorInvalidValue;
  const DecodeKernelArgs k = kernel_args(a, group, (group + gp - 1) / gp, chunk, splits);
  if (variant == 2) {
    return a.head_dim == 64 ? launch_decode_tc<64, 64, 2>(k, a.batch, s) : launch_decode_tc<128, 64, 2>(k, a.batch, s);
  }
  if (variant == 3) {
    return a.head_dim == 64 ? launch_decode_tc<64, 32, 3>(k, a.batch, s) : launch_decode_tc<128, 32, 3>(k, a.batch, s);
  }
  switch (a.head_dim) {
    case 64: return dispatch_group<64>(k, a.batch, gp, s);
    case 128: return dispatch_group<128>(k, a.batch, gp, s);
    case 256: return dispatch_group<256>(k, a.batch, gp, s);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t kv_append(const Bf16* qkv, std::int64_t qkv_stride, int heads, int kv_heads, int head_dim, int batch,
                      int pos, int cache_capacity, Bf16* k_cache, Bf16* v_cache, cudaStream_t s) {
  if (head_dim % 8 != 0 || pos < 0 || pos >= cache_capacity) return cudaErrorInvalidValue;
  const int vec = head_dim / 8;
  const int work = kv_heads * vec;
  dim3 grid(static_cast<unsigned>((work + 127) / 128), static_cast<unsigned>(batch));
  kv_append_kernel<<<grid, 128, 0, s>>>(reinterpret_cast<const uint4*>(qkv), qkv_stride / 8, heads, kv_heads, vec,
                                        pos, cache_capacity, reinterpret_cast<uint4*>(k_cache),
                                        reinterpret_cast<uint4*>(v_cache));
  return cudaGetLastError();
}

bool prefill_attention_supported(int heads, int kv_heads, int head_dim) {
  return kv_heads > 0 && heads % kv_heads == 0 && (head_dim == 64 || head_dim == 128);
}

cudaError_t prefill_attention(const Bf16* q, const Bf16* k, const Bf16* v, Bf16* out, int batch, int seq, int heads,
                              int kv_heads, int head_dim, float scale, cudaStream_t s) {
  if (!prefill_attention_supported(heads, kv_heads, head_dim) || seq < 1 || batch < 1) return cudaErrorInvalidValue;
  const float sc = scale != 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
  switch (head_dim) {
    case 64: return launch_prefill<64>(q, k, v, out, batch, seq, heads, kv_heads, sc * kLog2e, s);
    case 128: return launch_prefill<128>(q, k, v, out, batch, seq, heads, kv_heads, sc * kLog2e, s);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace masim::kernels::cuda
