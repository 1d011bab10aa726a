// BM_Network_*: the flow-level network at 8 to 1,024 GPUs (HGX H100 nodes of 8
// GPUs, NDR 400 Gb/s rail-optimized fabric from the shipped generator).
//  - AllToAll: one 16 MiB all-to-all among all GPUs (PXN, ~137 K flows at 1,024).
//  - RingAllReduce: one 64 MiB ring all-reduce among all GPUs (8 rings).
//  - MoeIteration: a MoE training-like iteration with contention: per layer an
//    all-to-all of 16 MiB (dispatch), another (combine), then the layer's 8 MiB
//    gradient all-reduce starts and runs concurrently with the next layers'
//    all-to-alls. 16 layers.
// Each reports wall time per iteration, flow events/s and flows, and checks that
// every collective completed and bytes sent == bytes received.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/network/network.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;
using namespace masim::network;

namespace {

topology::Topology cluster(int gpus) {
  topology::ClusterParams p;  // HGX H100 defaults: 450 GB/s NVLink, 8x 400 Gb/s
  p.nodes = gpus / 8;
  p.nvlink_latency = SimTime::ns(350);
  p.nic_latency = SimTime::ns(600);
  p.switch_latency = SimTime::ns(130);
  p.pcie_bandwidth = Bandwidth::gb_per_s(63);
  io::Diagnostics d;
  auto t = topology::Topology::build(topology::make_nvswitch_cluster(p), "bench", d);
  return std::move(*t);
}

struct Counter final : engine::EventHandler {
  std::uint64_t done = 0;
  void handle(engine::Engine&, std::uint64_t) override { ++done; }
};

void report(benchmark::State& state, const Network& net, std::uint64_t expected_done, std::uint64_t done,
            std::uint64_t events) {
  if (done != expected_done || net.bytes_sent() != net.bytes_received() || net.active_flows() != 0) {
    state.SkipWithError("collectives did not all complete, or bytes were lost");
  }
  state.counters["flow_events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["flows"] = static_cast<double>(net.flows_started()) / static_cast<double>(state.iterations());
  state.counters["recomputes"] = static_cast<double>(net.recomputations()) / static_cast<double>(state.iterations());
}

void run_one(benchmark::State& state, CollectiveRequest req) {
  const int gpus = static_cast<int>(state.range(0));
  const auto topo = cluster(gpus);
  req.ranks = first_ranks(gpus);
  engine::Engine engine;
  Network net(engine, topo);
  Counter c;
  const auto id = engine.add_handler(&c);
  net.start(req, id, 0);  // warm the route cache outside the timed loop
  engine.run();
  const std::uint64_t events0 = net.flow_events();
  for (auto _ : state) {
    net.start(req, id, 0);
    engine.run();
  }
  report(state, net, static_cast<std::uint64_t>(state.iterations()) + 1, c.done, net.flow_events() - events0);
}

void BM_Network_AllToAll(benchmark::State& state) {
  CollectiveRequest r;
  r.kind = CollectiveKind::kAllToAll;
  r.bytes = Bytes::mib(16);
  run_one(state, r);
}
BENCHMARK(BM_Network_AllToAll)->Arg(8)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

void BM_Network_RingAllReduce(benchmark::State& state) {
  CollectiveRequest r;
  r.kind = CollectiveKind::kAllReduce;
  r.algorithm = Algorithm::kRing;
  r.bytes = Bytes::mib(64);
  run_one(state, r);
}
BENCHMARK(BM_Network_RingAllReduce)->Arg(8)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

// Drives the layers: dispatch -> combine -> (gradient all-reduce in the
// background, next layer's dispatch).
struct MoeDriver final : engine::EventHandler {
  Network* net = nullptr;
  engine::HandlerId self = 0;
  std::vector<int> ranks;
  int layers = 16;
  int layer = 0;
  std::uint64_t completions = 0;
  void start_a2a(std::uint64_t step) {
    CollectiveRequest r;
    r.kind = CollectiveKind::kAllToAll;
    r.ranks = ranks;
    r.bytes = Bytes::mib(16);
    r.tag = step % 2 == 0 ? "dispatch" : "combine";
    net->start(r, self, step);
  }
  void handle(engine::Engine&, std::uint64_t payload) override {
    ++completions;
    if (payload == ~std::uint64_t{0}) return;  // an all-reduce finished
    if (payload % 2 == 0) {
      start_a2a(payload + 1);  // combine after dispatch
      return;
    }
    CollectiveRequest ar;
    ar.kind = CollectiveKind::kAllReduce;
    ar.ranks = ranks;
    ar.bytes = Bytes::mib(8);
    ar.tag = "grad_allreduce";
    net->start(ar, self, ~std::uint64_t{0});
    if (payload / 2 + 1 < static_cast<std::uint64_t>(layers)) start_a2a(payload + 1);
  }
};

void BM_Network_MoeIteration(benchmark::State& state) {
  const int gpus = static_cast<int>(state.range(0));
  const auto topo = cluster(gpus);
  std::uint64_t events = 0, flows = 0;
  double sim_ms = 0.0;
  bool ok = true;
  for (auto _ : state) {
    engine::Engine engine;
    Network net(engine, topo);
    MoeDriver d;
    d.net = &net;
    d.self = engine.add_handler(&d);
    d.ranks = first_ranks(gpus);
    d.start_a2a(0);
    engine.run();
    events += net.flow_events();
    flows = net.flows_started();
    sim_ms = engine.now().ms();
    ok = ok && d.completions == static_cast<std::uint64_t>(3 * d.layers) &&
         net.bytes_sent() == net.bytes_received() && net.active_flows() == 0;
  }
  if (!ok) state.SkipWithError("MoE iteration lost a collective or bytes");
  state.counters["flow_events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["flows"] = static_cast<double>(flows);
  state.counters["sim_ms"] = sim_ms;
}
BENCHMARK(BM_Network_MoeIteration)->Arg(8)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
