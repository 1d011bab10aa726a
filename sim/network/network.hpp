// The flow-level network: a Resource of the engine.
//
// Each transfer is a flow along a route of directed links. Concurrent flows
// share every link max-min fairly (progressive filling); rates are recomputed
// when a flow starts or ends, touching only flows that share links with the
// change. A flow of S bytes on a path of latency L finishes L + S / rate after
// it starts (rate piecewise constant between recomputations).
// Collectives decompose into flows the way NCCL's algorithms do (ring, tree,
// pairwise all-to-all, hierarchical across nodes) plus a per-call latency and a
// protocol efficiency (from a calibration profile when one is given, else the
// documented defaults in NetworkParams).
//
//   engine::Engine e;
//   Network net(e, topo);
//   net.start(CollectiveRequest{...}, my_handler_id, /*payload=*/task_id);
//   e.run();   // my handler receives task_id when the collective completes
#pragma once

#include <map>
#include <memory>
#include <string>

#include "sim/engine/engine.hpp"
#include "sim/network/collective.hpp"
#include "sim/topology/topology.hpp"

namespace masim::network {

// Defaults documented in docs/VALIDATION.md with their sources.
struct NetworkParams {
  double nvlink_efficiency = 0.80;      // achieved fraction of NVLink bandwidth (NCCL Simple protocol)
  double network_efficiency = 0.90;     // achieved fraction of NIC line rate
  SimTime intra_node_call_latency = SimTime::us(8);   // per collective call, NVLink only
  SimTime inter_node_call_latency = SimTime::us(15);  // per collective call crossing NICs
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
};
CollectiveResult run_collective(const topology::Topology& topo, const CollectiveRequest& req,
                                const NetworkParams& params = {});

}  // namespace masim::network
