// The work and memory a scenario will cost, estimated from the scenario alone
// (before any plan is built or anything is simulated), and the limits past
// which `masim run` and `masim check` refuse it (exit 2) instead of running
// out of memory or time. Each value is in range on its own; the estimate is
// what catches the combinations that are not jointly feasible: the largest
// generated topology under a layout that uses all of it, training at the
// largest batch, 10,000 iterations of an MA layout over hundreds of GPUs, a run
// timeline whose failure rates draw millions of faults.
//
// What is counted (docs/INPUTS.md, "Limits"; the model is in estimate.cpp):
//   events  engine events of every layout's steady-state run (compute tasks
//           and network flows), plus one per token-expert routing draw (the
//           planner samples every token's k experts), plus the run timeline's
//           re-simulations (cluster states x layouts) and fault analyses;
//   flows   network flows started (collectives and token exchange);
//   memory  peak bytes: the topology and its routing tables, every layout's
//           task program (all are planned before the first one runs), the
//           routing samples of one step, the resolved echo in results.json,
//           the run timeline's per-state topologies.
//   serving (a `serving` block): per layout and arrival rate, one unit of
//           work per sequence per scheduler step it is batched in (token-steps:
//           the requests times their mean prompt-and-output tokens, the most a
//           request can be stepped), plus the step-cost grid's simulations
//           (each one step of the layout); memory: the requests and their
//           per-request results.
// tests/frontend/estimate_test.cpp holds the estimate against measured runs
// (within the factors stated there) and times the refusal of an infeasible one.
//
//   io::Diagnostics d;
//   const WorkEstimate e = estimate_work(*scenario);
//   check_limits(e, Limits{}, scenario->file, d);   // a diagnostic per limit exceeded
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/io/diagnostics.hpp"
#include "sim/spec/spec.hpp"

namespace masim::frontend {

struct LayoutWorkEstimate {
  std::string name;
  double events = 0.0;          // engine events of its steady-state run
  double flows = 0.0;           // network flows started
  double routing_draws = 0.0;   // token-expert draws while planning
  double program_bytes = 0.0;   // its task program
  double routing_bytes = 0.0;   // its routing samples (one step's, every MoE layer)
  int source_gpus = 0;          // GPUs that send (each costs a routing table)
};

struct WorkEstimate {
  std::vector<LayoutWorkEstimate> layouts;
  double events = 0.0;            // everything counted: see the header comment
  double flows = 0.0;
  double memory_bytes = 0.0;      // peak
  double topology_bytes = 0.0;    // of which the topology and its routing tables
  double echo_bytes = 0.0;        // of which results.json's resolved scenario
  double timeline_bytes = 0.0;    // of which the run timeline's per-state topologies and results
  // Run timeline (sim/faults): faults expected (listed + drawn), cluster
  // states (each may re-plan and re-simulate every layout), and the events of
  // those re-simulations and of the fault analyses (included in `events`).
  double timeline_faults = 0.0;
  double timeline_states = 0.0;
  double timeline_simulations = 0.0;  // layout re-simulations (steady runs, prefills, analysis trials)
  double timeline_events = 0.0;
  // Serving (sim/serving): token-steps over every layout and rate, the
  // step-cost grid's simulated events (both included in `events`), and the
  // requests' memory (included in memory_bytes).
  double serving_token_steps = 0.0;
  double serving_grid_events = 0.0;
  double serving_bytes = 0.0;
  // "~1.2e6 events, ~3.0e4 flows, ~85 MiB peak memory" (and the timeline's states when there is one).
  std::string summary() const;
};

// Estimates `s` (validated: every cross-field rule holds).
WorkEstimate estimate_work(const spec::ScenarioSpec& s);

// Defaults fit a machine of 24 GB with room for the rest of it: the estimate
// is held to be within a factor of 4 of the truth, so a run the estimate puts
// at 8 GiB may need up to 32 GiB. Raised per run: `masim run --max-memory
// "64 GiB" --max-events 1e11`.
struct Limits {
  double max_memory_bytes = 8.0 * 1024 * 1024 * 1024;  // --max-memory
  double max_events = 2e9;                              // --max-events (~10 to 30 minutes of one core)
};

// One diagnostic at `file`:/ per limit the estimate exceeds: the estimate, its
// largest parts, and the option that raises the limit.
void check_limits(const WorkEstimate& e, const Limits& limits, const std::string& file, io::Diagnostics& diags);

}  // namespace masim::frontend
