// The run timeline: each layout of a scenario serves (or trains) for the
// timeline's duration while the cluster changes (sim/faults/cluster.hpp). A GPU
// that fails or is cut off stops its failure domain; a recovery sequence of
// costed steps follows (detection, communicator rebuild, weight reload, KV
// re-prefill, CUDA-graph recapture, checkpoint restore), after which the layout
// is re-planned on the GPUs that remain and simulated again (Evaluator).
//
// Failure domains: a data-parallel replica of a TP / PP / TP×PP / EP layout
// serving inference (replicas are independent behind a router); the whole
// layout for MA Separation (every attention group exchanges tokens with every
// expert GPU) and for training (gradients are synchronized across replicas).
//
// Policies (recovery.policy, "auto" tries them in this order):
//   grid inference: a spare GPU; else shrink: an EP replica (pp = 1)
//     redistributes the failed ranks' experts over its surviving ranks when the
//     re-planned group fits; any other replica is dropped, its sequences
//     re-prefill on the surviving replicas as far as their memory allows, the
//     rest wait; else wait for the repair.
//   MA Separation: an attention GPU fails over to a live hot standby
//     (attention_replicas >= 2); else a spare; else the attention side shrinks
//     by one group. An expert GPU's experts are redistributed over the
//     surviving expert GPUs when memory allows; else a spare; else wait.
//   training: a spare (restart from the last checkpoint); else wait.
// A repaired GPU returns the layout to its original plan in the background
// (weights loaded while the degraded plan serves), then a brief switch-over.
//
// Sequence accounting (inference): at every instant the batch's B sequences are
// running, stalled (KV cache intact, not progressing), kv_lost (awaiting
// recomputation), re-prefilling or waiting (on no GPU); the sum is B in every
// segment (checked). Tokens: generated, lost in flight (the interrupted step),
// recomputed (re-prefilled context tokens).
//
//   TimelineResult t = run_timeline(scenario, topo, cost);
//   t.layouts[0].segments     // throughput over time
//   t.layouts[0].incidents    // one per fault that touched the layout
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/models/compute_cost.hpp"
#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::faults {

struct Cohorts {
  std::int64_t running = 0;
  std::int64_t stalled = 0;
  std::int64_t kv_lost = 0;
  std::int64_t reprefilling = 0;
  std::int64_t waiting = 0;
  std::int64_t total() const { return running + stalled + kv_lost + reprefilling + waiting; }
};

// A stretch of time at one throughput.
struct Segment {
  double start_s = 0.0;
  double end_s = 0.0;
  double tokens_per_s = 0.0;
  int gpus_out = 0;           // of the layout's GPUs (and taken spares), failed or cut off
  Cohorts cohorts;
};

struct RecoveryStep {
  std::string name;           // "detection", "comm_rebuild", "weight_reload", "re_prefill", ...
  double start_s = 0.0;
  double duration_s = 0.0;
  std::string detail;         // how the duration was obtained
};

struct Incident {
  double at_s = 0.0;
  std::string fault;          // describe(fault)
  std::vector<int> gpus_lost; // layout GPUs newly failed or cut off
  std::string domain;         // "replica 1", "whole layout", ...
  std::string action;         // what the recovery did
  // One word for it: failover, redistributed, shrink, spare, wait, reroute,
  // same_plan, standby_lost, restore (a repair's return to the original plan),
  // interrupted (a later fault hit the domain before a decision; its recovery
  // then ends with that fault's).
  std::string outcome;
  std::vector<RecoveryStep> steps;
  double tokens_per_s_before = 0.0;
  double tokens_per_s_after = 0.0;   // the new steady level (after the last step)
  double recovery_s = -1.0;          // failure -> within 5% of the new steady level; -1: not in the run
  double full_capacity_s = -1.0;     // failure -> back within 5% of the pre-failure level; -1: not in the run
  std::int64_t sequences_affected = 0;
  std::int64_t sequences_reprefilled = 0;
  double tokens_lost_in_flight = 0.0;
  double tokens_recomputed = 0.0;
  // Training: work since the last checkpoint, redone after the restart.
  double lost_work_s = 0.0;
};

// When a failure domain can serve requests, and how fast: one entry per change
// (request-level serving under faults, sim/serving, replays these).
struct DomainState {
  double at_s = 0.0;
  int domain = 0;                  // index into LayoutTimeline::domains
  bool serving = true;             // up, or re-prefilling its lost KV caches (a serving scheduler does that itself)
  double speed = 1.0;              // its plan's throughput / its deployed plan's (a degraded plan serves slower)
  double kv_lost_fraction = 0.0;   // of its sequences, those whose KV cache is gone (while not serving)
  int incident = -1;               // the domain's open incident (index into incidents), -1 none
};

struct LayoutTimeline {
  std::string name;
  spec::LayoutKind kind = spec::LayoutKind::kTensor;
  double baseline_tokens_per_s = 0.0;
  std::int64_t sequences = 0;        // B (inference) or the global batch (training)
  std::vector<Segment> segments;
  std::vector<Incident> incidents;
  double tokens_generated = 0.0;     // integral of throughput
  double tokens_at_baseline = 0.0;   // baseline x duration
  double goodput = 0.0;              // tokens_generated / tokens_at_baseline
  double availability = 0.0;         // time within 5% of baseline / duration
  double tokens_lost_in_flight = 0.0;
  double tokens_recomputed = 0.0;
  // Failure domains ("replica 1", "whole layout": for dp > 1 grid inference the
  // dp replicas in order, as serving::replica_layouts splits them) and their
  // serving states over the run (domain_states), in time order.
  std::vector<std::string> domains;
  std::vector<DomainState> domain_states;
  std::int64_t min_cohort_total = 0; // conservation: min and max of cohorts.total() over segments
  std::int64_t max_cohort_total = 0;
};

// Throughput after k simultaneous random GPU failures of a layout, once its
// recovery has settled (no repair), relative to the fault-free baseline.
struct DegradationRow {
  int failed = 0;
  int trials = 0;
  double mean_relative = 0.0;
  double min_relative = 0.0;
  double max_relative = 0.0;
  int down_trials = 0;              // trials in which the layout serves nothing (waits for repairs)
  double mean_recovery_s = 0.0;     // over trials whose incidents all recovered
};
struct Degradation {
  std::string layout;
  std::vector<DegradationRow> rows;
  // Least squares mean_relative = intercept + slope * failed, over the rows.
  double slope = 0.0;
  double intercept = 0.0;
  double r2 = 0.0;
  double max_deviation = 0.0;       // max |mean_relative - fit|
};
// How often a recovery mechanism succeeds (no wait for a repair) for k failed GPUs of one side.
struct SuccessRow {
  int failed = 0;
  int trials = 0;
  int successes = 0;
  double rate = 0.0;
  double wilson_low = 0.0;          // Wilson score interval, 95%
  double wilson_high = 0.0;
};
struct SuccessTable {
  std::string layout;
  std::string side;                 // "expert" (redistribution) or "attention" (failover / shrink)
  std::vector<SuccessRow> rows;
};
struct Analyses {
  std::vector<Degradation> degradation;   // one per layout
  std::vector<SuccessTable> success;      // MA Separation layouts: expert and attention side
};

struct TimelineResult {
  double duration_s = 0.0;
  Analyses analyses;                      // empty unless timeline.analyses.max_failures > 0
  std::vector<spec::FaultSpec> faults;   // listed and drawn, in time order
  std::vector<LayoutTimeline> layouts;   // scenario order
  std::size_t simulations = 0;           // distinct steady states and prefills simulated
};

class Evaluator;
// One layout's timeline facing `faults` (run_timeline's building block; `ev`
// caches steady states across calls).
LayoutTimeline run_layout_timeline(const spec::ScenarioSpec& s, int index, Evaluator& ev,
                                   const std::vector<spec::FaultSpec>& faults);
// The tables of s.timeline->analyses (sim/faults/analysis.cpp).
Analyses run_analyses(const spec::ScenarioSpec& s, Evaluator& ev);
// Wilson score interval (95%) for `successes` of `trials`.
std::pair<double, double> wilson95(int successes, int trials);

// Requires s.timeline. Throws io::InputError only for problems the parser
// cannot see (none today; planner refusals become incidents' "wait").
TimelineResult run_timeline(const spec::ScenarioSpec& s, const topology::Topology& topo,
                            const models::ComputeCostModel& cost);

// One line per layout (goodput, availability, incidents, worst recovery) for the terminal.
std::string format_summary(const TimelineResult& t);

// results.json "timeline" (docs/RESULTS.md).
nlohmann::json to_json(const TimelineResult& t, const spec::TimelineSpec& spec);

}  // namespace masim::faults
