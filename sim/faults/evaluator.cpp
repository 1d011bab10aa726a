#include "sim/faults/evaluator.hpp"

#include <sstream>

#include "sim/io/diagnostics.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/network/network.hpp"

namespace masim::faults {

namespace {

void put(std::ostringstream& k, const std::vector<int>& v) {
  k << '[';
  for (int x : v) k << x << ',';
  k << ']';
}

}  // namespace

std::string layout_key(const spec::LayoutSpec& l) {
  std::ostringstream k;
  k << static_cast<int>(l.kind) << ':' << l.tp << ':' << l.pp << ':' << l.ep << ':' << l.dp << ':' << l.micro_batches
    << ':' << static_cast<int>(l.stage_parallelism) << ':' << l.sequence_parallel;
  put(k, l.gpus);
  if (l.kind == spec::LayoutKind::kMaSeparation) {
    const spec::MaSpec& m = l.ma;
    put(k, m.attention_gpus);
    put(k, m.expert_gpus);
    k << m.attention_tp << ':' << m.attention_replicas << ':' << m.expert_tp << ':' << m.hot_expert_replicas << ':'
      << m.micro_batches;
  }
  return k.str();
}

Evaluator::Evaluator(const spec::ScenarioSpec& s, const topology::Topology& topo, const models::ComputeCostModel& cost)
    : s_(s), cost_(cost), topologies_(topo) {}

StateRun Evaluator::run(const spec::WorkloadSpec& w, const spec::LayoutSpec& layout, const ClusterState& cs) {
  ++simulations_;
  spec::ScenarioSpec one = s_;
  one.layouts = {layout};
  one.workload = w;
  one.timeline.reset();
  layouts::SimOptions opts;
  opts.record_timeline = false;
  opts.enforce_memory = false;
  if (cs.any_slowdown()) opts.compute_slowdown = cs.slowdown();
  StateRun r;
  try {
    const layouts::ScenarioResult res = layouts::simulate(one, topologies_.get(cs), cost_, opts);
    const layouts::LayoutResult& lr = res.layouts.at(0);
    r.ok = true;
    r.tokens_per_s = lr.metrics.tokens_per_s;
    r.iteration_s = lr.metrics.iteration_ms * 1e-3;
    r.fits = lr.fits;
    r.max_batch = lr.max_batch_that_fits;
    r.gpus = lr.gpu_ranks;
    for (const layouts::GpuMemory& m : lr.memory) {
      r.weight_bytes.push_back(m.breakdown.parameters.as_double());
      r.restore_bytes.push_back(m.breakdown.parameters.as_double() + m.breakdown.optimizer_states.as_double());
    }
  } catch (const io::InputError& e) {
    r.ok = false;
    r.error = e.diagnostics().empty() ? std::string(e.what()) : e.diagnostics().items().front().message;
  }
  return r;
}

const StateRun& Evaluator::steady(const spec::LayoutSpec& layout, std::int64_t batch, const ClusterState& cs) {
  const std::string key = "steady|" + layout_key(layout) + "|" + std::to_string(batch) + "|" + cs.key();
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    spec::WorkloadSpec w = s_.workload;
    w.batch = static_cast<int>(batch);
    it = cache_.emplace(key, run(w, layout, cs)).first;
  }
  return it->second;
}

double Evaluator::prefill_s(const spec::LayoutSpec& layout, std::int64_t sequences, const ClusterState& cs) {
  if (sequences <= 0) return 0.0;
  const std::string key = "prefill|" + layout_key(layout) + "|" + std::to_string(sequences) + "|" + cs.key();
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    spec::WorkloadSpec w = s_.workload;
    w.kind = spec::WorkloadKind::kPrefill;
    w.batch = static_cast<int>(sequences);
    w.iterations = 1;
    it = cache_.emplace(key, run(w, layout, cs)).first;
  }
  return it->second.ok ? it->second.iteration_s : 0.0;
}

double Evaluator::transfer_s(int src, int dst, double bytes, const ClusterState& cs) {
  if (bytes <= 0.0 || src == dst) return 0.0;
  std::ostringstream k;
  k << src << '>' << dst << ':' << bytes << '|' << cs.network_key();
  auto it = transfers_.find(k.str());
  if (it == transfers_.end()) {
    const network::NamedCollectiveResult r =
        network::run_named_collective(topologies_.get(cs), "send_recv", Bytes(static_cast<std::int64_t>(bytes)),
                                      {src, dst});
    it = transfers_.emplace(k.str(), r.result ? r.result->time.seconds() : -1.0).first;
  }
  return it->second;
}

}  // namespace masim::faults
