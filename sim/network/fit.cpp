#include "sim/network/fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "sim/network/collective.hpp"

namespace masim::network {

namespace {

bool comparable(const MeasuredCollective& m) {
  const auto kind = parse_collective_kind(m.name);
  // One rank moves nothing between GPUs; send_recv and many-to-many have no
  // table pattern masim reproduces (the CLI's --against says the same).
  return m.ranks >= 2 && kind && *kind != CollectiveKind::kManyToMany && *kind != CollectiveKind::kSendRecv;
}

// Predicted times (µs) of every measured size of `m`, with `params`.
std::vector<double> predict_us(const topology::Topology& topo, const MeasuredCollective& m, const NetworkParams& params) {
  std::vector<double> out;
  const std::vector<int> ranks = first_ranks(m.ranks);
  for (std::size_t i = 0; i < m.bytes.size() && i < m.time_us.size(); ++i) {
    const NamedCollectiveResult r = run_named_collective(
        topo, m.name, Bytes(static_cast<std::int64_t>(std::max(1.0, m.bytes[i]))), ranks, "auto", "auto", params);
    out.push_back(r.result ? r.result->time.us() : std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

struct Scan {
  double cost = std::numeric_limits<double>::infinity();
  double eff = 0.0;
  double latency_us = 0.0;
};

}  // namespace

std::vector<double> residuals_pct(const topology::Topology& topo, const MeasuredCollective& m,
                                  const NetworkParams& params) {
  std::vector<double> e;
  const std::vector<double> p = predict_us(topo, m, params);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (std::isfinite(p[i]) && m.time_us[i] > 0) e.push_back(100.0 * (p[i] - m.time_us[i]) / m.time_us[i]);
  }
  return e;
}

Residuals summarize_residuals(const std::vector<double>& errors_pct) {
  Residuals r;
  std::vector<double> a, s;
  for (double e : errors_pct) {
    if (!std::isfinite(e)) continue;
    a.push_back(std::fabs(e));
    s.push_back(e);
  }
  r.points = static_cast<int>(a.size());
  if (a.empty()) return r;
  std::sort(a.begin(), a.end());
  std::sort(s.begin(), s.end());
  const std::size_t n = a.size();
  auto median = [n](const std::vector<double>& v) { return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); };
  r.median_abs_pct = median(a);
  r.bias_pct = median(s);
  // Nearest rank, as profile::summarize: the smallest value with 95% at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(n)));
  r.p95_abs_pct = a[std::clamp<std::size_t>(rank, 1, n) - 1];
  return r;
}

NetworkFit fit_network(const topology::Topology& topo, const std::vector<MeasuredCollective>& measured,
                       const NetworkParams& base) {
  std::vector<const MeasuredCollective*> used;
  for (const MeasuredCollective& m : measured) {
    if (comparable(m) && m.ranks <= topo.num_gpus()) used.push_back(&m);
  }
  NetworkFit f;
  // The cost of one efficiency, with its closed-form latency (see the header).
  auto scan = [&](double eff) {
    NetworkParams p = base;
    p.nvlink_efficiency = eff;
    p.intra_node_call_latency = SimTime::zero();
    std::vector<std::pair<double, double>> tm;   // (predicted without the extra latency, measured)
    for (const MeasuredCollective* m : used) {
      const std::vector<double> t = predict_us(topo, *m, p);
      for (std::size_t i = 0; i < t.size(); ++i) {
        if (std::isfinite(t[i]) && m->time_us[i] > 0) tm.emplace_back(t[i], m->time_us[i]);
      }
    }
    double num = 0.0, den = 0.0;
    for (const auto& [t, m] : tm) {
      num += (m - t) / (m * m);
      den += 1.0 / (m * m);
    }
    Scan s;
    s.eff = eff;
    // Whole nanoseconds, as the fit is written and read back.
    s.latency_us = den > 0 ? std::round(std::max(0.0, num / den) * 1e3) / 1e3 : 0.0;
    s.cost = 0.0;
    for (const auto& [t, m] : tm) s.cost += std::pow((t + s.latency_us - m) / m, 2);
    return s;
  };
  Scan best;
  for (int k = 40; k <= 100; k += 2) {   // efficiency 0.40 .. 1.00 by 0.02
    const Scan s = scan(k / 100.0);
    if (s.cost < best.cost) best = s;
  }
  const double centre = best.eff;
  for (int k = -20; k <= 20; ++k) {      // then ±0.02 by 0.001
    const double eff = std::round((centre + k / 1000.0) * 1000.0) / 1000.0;
    if (eff <= 0.0 || eff > 1.0) continue;
    const Scan s = scan(eff);
    if (s.cost < best.cost) best = s;
  }
  f.nvlink_efficiency = best.eff;
  f.intra_node_call_latency = SimTime::ns(static_cast<std::int64_t>(std::llround(best.latency_us * 1e3)));

  NetworkParams fitted = base;
  fitted.nvlink_efficiency = f.nvlink_efficiency;
  fitted.intra_node_call_latency = f.intra_node_call_latency;
  std::vector<double> all_before, all_after;
  std::set<spec::LinkKind> kinds;
  std::set<int> nodes;
  for (const MeasuredCollective* m : used) {
    CollectiveResiduals c;
    c.name = m->name;
    c.ranks = m->ranks;
    c.source = m->source;
    const std::vector<double> b = residuals_pct(topo, *m, base);
    const std::vector<double> a = residuals_pct(topo, *m, fitted);
    c.before = summarize_residuals(b);
    c.after = summarize_residuals(a);
    all_before.insert(all_before.end(), b.begin(), b.end());
    all_after.insert(all_after.end(), a.begin(), a.end());
    f.per_collective.push_back(c);
    f.fitted_ranks = std::max(f.fitted_ranks, m->ranks);
    for (int r = 0; r < m->ranks; ++r) {
      nodes.insert(topo.node_of_gpu(r));
      for (int q = 0; q < m->ranks; ++q) {
        if (q == r) continue;
        for (topology::LinkId id : topo.route(r, q)) kinds.insert(topo.links()[id].kind);
      }
    }
  }
  f.before = summarize_residuals(all_before);
  f.after = summarize_residuals(all_after);
  f.fitted_nodes = static_cast<int>(nodes.size());
  f.fitted_link_kinds.assign(kinds.begin(), kinds.end());
  return f;
}

NetworkParams apply_fit(NetworkParams p, const spec::TopologySpec& t) {
  if (!t.network_fit) return p;
  p.nvlink_efficiency = t.network_fit->nvlink_efficiency;
  p.intra_node_call_latency = t.network_fit->intra_node_call_latency;
  return p;
}

std::vector<std::string> fit_range_warnings(const topology::Topology& topo) {
  std::vector<std::string> w;
  const auto& fit = topo.spec().network_fit;
  if (!fit) return w;
  const std::string what = "the network fit (" + fit->source + ") was measured on " +
                           std::to_string(fit->fitted_ranks) + " GPUs in " + std::to_string(fit->fitted_nodes) +
                           (fit->fitted_nodes == 1 ? " node" : " nodes");
  int most_per_node = 0;
  for (int n = 0; n < topo.num_nodes(); ++n) {
    int c = 0;
    for (int g = 0; g < topo.num_gpus(); ++g) c += topo.node_of_gpu(g) == n ? 1 : 0;
    most_per_node = std::max(most_per_node, c);
  }
  if (most_per_node > fit->fitted_ranks) {
    w.push_back(what + "; topology \"" + topo.spec().name + "\" has " + std::to_string(most_per_node) +
                " GPUs per node, so its larger collectives use the fitted NVLink terms outside the measured range");
  }
  // Link kinds on the routes a collective takes: from GPU 0 to the other GPUs of
  // its node, and (with several nodes) to a GPU of another node.
  auto kinds_on = [&](bool other_node) {
    std::set<spec::LinkKind> k;
    for (int g = 1; g < topo.num_gpus(); ++g) {
      if ((topo.node_of_gpu(g) != topo.node_of_gpu(0)) != other_node) continue;
      for (topology::LinkId id : topo.route(0, g)) k.insert(topo.links()[id].kind);
      if (other_node) break;
    }
    return k;
  };
  auto unfitted = [&](const std::set<spec::LinkKind>& k) {
    std::string s;
    for (spec::LinkKind x : k) {
      if (std::find(fit->fitted_link_kinds.begin(), fit->fitted_link_kinds.end(), x) == fit->fitted_link_kinds.end()) {
        s += (s.empty() ? "" : ", ") + std::string(spec::to_string(x));
      }
    }
    return s;
  };
  if (const std::string u = unfitted(kinds_on(false)); !u.empty()) {
    w.push_back(what + "; inside a node of topology \"" + topo.spec().name + "\" collectives also cross " + u +
                " links, which the fit did not measure");
  }
  if (topo.num_nodes() > fit->fitted_nodes) {
    const std::string u = unfitted(kinds_on(true));
    w.push_back(what + "; topology \"" + topo.spec().name + "\" has " + std::to_string(topo.num_nodes()) +
                " nodes: collectives across nodes" + (u.empty() ? "" : " (over " + u + " links)") +
                " are not covered by it and keep the unfitted defaults for those links");
  }
  return w;
}

}  // namespace masim::network
