// Collective plans: how one collective call decomposes into flows, the way
// NCCL's algorithms move data. Pure functions of (topology, params, request);
// the Network runs a plan on its flow model.
//
// A plan is a list of phases run one after another. A phase is a delay (the
// per-step latencies of the algorithm steps it stands for) followed by a set of
// concurrent flows; the phase ends when its last flow is delivered. Pipelined
// algorithms (NCCL splits a buffer into chunks and keeps every link busy) are
// one phase whose flows each carry the bytes that cross that hop in total.
//
//   Plan p = plan_collective(topo, params, req);
//   for (const Phase& ph : p.phases) ...   // ph.delay, ph.flows[i].src/dst/payload
#pragma once

#include <cstdint>
#include <vector>

#include "sim/network/network.hpp"

namespace masim::network {

struct FlowSpec {
  int src = 0;                 // GPU ranks
  int dst = 0;
  std::int64_t payload = 0;    // bytes of data (accounting)
  double wire_bytes = 0.0;     // bytes the links carry (payload / protocol bandwidth factor)
  std::uint64_t hash = 0;      // ECMP choice
};

struct Phase {
  SimTime delay;               // before the flows start
  std::vector<FlowSpec> flows;
};

struct Plan {
  Algorithm algorithm = Algorithm::kRing;
  Protocol protocol = Protocol::kSimple;
  int channels = 1;
  std::vector<Phase> phases;
};

// A directed link's usable capacity (bytes/s): bandwidth times the efficiency of
// its kind (NVLink, PCIe, InfiniBand/Ethernet; 1 for other links).
double link_capacity(const NetworkParams& params, const topology::DirectedLink& l);

Plan plan_collective(const topology::Topology& topo, const NetworkParams& params,
                     const CollectiveRequest& req);

// Closed-form estimate of a plan's time on an idle network (latencies plus the
// busiest GPU's NVLink and NIC bytes at their effective bandwidths). Used only to
// choose the algorithm and protocol for kAuto, as NCCL's tuner does.
SimTime estimate_time(const topology::Topology& topo, const NetworkParams& params,
                      const CollectiveRequest& req, Algorithm algorithm, Protocol protocol);

}  // namespace masim::network
