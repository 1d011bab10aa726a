// Request-level serving of one layout: requests arrive, a router sends each to
// a replica, and every replica runs iteration-level (continuous) batching as
// vLLM does, limited by max_num_seqs, max_batched_tokens and a paged KV cache
// whose size comes from the memory model. Step times come from StepCosts.
//
// Scheduling per replica, one step at a time:
//   without chunked prefill (vLLM V0's default): when no request is swapped out,
//     waiting requests are admitted in arrival order while the sequence limit,
//     the token budget (one prompt alone may exceed it) and the free KV blocks
//     allow, and the step is a prefill of those prompts, each producing its
//     first token; otherwise the step decodes one token of every running request.
//   with chunked prefill (vLLM V1, Sarathi-Serve): each step decodes every
//     running request and fills the rest of the token budget with prompt chunks
//     (partly prefilled requests first, then new ones in arrival order); such
//     a step is one forward pass over all its tokens (StepCostModel::mixed_s:
//     the weights streamed once, attention per group; step_cost.hpp).
//   A decode that needs a new KV block when none is free preempts the most
//   recently admitted request (vLLM's policy): "recompute" frees its blocks and
//   queues it first, to prefill its prompt and generated tokens again; "swap"
//   copies its KV cache to host memory (the copy time is added to the step) and
//   brings it back, before any new admission, when blocks free up.
// Under faults (ServeOptions::faults, from the run timeline): a replica that
// stops loses the step in flight; the given share of its running requests
// (newest first) lose their KV cache and are queued again on it to re-prefill
// their prompt and generated tokens, or are rejected with the reason when
// reject_on_failure; the others keep their KV cache and wait for it. Until
// the failure is detected the router still sends it requests; at detection
// its queued requests (re-prefills included) move to the surviving replicas
// of its pool, if any serve, and the router skips it until it serves again,
// at the timeline's speed.
// A request is rejected at arrival, with its reason, when prompt + output
// exceeds the context limit (workload.context_length) or the KV cache of a
// replica cannot hold it at all. Every arrived request ends completed or
// rejected, or is counted in flight if the simulation stops (max_time_s).
//
//   ServingLayout r = serve(scenario, layout_index, topo, cost, requests);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/models/compute_cost.hpp"
#include "sim/serving/step_cost.hpp"
#include "sim/serving/traffic.hpp"
#include "sim/spec/spec.hpp"
#include "sim/topology/topology.hpp"

namespace masim::serving {

enum class RequestStatus { kCompleted, kRejected, kInFlight };

struct RequestResult {
  std::int64_t id = 0;
  int replica = -1;
  double arrival_s = 0.0;
  std::int64_t prompt = 0, output = 0;
  std::int64_t generated = 0;
  RequestStatus status = RequestStatus::kInFlight;
  std::string reason;            // kRejected
  double first_scheduled_s = -1.0;
  double first_token_s = -1.0;
  double finish_s = -1.0;
  int preemptions = 0;
  double ttft_s() const { return first_token_s >= 0 ? first_token_s - arrival_s : -1.0; }
  double e2e_s() const { return finish_s >= 0 ? finish_s - arrival_s : -1.0; }
  double queue_s() const { return first_scheduled_s >= 0 ? first_scheduled_s - arrival_s : -1.0; }
  // Mean time per output token after the first; -1 for one-token outputs.
  double tpot_s() const {
    return finish_s >= 0 && output > 1 ? (finish_s - first_token_s) / static_cast<double>(output - 1) : -1.0;
  }
};

struct Percentiles {
  std::int64_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};
// Linear interpolation between closest ranks (numpy's default), on a copy.
Percentiles percentiles(std::vector<double> v);

struct SeriesPoint {           // time-weighted means over one bin of the run
  double t0_s = 0.0, t1_s = 0.0;
  double running = 0.0;        // sequences in the running batches, all replicas
  double waiting = 0.0;        // requests queued (incl. swapped out)
  double kv_occupancy = 0.0;   // used KV blocks / all blocks, all replicas
  double output_tokens_per_s = 0.0;
  double goodput_requests_per_s = 0.0;   // completions in the bin that met both SLOs
  int replicas_serving = 0;    // at the bin's start (under faults; else all)
};

struct CostCheck {             // an interpolated step cost against a direct simulation
  std::string phase;           // "decode" or "prefill" ("mixed_*": mixed_checks)
  std::int64_t batch = 0;
  std::int64_t length = 0;
  double interpolated_s = 0.0;
  double simulated_s = 0.0;
  double rel_error() const { return simulated_s > 0 ? interpolated_s / simulated_s - 1.0 : 0.0; }
};

// Serving under faults: when each replica can serve, from the run timeline
// (sim/faults, DomainState), and what the serving run saw of each incident.
struct ReplicaState {
  double at_s = 0.0;
  int replica = 0;
  bool serving = true;
  double speed = 1.0;              // step times are divided by it
  double kv_lost_fraction = 0.0;   // on going down: this share of its running requests lose their KV cache
  int incident = -1;               // index into FaultSchedule::incidents
  // Going down: when the failure is detected (its incident's detection step
  // ends); until then the router does not know and keeps sending requests.
  double detected_s = 0.0;
};
struct FaultIncident {             // one incident of the timeline, as the schedule names it
  double at_s = 0.0;
  std::string fault, domain, outcome;
};
struct FaultSchedule {
  std::vector<ReplicaState> states;     // time order
  std::vector<FaultIncident> incidents;
};
struct IncidentEffect {
  double at_s = 0.0;
  double end_s = -1.0;             // the replica serves again (-1: not within the run)
  std::string fault, domain, outcome;
  int replica = 0;
  std::int64_t affected = 0;       // requests on the replica when it stopped (running, queued, swapped)
  std::int64_t reprefilled = 0;    // lost their KV cache and were queued again (prompt + generated tokens recomputed)
  std::int64_t rerouted = 0;       // moved to a surviving replica (queued or KV-lost ones)
  std::int64_t rejected = 0;       // lost their KV cache and were rejected (serving.on_failure = reject)
  std::int64_t stalled = 0;        // kept their KV cache and waited for the replica
  std::int64_t tokens_recomputed = 0;
  std::int64_t tokens_lost_in_flight = 0;   // the interrupted step's tokens
};

struct ServingLayout {
  std::string name;
  bool ok = true;
  std::string error;                 // !ok: why the layout cannot serve
  int replicas = 0;
  int prefill_replicas = 0;          // disaggregated: the prefill pool's size (0 = none)
  std::int64_t kv_capacity_tokens = 0;   // per replica
  std::int64_t kv_transfers = 0;     // disaggregated: KV caches shipped prefill -> decode
  double kv_transfer_s = 0.0;        // their total time
  double offered_rate_per_s = 0.0;   // arrivals / arrival window
  std::vector<RequestResult> requests;
  std::int64_t arrived = 0, completed = 0, rejected = 0, in_flight = 0;
  std::int64_t preemptions = 0, steps = 0;
  // Chunked prefill: steps mixing decodes and prompt chunks, priced as one
  // forward pass (StepCostModel::mixed_s), and what they would have cost as
  // decode + prefill (the earlier upper bound), summed.
  std::int64_t mixed_steps = 0;
  double mixed_one_pass_s = 0.0, mixed_two_pass_s = 0.0;
  std::int64_t output_tokens = 0, recomputed_tokens = 0;
  double end_s = 0.0;                // last completion (or max_time_s)
  double swap_s = 0.0;               // step time spent copying KV to and from host
  Percentiles ttft, tpot, e2e, queue;
  double throughput_requests_per_s = 0.0, throughput_tokens_per_s = 0.0;
  double goodput_requests_per_s = 0.0, goodput_fraction = 0.0;   // both SLOs met, of arrived
  // Little's law: time-average requests in system (integrated over the run)
  // against arrival rate × mean time in system (summed per request).
  double little_L = 0.0, little_lambda = 0.0, little_W = 0.0;
  double little_rel_error() const {
    return little_L > 0 ? little_lambda * little_W / little_L - 1.0 : 0.0;
  }
  double mean_batch = 0.0;           // running sequences per decode step
  double peak_kv_occupancy = 0.0;
  std::vector<SeriesPoint> series;
  // Under faults (ServeOptions::faults): per incident, and latencies of the
  // requests whose lifetime overlaps an outage of the layout against the rest.
  std::vector<IncidentEffect> incidents;
  std::int64_t requests_during = 0, requests_outside = 0;
  Percentiles ttft_during, ttft_outside, tpot_during, tpot_outside;
  std::vector<CostCheck> cost_checks;    // the bucketing error
  // The one-pass decomposition of mixed steps (chunked prefill), where the
  // planner prices the combined step: phase "mixed_decode" / "mixed_prefill".
  std::vector<CostCheck> mixed_checks;
  std::size_t simulations = 0;       // layouts::simulate calls for step costs
  // Estimated steady capacity (requests/s) at the mean request's lengths and a
  // full batch; offered_rate above it is reported as an overload.
  double capacity_rate_per_s = 0.0;
  bool overloaded = false;
};

struct ServeOptions {
  double max_time_s = 30.0 * 86400.0;   // simulated time at which an unfinished run stops
  int series_bins = 120;
  bool check_costs = true;              // measure the interpolation error at the run's mean batch
  const FaultSchedule* faults = nullptr; // replica outages (serving under faults); nullptr: none
  bool reject_on_failure = false;       // KV-lost requests are rejected instead of re-queued
};

ServingLayout serve(const spec::ScenarioSpec& s, int layout_index, const topology::Topology& topo,
                    const models::ComputeCostModel& cost, const std::vector<Request>& requests,
                    const ServeOptions& opts = {});
// The same with step costs kept by the caller (a rate sweep reuses one table).
ServingLayout serve(const spec::ScenarioSpec& s, int layout_index, StepCostModel& costs,
                    const std::vector<Request>& requests, const ServeOptions& opts = {});
std::unique_ptr<StepCosts> make_step_costs(const spec::ScenarioSpec& s, int layout_index,
                                           const topology::Topology& topo, const models::ComputeCostModel& cost);

// The dp = 1 layouts of a layout's independent replicas: a grid layout with
// dp > 1 gives dp replicas on its GPUs; any other layout (MA Separation
// included, whose attention groups share the expert GPUs) is one replica.
std::vector<spec::LayoutSpec> replica_layouts(const spec::LayoutSpec& l);

}  // namespace masim::serving
