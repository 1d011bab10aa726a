// From a replayed Plan to the numbers of docs/METRICS.md: per-GPU memory (and
// whether it fits), then time-window metrics over the executed task times.
//
// Measurement window: with n >= 2 simulated steps, from the end of step 0 (the
// warm-up: pipelines filling) to the end of the last step, i.e. n - 1 steady
// iterations; with one step, the whole step. Every per-iteration figure is the
// window's total divided by its iterations.
//
//   MemoryReport mem = memory_of(plan, scenario);
//   Executor(plan.program, engine, net).run();
//   LayoutResult r = measure(plan, scenario, index, mem, /*timeline=*/true, engine.events_processed());
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/layouts/planner.hpp"
#include "sim/models/power.hpp"
#include "sim/layouts/results.hpp"
#include "sim/spec/spec.hpp"

namespace masim::layouts {

struct MemoryReport {
  std::vector<GpuMemory> gpus;          // layout order
  std::vector<std::string> shortfalls;  // one message per GPU that does not fit
  std::int64_t max_batch_that_fits = 0; // see docs/METRICS.md; -1 if memory does not bound it
  double memory_efficiency = 0.0;
};

MemoryReport memory_of(const Plan& plan, const spec::ScenarioSpec& s);

// `power`: the fitted power model (ComputeCostModel::power_fit), else the datasheet's.
LayoutResult measure(const Plan& plan, const spec::ScenarioSpec& s, int index, const MemoryReport& mem,
                     bool record_timeline, std::uint64_t events, const models::PowerFit* power = nullptr);

}  // namespace masim::layouts
