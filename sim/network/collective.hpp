// Collective requests and the nccl-tests bandwidth factors.
//
// Sizes follow nccl-tests (doc/PERFORMANCE.md): `bytes` is the per-rank buffer
// "size" column: the whole buffer for all-reduce, broadcast and reduce; the
// gathered output for all-gather; the input for reduce-scatter and all-to-all
// (each peer gets bytes/n). For send/recv it is the message.
// algbw = size / time; busbw = algbw · factor, where the factor is
//   all-reduce 2(n-1)/n, all-gather and reduce-scatter (n-1)/n, all-to-all (n-1)/n,
//   broadcast, reduce and send/recv 1.
// This table is shared with calibrate/ (header-only, no dependencies).
//
//   CollectiveRequest r{.kind = CollectiveKind::kAllReduce, .ranks = {0,1,2,3,4,5,6,7},
//                       .bytes = Bytes::mib(256)};
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
// NCCL's protocols: Simple (bulk), LL128 (128-byte lines, 120 of them payload),
// LL (8 bytes of payload per 16-byte line). kAuto picks the fastest estimate.
enum class Protocol : std::uint8_t { kAuto, kSimple, kLL128, kLL };

// Names as the CLI and scenarios spell them: "all_reduce" (also "allreduce"),
// "all_gather", "reduce_scatter", "broadcast", "reduce", "all_to_all", "send_recv",
// "many_to_many"; algorithms "auto", "ring", "tree", "pairwise", "hierarchical";
// protocols "auto", "simple", "ll128", "ll". Defined inline so the header stays
// dependency-free for calibrate/.
inline const char* to_string(CollectiveKind k) {
  switch (k) {
    case CollectiveKind::kAllReduce: return "all_reduce";
    case CollectiveKind::kAllGather: return "all_gather";
    case CollectiveKind::kReduceScatter: return "reduce_scatter";
    case CollectiveKind::kBroadcast: return "broadcast";
    case CollectiveKind::kReduce: return "reduce";
    case CollectiveKind::kAllToAll: return "all_to_all";
    case CollectiveKind::kSendRecv: return "send_recv";
    case CollectiveKind::kManyToMany: return "many_to_many";
  }
  return "?";
}
inline const char* to_string(Algorithm a) {
  switch (a) {
    case Algorithm::kAuto: return "auto";
    case Algorithm::kRing: return "ring";
    case Algorithm::kTree: return "tree";
    case Algorithm::kPairwise: return "pairwise";
    case Algorithm::kHierarchical: return "hierarchical";
  }
  return "?";
}
inline const char* to_string(Protocol p) {
  switch (p) {
    case Protocol::kAuto: return "auto";
    case Protocol::kSimple: return "simple";
    case Protocol::kLL128: return "ll128";
    case Protocol::kLL: return "ll";
  }
  return "?";
}
// The names parse_collective_kind accepts in canonical spelling, for "did you mean".
inline std::vector<std::string> collective_kind_names() {
  return {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "reduce",
          "all_to_all", "send_recv",  "many_to_many"};
}
// nullopt for an unknown name. Underscores are optional ("allreduce").
inline std::optional<CollectiveKind> parse_collective_kind(std::string_view name) {
  std::string flat;
  for (char c : name) {
    if (c != '_' && c != '-') flat += c;
  }
  constexpr CollectiveKind kAll[] = {CollectiveKind::kAllReduce, CollectiveKind::kAllGather,
                                     CollectiveKind::kReduceScatter, CollectiveKind::kBroadcast,
                                     CollectiveKind::kReduce, CollectiveKind::kAllToAll,
                                     CollectiveKind::kSendRecv, CollectiveKind::kManyToMany};
  for (CollectiveKind k : kAll) {
    std::string canon;
    for (const char* c = to_string(k); *c; ++c) {
      if (*c != '_') canon += *c;
    }
    if (canon == flat) return k;
  }
  if (flat == "sendrecv" || flat == "p2p") return CollectiveKind::kSendRecv;
  if (flat == "alltoallv") return CollectiveKind::kManyToMany;
  return std::nullopt;
}
inline std::optional<Algorithm> parse_algorithm(std::string_view name) {
  for (Algorithm a : {Algorithm::kAuto, Algorithm::kRing, Algorithm::kTree, Algorithm::kPairwise,
                      Algorithm::kHierarchical}) {
    if (name == to_string(a)) return a;
  }
  return std::nullopt;
}
inline std::optional<Protocol> parse_protocol(std::string_view name) {
  for (Protocol p : {Protocol::kAuto, Protocol::kSimple, Protocol::kLL128, Protocol::kLL}) {
    if (name == to_string(p)) return p;
  }
  return std::nullopt;
}

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
  Protocol protocol = Protocol::kAuto;
};

}  // namespace masim::network
