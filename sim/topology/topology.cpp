// Topology validation, ranks and shortest-path routing with ECMP.
//
// Routing: shortest paths by (hop count, then summed latency), computed with
// Boost's Dijkstra on a weight of hops·2^44 + latency_ps (latency per link is at
// most 1 ms = 1e9 ps, so any path under 17,000 hops keeps the two parts apart).
// GPUs are endpoints only: a route never passes through a third GPU (NCCL's
// PXN forwarding is a collective-level choice, not routing). Per source GPU we
// keep the shortest-path DAG (every predecessor link on some shortest path) and
// the number of shortest paths to each vertex; path index `hash mod npaths`
// is decoded from the destination backwards, so distinct indices give distinct
// paths and the same (src, dst, hash) always gives the same path (ECMP).
// The DAG of a source is built the first time a route from it is asked for.
#include "sim/topology/topology.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>

// GCC 12 reports a false -Wmaybe-uninitialized inside Boost's edge iterator (a
// boost::optional member) once Dijkstra is inlined. GCC attributes the warning to
// the header's lines, so silencing it around the includes covers only Boost code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/graph/filtered_graph.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "sim/common/assert.hpp"

namespace masim::topology {

namespace {

constexpr std::int64_t kHopWeight = std::int64_t{1} << 44;
constexpr std::int64_t kMaxLinkLatencyPs = 1'000'000'000;  // 1 ms

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                    boost::property<boost::edge_index_t, LinkId,
                                                    boost::property<boost::edge_weight_t, std::int64_t>>>;

// Out-edges of GPU vertices other than the source are hidden: no transit via GPUs.
struct NoGpuTransit {
  const Graph* g = nullptr;
  const std::vector<char>* is_gpu = nullptr;
  VertexId source = 0;
  template <class Edge>
  bool operator()(const Edge& e) const {
    const auto u = static_cast<VertexId>(boost::source(e, *g));
    return u == source || !(*is_gpu)[u];
  }
};

void shortest_distances(const Graph& graph, const std::vector<char>& is_gpu, VertexId s,
                        std::vector<std::int64_t>& dist) {
  NoGpuTransit pred{&graph, &is_gpu, s};
  boost::filtered_graph<Graph, NoGpuTransit> fg(graph, pred);
  dist.assign(boost::num_vertices(graph), std::numeric_limits<std::int64_t>::max());
  boost::dijkstra_shortest_paths(
      fg, s,
      boost::weight_map(boost::get(boost::edge_weight, graph))
          .distance_map(boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, graph)))
          .distance_inf(std::numeric_limits<std::int64_t>::max()));
}
std::string fmt_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

struct Topology::Impl {
  spec::TopologySpec spec;
  std::vector<DirectedLink> links;        // 2i: a->b of spec link i, 2i+1: b->a
  std::vector<VertexId> rank_vertex;      // GPU rank -> vertex
  std::vector<int> vertex_rank;           // vertex -> GPU rank or -1
  std::vector<int> rank_node;
  std::vector<std::uint64_t> ecmp_label;  // per rank
  std::vector<char> is_gpu;
  int num_nodes = 0;
  int gpus_per_node = 0;
  Graph graph;

  struct SourceDag {
    std::vector<std::int64_t> dist;
    std::vector<std::uint64_t> npaths;     // saturating
    std::vector<std::uint32_t> pred_begin; // CSR into pred_links, size V+1
    std::vector<LinkId> pred_links;        // links u->v on a shortest path, by link id
    std::mutex cache_mu;
    std::map<std::pair<int, std::uint64_t>, std::vector<LinkId>> cache;
  };
  std::vector<std::unique_ptr<SourceDag>> dags;   // per GPU rank
  std::unique_ptr<std::once_flag[]> dag_once;

  const SourceDag& dag(int src) const {
    auto* self = const_cast<Impl*>(this);
    std::call_once(self->dag_once[static_cast<std::size_t>(src)], [self, src] {
      self->dags[static_cast<std::size_t>(src)] = self->compute_dag(src);
    });
    return *dags[static_cast<std::size_t>(src)];
  }

  std::unique_ptr<SourceDag> compute_dag(int src) const {
    const std::size_t nv = spec.vertices.size();
    const VertexId s = rank_vertex[static_cast<std::size_t>(src)];
    auto out = std::make_unique<SourceDag>();
    std::vector<std::int64_t> weight(links.size());
    for (std::size_t l = 0; l < links.size(); ++l) weight[l] = kHopWeight + links[l].latency.count_ps();
    shortest_distances(graph, is_gpu, s, out->dist);
    // Shortest-path DAG: link u->v with dist[u] + w == dist[v], u not a transit GPU.
    std::vector<std::vector<LinkId>> preds(nv);
    for (LinkId l = 0; l < links.size(); ++l) {
      const auto& dl = links[l];
      if (dl.from != s && is_gpu[dl.from]) continue;
      const auto du = out->dist[dl.from];
      if (du == std::numeric_limits<std::int64_t>::max()) continue;
      if (du + weight[l] == out->dist[dl.to]) preds[dl.to].push_back(l);
    }
    // Path counts: npaths(v) = sum of npaths(u) over DAG predecessors u, by an
    // iterative depth-first walk over predecessors (memoized; no sort needed).
    constexpr std::uint64_t kUnset = std::numeric_limits<std::uint64_t>::max() - 1;
    constexpr std::uint64_t kSat = std::numeric_limits<std::uint64_t>::max();
    out->npaths.assign(nv, kUnset);
    out->npaths[s] = 1;
    std::vector<std::pair<VertexId, std::size_t>> stack;
    for (VertexId root = 0; root < nv; ++root) {
      if (out->npaths[root] != kUnset) continue;
      if (out->dist[root] == std::numeric_limits<std::int64_t>::max()) {
        out->npaths[root] = 0;
        continue;
      }
      stack.emplace_back(root, 0);
      while (!stack.empty()) {
        auto& [v, k] = stack.back();
        if (k < preds[v].size()) {
          const VertexId u = links[preds[v][k]].from;
          ++k;
          if (out->npaths[u] == kUnset) stack.emplace_back(u, 0);
          continue;
        }
        std::uint64_t n = 0;
        for (LinkId l : preds[v]) {
          const std::uint64_t add = out->npaths[links[l].from];
          n = (add >= kSat - n) ? kSat - 1 : n + add;  // saturate below the marker values
        }
        out->npaths[v] = n;
        stack.pop_back();
      }
    }
    out->pred_begin.resize(nv + 1);
    for (std::size_t v = 0; v < nv; ++v) {
      out->pred_begin[v] = static_cast<std::uint32_t>(out->pred_links.size());
      out->pred_links.insert(out->pred_links.end(), preds[v].begin(), preds[v].end());
    }
    out->pred_begin[nv] = static_cast<std::uint32_t>(out->pred_links.size());
    return out;
  }

  void walk(int src, int dst, std::uint64_t hash, std::vector<LinkId>& out) const {
    MASIM_ASSERT(src >= 0 && src < static_cast<int>(rank_vertex.size()), "route source out of range");
    MASIM_ASSERT(dst >= 0 && dst < static_cast<int>(rank_vertex.size()), "route destination out of range");
    if (src == dst) return;
    const SourceDag& d = dag(src);
    const VertexId s = rank_vertex[static_cast<std::size_t>(src)];
    VertexId v = rank_vertex[static_cast<std::size_t>(dst)];
    MASIM_ASSERT(d.npaths[v] > 0, "no route between GPUs (validation should have caught this)");
    std::uint64_t idx = hash % d.npaths[v];
    const std::size_t first = out.size();
    while (v != s) {
      LinkId chosen = 0;
      bool found = false;
      for (std::uint32_t k = d.pred_begin[v]; k < d.pred_begin[v + 1]; ++k) {
        const LinkId l = d.pred_links[k];
        const std::uint64_t n = d.npaths[links[l].from];
        if (idx < n) {
          chosen = l;
          found = true;
          break;
        }
        idx -= n;
      }
      MASIM_ASSERT(found, "ECMP path index out of range");
      out.push_back(chosen);
      v = links[chosen].from;
    }
    std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  }
};

Topology::Topology() : impl_(std::make_unique<Impl>()) {}
Topology::Topology(Topology&&) noexcept = default;
Topology& Topology::operator=(Topology&&) noexcept = default;
Topology::~Topology() = default;

std::optional<Topology> Topology::build(const spec::TopologySpec& spec, const std::string& file,
                                        io::Diagnostics& diags) {
  return build(spec, file, "", diags);
}

std::optional<Topology> Topology::build(const spec::TopologySpec& spec, const std::string& file,
                                        const std::string& pointer, io::Diagnostics& diags) {
  return build(spec, file, pointer, diags, Connectivity::kRequired);
}

std::optional<Topology> Topology::build(const spec::TopologySpec& spec, const std::string& file,
                                        const std::string& pointer, io::Diagnostics& diags,
                                        Connectivity connectivity) {
  const std::size_t errors_before = diags.size();
  const std::string vptr = io::pointer_join(pointer, "vertices");
  const std::string lptr = io::pointer_join(pointer, "links");

  // Rule: vertex ids are unique.
  std::unordered_map<std::string, VertexId> id_of;
  std::vector<std::string> all_ids;
  id_of.reserve(spec.vertices.size());
  for (std::size_t i = 0; i < spec.vertices.size(); ++i) {
    const auto& v = spec.vertices[i];
    const std::string here = io::pointer_join(io::pointer_join(vptr, i), "id");
    if (v.id.empty()) {
      diags.error(file, here, "vertex id must not be empty");
      continue;
    }
    auto [it, inserted] = id_of.emplace(v.id, static_cast<VertexId>(i));
    if (!inserted) {
      diags.error(file, here,
                  "duplicate vertex id \"" + v.id + "\" (first defined at " +
                      io::pointer_join(vptr, it->second) + ")");
    } else {
      all_ids.push_back(v.id);
    }
  }

  // Rules: link ends exist and differ, bandwidth positive, latency in [0, 1 ms].
  std::vector<DirectedLink> links;
  links.reserve(spec.links.size() * 2);
  bool links_ok = true;
  for (std::size_t i = 0; i < spec.links.size(); ++i) {
    const auto& l = spec.links[i];
    const std::string here = io::pointer_join(lptr, i);
    VertexId ends[2] = {0, 0};
    bool ok = true;
    const std::string* names[2] = {&l.a, &l.b};
    for (int e = 0; e < 2; ++e) {
      auto it = id_of.find(*names[e]);
      if (it == id_of.end()) {
        std::string msg = "link end \"" + *names[e] + "\" is not a vertex id";
        // Did-you-mean over all ids costs O(V) per bad link; only bad input pays it.
        const std::string near = io::nearest(*names[e], all_ids);
        if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
        diags.error(file, io::pointer_join(here, e == 0 ? "a" : "b"), msg);
        ok = false;
      } else {
        ends[e] = it->second;
      }
    }
    if (ok && ends[0] == ends[1]) {
      diags.error(file, here, "link joins vertex \"" + l.a + "\" to itself");
      ok = false;
    }
    if (!(l.bandwidth.bytes_per_s() > 0.0) || !std::isfinite(l.bandwidth.bytes_per_s())) {
      diags.error(file, io::pointer_join(here, "bandwidth"),
                  "link bandwidth must be positive, found " + fmt_g(l.bandwidth.gb_per_s()) + " GB/s");
      ok = false;
    } else if (l.bandwidth.bytes_per_s() < kMinLinkBandwidth || l.bandwidth.bytes_per_s() > kMaxLinkBandwidth) {
      diags.error(file, io::pointer_join(here, "bandwidth"),
                  "link bandwidth must be in [1 MB/s, 1 PB/s], found " + fmt_g(l.bandwidth.gb_per_s()) + " GB/s");
      ok = false;
    }
    if (l.latency.count_ps() < 0 || l.latency.count_ps() > kMaxLinkLatencyPs) {
      diags.error(file, io::pointer_join(here, "latency"),
                  "link latency must be in [0, 1 ms], found " + fmt_g(l.latency.us()) + " us");
      ok = false;
    }
    links_ok = links_ok && ok;
    if (ok) {
      links.push_back({ends[0], ends[1], l.bandwidth, l.latency, l.kind});
      links.push_back({ends[1], ends[0], l.bandwidth, l.latency, l.kind});
    }
  }

  // Rule: GPUs are numbered densely per node (local_index 0..G-1, same G on every node).
  std::vector<std::size_t> gpu_idx;
  for (std::size_t i = 0; i < spec.vertices.size(); ++i) {
    if (spec.vertices[i].kind == spec::VertexKind::kGpu) gpu_idx.push_back(i);
  }
  if (gpu_idx.empty()) {
    diags.error(file, vptr, "the topology has no GPU (a vertex of kind \"gpu\")");
  }
  std::sort(gpu_idx.begin(), gpu_idx.end(), [&](std::size_t a, std::size_t b) {
    const auto& va = spec.vertices[a];
    const auto& vb = spec.vertices[b];
    if (va.node != vb.node) return va.node < vb.node;
    if (va.local_index != vb.local_index) return va.local_index < vb.local_index;
    return a < b;
  });
  std::map<int, std::vector<std::size_t>> by_node;
  for (std::size_t i : gpu_idx) {
    const auto& v = spec.vertices[i];
    if (v.node < 0) {
      diags.error(file, io::pointer_join(io::pointer_join(vptr, i), "node"),
                  "node must be >= 0, found " + std::to_string(v.node));
      continue;
    }
    by_node[v.node].push_back(i);
  }
  int gpn = -1;
  int expect_node = 0;
  for (const auto& [node, members] : by_node) {
    if (node != expect_node) {
      diags.error(file, vptr,
                  "GPU nodes must be numbered 0, 1, 2, ... without gaps; node " +
                      std::to_string(expect_node) + " has no GPU but node " + std::to_string(node) +
                      " does");
      break;
    }
    ++expect_node;
    for (std::size_t k = 0; k < members.size(); ++k) {
      const auto& v = spec.vertices[members[k]];
      if (v.local_index != static_cast<int>(k)) {
        diags.error(file, io::pointer_join(io::pointer_join(vptr, members[k]), "local_index"),
                    "GPU local indices on node " + std::to_string(node) + " must be 0.." +
                        std::to_string(members.size() - 1) + " without repeats; GPU \"" + v.id +
                        "\" has local_index " + std::to_string(v.local_index));
        break;
      }
    }
    if (gpn < 0) {
      gpn = static_cast<int>(members.size());
    } else if (gpn != static_cast<int>(members.size())) {
      diags.error(file, vptr,
                  "every node must have the same number of GPUs: node 0 has " + std::to_string(gpn) +
                      ", node " + std::to_string(node) + " has " + std::to_string(members.size()));
    }
  }
  if (spec.gpus_per_node > 0 && gpn > 0 && spec.gpus_per_node != gpn) {
    diags.error(file, io::pointer_join(pointer, "gpus_per_node"),
                "gpus_per_node is " + std::to_string(spec.gpus_per_node) + " but the vertices have " +
                    std::to_string(gpn) + " GPUs per node");
  }
  if (diags.size() != errors_before || !links_ok) return std::nullopt;

  Topology topo;
  Impl& im = *topo.impl_;
  im.spec = spec;
  im.links = std::move(links);
  im.num_nodes = static_cast<int>(by_node.size());
  im.gpus_per_node = gpn;
  im.spec.gpus_per_node = gpn;
  im.spec.num_nodes = im.num_nodes;
  const std::size_t nv = spec.vertices.size();
  im.vertex_rank.assign(nv, -1);
  im.is_gpu.assign(nv, 0);
  for (std::size_t r = 0; r < gpu_idx.size(); ++r) {
    const auto v = static_cast<VertexId>(gpu_idx[r]);
    im.rank_vertex.push_back(v);
    im.rank_node.push_back(spec.vertices[v].node);
    im.vertex_rank[v] = static_cast<int>(r);
    im.is_gpu[v] = 1;
  }
  im.graph = Graph(nv);
  for (LinkId l = 0; l < im.links.size(); ++l) {
    boost::add_edge(im.links[l].from, im.links[l].to,
                    Graph::edge_property_type(l, kHopWeight + im.links[l].latency.count_ps()), im.graph);
  }
  const std::size_t ng = im.rank_vertex.size();
  im.dags.resize(ng);
  im.dag_once = std::make_unique<std::once_flag[]>(ng);

  // ECMP labels: a GPU's first NIC neighbour, that NIC's first leaf neighbour,
  // the NIC's position among the leaf's NIC neighbours (link order).
  {
    std::vector<std::vector<VertexId>> nbrs(nv);
    for (const auto& l : im.links) nbrs[l.from].push_back(l.to);
    auto first_of = [&](VertexId v, spec::VertexKind k) -> std::optional<VertexId> {
      for (VertexId u : nbrs[v]) {
        if (spec.vertices[u].kind == k) return u;
      }
      return std::nullopt;
    };
    im.ecmp_label.resize(ng);
    for (std::size_t r = 0; r < ng; ++r) {
      im.ecmp_label[r] = r;
      const auto nic = first_of(im.rank_vertex[r], spec::VertexKind::kNic);
      if (!nic) continue;
      const auto leaf = first_of(*nic, spec::VertexKind::kLeafSwitch);
      if (!leaf) continue;
      std::uint64_t port = 0;
      for (VertexId u : nbrs[*leaf]) {
        if (u == *nic) break;
        port += spec.vertices[u].kind == spec::VertexKind::kNic;
      }
      std::uint64_t sharing = 0, mine = 0;
      for (VertexId u : nbrs[*nic]) {
        if (!im.is_gpu[u]) continue;
        if (u == im.rank_vertex[r]) mine = sharing;
        ++sharing;
      }
      im.ecmp_label[r] = port * sharing + mine;
    }
  }

  // Rule: every GPU reaches every other GPU without passing through a third GPU.
  // Reachability is symmetric (links are full duplex, and GPU transit is excluded
  // both ways), so checking from GPU 0 suffices.
  if (connectivity == Connectivity::kAllowCutOff) return topo;
  const auto& d0 = im.dag(0);
  int reported = 0;
  for (std::size_t r = 1; r < ng; ++r) {
    if (d0.npaths[im.rank_vertex[r]] == 0) {
      if (reported < 8) {
        const auto v = im.rank_vertex[r];
        diags.error(file, io::pointer_join(vptr, v),
                    "GPU \"" + spec.vertices[v].id + "\" (rank " + std::to_string(r) +
                        ") is disconnected: no path to GPU \"" + spec.vertices[im.rank_vertex[0]].id +
                        "\" that avoids passing through other GPUs");
      }
      ++reported;
    }
  }
  if (reported > 8) {
    diags.error(file, vptr, std::to_string(reported - 8) + " more disconnected GPUs not listed");
  }
  if (reported > 0) return std::nullopt;
  return topo;
}

const spec::TopologySpec& Topology::spec() const { return impl_->spec; }
int Topology::num_gpus() const { return static_cast<int>(impl_->rank_vertex.size()); }
int Topology::num_nodes() const { return impl_->num_nodes; }
int Topology::gpus_per_node() const { return impl_->gpus_per_node; }
int Topology::node_of_gpu(int rank) const {
  MASIM_ASSERT(rank >= 0 && rank < num_gpus(), "GPU rank out of range");
  return impl_->rank_node[static_cast<std::size_t>(rank)];
}
VertexId Topology::gpu_vertex(int rank) const {
  MASIM_ASSERT(rank >= 0 && rank < num_gpus(), "GPU rank out of range");
  return impl_->rank_vertex[static_cast<std::size_t>(rank)];
}
std::uint64_t Topology::ecmp_label(int rank) const {
  MASIM_ASSERT(rank >= 0 && rank < num_gpus(), "GPU rank out of range");
  return impl_->ecmp_label[static_cast<std::size_t>(rank)];
}
int Topology::gpu_rank(VertexId v) const {
  return v < impl_->vertex_rank.size() ? impl_->vertex_rank[v] : -1;
}
const std::vector<DirectedLink>& Topology::links() const { return impl_->links; }
const std::vector<spec::VertexSpec>& Topology::vertices() const { return impl_->spec.vertices; }

int Topology::num_paths(int src, int dst) const {
  MASIM_ASSERT(src >= 0 && src < num_gpus() && dst >= 0 && dst < num_gpus(), "GPU rank out of range");
  if (src == dst) return 0;
  const auto n = impl_->dag(src).npaths[impl_->rank_vertex[static_cast<std::size_t>(dst)]];
  return n > static_cast<std::uint64_t>(std::numeric_limits<int>::max()) ? std::numeric_limits<int>::max()
                                                                         : static_cast<int>(n);
}

void Topology::route_into(int src, int dst, std::uint64_t hash, std::vector<LinkId>& out) const {
  impl_->walk(src, dst, hash, out);
}

const std::vector<LinkId>& Topology::route(int src, int dst, std::uint64_t hash) const {
  auto& d = const_cast<Impl::SourceDag&>(impl_->dag(src));
  const std::uint64_t n = src == dst ? 1 : d.npaths[impl_->rank_vertex[static_cast<std::size_t>(dst)]];
  const auto key = std::make_pair(dst, n == 0 ? 0 : hash % n);
  std::lock_guard<std::mutex> lock(d.cache_mu);
  auto it = d.cache.find(key);
  if (it == d.cache.end()) {
    std::vector<LinkId> path;
    impl_->walk(src, dst, hash, path);
    it = d.cache.emplace(key, std::move(path)).first;
  }
  return it->second;  // std::map nodes are stable
}

SimTime Topology::path_latency(int src, int dst, std::uint64_t hash) const {
  SimTime t = SimTime::zero();
  for (LinkId l : route(src, dst, hash)) t += impl_->links[l].latency;
  return t;
}

}  // namespace masim::topology
