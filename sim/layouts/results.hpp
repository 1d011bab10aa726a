// Results of simulating a scenario: one LayoutResult per layout, every metric of
// docs/RESULTS.md (the results.json contract) and docs/METRICS.md (definitions).
//
// Units: times in ms or us as the member name says, memory in bytes (Bytes) and
// written to JSON as GiB, rates per second, utilizations as fractions in [0, 1].
// Every number here comes out of the engine replaying task programs; nothing is
// a placeholder.
//
//   ScenarioResult r = simulate(spec, topo, roofline, {});
//   std::cout << format_table(r);                     // one row per layout
//   nlohmann::json j = to_json(r, frontend::resolved_json(spec));
//   write_json(r, "out/results.json");                // without the "scenario" echo
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/common/units.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/models/memory.hpp"
#include "sim/spec/spec.hpp"

namespace masim::layouts {

// Communication categories, in the fixed order results.json lists them.
enum class CommTag : std::uint8_t {
  kTpAllReduce,     // "tp_allreduce": TP all-reduce (or reduce-scatter + all-gather)
  kEpAllToAll,      // "ep_alltoall": EP dispatch and combine all-to-all
  kMaDispatch,      // "ma_dispatch": MA Separation attention -> expert many-to-many
  kMaCombine,       // "ma_combine": MA Separation expert -> attention many-to-many
  kPpSendRecv,      // "pp_sendrecv": hidden states between pipeline stages
  kGradSync,        // "grad_sync": gradient all-reduce (training)
  kParamBroadcast,  // "param_broadcast": parameter all-gather / broadcast (training)
};
inline constexpr int kNumCommTags = 7;
const char* to_string(CommTag t);

struct CommStats {
  double share = 0.0;        // busy time of this tag on a GPU / iteration time, mean over GPUs
  double exposed_ms = 0.0;   // time this tag is busy on a GPU while its compute stream idles, mean over GPUs, per iteration
  std::int64_t bytes = 0;    // payload bytes per iteration (all GPUs)
  std::int64_t calls = 0;    // collective calls per iteration
};

struct Parallelism {
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int dp = 1;
  int micro_batches = 1;
  spec::StageParallelism stage_parallelism = spec::StageParallelism::kNone;
  // MA Separation only (0 otherwise)
  int attention_gpus = 0;
  int expert_gpus = 0;
  int attention_dp = 0;
  int attention_replicas = 0;
  int expert_tp = 0;
  int hot_expert_replicas = 0;
};

struct LayoutMetrics {
  double tpot_ms = 0.0;               // time per output token of one sequence (decode)
  double ttft_ms = 0.0;               // time to first token (prefill); 0 for other workloads
  double tokens_per_s = 0.0;          // whole system
  double tokens_per_s_per_gpu = 0.0;
  double iteration_ms = 0.0;          // mean simulated iteration (decode step / prefill pass / training step)
  double gpu_util_mean = 0.0;         // time-busy utilization, mean over the layout's GPUs
  std::vector<double> gpu_util;       // per GPU of the layout, in layout order
  double gpu_util_with_comm_mean = 0.0;  // compute or communication in flight (nvidia-smi-like)
  double mfu = 0.0;                   // model FLOPs / (iteration time · peak · GPUs)
  double hbm_bw_util = 0.0;           // HBM bytes / (iteration time · HBM bandwidth · GPUs)
  double energy_per_token_mj = 0.0;
  double avg_power_w = 0.0;           // mean per GPU
  double memory_efficiency = 0.0;     // see docs/METRICS.md
  double model_flops_per_token = 0.0; // forward (+ backward) model FLOPs per token, all layers
};

struct GpuMemory {
  int gpu = 0;                        // global rank
  models::MemoryBreakdown breakdown;
  Bytes capacity;
  Bytes embedding;   // of breakdown.parameters: the input-embedding table (or its vocab-parallel shard)
};

struct ExpertLoad {
  double share_std = 0.0;
  double share_min = 0.0;
  double share_max = 0.0;
  double aux_loss = 0.0;
  std::int64_t dropped = 0;
  std::int64_t routed = 0;
  // Layout-dependent: routed token-slots processed per expert-holding GPU, max
  // over mean (1 = balanced; TP shards every expert, so 1 by construction).
  double gpu_load_max_over_mean = 0.0;
};

enum class Stream : std::uint8_t { kCompute, kComm };
const char* to_string(Stream s);

// One busy interval on one GPU stream (for Perfetto and charts).
struct TimelineEntry {
  int gpu = 0;
  Stream stream = Stream::kCompute;
  std::string name;                  // op or collective ("qkv_proj", "tp_allreduce")
  std::string cat;                   // "attention", "moe", "comm", ...
  int layer = -1;
  int micro_batch = 0;
  double start_us = 0.0;
  double dur_us = 0.0;
};

struct LayoutResult {
  std::string name;
  spec::LayoutKind kind = spec::LayoutKind::kTensor;
  int gpus = 0;
  std::vector<int> gpu_ranks;        // global ranks the layout occupies, in layout order
  Parallelism parallelism;
  std::string router_location;       // where the router runs ("attention GPUs", ...)
  std::string layer_split;           // PP: layers per stage, e.g. "2,2"
  LayoutMetrics metrics;
  std::array<CommStats, kNumCommTags> communication{};
  CommStats communication_total;
  std::vector<GpuMemory> memory;     // one per GPU of the layout
  bool fits = true;                  // every GPU's total <= its capacity
  std::vector<std::string> memory_shortfalls;  // one line per GPU that does not fit
  std::int64_t max_batch_that_fits = 0;        // decode/prefill: sequences; training: micro_batch_size; -1: unbounded
  ExpertLoad experts;
  std::int64_t cost_roofline = 0;    // ops priced by the roofline
  std::int64_t cost_profile = 0;     // ops priced by a calibration profile
  std::int64_t events = 0;           // engine events processed (for performance tracking)
  std::vector<TimelineEntry> timeline;  // one iteration (the last simulated step)
};

struct ScenarioResult {
  std::string masim_version;
  std::string scenario_name;
  spec::WorkloadKind workload = spec::WorkloadKind::kDecode;
  std::int64_t batch = 0;
  std::int64_t context_length = 0;
  std::string cost_model;            // ComputeCostModel::describe()
  std::string network_model;         // Network::model()
  std::vector<LayoutResult> layouts;
  // The cost model's measured band (a derived profile's): results.json then carries
  // every headline metric as an interval and the MA-vs-baseline verdict across it.
  std::optional<models::CostBand> cost_band;
};

// The interval of a time metric priced at `v` under `b`: v / (1 + max) .. v / (1 + min);
// of a rate (tokens/s): the reciprocal relation, v · (1 + min) .. v · (1 + max).
std::array<double, 2> band_time(double v, const models::CostBand& b);
std::array<double, 2> band_rate(double v, const models::CostBand& b);

// results.json without the "scenario" echo (the front end owns the resolved inputs).
nlohmann::json to_json(const ScenarioResult& r);
// results.json with "scenario" set to `resolved_scenario`.
nlohmann::json to_json(const ScenarioResult& r, const nlohmann::json& resolved_scenario);
// Writes to_json(r).dump(2) plus a newline. Throws io::EnvironmentError if it cannot write.
void write_json(const ScenarioResult& r, const std::string& path);

// Human-readable comparison, one row per layout.
std::string format_table(const ScenarioResult& r);

}  // namespace masim::layouts
