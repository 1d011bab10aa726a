// Topology: GPUs, NVSwitches, PCIe switches, NICs and leaf/spine switches joined
// by full-duplex links, with routes between GPUs. Boost.Graph stays inside
// topology.cpp; callers see plain ids.
//
// Each LinkSpec becomes two directed links (one per direction), each with the
// spec's bandwidth. Routes are shortest paths (by hop count, then latency);
// where several equal-cost paths exist (ECMP), route(src, dst, hash) picks one
// by hash so different flows spread over them deterministically.
//
//   io::Diagnostics d;
//   auto topo = Topology::build(make_nvswitch_cluster({.nodes = 2}), "gen", d);
//   const auto& path = topo->route(0, 9, /*hash=*/0);   // GPU 0 -> NIC -> leaf -> NIC -> GPU 9
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/common/units.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/spec/spec.hpp"

namespace masim::topology {

// Accepted link bandwidth per direction, bytes/s. Below 1 MB/s a large flow's
// completion time would overflow the engine's int64 picoseconds; above 1 PB/s no
// link exists. Both ends keep every simulated time finite and exact.
inline constexpr double kMinLinkBandwidth = 1e6;
inline constexpr double kMaxLinkBandwidth = 1e15;

using VertexId = std::uint32_t;
using LinkId = std::uint32_t;  // a directed link

struct DirectedLink {
  VertexId from = 0;
  VertexId to = 0;
  Bandwidth bandwidth;   // in this direction
  SimTime latency;
  spec::LinkKind kind = spec::LinkKind::kOther;
};

class Topology {
 public:
  // Validates (duplicate ids, dangling link ends, non-positive bandwidth,
  // disconnected GPUs) and builds routing tables. nullopt with diagnostics on error.
  static std::optional<Topology> build(const spec::TopologySpec& spec, const std::string& file,
                                       io::Diagnostics& diags);
  // As above; diagnostics point below `pointer` (e.g. "/topology" for a scenario's
  // inline topology). Pointers name spec indices ("/links/3/b"), which are the file's
  // indices for the explicit form and the expanded list for generators.
  static std::optional<Topology> build(const spec::TopologySpec& spec, const std::string& file,
                                       const std::string& pointer, io::Diagnostics& diags);
  // kAllowCutOff skips the connectivity rule: a cluster after link, NIC or switch
  // faults, where some GPUs may be cut off (num_paths() == 0 between them; no
  // route may be asked for between such GPUs).
  enum class Connectivity { kRequired, kAllowCutOff };
  static std::optional<Topology> build(const spec::TopologySpec& spec, const std::string& file,
                                       const std::string& pointer, io::Diagnostics& diags,
                                       Connectivity connectivity);

  const spec::TopologySpec& spec() const;
  int num_gpus() const;
  int num_nodes() const;
  int node_of_gpu(int rank) const;
  VertexId gpu_vertex(int rank) const;
  const std::vector<DirectedLink>& links() const;
  const std::vector<spec::VertexSpec>& vertices() const;
  // Number of equal-cost paths from GPU `src` to GPU `dst` (>= 1 for src != dst).
  int num_paths(int src, int dst) const;
  // The directed links of one shortest path; `hash` chooses among equal-cost paths.
  // The returned reference stays valid for the Topology's lifetime (routes are cached
  // behind a lock, so concurrent callers are safe).
  const std::vector<LinkId>& route(int src, int dst, std::uint64_t hash = 0) const;
  // The same path appended to `out` without caching (the hot path of the network).
  void route_into(int src, int dst, std::uint64_t hash, std::vector<LinkId>& out) const;
  // Sum of the latencies of route(src, dst, hash).
  SimTime path_latency(int src, int dst, std::uint64_t hash = 0) const;
  // ECMP hash for flows towards GPU `rank` ("D-mod-k" destination routing as in
  // InfiniBand fat trees, Zahavi et al. 2010 / OpenSM ftree): the index of the
  // GPU's NIC port among the NIC ports of its leaf switch (times the GPUs sharing
  // that NIC, plus the GPU's index among them). Destinations on one leaf get
  // distinct spines. Falls back to the rank where there is no NIC or leaf.
  std::uint64_t ecmp_label(int rank) const;
  // GPU rank of a vertex, or -1 if it is not a GPU.
  int gpu_rank(VertexId v) const;
  int gpus_per_node() const;

  Topology(Topology&&) noexcept;
  Topology& operator=(Topology&&) noexcept;
  ~Topology();

 private:
  Topology();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses a topology document (a file's root or a scenario's inline "topology"),
// including {"generator": {...}} forms. Problems go to `diags`.
std::optional<spec::TopologySpec> parse_topology(const nlohmann::json& doc, const std::string& file,
                                                 const std::string& pointer, io::Diagnostics& diags);

// Generators -------------------------------------------------------------
struct ClusterParams {
  int nodes = 1;
  int gpus_per_node = 8;
  std::string gpu_model = "NVIDIA H100-SXM5-80GB";
  Bandwidth nvlink_per_gpu = Bandwidth::gb_per_s(450);  // per direction, GPU <-> NVSwitch fabric
  SimTime nvlink_latency = SimTime::ns(700);
  int nics_per_node = 8;                                  // one per GPU (rail) by default
  Bandwidth nic_bandwidth = Bandwidth::gbit_per_s(400);   // per direction
  SimTime nic_latency = SimTime::ns(1500);
  Bandwidth pcie_bandwidth = Bandwidth::gb_per_s(64);     // GPU <-> NIC via PCIe switch, per direction
  double oversubscription = 1.0;                          // leaf uplink : downlink ratio (fat tree)
  int leaf_radix = 64;                                    // ports per leaf switch
  SimTime pcie_latency = SimTime::ns(500);                // GPU <-> NIC through the PCIe switch
  SimTime switch_latency = SimTime::ns(300);              // leaf <-> spine hop
};
// N nodes of G GPUs on one NVSwitch domain each, NICs to one rail-optimized leaf/spine fabric
// (a single leaf switch when all NICs fit on one; no fabric for one node).
spec::TopologySpec make_nvswitch_cluster(const ClusterParams& p);
// Rail-optimized: NIC i of every node attaches to leaf i; spines join the leaves.
spec::TopologySpec make_rail_leaf_spine(const ClusterParams& p);
// Two-level fat tree with the given oversubscription (leaves take NICs by node).
spec::TopologySpec make_fat_tree(const ClusterParams& p);

}  // namespace masim::topology
