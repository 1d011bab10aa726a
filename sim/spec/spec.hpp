// Typed, validated inputs: the plain-data description of a scenario that the
// front end builds from JSON (sim/frontend) and every later stage consumes.
// No JSON past this point. All values are in masim units (sim/common/units.hpp).
//
//   ScenarioSpec s = frontend::load_scenario("scenarios/paper/performance.json");
//   for (const LayoutSpec& l : s.layouts) ...
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/common/units.hpp"

namespace masim::spec {

inline constexpr int kSchemaVersion = 1;

enum class DType { kFP32, kTF32, kBF16, kFP16, kFP8 };
// Bytes of one element of `t` (TF32 is stored as 4 bytes).
constexpr int dtype_bytes(DType t) {
  switch (t) {
    case DType::kFP32: return 4;
    case DType::kTF32: return 4;
    case DType::kBF16: return 2;
    case DType::kFP16: return 2;
    case DType::kFP8: return 1;
  }
  return 2;
}
const char* to_string(DType t);

// ---------------------------------------------------------------- hardware
struct GpuSpec {
  std::string name;                        // e.g. "NVIDIA A100-SXM4-80GB"
  std::map<DType, FlopRate> peak_flops;    // dense tensor-core (or vector) peak per dtype
  FlopRate vector_fp32_flops;              // non-tensor-core fp32 (softmax, norms)
  Bandwidth hbm_bandwidth;                 // datasheet
  Bytes hbm_capacity;
  double tdp_w = 0.0;                      // board power limit
  double idle_w = 0.0;                     // power when idle
  SimTime kernel_launch_overhead = SimTime::us(4);
  // Fractions of peak that a good kernel reaches, used by the roofline when no
  // calibration profile covers an op. Documented defaults in docs/METRICS.md.
  double matmul_efficiency = 0.75;
  double memory_efficiency = 0.85;
  std::vector<std::string> sources;        // datasheets cited in the file
};

struct HardwareSpec {
  std::string id;  // file stem or inline id
  GpuSpec gpu;
};

// ---------------------------------------------------------------- topology
enum class VertexKind { kGpu, kNvSwitch, kPcieSwitch, kCpu, kNic, kLeafSwitch, kSpineSwitch };
enum class LinkKind { kNvLink, kPcie, kInfiniBand, kEthernet, kOther };
const char* to_string(VertexKind k);
const char* to_string(LinkKind k);

struct VertexSpec {
  std::string id;
  VertexKind kind = VertexKind::kGpu;
  int node = 0;        // host index (GPUs, NVSwitches, NICs, PCIe switches)
  int local_index = 0; // index within its node and kind (GPU 0..7, NIC 0..7)
};

// A full-duplex link: `bandwidth` in each direction, `latency` per traversal.
struct LinkSpec {
  std::string a;
  std::string b;
  Bandwidth bandwidth;
  SimTime latency;
  LinkKind kind = LinkKind::kOther;
};

// A topology's network parameters fitted to measured NCCL collectives
// (`masim fit-network`, docs/VALIDATION.md "Network fitted to NCCL"), with the
// range the measurements covered: outside it the fit is an extrapolation, and
// `masim check` / `masim run` say so.
struct NetworkFitSpec {
  std::string source;                     // the fit's record (calibrate/network/*.fit.json)
  double nvlink_efficiency = 0.0;         // replaces network::NetworkParams::nvlink_efficiency
  SimTime intra_node_call_latency;        // replaces NetworkParams::intra_node_call_latency
  int fitted_ranks = 0;                   // the largest collective group measured
  int fitted_nodes = 0;                   // nodes the measured groups spanned
  std::vector<LinkKind> fitted_link_kinds;  // link kinds the measured traffic crossed
};

struct TopologySpec {
  std::string name;
  std::string gpu_model;                 // must match hardware.gpu.name when both are set
  std::vector<std::string> sources;      // citations
  std::vector<VertexSpec> vertices;      // generators expand into these
  std::vector<LinkSpec> links;
  int gpus_per_node = 0;                 // for placement rules; 0 = unknown
  int num_nodes = 0;
  std::optional<NetworkFitSpec> network_fit;
};

// ---------------------------------------------------------------- model
enum class AttentionKind { kMHA, kGQA, kMLA };
const char* to_string(AttentionKind k);

struct MlaSpec {
  int q_lora_rank = 0;          // 0: queries are projected directly
  int kv_lora_rank = 512;
  int qk_nope_head_dim = 128;
  int qk_rope_head_dim = 64;
  int v_head_dim = 128;
};

struct ModelSpec {
  std::string name;
  int num_layers = 0;
  int hidden_size = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  AttentionKind attention = AttentionKind::kGQA;
  std::optional<MlaSpec> mla;
  int num_experts = 0;            // routed experts per MoE layer
  int top_k = 0;
  int expert_ffn_size = 0;        // intermediate size of one routed expert
  int num_shared_experts = 0;
  int shared_expert_ffn_size = 0; // intermediate size of one shared expert
  int dense_ffn_size = 0;         // intermediate size of dense (non-MoE) layers
  std::vector<bool> moe_layer;    // per layer: true = MoE FFN, false = dense FFN
  int vocab_size = 0;
  bool tie_embeddings = false;
  DType dtype = DType::kBF16;
  std::string source;             // file it came from (HF config or masim model)
};

// ---------------------------------------------------------------- workload
enum class WorkloadKind { kDecode, kPrefill, kTraining };
enum class RoutingKind { kUniform, kZipf, kDirichlet, kTrace };
const char* to_string(WorkloadKind k);
const char* to_string(RoutingKind k);

struct RoutingSpec {
  RoutingKind kind = RoutingKind::kUniform;
  double zipf_exponent = 1.0;       // kZipf: share of expert of rank r ∝ r^-s
  double dirichlet_alpha = 1.0;     // kDirichlet: concentration per expert
  std::vector<double> trace;        // kTrace: recorded per-expert token counts
  std::optional<double> capacity_factor;  // tokens per expert capped at cf·T·k/E
};

struct WorkloadSpec {
  WorkloadKind kind = WorkloadKind::kDecode;
  int batch = 1;                 // decode: concurrent sequences; prefill: prompts per batch;
                                 // training: sequences per global batch
  int context_length = 2048;     // decode: KV-cache length; prefill/training: sequence length
  int micro_batch_size = 1;      // training: sequences per micro-batch
  bool recompute = false;        // training: activation recomputation
  int optimizer_bytes_per_param = 12;  // Adam: fp32 master + two fp32 moments
  int iterations = 8;            // routing samples (decode steps / training steps) averaged
  RoutingSpec routing;
};

// ---------------------------------------------------------------- layouts
enum class LayoutKind { kTensor, kPipeline, kTensorPipeline, kExpert, kMaSeparation };
enum class StageParallelism { kNone, kTensor, kExpert };
const char* to_string(LayoutKind k);
const char* to_string(StageParallelism k);

struct MaSpec {
  std::vector<int> attention_gpus;   // global GPU ranks
  std::vector<int> expert_gpus;
  int attention_tp = 1;              // TP degree inside one attention group
  int attention_replicas = 1;        // hot-standby copies of each attention group (no traffic)
  int expert_tp = 1;                 // TP inside one expert shard
  int hot_expert_replicas = 0;       // the hottest experts get an extra copy each
  int micro_batches = 2;             // ping-pong depth; 1 = no overlap
};

struct LayoutSpec {
  std::string name;
  LayoutKind kind = LayoutKind::kTensor;
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int dp = 1;                          // replicas of the whole layout
  int micro_batches = 1;               // PP: micro-batches per iteration
  StageParallelism stage_parallelism = StageParallelism::kNone;
  bool sequence_parallel = false;      // TP: reduce-scatter + all-gather instead of all-reduce
  std::vector<int> gpus;               // explicit GPU ranks; empty = first N
  MaSpec ma;
  // Serving only (sim/serving): the first `prefill_replicas` of the dp replicas
  // form a prefill pool and the rest a decode pool, the KV cache shipped between
  // them over the topology. 0 = every replica does both.
  int prefill_replicas = 0;
  int gpu_count() const;               // GPUs the layout occupies (saturates at INT_MAX)
};

// ---------------------------------------------------------------- run timeline (faults)
// A scenario with a "timeline" runs for `duration_s` of simulated time while
// GPUs, links, NICs and switches fail, come back or slow down. Times are seconds
// (double) from the start of the run. Defaults and sources: docs/INPUTS.md.
enum class FaultKind { kGpu, kHbm, kLinkDown, kLinkDegraded, kNicDown, kSwitchDown, kStraggler };
const char* to_string(FaultKind k);

struct FaultSpec {
  FaultKind kind = FaultKind::kGpu;
  double at_s = 0.0;
  int gpu = -1;                 // kGpu, kHbm, kStraggler: global rank
  std::string vertex;           // kNicDown, kSwitchDown: vertex id in the topology
  std::string link_a, link_b;   // kLinkDown, kLinkDegraded: the link's two vertex ids
  double factor = 1.0;          // kLinkDegraded: bandwidth factor in (0, 1); kStraggler: slowdown > 1
  double duration_s = -1.0;     // kStraggler: how long it lasts; < 0 = to the end of the run
  double repair_after_s = -1.0; // back in service this long after `at_s`; < 0 = not within the run
  bool random = false;          // drawn from the failure rates (RandomFaultSpec), not listed
};

// Faults drawn from per-component failure rates (exponential lifetimes, one
// stream per component, seeded), over every component of the topology.
struct RandomFaultSpec {
  bool enabled = false;
  double gpu_mtbf_h = 0.0;      // per GPU (whole-GPU faults: XID, fell off the bus); 0 = none
  double hbm_mtbf_h = 0.0;      // per GPU, HBM (uncorrectable ECC); 0 = none
  double nic_mtbf_h = 0.0;      // per NIC vertex
  double switch_mtbf_h = 0.0;   // per NVSwitch / PCIe / leaf / spine switch vertex
  double cable_mtbf_h = 0.0;    // per link
  double repair_after_s = -1.0; // every drawn fault is repaired after this; < 0 = never
  std::uint64_t seed = 1;
};

enum class DetectionKind { kHeartbeat, kWatchdog };
enum class WeightSource { kHost, kDisk, kPeer };
enum class RecoveryPolicy { kAuto, kShrink, kSpare, kWait };
const char* to_string(DetectionKind k);
const char* to_string(WeightSource k);
const char* to_string(RecoveryPolicy k);

struct RecoverySpec {
  DetectionKind detection = DetectionKind::kHeartbeat;
  double heartbeat_interval_s = 10.0;   // Kubernetes liveness probe periodSeconds default
  int heartbeat_misses = 3;             // Kubernetes failureThreshold default
  double watchdog_timeout_s = 600.0;    // PyTorch ProcessGroupNCCL default timeout (10 min)
  double comm_rebuild_s = 1.0;          // new NCCL communicators over the survivors (assumed)
  WeightSource weights = WeightSource::kHost;
  Bandwidth host_bandwidth = Bandwidth::gb_per_s(25);   // pinned host -> GPU over PCIe Gen4 x16
  Bandwidth disk_bandwidth = Bandwidth::gb_per_s(2);    // one NVMe SSD per GPU
  double graph_recapture_s = 5.0;       // CUDA-graph capture and warm-up of the new plan (assumed)
  bool standby_kv_mirrored = true;      // MA hot standby holds a current KV cache (no re-prefill)
  RecoveryPolicy policy = RecoveryPolicy::kAuto;
  std::vector<int> spare_gpus;          // idle GPUs a recovery may take, in order
  double checkpoint_interval_s = 1800.0;   // training
  Bandwidth checkpoint_bandwidth = Bandwidth::gb_per_s(2);  // training: restore, per GPU
};

// Tables computed from many short runs (sim/faults/analysis.hpp): throughput
// after 0..max_failures simultaneous random GPU failures, and how often MA
// Separation's expert redistribution / attention failover succeeds.
struct FaultAnalysesSpec {
  int max_failures = 0;                 // 0: no analyses
  int trials = 10;                      // random GPU sets per failure count
};

struct TimelineSpec {
  double duration_s = 0.0;
  FaultAnalysesSpec analyses;
  std::vector<FaultSpec> faults;        // as listed (random ones are drawn at run time)
  RandomFaultSpec random;
  RecoverySpec recovery;
};

// ---------------------------------------------------------------- serving (request traffic)
// A scenario with a "serving" object also serves a stream of requests on every
// layout: arrivals, continuous batching under the KV-cache limit, per-request
// latencies (sim/serving). Defaults and sources: docs/INPUTS.md, "Serving".
enum class ArrivalKind { kPoisson, kGamma, kTrace };
enum class LengthKind { kFixed, kUniform, kLognormal };
enum class PreemptionMode { kRecompute, kSwap };
enum class RouterPolicy { kRoundRobin, kLeastLoaded };
const char* to_string(ArrivalKind k);
const char* to_string(PreemptionMode k);
const char* to_string(RouterPolicy k);

struct LengthDist {                   // tokens per request (prompt or output)
  LengthKind kind = LengthKind::kFixed;
  std::int64_t value = 0;             // kFixed
  std::int64_t min = 1, max = 1;      // kUniform: inclusive; kLognormal: clamp
  double mean = 0.0, cv = 0.0;        // kLognormal
};

struct TraceRequest {                 // one line of a request trace
  double arrival_s = 0.0;
  std::int64_t prompt_tokens = 0;
  std::int64_t output_tokens = 0;
  int line = 0;                       // in the trace file (for messages)
};

struct ServingSpec {
  ArrivalKind arrivals = ArrivalKind::kPoisson;
  double rate_per_s = 1.0;            // kPoisson / kGamma: mean arrival rate
  double cv = 1.0;                    // kGamma: coefficient of variation of inter-arrival times
  std::int64_t requests = 1000;       // kPoisson / kGamma: how many arrive
  std::uint64_t seed = 1;
  LengthDist prompt, output;          // kPoisson / kGamma
  std::string trace_file;             // kTrace: as written (resolved path in trace_path)
  std::string trace_path;
  double trace_time_scale = 1.0;      // kTrace: arrival times multiplied by this
  std::vector<TraceRequest> trace;    // kTrace: read at parse time
  // Scheduler (per replica), as vLLM's: iteration-level (continuous) batching.
  int max_num_seqs = 256;             // vLLM --max-num-seqs default
  std::int64_t max_batched_tokens = 8192;   // vLLM --max-num-batched-tokens (chunked prefill default 8192)
  int block_size = 16;                // vLLM --block-size default (tokens per KV block)
  double kv_memory_fraction = 1.0;    // of the memory left after weights and activations (vLLM gpu_memory_utilization applies to all)
  bool chunked_prefill = false;
  PreemptionMode preemption = PreemptionMode::kRecompute;   // vLLM V1 default
  Bandwidth swap_bandwidth = Bandwidth::gb_per_s(25);       // KV to and from host memory (PCIe Gen4 x16)
  RouterPolicy router = RouterPolicy::kLeastLoaded;
  // Under a run timeline: requests whose KV cache a failure destroys are
  // queued again to re-prefill (false) or rejected with the reason (true).
  bool reject_on_failure = false;
  double slo_ttft_s = 2.0;            // goodput: a request meets both SLOs
  double slo_tpot_s = 0.1;
  std::vector<double> rate_sweep;     // arrival rates (req/s) for throughput-latency curves; empty = none
};

// ---------------------------------------------------------------- scenario
struct Choice {                        // a value the study leaves unstated
  std::string key;
  std::string value;
  std::string reason;
};

struct ScenarioSpec {
  int schema = kSchemaVersion;
  std::string name;
  std::string description;
  std::string file;                    // where it was read from
  std::uint64_t seed = 1;
  HardwareSpec hardware;
  TopologySpec topology;
  ModelSpec model;
  WorkloadSpec workload;
  std::vector<LayoutSpec> layouts;
  std::string profile_path;            // calibration profile; empty = roofline only
  // Which of the profile's tables price ops (issue 17): "production" (the
  // implementations a deployment runs, where the profile measured them; masim's
  // own kernels elsewhere) or "masim" (masim's own kernels only).
  std::string kernels = "production";
  std::vector<Choice> choices;
  std::optional<TimelineSpec> timeline;  // absent: steady state only
  std::optional<ServingSpec> serving;    // absent: no request traffic
};

}  // namespace masim::spec
