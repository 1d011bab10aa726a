// Small synthetic scenarios for the layouts tests: a tiny MoE model, an ideal
// star topology (every GPU one link to one switch, known bandwidth, no latency)
// and a network without protocol latencies, so that expected times can be
// derived by hand in the tests' comments.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sim/common/assert.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/network/network.hpp"
#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::test {

// A GPU with round numbers (not a real part): 100 TFLOP/s bf16, 1 TB/s HBM,
// 10 GB, 300 W TDP, 100 W idle, no launch overhead, efficiencies 1.
inline spec::GpuSpec round_gpu() {
  spec::GpuSpec g;
  g.name = "test-gpu";
  g.peak_flops[spec::DType::kBF16] = FlopRate::tflops(100);
  g.vector_fp32_flops = FlopRate::tflops(10);
  g.hbm_bandwidth = Bandwidth::gb_per_s(1000);
  g.hbm_capacity = Bytes::gb(10);
  g.tdp_w = 300;
  g.idle_w = 100;
  g.kernel_launch_overhead = SimTime::zero();
  g.matmul_efficiency = 1.0;
  g.memory_efficiency = 1.0;
  return g;
}

// hidden 64 (128 bytes per token in bf16), 4 heads of 16 (2 KV heads), 4
// experts top-2 of FFN 128, vocab 256, all layers MoE.
inline spec::ModelSpec tiny_model(int layers, int experts = 4, int top_k = 2) {
  spec::ModelSpec m;
  m.name = "tiny";
  m.num_layers = layers;
  m.hidden_size = 64;
  m.num_heads = 4;
  m.num_kv_heads = 2;
  m.head_dim = 16;
  m.attention = spec::AttentionKind::kGQA;
  m.num_experts = experts;
  m.top_k = top_k;
  m.expert_ffn_size = 128;
  m.vocab_size = 256;
  m.dtype = spec::DType::kBF16;
  return m;
}

// n GPUs, each one full-duplex link of `bw` (kOther: efficiency 1) to one switch,
// zero latency. Any GPU pair is two hops through the switch at rate bw.
inline spec::TopologySpec star(int n, Bandwidth bw) {
  spec::TopologySpec t;
  t.name = "star";
  t.gpu_model = "test-gpu";
  t.gpus_per_node = n;
  t.num_nodes = 1;
  for (int i = 0; i < n; ++i) {
    t.vertices.push_back({"gpu" + std::to_string(i), spec::VertexKind::kGpu, 0, i});
  }
  t.vertices.push_back({"sw", spec::VertexKind::kNvSwitch, 0, 0});
  for (int i = 0; i < n; ++i) {
    t.links.push_back({"gpu" + std::to_string(i), "sw", bw, SimTime::zero(), spec::LinkKind::kOther});
  }
  return t;
}

// No per-call or per-step latency for any protocol, full payload efficiency.
inline network::NetworkParams ideal_network() {
  network::NetworkParams p;
  p.nvlink_efficiency = 1.0;
  p.network_efficiency = 1.0;
  p.pcie_efficiency = 1.0;
  const network::ProtocolParams zero{1.0, SimTime::zero(), SimTime::zero(), SimTime::zero(), SimTime::zero(),
                                     SimTime::zero()};
  p.simple = zero;
  p.ll128 = zero;
  p.ll = zero;
  return p;
}

inline spec::ScenarioSpec tiny_scenario(int gpus, int layers, Bandwidth bw = Bandwidth::gb_per_s(1)) {
  spec::ScenarioSpec s;
  s.name = "tiny";
  s.file = "tiny.json";
  s.seed = 7;
  s.hardware.id = "test-gpu";
  s.hardware.gpu = round_gpu();
  s.topology = star(gpus, bw);
  s.model = tiny_model(layers);
  s.workload.kind = spec::WorkloadKind::kDecode;
  s.workload.batch = 8;
  s.workload.context_length = 64;
  s.workload.iterations = 3;
  return s;
}

// Every op takes exactly `per_op` (so a segment's time is its op count times
// per_op): lets tests count ops instead of pricing shapes.
class FixedCost final : public models::ComputeCostModel {
 public:
  explicit FixedCost(SimTime per_op) : per_op_(per_op) {}
  models::OpCost cost(const models::Op&) const override { return {per_op_, models::CostSource::kRoofline}; }
  std::string describe() const override { return "fixed cost per op (test)"; }

 private:
  SimTime per_op_;
};

// A roofline slowed (or sped up) by `factor`, for monotonicity tests.
class ScaledCost final : public models::ComputeCostModel {
 public:
  ScaledCost(const models::ComputeCostModel& base, double factor) : base_(base), factor_(factor) {}
  models::OpCost cost(const models::Op& op) const override {
    models::OpCost c = base_.cost(op);
    c.time = SimTime::ps(static_cast<std::int64_t>(static_cast<double>(c.time.count_ps()) * factor_));
    return c;
  }
  std::string describe() const override { return "scaled"; }

 private:
  const models::ComputeCostModel& base_;
  double factor_;
};

inline topology::Topology build_topology(const spec::ScenarioSpec& s) {
  io::Diagnostics d;
  auto t = topology::Topology::build(s.topology, s.file, d);
  MASIM_ASSERT(t.has_value(), "test topology did not build");
  return std::move(*t);
}

inline layouts::ScenarioResult run(const spec::ScenarioSpec& s, const models::ComputeCostModel& cost,
                                   bool timeline = true) {
  const topology::Topology topo = build_topology(s);
  layouts::SimOptions o;
  o.network = ideal_network();
  o.record_timeline = timeline;
  return layouts::simulate(s, topo, cost, o);
}

inline spec::LayoutSpec tp_layout(int tp, int dp = 1) {
  spec::LayoutSpec l;
  l.name = "TP";
  l.kind = spec::LayoutKind::kTensor;
  l.tp = tp;
  l.dp = dp;
  return l;
}

inline spec::LayoutSpec pp_layout(int pp, int micro_batches, int dp = 1) {
  spec::LayoutSpec l;
  l.name = "PP";
  l.kind = spec::LayoutKind::kPipeline;
  l.pp = pp;
  l.dp = dp;
  l.micro_batches = micro_batches;
  return l;
}

inline spec::LayoutSpec tp_pp_layout(int tp, int pp, int micro_batches) {
  spec::LayoutSpec l;
  l.name = "TPxPP";
  l.kind = spec::LayoutKind::kTensorPipeline;
  l.tp = tp;
  l.pp = pp;
  l.micro_batches = micro_batches;
  l.stage_parallelism = spec::StageParallelism::kTensor;
  return l;
}

inline spec::LayoutSpec ep_layout(int ep, int dp = 1, int micro_batches = 1) {
  spec::LayoutSpec l;
  l.name = "EP";
  l.kind = spec::LayoutKind::kExpert;
  l.ep = ep;
  l.dp = dp;
  l.micro_batches = micro_batches;
  return l;
}

inline spec::LayoutSpec ma_layout(std::vector<int> att, std::vector<int> exp, int atp, int m, int etp = 1,
                                  int replicas = 1, int hot = 0) {
  spec::LayoutSpec l;
  l.name = "MA";
  l.kind = spec::LayoutKind::kMaSeparation;
  l.ma.attention_gpus = std::move(att);
  l.ma.expert_gpus = std::move(exp);
  l.ma.attention_tp = atp;
  l.ma.expert_tp = etp;
  l.ma.attention_replicas = replicas;
  l.ma.hot_expert_replicas = hot;
  l.ma.micro_batches = m;
  return l;
}

}  // namespace masim::test
