// simulate(): plan every layout, check memory (all layouts' problems at once),
// then replay each plan in its own engine over the flow-level network and
// measure. Layouts share nothing at run time: each gets a fresh Engine and
// Network, so results do not depend on layout order.
#include "sim/layouts/simulate.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

#include "sim/engine/engine.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/layouts/executor.hpp"
#include "sim/layouts/measure.hpp"
#include "sim/layouts/planner.hpp"
#include "sim/layouts/results.hpp"
#include "sim/models/memory.hpp"
#include "sim/models/power.hpp"
#include "sim/network/fit.hpp"
#include "sim/network/network.hpp"

#ifndef MASIM_VERSION_STRING
#define MASIM_VERSION_STRING "unknown"
#endif

namespace masim::layouts {

namespace {
// Stretches every compute task of a GPU whose factor is not 1 (after pricing,
// so a straggler's ops keep their costs and only take longer).
void slow_down(Program& p, const std::vector<double>& factor) {
  for (TaskId id = 0; id < p.size(); ++id) {
    Task& t = p.task(id);
    if (t.kind != TaskKind::kCompute || t.gpu < 0 || static_cast<std::size_t>(t.gpu) >= factor.size()) continue;
    const double f = factor[static_cast<std::size_t>(t.gpu)];
    if (f != 1.0) t.duration = SimTime::ps(static_cast<std::int64_t>(std::llround(static_cast<double>(t.duration.count_ps()) * f)));
  }
}
}  // namespace

ScenarioResult simulate(const spec::ScenarioSpec& s, const topology::Topology& topo,
                        const models::ComputeCostModel& cost, const SimOptions& opts) {
  ScenarioResult result;
  result.masim_version = MASIM_VERSION_STRING;
  result.scenario_name = s.name;
  result.workload = s.workload.kind;
  result.batch = s.workload.batch;
  result.context_length = s.workload.context_length;
  result.cost_model = cost.describe();
  result.cost_band = cost.band();

  const models::EnergyModel energy(s.hardware.gpu, cost.power_fit() ? std::optional<models::PowerFit>(*cost.power_fit())
                                                                     : std::nullopt);
  std::vector<Plan> plans;
  std::vector<MemoryReport> memory;
  io::Diagnostics diags;
  plans.reserve(s.layouts.size());
  // Before planning (which samples every token's experts, so its cost grows with
  // the batch): a layout whose KV cache alone cannot fit even when spread evenly
  // over all of its GPUs is refused at once. This bound never refuses a layout
  // that the full memory model below would accept.
  if (opts.enforce_memory && s.workload.kind != spec::WorkloadKind::kTraining) {
    const double kv_per_sequence =
        models::kv_cache_bytes(s.model, s.model.num_layers, s.model.num_kv_heads, 1, s.workload.context_length)
            .as_double();
    const double capacity = s.hardware.gpu.hbm_capacity.as_double();
    for (std::size_t i = 0; i < s.layouts.size(); ++i) {
      const double gpus = static_cast<double>(s.layouts[i].gpu_count());
      const double need = kv_per_sequence * static_cast<double>(s.workload.batch) / gpus;
      if (gpus > 0 && need > capacity) {
        std::ostringstream msg;
        msg.setf(std::ios::fixed);
        msg.precision(1);
        msg << "the KV cache of " << s.workload.batch << " sequences of " << s.workload.context_length
            << " tokens needs at least " << need / 1073741824.0 << " GiB per GPU even spread evenly over the layout's "
            << s.layouts[i].gpu_count() << " GPUs; each has " << capacity / 1073741824.0 << " GiB";
        diags.error(s.file, io::pointer_join("/layouts", i), msg.str());
      }
    }
    if (!diags.empty()) throw io::InputError(std::move(diags));
  }
  for (std::size_t i = 0; i < s.layouts.size(); ++i) {
    plans.push_back(build_plan(s, static_cast<int>(i), cost, topo.num_gpus(), &energy));
    memory.push_back(memory_of(plans.back(), s));
    if (opts.enforce_memory) {
      for (const std::string& msg : memory.back().shortfalls) {
        diags.error(s.file, io::pointer_join("/layouts", i), msg);
      }
    }
  }
  if (!diags.empty()) throw io::InputError(std::move(diags));

  for (std::size_t i = 0; i < plans.size(); ++i) {
    if (!opts.compute_slowdown.empty()) slow_down(plans[i].program, opts.compute_slowdown);
    engine::Engine engine;
    // The topology's terms fitted to NCCL measurements, where it carries them.
    network::Network net(engine, topo, network::apply_fit(opts.network, topo.spec()));
    Executor exec(plans[i].program, engine, net);
    exec.run();
    if (result.network_model.empty()) {
      result.network_model = std::string(net.model());
      if (const auto& f = topo.spec().network_fit) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "; NVLink efficiency %.3f and %.2f us per call fitted to NCCL (", f->nvlink_efficiency,
                      f->intra_node_call_latency.us());
        result.network_model += buf + f->source + ")";
      }
    }
    LayoutResult lr = measure(plans[i], s, static_cast<int>(i), memory[i], opts.record_timeline,
                              engine.events_processed(), cost.power_fit());
    lr.fits = memory[i].shortfalls.empty();
    lr.memory_shortfalls = memory[i].shortfalls;
    result.layouts.push_back(std::move(lr));
    plans[i] = Plan(cost, 0, nullptr);   // free the task program
  }
  return result;
}

}  // namespace masim::layouts
