// The balanced split-KV partition of decode attention (kernels/cuda variant 4),
// shared by the CUDA kernels and the CPU tests: `streams` (sequence, KV head,
// head subgroup) each of `tiles` 64-key tiles form work = streams × tiles items
// in stream-major order, cut into `ctas` contiguous ranges, range p being
// [begin(p), begin(p + 1)) with begin(p) = floor(p · work / ctas), so ranges
// differ by at most one tile (or, with chunks, each stream cut into chunks of
// its own). A stream's tiles fall into the consecutive ranges first_cta(s) ..
// last_cta(s); the merge of stream s combines parts(s) partials.
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
  // 0: ranges cut across the whole (stream, tile) space as above. k > 0: each
  // stream's tiles are cut into k contiguous chunks of their own (ctas = streams × k),
  // chunk j of stream s being tiles [floor(j · tiles / k), floor((j + 1) · tiles / k)),
  // so no range crosses a stream boundary.
  std::int64_t chunks = 0;

  MASIM_HOST_DEVICE std::int64_t work() const { return streams * tiles; }
  MASIM_HOST_DEVICE std::int64_t begin(std::int64_t p) const {
    if (chunks > 0) return p / chunks * tiles + p % chunks * tiles / chunks;
    return p * work() / ctas;
  }
  // The range holding work item g: the largest p with begin(p) <= g, i.e.
  // p·work/ctas < g + 1, so p = ceil((g + 1)·ctas / work) − 1 (per stream with
  // chunks: tiles and chunks in place of work and ctas).
  MASIM_HOST_DEVICE std::int64_t cta_of(std::int64_t g) const {
    if (chunks > 0) return g / tiles * chunks + ((g % tiles + 1) * chunks - 1) / tiles;
    return ((g + 1) * ctas - 1) / work();
  }
  MASIM_HOST_DEVICE std::int64_t first_cta(std::int64_t s) const { return cta_of(s * tiles); }
  MASIM_HOST_DEVICE std::int64_t last_cta(std::int64_t s) const { return cta_of((s + 1) * tiles - 1); }
  MASIM_HOST_DEVICE std::int64_t parts(std::int64_t s) const { return last_cta(s) - first_cta(s) + 1; }
  // An upper bound on parts(s) over all streams: tiles consecutive items meet at
  // most ceil((tiles − 1) / floor(work / ctas)) + 1 ranges, and never more than
  // tiles (with chunks: exactly chunks).
  MASIM_HOST_DEVICE std::int64_t max_parts() const {
    if (chunks > 0) return chunks;
    const std::int64_t shortest = work() / ctas;
    const std::int64_t bound = (tiles - 1 + shortest - 1) / shortest + 1;
    return bound < tiles ? bound : tiles;
  }
};

// The partition variant 4 launches: one block per resident slot (SMs × blocks per
// SM), but no block with fewer than two tiles when there is less work than that.
// A range that crosses a stream boundary runs as two ranges one after the other,
// each paying its own setup and pipeline fill: with two-tile ranges that made
// odd tile counts about 30% slower than even ones at few streams (H200, 12
// streams: 448 keys 12.0 us, 384 and 512 keys 9.2 us). So when few streams leave
// room for per-stream chunks of at least two tiles whose longest is at most one
// tile longer than the balanced ranges, the chunks are used instead.
inline DecodePartition balanced_partition(std::int64_t streams, std::int64_t tiles, std::int64_t resident) {
  DecodePartition p;
  p.streams = streams < 1 ? 1 : streams;
  p.tiles = tiles < 1 ? 1 : tiles;
  const std::int64_t slots = resident < 1 ? 1 : resident;
  const std::int64_t min_tiles = p.tiles >= 2 ? 2 : 1;
  std::int64_t ctas = p.work() / min_tiles;
  if (ctas > slots) ctas = slots;
  p.ctas = ctas < 1 ? 1 : ctas;
  const std::int64_t longest = (p.work() + p.ctas - 1) / p.ctas;
  std::int64_t k = slots / p.streams;
  if (k > p.tiles / min_tiles) k = p.tiles / min_tiles;
  if (k >= 1 && (p.tiles + k - 1) / k <= longest + 1) {
    p.chunks = k;
    p.ctas = p.streams * k;
  }
  return p;
}

}  // namespace masim::kernels::ref
