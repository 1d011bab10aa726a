// Collective requests and the nccl-tests bandwidth factors.
//
// Sizes follow nccl-tests (doc/PERFORMANCE.md): `bytes` is the per-rank buffer
// "size" column. algbw = size / time; busbw = algbw · factor, where the factor is
//   all-reduce 2(n-1)/n, all-gather and reduce-scatter (n-1)/n, all-to-all (n-1)/n,
//   broadcast, reduce and send/recv 1.
// This table is shared with calibrate/ (header-only, no dependencies).
//
//   CollectiveRequest r{.kind = CollectiveKind::kAllReduce, .ranks = {0,1,2,3,4,5,6,7},
//                       .bytes = Bytes::mib(256)};
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/common/units.hpp"

namespace masim::network {

enum class CollectiveKind : std::uint8_t {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kBroadcast,
  kReduce,
  kAllToAll,
  kSendRecv,     // ranks = {src, dst}
  kManyToMany,   // ranks send to dst_ranks, bytes per pair in `matrix` (MA Separation dispatch/combine)
};
enum class Algorithm : std::uint8_t { kAuto, kRing, kTree, kPairwise, kHierarchical };

const char* to_string(CollectiveKind k);
const char* to_string(Algorithm a);

constexpr double busbw_factor(CollectiveKind k, int n) {
  const double nn = static_cast<double>(n);
  switch (k) {
    case CollectiveKind::kAllReduce: return n > 1 ? 2.0 * (nn - 1.0) / nn : 1.0;
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll: return n > 1 ? (nn - 1.0) / nn : 1.0;
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
    case CollectiveKind::kSendRecv:
    case CollectiveKind::kManyToMany: return 1.0;
  }
  return 1.0;
}

struct CollectiveRequest {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  std::vector<int> ranks;          // participating GPUs (global ranks), in ring order
  Bytes bytes;                     // per-rank buffer size, as nccl-tests' "size"
  Algorithm algorithm = Algorithm::kAuto;
  int root = 0;                    // broadcast / reduce: index into ranks
  std::vector<int> dst_ranks;      // kManyToMany receivers (ranks are the senders)
  std::vector<Bytes> matrix;       // kManyToMany: matrix[i * dst_ranks.size() + j]
  std::string tag;                 // accounting category: "tp_allreduce", "ma_dispatch", ...
};

}  // namespace masim::network
