#include "sim/faults/cluster.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "sim/common/assert.hpp"
#include "sim/common/rng.hpp"
#include "sim/io/diagnostics.hpp"

namespace masim::faults {

namespace {

bool is_switch(spec::VertexKind k) {
  return k == spec::VertexKind::kNvSwitch || k == spec::VertexKind::kPcieSwitch ||
         k == spec::VertexKind::kLeafSwitch || k == spec::VertexKind::kSpineSwitch;
}

// Failure times of one component over [0, duration): exponential lifetimes,
// a repaired component starts a new lifetime at its repair.
void draw(Rng rng, double mtbf_h, double repair_s, double duration_s, spec::FaultSpec proto,
          std::vector<spec::FaultSpec>& out) {
  if (mtbf_h <= 0.0) return;
  const double mean_s = mtbf_h * 3600.0;
  double t = rng.exponential(mean_s);
  while (t < duration_s) {
    spec::FaultSpec f = proto;
    f.at_s = t;
    f.repair_after_s = repair_s;
    f.random = true;
    out.push_back(f);
    if (repair_s < 0.0) break;
    t += repair_s + rng.exponential(mean_s);
  }
}

}  // namespace

std::vector<spec::FaultSpec> run_faults(const spec::TimelineSpec& t, const spec::TopologySpec& topo) {
  std::vector<spec::FaultSpec> out = t.faults;
  if (t.random.enabled) {
    const spec::RandomFaultSpec& r = t.random;
    const Rng root(r.seed);
    std::vector<spec::FaultSpec> drawn;
    std::uint64_t component = 0;
    int rank = 0;
    for (const auto& v : topo.vertices) {
      if (v.kind == spec::VertexKind::kGpu) {
        spec::FaultSpec f;
        f.gpu = rank++;
        f.kind = spec::FaultKind::kGpu;
        draw(root.fork(component++), r.gpu_mtbf_h, r.repair_after_s, t.duration_s, f, drawn);
        f.kind = spec::FaultKind::kHbm;
        draw(root.fork(component++), r.hbm_mtbf_h, r.repair_after_s, t.duration_s, f, drawn);
      } else if (v.kind == spec::VertexKind::kNic || is_switch(v.kind)) {
        spec::FaultSpec f;
        f.vertex = v.id;
        const bool nic = v.kind == spec::VertexKind::kNic;
        f.kind = nic ? spec::FaultKind::kNicDown : spec::FaultKind::kSwitchDown;
        draw(root.fork(component++), nic ? r.nic_mtbf_h : r.switch_mtbf_h, r.repair_after_s, t.duration_s, f, drawn);
      } else {
        ++component;
      }
    }
    for (const auto& l : topo.links) {
      spec::FaultSpec f;
      f.kind = spec::FaultKind::kLinkDown;
      f.link_a = l.a;
      f.link_b = l.b;
      draw(root.fork(component++), r.cable_mtbf_h, r.repair_after_s, t.duration_s, f, drawn);
    }
    out.insert(out.end(), drawn.begin(), drawn.end());
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const spec::FaultSpec& a, const spec::FaultSpec& b) { return a.at_s < b.at_s; });
  return out;
}

const char* to_string(EventType e) {
  switch (e) {
    case EventType::kFail: return "fail";
    case EventType::kRepair: return "repair";
    case EventType::kStragglerStart: return "straggler_start";
    case EventType::kStragglerEnd: return "straggler_end";
  }
  return "?";
}

std::vector<ClusterEvent> cluster_events(const std::vector<spec::FaultSpec>& faults, double duration_s) {
  std::vector<ClusterEvent> ev;
  for (std::size_t i = 0; i < faults.size(); ++i) {
    const spec::FaultSpec& f = faults[i];
    if (f.at_s >= duration_s) continue;
    const int idx = static_cast<int>(i);
    if (f.kind == spec::FaultKind::kStraggler) {
      ev.push_back({f.at_s, EventType::kStragglerStart, idx});
      if (f.duration_s >= 0 && f.at_s + f.duration_s < duration_s) {
        ev.push_back({f.at_s + f.duration_s, EventType::kStragglerEnd, idx});
      }
    } else {
      ev.push_back({f.at_s, EventType::kFail, idx});
      if (f.repair_after_s >= 0 && f.at_s + f.repair_after_s < duration_s) {
        ev.push_back({f.at_s + f.repair_after_s, EventType::kRepair, idx});
      }
    }
  }
  auto order = [](EventType e) { return e == EventType::kRepair || e == EventType::kStragglerEnd ? 0 : 1; };
  std::stable_sort(ev.begin(), ev.end(), [&](const ClusterEvent& a, const ClusterEvent& b) {
    if (a.at_s != b.at_s) return a.at_s < b.at_s;
    if (order(a.type) != order(b.type)) return order(a.type) < order(b.type);
    return a.fault < b.fault;
  });
  return ev;
}

ClusterState::ClusterState(const spec::TopologySpec& topo) : base_(&topo) {
  int gpus = 0;
  for (std::size_t i = 0; i < topo.vertices.size(); ++i) {
    vertex_index_.emplace(topo.vertices[i].id, static_cast<int>(i));
    gpus += topo.vertices[i].kind == spec::VertexKind::kGpu ? 1 : 0;
  }
  const auto ng = static_cast<std::size_t>(gpus);
  gpu_down_.assign(ng, 0);
  slow_.assign(ng, {});
  slowdown_.assign(ng, 1.0);
  vertex_down_.assign(topo.vertices.size(), 0);
  link_down_.assign(topo.links.size(), 0);
  link_factors_.assign(topo.links.size(), {});
}

void ClusterState::apply(const spec::FaultSpec& f, EventType e) {
  const int delta = e == EventType::kFail || e == EventType::kStragglerStart ? 1 : -1;
  auto links_of = [&](auto&& fn) {
    for (std::size_t i = 0; i < base_->links.size(); ++i) {
      const auto& l = base_->links[i];
      if ((l.a == f.link_a && l.b == f.link_b) || (l.a == f.link_b && l.b == f.link_a)) fn(i);
    }
  };
  switch (f.kind) {
    case spec::FaultKind::kGpu:
    case spec::FaultKind::kHbm:
      gpu_down_[static_cast<std::size_t>(f.gpu)] += delta;
      break;
    case spec::FaultKind::kNicDown:
    case spec::FaultKind::kSwitchDown: {
      const auto it = vertex_index_.find(f.vertex);
      MASIM_ASSERT(it != vertex_index_.end(), "fault on a vertex the topology lacks (validated at parse)");
      vertex_down_[static_cast<std::size_t>(it->second)] += delta;
      break;
    }
    case spec::FaultKind::kLinkDown:
      links_of([&](std::size_t i) { link_down_[i] += delta; });
      break;
    case spec::FaultKind::kLinkDegraded:
      links_of([&](std::size_t i) {
        auto& v = link_factors_[i];
        if (delta > 0) {
          v.push_back(f.factor);
        } else if (auto it = std::find(v.begin(), v.end(), f.factor); it != v.end()) {
          v.erase(it);
        }
      });
      break;
    case spec::FaultKind::kStraggler: {
      auto& v = slow_[static_cast<std::size_t>(f.gpu)];
      if (delta > 0) {
        v.push_back(f.factor);
      } else if (auto it = std::find(v.begin(), v.end(), f.factor); it != v.end()) {
        v.erase(it);
      }
      double p = 1.0;
      for (double x : v) p *= x;
      slowdown_[static_cast<std::size_t>(f.gpu)] = p;
      break;
    }
  }
}

bool ClusterState::any_slowdown() const {
  return std::any_of(slowdown_.begin(), slowdown_.end(), [](double x) { return x != 1.0; });
}

std::string ClusterState::network_key() const {
  std::ostringstream k;
  for (std::size_t i = 0; i < vertex_down_.size(); ++i) {
    if (vertex_down_[i] > 0) k << 'v' << i << ',';
  }
  for (std::size_t i = 0; i < link_down_.size(); ++i) {
    if (link_down_[i] > 0) k << 'l' << i << ',';
  }
  for (std::size_t i = 0; i < link_factors_.size(); ++i) {
    if (link_factors_[i].empty()) continue;
    double p = 1.0;
    for (double x : link_factors_[i]) p *= x;
    k << 'f' << i << '=' << p << ',';
  }
  return k.str();
}

std::string ClusterState::key() const {
  std::ostringstream k;
  k << network_key() << '|';
  for (std::size_t i = 0; i < slowdown_.size(); ++i) {
    if (slowdown_[i] != 1.0) k << 's' << i << '=' << slowdown_[i] << ',';
  }
  return k.str();
}

spec::TopologySpec ClusterState::topology_spec() const {
  spec::TopologySpec t = *base_;
  t.links.clear();
  for (std::size_t i = 0; i < base_->links.size(); ++i) {
    const auto& l = base_->links[i];
    if (link_down_[i] > 0) continue;
    if (vertex_down_[static_cast<std::size_t>(vertex_index_.at(l.a))] > 0 ||
        vertex_down_[static_cast<std::size_t>(vertex_index_.at(l.b))] > 0) {
      continue;
    }
    spec::LinkSpec x = l;
    double p = 1.0;
    for (double f : link_factors_[i]) p *= f;
    // Never below the topology's accepted minimum (1 MB/s).
    x.bandwidth = Bandwidth::bytes_per_s(std::max(1e6, l.bandwidth.bytes_per_s() * p));
    t.links.push_back(x);
  }
  return t;
}

std::vector<int> ClusterState::dead_among(const std::vector<int>& gpus, const topology::Topology& topo) const {
  std::vector<int> alive, dead;
  for (int g : gpus) (gpu_failed(g) ? dead : alive).push_back(g);
  // Reachability avoids transit through other GPUs, so it is symmetric but not
  // transitive (a GPU whose NIC is down reaches its node's GPUs, not the other
  // nodes'). Keep the largest set found greedily in which every pair reaches
  // each other: drop the GPU with the fewest reachable peers (ties: the highest
  // rank) until every pair does.
  const std::size_t n = alive.size();
  std::vector<std::vector<char>> reach(n, std::vector<char>(n, 1));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const char r = topo.num_paths(alive[i], alive[j]) > 0 ? 1 : 0;
      reach[i][j] = reach[j][i] = r;
    }
  }
  std::vector<char> keep(n, 1);
  for (;;) {
    int worst = -1;
    std::size_t worst_count = n + 1;
    bool all = true;
    for (std::size_t i = 0; i < n; ++i) {
      if (!keep[i]) continue;
      std::size_t c = 0, kept = 0;
      for (std::size_t j = 0; j < n; ++j) {
        if (!keep[j] || j == i) continue;
        ++kept;
        c += static_cast<std::size_t>(reach[i][j]);
      }
      if (c < kept) all = false;
      if (c <= worst_count) {
        worst_count = c;
        worst = static_cast<int>(i);
      }
    }
    if (all || worst < 0) break;
    keep[static_cast<std::size_t>(worst)] = 0;
    dead.push_back(alive[static_cast<std::size_t>(worst)]);
  }
  std::sort(dead.begin(), dead.end());
  return dead;
}

const topology::Topology& TopologyCache::get(const ClusterState& cs) {
  const std::string key = cs.network_key();
  if (key.empty()) return base_;
  auto it = built_.find(key);
  if (it == built_.end()) {
    io::Diagnostics d;
    auto t = topology::Topology::build(cs.topology_spec(), "(cluster state)", "", d,
                                       topology::Topology::Connectivity::kAllowCutOff);
    MASIM_ASSERT(t.has_value(), "a cluster state's topology must build (only links were removed or scaled)");
    it = built_.emplace(key, std::make_unique<topology::Topology>(std::move(*t))).first;
  }
  return *it->second;
}

std::string describe(const spec::FaultSpec& f) {
  std::ostringstream o;
  switch (f.kind) {
    case spec::FaultKind::kGpu: o << "GPU " << f.gpu << " fails"; break;
    case spec::FaultKind::kHbm: o << "GPU " << f.gpu << " HBM fails (uncorrectable ECC)"; break;
    case spec::FaultKind::kLinkDown: o << "link " << f.link_a << "-" << f.link_b << " down"; break;
    case spec::FaultKind::kLinkDegraded:
      o << "link " << f.link_a << "-" << f.link_b << " degraded to " << f.factor << "x bandwidth";
      break;
    case spec::FaultKind::kNicDown: o << "NIC " << f.vertex << " down"; break;
    case spec::FaultKind::kSwitchDown: o << "switch " << f.vertex << " down"; break;
    case spec::FaultKind::kStraggler: o << "GPU " << f.gpu << " straggles (" << f.factor << "x slower)"; break;
  }
  if (f.random) o << " [drawn]";
  return o.str();
}

}  // namespace masim::faults
