// The balanced split-KV partition of decode attention (kernels/cuda variant 4),
// shared by the CUDA kernels and the CPU tests: `streams` (sequence, KV head,
// head subgroup) each of `tiles` 64-key tiles form work = streams × tiles items
// in stream-major order, cut into `ctas` contiguous ranges, range p being
// [begin(p), begin(p + 1)) with begin(p) = floor(p · work / ctas), so ranges
// differ by at most one tile. A stream's tiles fall into the consecutive ranges
// first_cta(s) .. last_cta(s); the merge of stream s combines parts(s) partials.
//
//   DecodePartition part{/*streams=*/300, /*tiles=*/9, /*ctas=*/264};
//   part.begin(1) == 10; part.cta_of(10) == 1; part.parts(0) == 1
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define MASIM_HOST_DEVICE __host__ __device__
#else
#define MASIM_HOST_DEVICE
#endif

namespace masim::kernels::ref {

struct DecodePartition {
  std::int64_t streams = 1;
  std::int64_t tiles = 1;
  std::int64_t ctas = 1;

  MASIM_HOST_DEVICE std::int64_t work() const { return streams * tiles; }
  MASIM_HOST_DEVICE std::int64_t begin(std::int64_t p) const { return p * work() / ctas; }
  // The range holding work item g: the largest p with begin(p) <= g, i.e.
  // p·work/ctas < g + 1, so p = ceil((g + 1)·ctas / work) − 1.
  MASIM_HOST_DEVICE std::int64_t cta_of(std::int64_t g) const { return ((g + 1) * ctas - 1) / work(); }
  MASIM_HOST_DEVICE std::int64_t first_cta(std::int64_t s) const { return cta_of(s * tiles); }
  MASIM_HOST_DEVICE std::int64_t last_cta(std::int64_t s) const { return cta_of((s + 1) * tiles - 1); }
  MASIM_HOST_DEVICE std::int64_t parts(std::int64_t s) const { return last_cta(s) - first_cta(s) + 1; }
  // An upper bound on parts(s) over all streams: tiles consecutive items meet at
  // most ceil((tiles − 1) / floor(work / ctas)) + 1 ranges, and never more than tiles.
  MASIM_HOST_DEVICE std::int64_t max_parts() const {
    const std::int64_t shortest = work() / ctas;
    const std::int64_t bound = (tiles - 1 + shortest - 1) / shortest + 1;
    return bound < tiles ? bound : tiles;
  }
};

// The partition variant 4 launches: one block per resident slot (SMs × blocks per
// SM), but no block with fewer than two tiles when there is less work than that.
inline DecodePartition balanced_partition(std::int64_t streams, std::int64_t tiles, std::int64_t resident) {
  DecodePartition p;
  p.streams = streams < 1 ? 1 : streams;
  p.tiles = tiles < 1 ? 1 : tiles;
  const std::int64_t min_tiles = p.tiles >= 2 ? 2 : 1;
  std::int64_t ctas = p.work() / min_tiles;
  if (ctas > resident) ctas = resident;
  p.ctas = ctas < 1 ? 1 : ctas;
  return p;
}

}  // namespace masim::kernels::ref
