// Topology generators: N nodes of G GPUs behind one NVSwitch domain each, with
// NICs joined by a leaf/spine (Clos) fabric.
//
// Inside a node. The NVSwitch planes (6 on DGX A100, 4 on HGX H100/H200) are one
// vertex "nK.nvswitch": NCCL and the NVSwitch hardware stripe every transfer over
// all of a GPU's NVLinks, so at flow level a GPU has one link of its aggregate
// per-direction NVLink bandwidth to a non-blocking switch. GPU g reaches NIC
// g·nics/G through PCIe (the PCIe switch it shares with that NIC on DGX/HGX
// boards passes traffic through without sharing the x16 links, so it is folded
// into the link).
//
// Fabric. Leaf ports are split into down (to NICs) and up (to spines) so that
// down : up = oversubscription: down = floor(radix·o/(1+o)). A leaf with u up
// ports gets one link to each of the S spines (S = the largest u of any leaf),
// of bandwidth u·nic_bandwidth/S, so its uplink capacity is u NIC ports.
// Spines are modelled as non-blocking with one port per leaf.
#include <algorithm>
#include <cmath>
#include <string>

#include "sim/common/assert.hpp"
#include "sim/topology/topology.hpp"

namespace masim::topology {

namespace {

using spec::LinkKind;
using spec::VertexKind;

// Ids are built by appending: GCC 12 at -O3 reports a false -Wrestrict for
// `"n" + std::to_string(n) + "."`.
std::string id_of(const char* a, int i, const char* b = "", int j = -1) {
  std::string s(a);
  s.append(std::to_string(i));
  s.append(b);
  if (j >= 0) s.append(std::to_string(j));
  return s;
}

void add_vertex(spec::TopologySpec& t, std::string id, VertexKind kind, int node, int local) {
  t.vertices.push_back({std::move(id), kind, node, local});
}
void add_link(spec::TopologySpec& t, std::string a, std::string b, Bandwidth bw, SimTime lat,
              LinkKind kind) {
  t.links.push_back({std::move(a), std::move(b), bw, lat, kind});
}

std::string gpu_id(int n, int g) { return id_of("n", n, ".gpu", g); }
std::string nic_id(int n, int i) { return id_of("n", n, ".nic", i); }

// Nodes with their NVSwitch domain and NICs; no fabric.
spec::TopologySpec make_nodes(const ClusterParams& p) {
  MASIM_ASSERT(p.nodes >= 1 && p.gpus_per_node >= 1, "generator needs at least one node and GPU");
  spec::TopologySpec t;
  t.gpu_model = p.gpu_model;
  t.gpus_per_node = p.gpus_per_node;
  t.num_nodes = p.nodes;
  const int g_count = p.gpus_per_node;
  for (int n = 0; n < p.nodes; ++n) {
    for (int g = 0; g < g_count; ++g) add_vertex(t, gpu_id(n, g), VertexKind::kGpu, n, g);
    if (g_count > 1) add_vertex(t, id_of("n", n, ".nvswitch"), VertexKind::kNvSwitch, n, 0);
    for (int i = 0; i < p.nics_per_node; ++i) add_vertex(t, nic_id(n, i), VertexKind::kNic, n, i);
  }
  for (int n = 0; n < p.nodes; ++n) {
    for (int g = 0; g < g_count && g_count > 1; ++g) {
      add_link(t, gpu_id(n, g), id_of("n", n, ".nvswitch"), p.nvlink_per_gpu, p.nvlink_latency,
               LinkKind::kNvLink);
    }
    for (int g = 0; g < g_count; ++g) {
      if (p.nics_per_node > 0) {
        const int nic = static_cast<int>(static_cast<long long>(g) * p.nics_per_node / g_count);
        add_link(t, gpu_id(n, g), nic_id(n, nic), p.pcie_bandwidth, p.pcie_latency, LinkKind::kPcie);
      }
    }
  }
  return t;
}

int down_ports(const ClusterParams& p) {
  const double o = p.oversubscription > 0 ? p.oversubscription : 1.0;
  const int d = static_cast<int>(std::floor(p.leaf_radix * o / (1.0 + o)));
  return std::max(1, d);
}

// Joins leaves to spines. `leaf_down[j]` = NIC ports used on leaf j.
void add_spines(spec::TopologySpec& t, const ClusterParams& p, const std::vector<std::string>& leaves,
                const std::vector<int>& leaf_down) {
  if (leaves.size() < 2) return;
  const double o = p.oversubscription > 0 ? p.oversubscription : 1.0;
  std::vector<int> up(leaves.size());
  int spines = 1;
  for (std::size_t j = 0; j < leaves.size(); ++j) {
    up[j] = std::max(1, static_cast<int>(std::ceil(leaf_down[j] / o - 1e-9)));
    spines = std::max(spines, up[j]);
  }
  for (int s = 0; s < spines; ++s) add_vertex(t, id_of("spine", s), VertexKind::kSpineSwitch, -1, s);
  for (std::size_t j = 0; j < leaves.size(); ++j) {
    const Bandwidth bw = p.nic_bandwidth * (static_cast<double>(up[j]) / spines);
    for (int s = 0; s < spines; ++s) {
      add_link(t, leaves[j], id_of("spine", s), bw, p.switch_latency, LinkKind::kInfiniBand);
    }
  }
}

}  // namespace

spec::TopologySpec make_rail_leaf_spine(const ClusterParams& p) {
  spec::TopologySpec t = make_nodes(p);
  if (p.nodes < 2 || p.nics_per_node < 1) return t;
  const int d = down_ports(p);
  const int leaves_per_rail = (p.nodes + d - 1) / d;
  std::vector<std::string> leaves;
  std::vector<int> leaf_down;
  for (int r = 0; r < p.nics_per_node; ++r) {
    for (int j = 0; j < leaves_per_rail; ++j) {
      const std::string leaf = id_of("rail", r, ".leaf", j);
      add_vertex(t, leaf, VertexKind::kLeafSwitch, -1, r * leaves_per_rail + j);
      const int first = j * d;
      const int last = std::min(p.nodes, first + d);
      for (int n = first; n < last; ++n) {
        add_link(t, nic_id(n, r), leaf, p.nic_bandwidth, p.nic_latency, LinkKind::kInfiniBand);
      }
      leaves.push_back(leaf);
      leaf_down.push_back(last - first);
    }
  }
  add_spines(t, p, leaves, leaf_down);
  return t;
}

spec::TopologySpec make_fat_tree(const ClusterParams& p) {
  spec::TopologySpec t = make_nodes(p);
  if (p.nodes < 2 || p.nics_per_node < 1) return t;
  const int d = down_ports(p);
  const int nodes_per_leaf = std::max(1, d / p.nics_per_node);
  const int leaf_count = (p.nodes + nodes_per_leaf - 1) / nodes_per_leaf;
  std::vector<std::string> leaves;
  std::vector<int> leaf_down;
  for (int j = 0; j < leaf_count; ++j) {
    const std::string leaf = id_of("leaf", j);
    add_vertex(t, leaf, VertexKind::kLeafSwitch, -1, j);
    const int first = j * nodes_per_leaf;
    const int last = std::min(p.nodes, first + nodes_per_leaf);
    for (int n = first; n < last; ++n) {
      for (int i = 0; i < p.nics_per_node; ++i) {
        add_link(t, nic_id(n, i), leaf, p.nic_bandwidth, p.nic_latency, LinkKind::kInfiniBand);
      }
    }
    leaves.push_back(leaf);
    leaf_down.push_back((last - first) * p.nics_per_node);
  }
  add_spines(t, p, leaves, leaf_down);
  return t;
}

spec::TopologySpec make_nvswitch_cluster(const ClusterParams& p) {
  // All NICs on one leaf switch when they fit (e.g. 2 DGX nodes on one 40-port
  // HDR switch); otherwise the rail-optimized leaf/spine of NVIDIA's SuperPOD
  // reference architectures.
  if (p.nodes >= 2 && p.nics_per_node >= 1 &&
      static_cast<long long>(p.nodes) * p.nics_per_node <= p.leaf_radix) {
    spec::TopologySpec t = make_nodes(p);
    add_vertex(t, "leaf0", VertexKind::kLeafSwitch, -1, 0);
    for (int n = 0; n < p.nodes; ++n) {
      for (int i = 0; i < p.nics_per_node; ++i) {
        add_link(t, nic_id(n, i), "leaf0", p.nic_bandwidth, p.nic_latency, LinkKind::kInfiniBand);
      }
    }
    return t;
  }
  return make_rail_leaf_spine(p);
}

}  // namespace masim::topology
