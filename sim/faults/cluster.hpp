// The cluster as it changes over a run: which GPUs, NICs, switches and links
// are out, which links run degraded and which GPUs straggle; the fault list
// of a run (listed faults plus those drawn from failure rates); and the
// topology of the cluster in a given state.
//
//   std::vector<spec::FaultSpec> faults = run_faults(timeline, topo.spec());
//   ClusterState cs(topo.spec());
//   for (const ClusterEvent& e : cluster_events(faults, timeline.duration_s)) {
//     cs.apply(faults[e.fault], e.type);
//     const topology::Topology& now = topologies.get(cs);
//     std::vector<int> dead = cs.dead_among(layout_gpus, now);
//   }
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::faults {

// Every fault of a run, sorted by time (listed before drawn at equal times):
// the timeline's listed faults plus, when `random` is enabled, faults drawn per
// component from exponential lifetimes (mean = MTBF): GPUs (gpu, hbm), NIC
// vertices, switch vertices and links (cables). Each component draws from its
// own stream (Rng(seed).fork(component)), so adding a component class leaves
// the others' draws unchanged. A repaired component can fail again; one never
// repaired fails once.
std::vector<spec::FaultSpec> run_faults(const spec::TimelineSpec& t, const spec::TopologySpec& topo);

enum class EventType { kFail, kRepair, kStragglerStart, kStragglerEnd };
const char* to_string(EventType e);

struct ClusterEvent {
  double at_s = 0.0;
  EventType type = EventType::kFail;
  int fault = 0;  // index into the fault list
};
// The instants at which the cluster changes, in time order (ties: the fault
// list's order, repairs and straggler ends first), up to `duration_s`.
std::vector<ClusterEvent> cluster_events(const std::vector<spec::FaultSpec>& faults, double duration_s);

class ClusterState {
 public:
  explicit ClusterState(const spec::TopologySpec& topo);
  void apply(const spec::FaultSpec& f, EventType e);

  bool gpu_failed(int rank) const { return gpu_down_[static_cast<std::size_t>(rank)] > 0; }
  const std::vector<double>& slowdown() const { return slowdown_; }
  bool any_slowdown() const;
  // Key of the network part (links, NICs, switches) for caching topologies.
  std::string network_key() const;
  // Key of the whole state for caching simulated steps.
  std::string key() const;
  // The topology of this state: links down or behind a down vertex removed,
  // degraded links scaled. Built with Connectivity::kAllowCutOff.
  spec::TopologySpec topology_spec() const;

  // GPUs of `gpus` that cannot work: failed, or cut off from the largest group
  // of mutually reachable, not-failed GPUs of `gpus` in `topo` (this state's).
  std::vector<int> dead_among(const std::vector<int>& gpus, const topology::Topology& topo) const;

 private:
  const spec::TopologySpec* base_;
  std::map<std::string, int> vertex_index_;
  std::vector<int> gpu_down_;          // per rank: active GPU/HBM faults
  std::vector<int> vertex_down_;       // per vertex: active NIC/switch faults
  std::vector<int> link_down_;         // per spec link: active link-down faults
  std::vector<std::vector<double>> link_factors_;  // per spec link: active degradations
  std::vector<std::vector<double>> slow_;          // per rank: active straggler factors
  std::vector<double> slowdown_;       // per rank: product of slow_
};

// Topologies per network state, built once each.
class TopologyCache {
 public:
  explicit TopologyCache(const topology::Topology& base) : base_(base) {}
  const topology::Topology& get(const ClusterState& cs);
  std::size_t size() const { return built_.size(); }

 private:
  const topology::Topology& base_;
  std::map<std::string, std::unique_ptr<topology::Topology>> built_;
};

// "gpu 9 fails (repaired after 1800 s)" and the like, for reports.
std::string describe(const spec::FaultSpec& f);

}  // namespace masim::faults
