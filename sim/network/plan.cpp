// How collectives become flows (see plan.hpp). Sources for the algorithms:
//  - NCCL ring: each of c channels is a ring over all n ranks; all-reduce is a
//    reduce-scatter then an all-gather, 2(n-1) steps of S/(c·n) per step per hop.
//    NCCL pipelines the steps (chunks follow each other round the ring), so every
//    hop carries 2(n-1)/n · S/c in total while the ring's latency is 2(n-1) step
//    latencies. On a uniform ring the step model's time is
//      2(n-1)·(α + S/(c·n·B)) = 2(n-1)·α + 2(n-1)/n · S/(c·B),
//    and n concurrent flows of 2(n-1)/n · S/c each at rate B, started after
//    2(n-1)·α of delay, end at exactly that time: the two models agree.
//  - NCCL tree (Sanders et al. 2009 double binary trees, NCCL 2.4): inside a node a
//    chain to the node's leader GPU, across nodes two binary trees over the nodes,
//    each carrying half the data, reduce up then broadcast down, pipelined.
//  - Pairwise all-to-all: every rank sends S/n to every other rank (NCCL groups
//    n-1 ncclSend/ncclRecv); across nodes through a GPU on the destination's rail
//    (PXN, NCCL 2.12), which turns cross-rail traffic into NVLink + one rail flow.
//  - Hierarchical all-reduce: reduce-scatter inside each node over NVLink, an
//    all-reduce per local slot across nodes over the NICs, all-gather inside nodes.
// Latencies per call and per step are NCCL's cost model (NetworkParams).
#include "sim/network/plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/common/assert.hpp"

namespace masim::network {

namespace {

using topology::Topology;

struct Group {
  std::vector<int> ranks;                    // as requested
  std::vector<int> nodes;                    // distinct nodes, first-appearance order
  std::vector<std::vector<int>> members;     // per node in `nodes`, in request order
  int n = 0;
  int num_nodes() const { return static_cast<int>(nodes.size()); }
  int min_members() const {
    int m = std::numeric_limits<int>::max();
    for (const auto& v : members) m = std::min(m, static_cast<int>(v.size()));
    return m;
  }
  bool uniform() const {
    for (const auto& v : members) {
      if (v.size() != members.front().size()) return false;
    }
    return true;
  }
};

Group make_group(const Topology& topo, const std::vector<int>& ranks) {
  Group g;
  g.ranks = ranks;
  g.n = static_cast<int>(ranks.size());
  std::vector<int> node_slot(static_cast<std::size_t>(topo.num_nodes()), -1);
  for (int r : ranks) {
    const int node = topo.node_of_gpu(r);
    int& slot = node_slot[static_cast<std::size_t>(node)];
    if (slot < 0) {
      slot = static_cast<int>(g.nodes.size());
      g.nodes.push_back(node);
      g.members.emplace_back();
    }
    g.members[static_cast<std::size_t>(slot)].push_back(r);
  }
  return g;
}

int nics_per_node(const Topology& topo) {
  int nics = 0;
  for (const auto& v : topo.vertices()) nics += v.kind == spec::VertexKind::kNic && v.node == 0;
  return nics;
}

// Channels across nodes: one per member GPU of a node, at most the NICs per node.
int channel_count(const Topology& topo, const NetworkParams& params, const Group& g) {
  if (g.num_nodes() <= 1) return 1;
  int c = g.min_members();
  const int nics = nics_per_node(topo);
  if (nics > 0) c = std::min(c, nics);
  if (params.max_channels > 0) c = std::min(c, params.max_channels);
  return std::max(1, c);
}

// Ring for channel `ch`: nodes in group order; inside node i the members rotated
// to start at ch, so each channel leaves a node from a different GPU (NIC).
std::vector<int> ring_order(const Group& g, int ch) {
  if (g.num_nodes() <= 1) return g.ranks;
  std::vector<int> out;
  out.reserve(static_cast<std::size_t>(g.n));
  for (const auto& m : g.members) {
    const std::size_t k = m.size();
    for (std::size_t j = 0; j < k; ++j) out.push_back(m[(static_cast<std::size_t>(ch) + j) % k]);
  }
  return out;
}

FlowSpec flow(const Topology& topo, int src, int dst, double payload, double factor) {
  const auto p = static_cast<std::int64_t>(std::llround(payload));
  return FlowSpec{src, dst, p, static_cast<double>(p) / factor, topo.ecmp_label(dst)};
}

// Latency the flows of a phase do not model themselves: the steps' latencies
// minus the path latency a flow adds on delivery (largest of a few samples:
// the first intra-node and the first inter-node flow).
SimTime phase_delay(const Topology& topo, const std::vector<FlowSpec>& flows, SimTime step_latencies) {
  SimTime path = SimTime::zero();
  bool seen_intra = false, seen_inter = false;
  for (const auto& f : flows) {
    const bool inter = topo.node_of_gpu(f.src) != topo.node_of_gpu(f.dst);
    if ((inter && seen_inter) || (!inter && seen_intra)) continue;
    (inter ? seen_inter : seen_intra) = true;
    path = std::max(path, topo.path_latency(f.src, f.dst, f.hash));
    if (seen_inter && seen_intra) break;
  }
  return step_latencies > path ? step_latencies - path : SimTime::zero();
}

SimTime steps(int intra, int inter, SimTime a_intra, SimTime a_inter) {
  return a_intra * static_cast<std::int64_t>(std::max(0, intra)) +
         a_inter * static_cast<std::int64_t>(std::max(0, inter));
}

SimTime call_latency(const NetworkParams& params, const ProtocolParams& pp, const Group& g) {
  return pp.call_latency +
         (g.num_nodes() > 1 ? params.inter_node_call_latency : params.intra_node_call_latency);
}

// Ring collectives: `per_hop` bytes per flow per channel (already divided by c),
// `nsteps`/`inter_steps` as NCCL counts them; `chain` drops the wrap-around hop.
Phase ring_phase(const Topology& topo, const Group& g, int c, double per_hop, double factor,
                 int nsteps, int inter_steps, const ProtocolParams& pp, bool chain, int root_index) {
  Phase ph;
  ph.flows.reserve(static_cast<std::size_t>(g.n) * static_cast<std::size_t>(c));
  for (int ch = 0; ch < c; ++ch) {
    std::vector<int> r = ring_order(g, ch);
    if (chain) {
      // Broadcast: start at the root; reduce: end at the root (root_index < 0).
      const int root = g.ranks[static_cast<std::size_t>(std::abs(root_index) - 1)];
      const auto it = std::find(r.begin(), r.end(), root);
      std::rotate(r.begin(), it, r.end());
      if (root_index < 0) std::reverse(r.begin(), r.end());
    }
    const std::size_t k = r.size();
    const std::size_t hops = chain ? k - 1 : k;
    for (std::size_t i = 0; i < hops; ++i) ph.flows.push_back(flow(topo, r[i], r[(i + 1) % k], per_hop, factor));
  }
  ph.delay = phase_delay(topo, ph.flows,
                         steps(nsteps - inter_steps, inter_steps, pp.ring_nvlink_step, pp.ring_net_step));
  return ph;
}

// Binary tree over 0..n-1 by recursive halving; parent[root] = -1. Returns depth.
int build_btree(int lo, int hi, int parent, std::vector<int>& par, int depth) {
  if (lo >= hi) return depth - 1;
  const int mid = lo + (hi - lo) / 2;
  par[static_cast<std::size_t>(mid)] = parent;
  return std::max(build_btree(lo, mid, mid, par, depth + 1), build_btree(mid + 1, hi, mid, par, depth + 1));
}

Plan plan_tree_allreduce(const Topology& topo, const Group& g, int c, double S, const ProtocolParams& pp) {
  Plan plan;
  plan.algorithm = Algorithm::kTree;
  plan.channels = c;
  const int N = g.num_nodes();
  std::vector<int> par0(static_cast<std::size_t>(N), -1);
  const int depth = build_btree(0, N, -1, par0, 0);
  // Second tree: the first with every node label shifted by one, so a node that
  // is interior in one tree is (mostly) a leaf in the other.
  std::vector<int> par1(static_cast<std::size_t>(N), -1);
  for (int i = 0; i < N; ++i) {
    const int p = par0[static_cast<std::size_t>(i)];
    par1[static_cast<std::size_t>((i + 1) % N)] = p < 0 ? -1 : (p + 1) % N;
  }
  Phase ph;
  const double chain_bytes = S / c;        // both trees' halves share the chain
  const double tree_bytes = S / (2.0 * c);  // each tree carries half
  for (int ch = 0; ch < c; ++ch) {
    std::vector<int> leader(static_cast<std::size_t>(N));
    for (int i = 0; i < N; ++i) {
      const auto& m = g.members[static_cast<std::size_t>(i)];
      const std::size_t k = m.size();
      leader[static_cast<std::size_t>(i)] = m[static_cast<std::size_t>(ch) % k];
      for (std::size_t j = 1; j < k; ++j) {
        const int up = m[(static_cast<std::size_t>(ch) + j) % k];
        const int down = m[(static_cast<std::size_t>(ch) + j - 1) % k];
        ph.flows.push_back(flow(topo, up, down, chain_bytes, pp.bandwidth_factor));   // reduce
        ph.flows.push_back(flow(topo, down, up, chain_bytes, pp.bandwidth_factor));   // broadcast
      }
    }
    for (const auto* par : {&par0, &par1}) {
      for (int i = 0; i < N; ++i) {
        const int p = (*par)[static_cast<std::size_t>(i)];
        if (p < 0) continue;
        const int a = leader[static_cast<std::size_t>(i)];
        const int b = leader[static_cast<std::size_t>(p)];
        ph.flows.push_back(flow(topo, a, b, tree_bytes, pp.bandwidth_factor));
        ph.flows.push_back(flow(topo, b, a, tree_bytes, pp.bandwidth_factor));
      }
    }
  }
  const int intra = g.min_members() - 1;
  ph.delay = phase_delay(topo, ph.flows,
                         steps(2 * intra, 2 * std::max(1, depth), pp.tree_nvlink_step, pp.tree_net_step));
  plan.phases.push_back(std::move(ph));
  return plan;
}

Plan plan_hierarchical_allreduce(const Topology& topo, const Group& g, double S, const ProtocolParams& pp) {
  Plan plan;
  plan.algorithm = Algorithm::kHierarchical;
  const int N = g.num_nodes();
  const int m = static_cast<int>(g.members.front().size());
  plan.channels = m;
  const double f = pp.bandwidth_factor;
  auto intra_ring = [&](double per_hop) {
    Phase ph;
    for (const auto& mem : g.members) {
      for (std::size_t j = 0; j < mem.size(); ++j) {
        ph.flows.push_back(flow(topo, mem[j], mem[(j + 1) % mem.size()], per_hop, f));
      }
    }
    ph.delay = phase_delay(topo, ph.flows, steps(m - 1, 0, pp.ring_nvlink_step, pp.ring_net_step));
    return ph;
  };
  if (m > 1) plan.phases.push_back(intra_ring((m - 1.0) / m * S));  // reduce-scatter
  Phase inter;
  const double per_hop = 2.0 * (N - 1.0) / N * S / m;
  for (int k = 0; k < m; ++k) {
    for (int i = 0; i < N; ++i) {
      const int a = g.members[static_cast<std::size_t>(i)][static_cast<std::size_t>(k)];
      const int b = g.members[static_cast<std::size_t>((i + 1) % N)][static_cast<std::size_t>(k)];
      inter.flows.push_back(flow(topo, a, b, per_hop, f));
    }
  }
  inter.delay = phase_delay(topo, inter.flows, steps(0, 2 * (N - 1), pp.ring_nvlink_step, pp.ring_net_step));
  plan.phases.push_back(std::move(inter));
  if (m > 1) plan.phases.push_back(intra_ring((m - 1.0) / m * S));  // all-gather
  return plan;
}

// Hierarchical all-gather (inter-node then intra-node) and reduce-scatter
// (intra-node then inter-node), each rank holding S/n: the inter-node rings join
// the k-th GPU of every node and move (N-1)·S/n per hop; the intra-node rings
// move (m-1)/m · S per hop.
Plan plan_hierarchical_gather(const Topology& topo, const Group& g, double S, const ProtocolParams& pp,
                              bool gather) {
  Plan plan;
  plan.algorithm = Algorithm::kHierarchical;
  const int N = g.num_nodes();
  const int m = static_cast<int>(g.members.front().size());
  const int n = N * m;
  plan.channels = m;
  const double f = pp.bandwidth_factor;
  Phase intra;
  if (m > 1) {
    for (const auto& mem : g.members) {
      for (std::size_t j = 0; j < mem.size(); ++j) {
        intra.flows.push_back(flow(topo, mem[j], mem[(j + 1) % mem.size()], (m - 1.0) / m * S, f));
      }
    }
    intra.delay = phase_delay(topo, intra.flows, steps(m - 1, 0, pp.ring_nvlink_step, pp.ring_net_step));
  }
  Phase inter;
  for (int k = 0; k < m; ++k) {
    for (int i = 0; i < N; ++i) {
      const int a = g.members[static_cast<std::size_t>(i)][static_cast<std::size_t>(k)];
      const int b = g.members[static_cast<std::size_t>((i + 1) % N)][static_cast<std::size_t>(k)];
      inter.flows.push_back(flow(topo, a, b, (N - 1.0) * S / n, f));
    }
  }
  inter.delay = phase_delay(topo, inter.flows, steps(0, N - 1, pp.ring_nvlink_step, pp.ring_net_step));
  if (gather) {
    plan.phases.push_back(std::move(inter));
    if (m > 1) plan.phases.push_back(std::move(intra));
  } else {
    if (m > 1) plan.phases.push_back(std::move(intra));
    plan.phases.push_back(std::move(inter));
  }
  return plan;
}

// Pairwise exchange from an explicit byte function, with PXN across nodes.
// Aggregation: bytes from src to a GPU of its own node (direct, or staged for
// that GPU's rail) go in stage[src][local slot]; bytes from node a to remote dst
// leave from a's GPU on dst's rail: inter[a][dst]. Flows come out in index order.
template <class BytesOf>
Phase pairwise_phase(const Topology& topo, const NetworkParams& params, const std::vector<int>& senders,
                     const std::vector<int>& receivers, BytesOf bytes_of, const ProtocolParams& pp) {
  const int G = topo.gpus_per_node();
  const int total = topo.num_gpus();
  std::vector<char> member(static_cast<std::size_t>(total), 0);
  for (int r : senders) member[static_cast<std::size_t>(r)] = 1;
  for (int r : receivers) member[static_cast<std::size_t>(r)] = 1;
  std::vector<int> node_idx(static_cast<std::size_t>(topo.num_nodes()), -1);
  std::vector<int> nodes;
  for (int r : senders) {
    int& s = node_idx[static_cast<std::size_t>(topo.node_of_gpu(r))];
    if (s < 0) {
      s = static_cast<int>(nodes.size());
      nodes.push_back(topo.node_of_gpu(r));
    }
  }

  const std::size_t ns = senders.size(), nr = receivers.size();
  std::vector<double> stage(ns * static_cast<std::size_t>(G), 0.0);
  std::vector<double> inter(nodes.size() * nr, 0.0);
  std::vector<double> direct;  // cross-node pairs without a PXN GPU: [s * nr + r]
  bool any_inter = false;
  for (std::size_t i = 0; i < ns; ++i) {
    const int src = senders[i];
    const int sn = topo.node_of_gpu(src);
    for (std::size_t j = 0; j < nr; ++j) {
      const int dst = receivers[j];
      if (dst == src) continue;
      const double b = bytes_of(i, j);
      if (b <= 0) continue;
      const int dn = topo.node_of_gpu(dst);
      const int slot = dst % G;
      if (dn == sn) {
        stage[i * static_cast<std::size_t>(G) + static_cast<std::size_t>(slot)] += b;
        continue;
      }
      any_inter = true;
      const int proxy = sn * G + slot;
      if (params.pxn && member[static_cast<std::size_t>(proxy)]) {
        if (proxy != src) stage[i * static_cast<std::size_t>(G) + static_cast<std::size_t>(slot)] += b;
        inter[static_cast<std::size_t>(node_idx[static_cast<std::size_t>(sn)]) * nr + j] += b;
      } else {
        if (direct.empty()) direct.assign(ns * nr, 0.0);
        direct[i * nr + j] += b;
      }
    }
  }
  Phase ph;
  const double f = pp.bandwidth_factor;
  for (std::size_t i = 0; i < ns; ++i) {
    const int base = topo.node_of_gpu(senders[i]) * G;
    for (int s = 0; s < G; ++s) {
      const double b = stage[i * static_cast<std::size_t>(G) + static_cast<std::size_t>(s)];
      if (b > 0) ph.flows.push_back(flow(topo, senders[i], base + s, b, f));
    }
  }
  for (std::size_t a = 0; a < nodes.size(); ++a) {
    for (std::size_t j = 0; j < nr; ++j) {
      const double b = inter[a * nr + j];
      if (b > 0) ph.flows.push_back(flow(topo, nodes[a] * G + receivers[j] % G, receivers[j], b, f));
    }
  }
  for (std::size_t k = 0; k < direct.size(); ++k) {
    if (direct[k] > 0) ph.flows.push_back(flow(topo, senders[k / nr], receivers[k % nr], direct[k], f));
  }
  ph.delay = phase_delay(topo, ph.flows, any_inter ? pp.ring_net_step : pp.ring_nvlink_step);
  return ph;
}

Plan plan_fixed(const Topology& topo, const NetworkParams& params, const CollectiveRequest& req,
                Algorithm algorithm, Protocol protocol) {
  const ProtocolParams& pp = params.protocol(protocol);
  const Group g = make_group(topo, req.ranks);
  const int n = g.n;
  const int N = g.num_nodes();
  const double S = req.bytes.as_double();
  const double f = pp.bandwidth_factor;
  Plan plan;
  plan.algorithm = algorithm;
  plan.protocol = protocol;
  switch (req.kind) {
    case CollectiveKind::kAllReduce: {
      if (algorithm == Algorithm::kTree && N > 1) {
        plan = plan_tree_allreduce(topo, g, channel_count(topo, params, g), S, pp);
        break;
      }
      if (algorithm == Algorithm::kHierarchical && N > 1 && g.uniform()) {
        plan = plan_hierarchical_allreduce(topo, g, S, pp);
        break;
      }
      plan.algorithm = Algorithm::kRing;
      const int c = channel_count(topo, params, g);
      plan.channels = c;
      plan.phases.push_back(ring_phase(topo, g, c, 2.0 * (n - 1) / n * S / c, f, 2 * (n - 1),
                                       N > 1 ? 2 * (N - 1) : 0, pp, false, 0));
      break;
    }
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter: {
      if (algorithm == Algorithm::kHierarchical && N > 1 && g.uniform()) {
        plan = plan_hierarchical_gather(topo, g, S, pp, req.kind == CollectiveKind::kAllGather);
        break;
      }
      plan.algorithm = Algorithm::kRing;
      const int c = channel_count(topo, params, g);
      plan.channels = c;
      plan.phases.push_back(ring_phase(topo, g, c, (n - 1.0) / n * S / c, f, n - 1, N > 1 ? N - 1 : 0, pp,
                                       false, 0));
      break;
    }
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce: {
      plan.algorithm = Algorithm::kRing;
      const int c = channel_count(topo, params, g);
      plan.channels = c;
      const int root = req.root + 1;  // 1-based so the sign can carry the direction
      plan.phases.push_back(ring_phase(topo, g, c, S / c, f, n - 1, N > 1 ? N - 1 : 0, pp, true,
                                       req.kind == CollectiveKind::kBroadcast ? root : -root));
      break;
    }
    case CollectiveKind::kAllToAll: {
      plan.algorithm = Algorithm::kPairwise;
      const double per_peer = S / n;
      plan.phases.push_back(pairwise_phase(
          topo, params, req.ranks, req.ranks, [per_peer](std::size_t, std::size_t) { return per_peer; }, pp));
      break;
    }
    case CollectiveKind::kManyToMany: {
      plan.algorithm = Algorithm::kPairwise;
      const std::size_t nr = req.dst_ranks.size();
      const auto& mat = req.matrix;
      plan.phases.push_back(pairwise_phase(
          topo, params, req.ranks, req.dst_ranks,
          [&mat, nr](std::size_t i, std::size_t j) { return mat[i * nr + j].as_double(); }, pp));
      break;
    }
    case CollectiveKind::kSendRecv: {
      plan.algorithm = Algorithm::kPairwise;
      Phase ph;
      ph.flows.push_back(flow(topo, req.ranks[0], req.ranks[1], S, f));
      const bool inter = topo.node_of_gpu(req.ranks[0]) != topo.node_of_gpu(req.ranks[1]);
      ph.delay = phase_delay(topo, ph.flows, inter ? pp.ring_net_step : pp.ring_nvlink_step);
      plan.phases.push_back(std::move(ph));
      break;
    }
  }
  if (plan.phases.empty()) plan.phases.emplace_back();
  plan.phases.front().delay += call_latency(params, pp, g);
  plan.protocol = protocol;
  return plan;
}

// Per-GPU effective bandwidths for the estimate: its NVLink (or first) link out,
// and the IB/Ethernet link out of its NIC.
struct GpuBandwidth {
  double intra = 0.0;
  double nic = 0.0;
};

GpuBandwidth gpu_bandwidth(const Topology& topo, const NetworkParams& params, int rank) {
  GpuBandwidth b;
  const auto v = topo.gpu_vertex(rank);
  topology::VertexId nic = 0;
  bool has_nic = false;
  for (const auto& l : topo.links()) {
    if (l.from != v) continue;
    const double cap = link_capacity(params, l);
    if (l.kind == spec::LinkKind::kNvLink) b.intra = std::max(b.intra, cap);
    if (!has_nic && topo.vertices()[l.to].kind == spec::VertexKind::kNic) {
      nic = l.to;
      has_nic = true;
      b.nic = cap;  // PCIe into the NIC bounds it too
    }
    if (b.intra == 0.0) b.intra = cap;
  }
  if (has_nic) {
    double out = 0.0;
    for (const auto& l : topo.links()) {
      if (l.from == nic && topo.vertices()[l.to].kind != spec::VertexKind::kGpu) out = std::max(out, link_capacity(params, l));
    }
    if (out > 0) b.nic = std::min(b.nic, out);
  }
  return b;
}

// Latency part (delays + one path) and bandwidth part (seconds) of a plan's estimate.
struct Estimate {
  SimTime latency;
  double bandwidth_s = 0.0;
  SimTime total() const { return latency + SimTime::seconds(bandwidth_s); }
};

Estimate estimate_plan(const Topology& topo, const NetworkParams& params, const Plan& plan) {
  // Homogeneous clusters: GPU 0's bandwidths stand for all.
  const GpuBandwidth bw = gpu_bandwidth(topo, params, 0);
  Estimate e;
  std::vector<double> out_intra, out_inter, in_inter;
  for (const Phase& ph : plan.phases) {
    out_intra.assign(static_cast<std::size_t>(topo.num_gpus()), 0.0);
    out_inter.assign(out_intra.size(), 0.0);
    in_inter.assign(out_intra.size(), 0.0);
    for (const auto& fl : ph.flows) {
      if (topo.node_of_gpu(fl.src) == topo.node_of_gpu(fl.dst)) {
        out_intra[static_cast<std::size_t>(fl.src)] += fl.wire_bytes;
      } else {
        out_inter[static_cast<std::size_t>(fl.src)] += fl.wire_bytes;
        in_inter[static_cast<std::size_t>(fl.dst)] += fl.wire_bytes;
      }
    }
    if (!ph.flows.empty()) {
      e.latency += topo.path_latency(ph.flows.front().src, ph.flows.front().dst, ph.flows.front().hash);
    }
    double t = 0.0;
    for (std::size_t r = 0; r < out_intra.size(); ++r) {
      if (bw.intra > 0) t = std::max(t, out_intra[r] / bw.intra);
      if (bw.nic > 0) t = std::max({t, out_inter[r] / bw.nic, in_inter[r] / bw.nic});
    }
    e.latency += ph.delay;
    e.bandwidth_s += t;
  }
  return e;
}

}  // namespace

double link_capacity(const NetworkParams& params, const topology::DirectedLink& l) {
  double eff = 1.0;
  switch (l.kind) {
    case spec::LinkKind::kNvLink: eff = params.nvlink_efficiency; break;
    case spec::LinkKind::kPcie: eff = params.pcie_efficiency; break;
    case spec::LinkKind::kInfiniBand:
    case spec::LinkKind::kEthernet: eff = params.network_efficiency; break;
    case spec::LinkKind::kOther: eff = 1.0; break;
  }
  return l.bandwidth.bytes_per_s() * eff;
}

SimTime estimate_time(const Topology& topo, const NetworkParams& params, const CollectiveRequest& req,
                      Algorithm algorithm, Protocol protocol) {
  return estimate_plan(topo, params, plan_fixed(topo, params, req, algorithm, protocol)).total();
}

Plan plan_collective(const Topology& topo, const NetworkParams& params, const CollectiveRequest& req) {
  MASIM_ASSERT(!req.ranks.empty(), "collective without ranks");
  const bool p2p = req.kind == CollectiveKind::kAllToAll || req.kind == CollectiveKind::kManyToMany ||
                   req.kind == CollectiveKind::kSendRecv;
  const bool multi_node = make_group(topo, req.ranks).num_nodes() > 1;
  std::vector<Algorithm> algos;
  if (req.algorithm != Algorithm::kAuto) {
    algos.push_back(req.algorithm);
  } else if (req.kind == CollectiveKind::kAllReduce && multi_node) {
    algos = {Algorithm::kRing, Algorithm::kTree};  // NCCL's choices (hierarchical is opt-in)
  } else {
    algos.push_back(p2p ? Algorithm::kPairwise : Algorithm::kRing);
  }
  std::vector<Protocol> protos;
  if (req.protocol != Protocol::kAuto) {
    protos.push_back(req.protocol);
  } else if (p2p) {
    // NCCL p2p uses LL up to NCCL_P2P_LL_THRESHOLD (16 KiB per peer), else Simple.
    double per_peer = req.bytes.as_double();
    if (req.kind == CollectiveKind::kAllToAll) per_peer /= static_cast<double>(req.ranks.size());
    if (req.kind == CollectiveKind::kManyToMany) {
      per_peer = 0.0;
      for (const auto& b : req.matrix) per_peer = std::max(per_peer, b.as_double());
    }
    protos.push_back(per_peer <= 16384.0 ? Protocol::kLL : Protocol::kSimple);
  } else {
    protos = {Protocol::kSimple, Protocol::kLL128, Protocol::kLL};
  }
  if (algos.size() == 1 && protos.size() == 1) return plan_fixed(topo, params, req, algos[0], protos[0]);
  // Choose as NCCL's tuner does (src/graph/tuning.cc): time = latency + size / algbw.
  // Ring and Simple/LL128/LL bandwidths come from the plan's busiest GPU; the tree's
  // bandwidth is NCCL's model of it, 0.92 x the ring's bus bandwidth at algbw =
  // busbw / 2 (NCCL's `busBw *= .92` and `ratio = .5` for trees), not the flow
  // model's, which would credit a 2-node tree with less NIC traffic than NCCL's
  // per-channel tree throughput achieves.
  const double n = static_cast<double>(req.ranks.size());
  Plan best;
  SimTime best_t = SimTime::max();
  for (Protocol p : protos) {
    Plan ring = plan_fixed(topo, params, req, algos[0], p);
    const Estimate ring_e = estimate_plan(topo, params, ring);
    for (Algorithm a : algos) {
      SimTime t;
      Plan cand;
      if (a == algos[0]) {
        t = ring_e.total();
      } else {
        cand = plan_fixed(topo, params, req, a, p);
        Estimate e = estimate_plan(topo, params, cand);
        if (a == Algorithm::kTree && algos[0] == Algorithm::kRing) {
          e.bandwidth_s = ring_e.bandwidth_s * n / (2.0 * (n - 1.0)) / (0.92 * 0.5);
        }
        t = e.total();
      }
      if (t < best_t) {
        best_t = t;
        best = a == algos[0] ? ring : std::move(cand);
      }
    }
  }
  return best;
}

}  // namespace masim::network
