// The flow model's per-call latency and NVLink efficiency fitted to measured
// NCCL collectives (masim-calibrate nccl tables), and the range a fit covers.
//
// Model: a collective's time is the flow model's (network.hpp: NCCL's per-call
// and per-step latencies, flows over links of capacity bandwidth ×
// efficiency, max-min shared) plus `intra_node_call_latency` per call. Two
// terms are fitted: NetworkParams::nvlink_efficiency (every NVLink's usable
// fraction) and NetworkParams::intra_node_call_latency (a fixed cost per call
// above NCCL's base latency: launch, proxy and synchronisation that NCCL's
// tuning model leaves out). Objective: least squares of the relative error
// (masim − measured) / measured over every measured size of every compared
// collective. For a given efficiency the best latency is closed-form, since it
// adds to every predicted time alike:
//   L* = max(0, Σ (mᵢ − tᵢ) / mᵢ² / Σ 1 / mᵢ²)
// so the fit scans the efficiency (coarse grid, then a fine one around the
// best) and takes L* at each.
//
//   std::vector<MeasuredCollective> m = ...;           // from profile::CollectiveTable
//   NetworkFit f = fit_network(topo, m);
//   NetworkParams p = apply_fit(NetworkParams{}, *topo_spec_with_fit);
#pragma once

#include <string>
#include <vector>

#include "sim/common/units.hpp"
#include "sim/network/network.hpp"
#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::network {

// One measured table: a collective by name among ranks 0..ranks-1.
struct MeasuredCollective {
  std::string name;          // "all_reduce", ... (parse_collective_kind)
  int ranks = 0;
  std::vector<double> bytes;     // per rank, as nccl-tests counts them
  std::vector<double> time_us;   // measured, one per size
  std::string source;            // file it came from
};

struct Residuals {
  int points = 0;
  double median_abs_pct = 0.0;
  double p95_abs_pct = 0.0;
  double bias_pct = 0.0;     // median signed error
};

struct CollectiveResiduals {
  std::string name;
  int ranks = 0;
  std::string source;
  Residuals before, after;
};

struct NetworkFit {
  double nvlink_efficiency = 0.0;
  SimTime intra_node_call_latency;
  Residuals before, after;             // all points: defaults, then the fitted terms
  std::vector<CollectiveResiduals> per_collective;
  int fitted_ranks = 0;                // largest group measured
  int fitted_nodes = 0;                // nodes the measured groups span
  std::vector<spec::LinkKind> fitted_link_kinds;   // link kinds on the measured groups' routes
};

// Fits the two terms on `topo` (the measured GPUs are its ranks 0..ranks-1),
// starting from `base` for everything else. Tables masim cannot compare
// (one rank, send_recv, names it has no counterpart for) are skipped.
NetworkFit fit_network(const topology::Topology& topo, const std::vector<MeasuredCollective>& measured,
                       const NetworkParams& base = {});

// Relative errors (percent) of `params` against `m`, one per measured size.
std::vector<double> residuals_pct(const topology::Topology& topo, const MeasuredCollective& m,
                                  const NetworkParams& params);
Residuals summarize_residuals(const std::vector<double>& errors_pct);

// `p` with the topology's fitted terms in place (unchanged without a fit).
NetworkParams apply_fit(NetworkParams p, const spec::TopologySpec& t);

// Where `topo` lies outside its fit's range: one sentence each (empty: inside,
// or no fit). Checked: GPUs per node and nodes against the measured group,
// link kinds of the topology against those the measured traffic crossed.
std::vector<std::string> fit_range_warnings(const topology::Topology& topo);

}  // namespace masim::network
