// The flow-level network: a Resource of the engine.
//
// Each transfer is a flow along a route of directed links. Concurrent flows
// share every link max-min fairly (progressive filling); rates are recomputed
// when a flow starts or ends, touching only flows that share links with the
// change. A flow of S bytes on a path of latency L finishes L + S / rate after
// it starts (rate piecewise constant between recomputations).
// Collectives decompose into flows the way NCCL's algorithms do (ring, tree,
// pairwise all-to-all, hierarchical across nodes) plus a per-call latency and a
// protocol efficiency (the documented defaults in NetworkParams, which a caller
// may override; fitting them to a profile's measured NCCL tables is not done
// yet: on two H200s the defaults are 32% optimistic, docs/VALIDATION.md).
//
// Units: bytes, bytes/s, SimTime (ps). A link's capacity is its bandwidth per
// direction times the efficiency of its kind (NetworkParams); utilization is
// measured against that capacity and never exceeds 1 (asserted on every
// recomputation). Completions reach the caller with Priority::kCompletion.
// Plans (collective -> flows) are in plan.hpp; the sharing model, its
// incremental recomputation and the performance devices are in network.cpp.
//
//   engine::Engine e;
//   Network net(e, topo);
//   net.start(CollectiveRequest{...}, my_handler_id, /*payload=*/task_id);
//   e.run();   // my handler receives task_id when the collective completes
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/network/collective.hpp"
#include "sim/topology/topology.hpp"

namespace masim::network {

// Per-protocol costs. Defaults are NCCL's own cost model (src/graph/tuning.cc,
// NCCL 2.12-2.21: baseLat and hwLat for Ring and Tree; LL128 bandwidth x0.92 "120/128";
// LL bandwidth x0.5 since 8 of every 16 bytes are flags).
struct ProtocolParams {
  double bandwidth_factor = 1.0;  // payload fraction of what Simple moves (wire = payload / factor)
  SimTime call_latency;           // per call (NCCL baseLat)
  SimTime ring_nvlink_step;       // per ring step inside a node (NCCL hwLat NVLINK, Ring)
  SimTime ring_net_step;          // per ring step across nodes (NCCL hwLat NET, Ring)
  SimTime tree_nvlink_step;       // per tree/chain step inside a node (hwLat NVLINK, Tree)
  SimTime tree_net_step;          // per tree level across nodes (hwLat NET, Tree)
};

// Defaults documented in docs/VALIDATION.md with their sources. A caller may
// override any of them (all plain fields, no hidden state).
struct NetworkParams {
  double nvlink_efficiency = 0.80;      // achieved fraction of NVLink bandwidth (NCCL Simple protocol)
  double network_efficiency = 0.90;     // achieved fraction of NIC line rate
  // Extra fixed cost per collective call on top of the protocol's call_latency
  // (e.g. a profile's measured launch overhead). 0 by default: NCCL's base
  // latencies below already include the kernel launch.
  SimTime intra_node_call_latency = SimTime::zero();  // per collective call, NVLink only
  SimTime inter_node_call_latency = SimTime::zero();  // per collective call crossing NICs
  // PCIe payload efficiency: 256-byte TLP payload per ~280 bytes on the wire
  // (TLP header, sequence number, LCRC, framing; PCIe Base Specification).
  double pcie_efficiency = 0.90;
  ProtocolParams simple{1.0, SimTime::us(8.4), SimTime::us(3.4), SimTime::us(14.0), SimTime::us(4.0),
                        SimTime::us(14.0)};
  ProtocolParams ll128{0.92, SimTime::us(14.0), SimTime::us(1.9), SimTime::us(4.0), SimTime::us(1.25),
                       SimTime::us(8.5)};
  ProtocolParams ll{0.5, SimTime::us(6.6), SimTime::us(0.6), SimTime::us(2.7), SimTime::us(0.6),
                    SimTime::us(5.0)};
  // Channels (parallel rings / trees) across nodes; 0 = one per GPU of a node in
  // the group, at most the NICs per node (NCCL builds one or two per NIC).
  int max_channels = 0;
  // All-to-all across nodes through a GPU on the destination's rail (NCCL PXN,
  // on by default since NCCL 2.12: NCCL_PXN_DISABLE=0).
  bool pxn = true;
  // Flows due within this fraction of their own duration after a completion end
  // with it (one rate recomputation instead of several a few ns apart). 0 = exact.
  double completion_precision = 1e-4;
  // Token exchanges (all-to-all, many-to-many: EP dispatch/combine, MA
  // Separation's attention<->expert traffic) carry per-pair sizes drawn from the
  // routing samples, so nearly every flow would end at its own instant. With
  // `exact` false (the default, the fast model) a flow of such an exchange ends
  // with the current completion batch when it is due within
  // `exchange_precision` of its own duration (a flow of duration d ends at most
  // exchange_precision * d early). That bounds the completion batches of one
  // exchange by about ln(longest / shortest flow) / exchange_precision,
  // whatever the GPU count. `exact` true is the reference model
  // (completion_precision for every flow), kept for the agreement tests
  // (tests/network/exchange_agreement_test.cpp, docs/VALIDATION.md).
  bool exact = false;
  double exchange_precision = 2e-3;
  // Refill only the flows a removal can change (see network.cpp); false refills
  // every flow of each touched component (same rates; for tests and debugging).
  bool partial_recompute = true;

  const ProtocolParams& protocol(Protocol p) const {
    return p == Protocol::kLL ? ll : p == Protocol::kLL128 ? ll128 : simple;
  }
};

struct TagStats {
  Bytes bytes;               // payload bytes sent under this tag
  SimTime busy;              // sum of collective durations under this tag
  std::int64_t calls = 0;
};

class Network final : public engine::Resource {
 public:
  Network(engine::Engine& engine, const topology::Topology& topo, NetworkParams params = {});
  ~Network() override;

  // Starts `req` now; schedules (on_done, payload) with Priority::kCompletion when done.
  void start(const CollectiveRequest& req, engine::HandlerId on_done, std::uint64_t payload);

  std::string_view name() const override { return "network"; }
  std::string_view model() const override;
  void handle(engine::Engine& engine, std::uint64_t payload) override;

  const std::map<std::string, TagStats>& stats_by_tag() const;
  Bytes bytes_sent() const;
  Bytes bytes_received() const;
  // Highest rate/capacity seen on any directed link (must never exceed 1).
  double max_link_utilization() const;
  std::uint64_t flow_events() const;
  // Flows started and rate recomputations done so far.
  std::uint64_t flows_started() const;
  std::uint64_t recomputations() const;
  std::size_t active_flows() const;
  // Work counters of the sharing computation (recomputations, flows and links
  // visited, filling rounds, list entries scanned), for benchmarks.
  std::string debug_counters() const;
  // Recomputes every link's allocated rate from the flows' rates (independently of
  // the incremental bookkeeping) and returns the largest rate/capacity; a test hook.
  double audit_link_utilization() const;
  // The algorithm and protocol the last start() used (after kAuto resolution).
  Algorithm last_algorithm() const;
  Protocol last_protocol() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One collective alone on an idle topology (for `masim collective` and tests).
struct CollectiveResult {
  SimTime time;
  double algbw_gb_per_s = 0.0;
  double busbw_gb_per_s = 0.0;
  std::uint64_t flow_events = 0;
  Algorithm algorithm = Algorithm::kAuto;   // as resolved
  Protocol protocol = Protocol::kAuto;
  std::uint64_t flows = 0;
  double max_link_utilization = 0.0;
};
CollectiveResult run_collective(const topology::Topology& topo, const CollectiveRequest& req,
                                const NetworkParams& params = {});

// For the CLI (`masim collective`): a collective by name ("all_reduce", "all_gather",
// "reduce_scatter", "all_to_all", "broadcast", "reduce", "send_recv") among `ranks`
// (send_recv: ranks[0] -> ranks[1]). Returns an error message instead of a result
// when the name, algorithm, protocol or ranks are not valid for `topo`.
struct NamedCollectiveResult {
  std::optional<CollectiveResult> result;
  std::string error;  // empty on success
};
NamedCollectiveResult run_named_collective(const topology::Topology& topo, std::string_view collective,
                                           Bytes bytes, const std::vector<int>& ranks,
                                           std::string_view algorithm = "auto",
                                           std::string_view protocol = "auto",
                                           const NetworkParams& params = {});
// Ranks 0..n-1.
std::vector<int> first_ranks(int n);
// Empty if `ranks` are distinct valid GPU ranks of `topo`, else what is wrong.
std::string check_ranks(const topology::Topology& topo, const std::vector<int>& ranks);

}  // namespace masim::network
