// Strict parsing of topology documents (see topologies/README.md for the format).
//
// Explicit form:
//   {"schema": 1, "name": "dgx-a100", "gpu_model": "...", "sources": ["..."],
//    "vertices": [{"id": "n0.gpu0", "kind": "gpu", "node": 0, "local_index": 0}, ...],
//    "links": [{"a": "n0.gpu0", "b": "n0.nvswitch", "bandwidth": "300 GB/s",
//               "latency": "0.7 us", "kind": "nvlink"}, ...]}
// Generator form:
//   {"schema": 1, "name": "hgx-h100-x16", "gpu_model": "...", "sources": [...],
//    "generator": {"kind": "nvswitch_cluster", "nodes": 16, "gpus_per_node": 8, ...}}
//
// Parsing checks types, units and ranges; structural rules (unique ids, link
// ends, positive bandwidth, connected GPUs) are Topology::build's, so a caller
// that builds gets each problem exactly once.
#include <algorithm>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "sim/io/json_reader.hpp"
#include "sim/topology/topology.hpp"

namespace masim::topology {

namespace {

using io::Dimension;
using io::JsonReader;
using io::Required;

constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<std::string>& vertex_kinds() {
  static const std::vector<std::string> k{"gpu", "nvswitch", "pcie_switch", "cpu", "nic", "leaf", "spine"};
  return k;
}
const std::vector<std::string>& link_kinds() {
  static const std::vector<std::string> k{"nvlink", "pcie", "infiniband", "ethernet", "other"};
  return k;
}

spec::VertexKind vertex_kind_of(const std::string& s) {
  const auto& k = vertex_kinds();
  return static_cast<spec::VertexKind>(std::find(k.begin(), k.end(), s) - k.begin());
}
spec::LinkKind link_kind_of(const std::string& s) {
  const auto& k = link_kinds();
  return static_cast<spec::LinkKind>(std::find(k.begin(), k.end(), s) - k.begin());
}

// A bandwidth key of the generator: must be positive (there is no link index to
// point at later, so this is checked here).
void positive_bandwidth(JsonReader& r, const std::string& key, Bandwidth& out) {
  auto v = r.quantity(key, Dimension::kBandwidth, Required::kNo, -kInf, kInf);
  if (!v) return;
  if (!(*v > 0)) {
    r.error(key, "bandwidth must be positive, found " + r.raw(key)->dump());
    return;
  }
  if (!(*v >= kMinLinkBandwidth && *v <= kMaxLinkBandwidth)) {
    r.error(key, "bandwidth must be in [1 MB/s, 1 PB/s], found " + r.raw(key)->dump());
    return;
  }
  out = Bandwidth::bytes_per_s(*v);
}
void latency(JsonReader& r, const std::string& key, SimTime& out) {
  auto v = r.quantity(key, Dimension::kTime, Required::kNo, 0.0, 1e-3);
  if (v) out = SimTime::seconds(*v);
}

std::optional<spec::TopologySpec> parse_generator(JsonReader& g, const std::string& gpu_model) {
  ClusterParams p;
  if (!gpu_model.empty()) p.gpu_model = gpu_model;
  const auto kind = g.choice("kind", Required::kYes, {"nvswitch_cluster", "rail_leaf_spine", "fat_tree"});
  const auto nodes = g.integer("nodes", Required::kYes, 1, 65536);
  p.gpus_per_node = static_cast<int>(g.integer_or("gpus_per_node", p.gpus_per_node, 1, 1024));
  positive_bandwidth(g, "nvlink_per_gpu", p.nvlink_per_gpu);
  latency(g, "nvlink_latency", p.nvlink_latency);
  p.nics_per_node = static_cast<int>(g.integer_or("nics_per_node", p.nics_per_node, 0, 1024));
  positive_bandwidth(g, "nic_bandwidth", p.nic_bandwidth);
  latency(g, "nic_latency", p.nic_latency);
  positive_bandwidth(g, "pcie_bandwidth", p.pcie_bandwidth);
  latency(g, "pcie_latency", p.pcie_latency);
  latency(g, "switch_latency", p.switch_latency);
  p.oversubscription = g.number_or("oversubscription", p.oversubscription, 0.01, 1000.0);
  p.leaf_radix = static_cast<int>(g.integer_or("leaf_radix", p.leaf_radix, 2, 100000));
  g.finish();
  if (nodes && *nodes * p.gpus_per_node > (1 << 20)) {
    g.error("nodes", "nodes x gpus_per_node must be at most 1048576, found " +
                         std::to_string(*nodes * p.gpus_per_node));
    return std::nullopt;
  }
  if (nodes && *nodes > 1 && p.nics_per_node == 0) {
    g.error("nics_per_node", "a cluster of " + std::to_string(*nodes) + " nodes needs at least one NIC per node");
    return std::nullopt;
  }
  if (!kind || !nodes) return std::nullopt;
  p.nodes = static_cast<int>(*nodes);
  if (*kind == "nvswitch_cluster") return make_nvswitch_cluster(p);
  if (*kind == "rail_leaf_spine") return make_rail_leaf_spine(p);
  return make_fat_tree(p);
}

}  // namespace

std::optional<spec::TopologySpec> parse_topology(const nlohmann::json& doc, const std::string& file,
                                                 const std::string& pointer, io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  JsonReader r(doc, file, pointer, diags);
  if (!r.valid()) return std::nullopt;
  spec::TopologySpec t;
  if (auto schema = r.integer("schema", Required::kYes, 0, 1'000'000); schema && *schema != spec::kSchemaVersion) {
    r.error("schema", "unsupported schema " + std::to_string(*schema) + "; this masim reads schema " +
                          std::to_string(spec::kSchemaVersion));
  }
  t.name = r.string("name", Required::kYes).value_or("");
  r.string_or("description", "");
  t.gpu_model = r.string_or("gpu_model", "");
  if (const auto* src = r.array("sources", Required::kNo)) {
    for (std::size_t i = 0; i < src->size(); ++i) {
      const auto& s = (*src)[i];
      if (!s.is_string()) {
        diags.error(file, io::pointer_join(r.pointer_of("sources"), i),
                    "expected a string (a citation), found " + io::describe(s));
      } else {
        t.sources.push_back(s.get<std::string>());
      }
    }
  }

  const bool has_gen = r.has("generator");
  const bool has_explicit = r.has("vertices") || r.has("links");
  if (has_gen && has_explicit) {
    r.error_here("give either \"generator\" or \"vertices\" and \"links\", not both");
  } else if (!has_gen && !has_explicit) {
    r.error_here("missing \"generator\" or \"vertices\" and \"links\"");
  }

  if (has_gen) {
    if (auto g = r.object("generator", Required::kYes); g && g->valid()) {
      if (auto gen = parse_generator(*g, t.gpu_model)) {
        gen->name = t.name;
        gen->gpu_model = t.gpu_model.empty() ? gen->gpu_model : t.gpu_model;
        gen->sources = t.sources;
        t = std::move(*gen);
      }
    }
  } else if (has_explicit) {
    if (const auto* vs = r.array("vertices", Required::kYes)) {
      std::map<std::pair<int, int>, int> next_local;  // (node, kind) -> next default local_index
      for (std::size_t i = 0; i < vs->size(); ++i) {
        JsonReader v((*vs)[i], file, io::pointer_join(r.pointer_of("vertices"), i), diags);
        if (!v.valid()) continue;
        spec::VertexSpec vx;
        vx.id = v.string("id", Required::kYes).value_or("");
        const auto kind = v.choice("kind", Required::kYes, vertex_kinds());
        // An unknown kind was reported; treat the vertex as a non-GPU so rank checks stay quiet.
        vx.kind = kind ? vertex_kind_of(*kind) : spec::VertexKind::kCpu;
        vx.node = static_cast<int>(v.integer_or("node", vx.kind == spec::VertexKind::kGpu ? 0 : -1, -1, 1 << 20));
        const auto key = std::make_pair(vx.node, static_cast<int>(vx.kind));
        const auto local = v.integer("local_index", Required::kNo, 0, 1 << 20);
        vx.local_index = local ? static_cast<int>(*local) : next_local[key];
        next_local[key] = vx.local_index + 1;
        v.finish();
        t.vertices.push_back(std::move(vx));
      }
    }
    if (const auto* ls = r.array("links", Required::kYes)) {
      for (std::size_t i = 0; i < ls->size(); ++i) {
        JsonReader l((*ls)[i], file, io::pointer_join(r.pointer_of("links"), i), diags);
        if (!l.valid()) continue;
        spec::LinkSpec lk;
        lk.a = l.string("a", Required::kYes).value_or("");
        lk.b = l.string("b", Required::kYes).value_or("");
        // Any value parses here; Topology::build reports non-positive bandwidth.
        if (auto bw = l.quantity("bandwidth", Dimension::kBandwidth, Required::kYes, -kInf, kInf)) {
          lk.bandwidth = Bandwidth::bytes_per_s(*bw);
        }
        if (auto lat = l.quantity("latency", Dimension::kTime, Required::kYes, -kInf, kInf)) {
          // Clamped before the conversion to integer picoseconds (which would
          // overflow for huge values); anything outside [0, 1 ms] is reported by
          // Topology::build, so the clamp never hides a problem.
          lk.latency = SimTime::seconds(std::clamp(*lat, -1.0, 1.0));
        }
        lk.kind = link_kind_of(l.choice_or("kind", "other", link_kinds()));
        l.finish();
        t.links.push_back(std::move(lk));
      }
    }
    // Counts for placement rules (Topology::build re-derives and checks them).
    std::map<int, int> per_node;
    for (const auto& v : t.vertices) {
      if (v.kind == spec::VertexKind::kGpu) ++per_node[v.node];
    }
    t.num_nodes = static_cast<int>(per_node.size());
    t.gpus_per_node = per_node.empty() ? 0 : per_node.begin()->second;
  }
  if (auto f = r.object("network_fit", Required::kNo); f && f->valid()) {
    spec::NetworkFitSpec fit;
    fit.source = f->string("source", Required::kYes).value_or("");
    fit.nvlink_efficiency = f->number("nvlink_efficiency", Required::kYes, 0.01, 1.0).value_or(0.0);
    if (auto lat = f->quantity("intra_node_call_latency", Dimension::kTime, Required::kYes, 0.0, 1e-3)) {
      fit.intra_node_call_latency = SimTime::seconds(*lat);
    }
    fit.fitted_ranks = static_cast<int>(f->integer("fitted_ranks", Required::kYes, 2, 1 << 20).value_or(0));
    fit.fitted_nodes = static_cast<int>(f->integer("fitted_nodes", Required::kYes, 1, 1 << 20).value_or(0));
    if (const auto* ks = f->array("fitted_link_kinds", Required::kYes)) {
      for (std::size_t i = 0; i < ks->size(); ++i) {
        const auto& k = (*ks)[i];
        const auto& names = link_kinds();
        if (!k.is_string() || std::find(names.begin(), names.end(), k.get<std::string>()) == names.end()) {
          diags.error(file, io::pointer_join(f->pointer_of("fitted_link_kinds"), i),
                      "expected a link kind (nvlink, pcie, infiniband, ethernet, other), found " + io::describe(k));
        } else {
          fit.fitted_link_kinds.push_back(link_kind_of(k.get<std::string>()));
        }
      }
    }
    f->finish();
    t.network_fit = std::move(fit);
  }
  r.finish();
  if (diags.size() != before) return std::nullopt;
  return t;
}

}  // namespace masim::topology
