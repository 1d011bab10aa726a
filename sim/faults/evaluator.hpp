// Steady steps of one layout in one cluster state, simulated once and cached:
// the same planner, cost model and flow-level network as a steady-state run
// (layouts::simulate), on the cluster's current topology (links removed or
// degraded) with stragglers' compute stretched. A run of an hour with a few
// faults costs about as many simulations as it has distinct states.
//
//   Evaluator ev(scenario, topo, cost);
//   const StateRun& r = ev.steady(layout, /*batch=*/192, cluster_state);
//   double s = ev.prefill_s(layout, /*sequences=*/96, cluster_state);
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/faults/cluster.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::faults {

struct StateRun {
  bool ok = false;                 // false: the planner refused this layout (see error)
  std::string error;
  double tokens_per_s = 0.0;       // the whole layout
  double iteration_s = 0.0;
  bool fits = true;                // memory model: every GPU within capacity
  std::int64_t max_batch = -1;     // largest batch that fits (-1: unbounded)
  std::vector<int> gpus;           // global ranks, layout order
  std::vector<double> weight_bytes;    // per GPU of `gpus`: parameters held
  std::vector<double> restore_bytes;   // per GPU: parameters + optimizer states (training checkpoint)
};

class Evaluator {
 public:
  Evaluator(const spec::ScenarioSpec& s, const topology::Topology& topo, const models::ComputeCostModel& cost);
  // The steady step of `layout` serving `batch` sequences (training: the global
  // batch) in cluster state `cs`.
  const StateRun& steady(const spec::LayoutSpec& layout, std::int64_t batch, const ClusterState& cs);
  // Seconds to prefill `sequences` prompts of the workload's context on
  // `layout` (recomputing lost KV caches), 0 for none.
  double prefill_s(const spec::LayoutSpec& layout, std::int64_t sequences, const ClusterState& cs);
  // Seconds to move `bytes` from GPU `src` to GPU `dst` over the cluster's
  // current topology (a peer weight reload), through the flow model.
  double transfer_s(int src, int dst, double bytes, const ClusterState& cs);
  const topology::Topology& topology(const ClusterState& cs) { return topologies_.get(cs); }
  std::size_t simulations() const { return simulations_; }

 private:
  StateRun run(const spec::WorkloadSpec& w, const spec::LayoutSpec& layout, const ClusterState& cs);

  const spec::ScenarioSpec& s_;
  const models::ComputeCostModel& cost_;
  TopologyCache topologies_;
  std::map<std::string, StateRun> cache_;
  std::map<std::string, double> transfers_;
  std::size_t simulations_ = 0;
};

// A cache key for a layout (kind, degrees, GPU lists).
std::string layout_key(const spec::LayoutSpec& l);

}  // namespace masim::faults
