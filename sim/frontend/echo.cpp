#include "sim/frontend/echo.hpp"

#include <array>
#include <charconv>
#include <span>

namespace masim::frontend {

using nlohmann::json;

namespace {

struct OutUnit {
  const char* name;
  double factor;
};

constexpr std::array kTimeOut{OutUnit{"s", 1.0}, OutUnit{"ms", 1e-3}, OutUnit{"us", 1e-6}, OutUnit{"ns", 1e-9},
                              OutUnit{"ps", 1e-12}};
constexpr std::array kBytesOut{OutUnit{"TB", 1e12},         OutUnit{"TiB", 1099511627776.0},
                               OutUnit{"GB", 1e9},          OutUnit{"GiB", 1073741824.0},
                               OutUnit{"MB", 1e6},          OutUnit{"MiB", 1048576.0},
                               OutUnit{"KB", 1e3},          OutUnit{"KiB", 1024.0},
                               OutUnit{"B", 1.0}};
constexpr std::array kBandwidthOut{OutUnit{"TB/s", 1e12}, OutUnit{"GB/s", 1e9}, OutUnit{"MB/s", 1e6},
                                   OutUnit{"KB/s", 1e3}, OutUnit{"B/s", 1.0}};
constexpr std::array kFlopOut{OutUnit{"PFLOP/s", 1e15}, OutUnit{"TFLOP/s", 1e12}, OutUnit{"GFLOP/s", 1e9},
                              OutUnit{"FLOP/s", 1.0}};
constexpr std::array kPowerOut{OutUnit{"kW", 1e3}, OutUnit{"W", 1.0}, OutUnit{"mW", 1e-3}};
constexpr std::array kFrequencyOut{OutUnit{"GHz", 1e9}, OutUnit{"MHz", 1e6}, OutUnit{"kHz", 1e3}, OutUnit{"Hz", 1.0}};

std::span<const OutUnit> units_of(io::Dimension dim) {
  switch (dim) {
    case io::Dimension::kTime: return kTimeOut;
    case io::Dimension::kBytes: return kBytesOut;
    case io::Dimension::kBandwidth: return kBandwidthOut;
    case io::Dimension::kFlopRate: return kFlopOut;
    case io::Dimension::kPower: return kPowerOut;
    case io::Dimension::kFrequency: return kFrequencyOut;
  }
  return {};
}

std::string shortest(double x) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), x);
  return ec == std::errc{} ? std::string(buf.data(), end) : std::to_string(x);
}

// The first unit (largest first) giving a short plain number >= 1 for which
// `exact(text)` holds; else the base unit with the shortest exact number.
template <typename Exact>
std::string pick(double value, io::Dimension dim, Exact exact) {
  const auto units = units_of(dim);
  for (const OutUnit& u : units) {
    const double x = value / u.factor;
    if (value != 0.0 && std::abs(x) < 1.0) continue;
    const std::string num = shortest(x);
    if (num.size() > 10 || num.find_first_of("eE") != std::string::npos) continue;
    std::string text = num + " " + u.name;
    if (exact(text)) return text;
  }
  for (const OutUnit& u : units) {
    if (u.factor == 1.0) return shortest(value) + " " + u.name;  // the base unit: exact
  }
  return shortest(value) + " " + units.back().name;
}

}  // namespace

std::string format_quantity(double value, io::Dimension dim) {
  return pick(value, dim, [&](const std::string& text) {
    const auto q = io::parse_quantity(text, dim);
    return q.ok && q.value == value;
  });
}

std::string format_time(SimTime t) {
  // Work from the integer picoseconds (dividing seconds by 1e-9 would give
  // 699.9999999999999 ns for 700 ns).
  struct TimeUnit {
    const char* name;
    double ps;
  };
  constexpr TimeUnit kUnits[] = {{"s", 1e12}, {"ms", 1e9}, {"us", 1e6}, {"ns", 1e3}};
  const double ps = static_cast<double>(t.count_ps());
  for (const TimeUnit& u : kUnits) {
    const double x = ps / u.ps;
    if (t.count_ps() != 0 && std::abs(x) < 1.0) continue;
    const std::string num = shortest(x);
    if (num.size() > 10 || num.find_first_of("eE") != std::string::npos) continue;
    const std::string text = num + " " + u.name;
    const auto q = io::parse_quantity(text, io::Dimension::kTime);
    if (q.ok && SimTime::seconds(q.value) == t) return text;
  }
  return std::to_string(t.count_ps()) + " ps";  // exact by construction
}

json hardware_json(const spec::HardwareSpec& h) {
  const spec::GpuSpec& g = h.gpu;
  json j;
  j["id"] = h.id;
  j["name"] = g.name;
  json pf = json::object();
  for (const auto& [t, rate] : g.peak_flops) pf[spec::to_string(t)] = format_quantity(rate.per_s(), io::Dimension::kFlopRate);
  j["peak_flops"] = pf;
  j["vector_fp32_flops"] = format_quantity(g.vector_fp32_flops.per_s(), io::Dimension::kFlopRate);
  j["hbm_bandwidth"] = format_quantity(g.hbm_bandwidth.bytes_per_s(), io::Dimension::kBandwidth);
  j["hbm_capacity"] = format_quantity(g.hbm_capacity.as_double(), io::Dimension::kBytes);
  j["tdp"] = format_quantity(g.tdp_w, io::Dimension::kPower);
  j["idle_power"] = format_quantity(g.idle_w, io::Dimension::kPower);
  j["kernel_launch_overhead"] = format_time(g.kernel_launch_overhead);
  j["matmul_efficiency"] = g.matmul_efficiency;
  j["memory_efficiency"] = g.memory_efficiency;
  j["sources"] = g.sources;
  return j;
}

json topology_json(const spec::TopologySpec& t) {
  json j;
  j["schema"] = spec::kSchemaVersion;
  j["name"] = t.name;
  if (!t.gpu_model.empty()) j["gpu_model"] = t.gpu_model;
  j["sources"] = t.sources;
  json vs = json::array();
  for (const auto& v : t.vertices) {
    vs.push_back({{"id", v.id}, {"kind", spec::to_string(v.kind)}, {"node", v.node}, {"local_index", v.local_index}});
  }
  json ls = json::array();
  for (const auto& l : t.links) {
    ls.push_back({{"a", l.a},
                  {"b", l.b},
                  {"bandwidth", format_quantity(l.bandwidth.bytes_per_s(), io::Dimension::kBandwidth)},
                  {"latency", format_time(l.latency)},
                  {"kind", spec::to_string(l.kind)}});
  }
  j["vertices"] = vs;
  j["links"] = ls;
  if (const auto& f = t.network_fit) {
    json kinds = json::array();
    for (spec::LinkKind k : f->fitted_link_kinds) kinds.push_back(spec::to_string(k));
    j["network_fit"] = {{"source", f->source},
                        {"nvlink_efficiency", f->nvlink_efficiency},
                        {"intra_node_call_latency", format_time(f->intra_node_call_latency)},
                        {"fitted_ranks", f->fitted_ranks},
                        {"fitted_nodes", f->fitted_nodes},
                        {"fitted_link_kinds", kinds}};
  }
  return j;
}

json model_json(const spec::ModelSpec& m) {
  json j;
  j["name"] = m.name;
  j["source"] = m.source;
  j["num_layers"] = m.num_layers;
  j["hidden_size"] = m.hidden_size;
  j["num_heads"] = m.num_heads;
  j["num_kv_heads"] = m.num_kv_heads;
  j["head_dim"] = m.head_dim;
  j["attention"] = spec::to_string(m.attention);
  if (m.attention == spec::AttentionKind::kMLA && m.mla) {
    j["mla"] = {{"q_lora_rank", m.mla->q_lora_rank},
                {"kv_lora_rank", m.mla->kv_lora_rank},
                {"qk_nope_head_dim", m.mla->qk_nope_head_dim},
                {"qk_rope_head_dim", m.mla->qk_rope_head_dim},
                {"v_head_dim", m.mla->v_head_dim}};
  }
  j["num_experts"] = m.num_experts;
  if (m.num_experts > 0) {
    j["top_k"] = m.top_k;
    j["expert_ffn_size"] = m.expert_ffn_size;
  }
  j["num_shared_experts"] = m.num_shared_experts;
  if (m.shared_expert_ffn_size > 0) j["shared_expert_ffn_size"] = m.shared_expert_ffn_size;
  if (m.dense_ffn_size > 0) j["dense_ffn_size"] = m.dense_ffn_size;
  json layers = json::array();
  for (bool b : m.moe_layer) layers.push_back(b);
  j["moe_layer"] = layers;
  j["vocab_size"] = m.vocab_size;
  j["tie_embeddings"] = m.tie_embeddings;
  j["dtype"] = spec::to_string(m.dtype);
  return j;
}

json workload_json(const spec::WorkloadSpec& w) {
  json j;
  j["kind"] = spec::to_string(w.kind);
  j["batch"] = w.batch;
  j["context_length"] = w.context_length;
  j["iterations"] = w.iterations;
  if (w.kind == spec::WorkloadKind::kTraining) {
    j["micro_batch_size"] = w.micro_batch_size;
    j["recompute"] = w.recompute;
    j["optimizer_bytes_per_param"] = w.optimizer_bytes_per_param;
  }
  json r;
  r["kind"] = spec::to_string(w.routing.kind);
  switch (w.routing.kind) {
    case spec::RoutingKind::kUniform: break;
    case spec::RoutingKind::kZipf: r["zipf_exponent"] = w.routing.zipf_exponent; break;
    case spec::RoutingKind::kDirichlet: r["dirichlet_alpha"] = w.routing.dirichlet_alpha; break;
    case spec::RoutingKind::kTrace: r["trace"] = w.routing.trace; break;
  }
  if (w.routing.capacity_factor) r["capacity_factor"] = *w.routing.capacity_factor;
  j["routing"] = r;
  return j;
}

json layout_json(const spec::LayoutSpec& l) {
  json j;
  j["name"] = l.name;
  j["kind"] = spec::to_string(l.kind);
  const bool stage_tp = l.kind == spec::LayoutKind::kPipeline && l.stage_parallelism == spec::StageParallelism::kTensor;
  const bool stage_ep = l.kind == spec::LayoutKind::kPipeline && l.stage_parallelism == spec::StageParallelism::kExpert;
  switch (l.kind) {
    case spec::LayoutKind::kTensor:
      j["tp"] = l.tp;
      j["sequence_parallel"] = l.sequence_parallel;
      break;
    case spec::LayoutKind::kPipeline:
      j["pp"] = l.pp;
      j["micro_batches"] = l.micro_batches;
      j["stage_parallelism"] = spec::to_string(l.stage_parallelism);
      if (stage_tp) {
        j["tp"] = l.tp;
        j["sequence_parallel"] = l.sequence_parallel;
      }
      if (stage_ep) j["ep"] = l.ep;
      break;
    case spec::LayoutKind::kTensorPipeline:
      j["tp"] = l.tp;
      j["pp"] = l.pp;
      j["micro_batches"] = l.micro_batches;
      j["sequence_parallel"] = l.sequence_parallel;
      break;
    case spec::LayoutKind::kExpert:
      j["ep"] = l.ep;
      j["micro_batches"] = l.micro_batches;
      break;
    case spec::LayoutKind::kMaSeparation:
      j["ma"] = {{"attention_gpus", l.ma.attention_gpus}, {"expert_gpus", l.ma.expert_gpus},
                 {"attention_tp", l.ma.attention_tp},     {"attention_replicas", l.ma.attention_replicas},
                 {"expert_tp", l.ma.expert_tp},           {"hot_expert_replicas", l.ma.hot_expert_replicas},
                 {"micro_batches", l.ma.micro_batches}};
      break;
  }
  if (l.kind != spec::LayoutKind::kMaSeparation) {
    j["dp"] = l.dp;
    if (!l.gpus.empty()) j["gpus"] = l.gpus;
    if (l.prefill_replicas > 0) j["disaggregation"] = {{"prefill_replicas", l.prefill_replicas}};
  }
  return j;
}

json timeline_json(const spec::TimelineSpec& t) {
  auto time = [](double seconds) { return format_quantity(seconds, io::Dimension::kTime); };
  auto bw = [](Bandwidth b) { return format_quantity(b.bytes_per_s(), io::Dimension::kBandwidth); };
  json j;
  j["duration"] = time(t.duration_s);
  json fs = json::array();
  for (const spec::FaultSpec& f : t.faults) {
    json x;
    x["kind"] = spec::to_string(f.kind);
    x["at"] = time(f.at_s);
    if (f.gpu >= 0) x["gpu"] = f.gpu;
    if (!f.vertex.empty()) x["vertex"] = f.vertex;
    if (!f.link_a.empty()) x["link"] = json::array({f.link_a, f.link_b});
    if (f.kind == spec::FaultKind::kLinkDegraded || f.kind == spec::FaultKind::kStraggler) x["factor"] = f.factor;
    if (f.duration_s >= 0) x["duration"] = time(f.duration_s);
    if (f.repair_after_s >= 0) x["repair_after"] = time(f.repair_after_s);
    fs.push_back(x);
  }
  j["faults"] = fs;
  if (t.random.enabled) {
    const spec::RandomFaultSpec& r = t.random;
    json x;
    x["seed"] = r.seed;
    auto mtbf = [&](const char* key, double hours) {
      if (hours > 0) x[key] = time(hours * 3600.0);
    };
    mtbf("gpu_mtbf", r.gpu_mtbf_h);
    mtbf("hbm_mtbf", r.hbm_mtbf_h);
    mtbf("nic_mtbf", r.nic_mtbf_h);
    mtbf("switch_mtbf", r.switch_mtbf_h);
    mtbf("cable_mtbf", r.cable_mtbf_h);
    if (r.repair_after_s >= 0) x["repair_after"] = time(r.repair_after_s);
    j["random"] = x;
  }
  if (t.analyses.max_failures > 0) {
    j["analyses"] = {{"max_failures", t.analyses.max_failures}, {"trials", t.analyses.trials}};
  }
  const spec::RecoverySpec& c = t.recovery;
  json rc;
  rc["detection"] = spec::to_string(c.detection);
  rc["heartbeat_interval"] = time(c.heartbeat_interval_s);
  rc["heartbeat_misses"] = c.heartbeat_misses;
  rc["watchdog_timeout"] = time(c.watchdog_timeout_s);
  rc["comm_rebuild"] = time(c.comm_rebuild_s);
  rc["weights"] = spec::to_string(c.weights);
  rc["host_bandwidth"] = bw(c.host_bandwidth);
  rc["disk_bandwidth"] = bw(c.disk_bandwidth);
  rc["graph_recapture"] = time(c.graph_recapture_s);
  rc["standby_kv_mirrored"] = c.standby_kv_mirrored;
  rc["policy"] = spec::to_string(c.policy);
  rc["spare_gpus"] = c.spare_gpus;
  rc["checkpoint_interval"] = time(c.checkpoint_interval_s);
  rc["checkpoint_bandwidth"] = bw(c.checkpoint_bandwidth);
  j["recovery"] = rc;
  return j;
}

json length_json(const spec::LengthDist& d) {
  switch (d.kind) {
    case spec::LengthKind::kFixed: return {{"kind", "fixed"}, {"value", d.value}};
    case spec::LengthKind::kUniform: return {{"kind", "uniform"}, {"min", d.min}, {"max", d.max}};
    case spec::LengthKind::kLognormal:
      return {{"kind", "lognormal"}, {"mean", d.mean}, {"cv", d.cv}, {"min", d.min}, {"max", d.max}};
  }
  return nullptr;
}

json serving_json(const spec::ServingSpec& s) {
  auto time = [](double seconds) { return format_quantity(seconds, io::Dimension::kTime); };
  json j;
  json a;
  a["kind"] = spec::to_string(s.arrivals);
  a["seed"] = s.seed;
  if (s.arrivals == spec::ArrivalKind::kTrace) {
    a["file"] = s.trace_path;
    a["time_scale"] = s.trace_time_scale;
  } else {
    a["rate"] = s.rate_per_s;
    a["requests"] = s.requests;
    if (s.arrivals == spec::ArrivalKind::kGamma) a["cv"] = s.cv;
    j["prompt_tokens"] = length_json(s.prompt);
    j["output_tokens"] = length_json(s.output);
  }
  j["arrivals"] = a;
  j["on_failure"] = s.reject_on_failure ? "reject" : "requeue";
  j["scheduler"] = {{"max_num_seqs", s.max_num_seqs},
                    {"max_batched_tokens", s.max_batched_tokens},
                    {"block_size", s.block_size},
                    {"kv_memory_fraction", s.kv_memory_fraction},
                    {"chunked_prefill", s.chunked_prefill},
                    {"preemption", spec::to_string(s.preemption)},
                    {"swap_bandwidth", format_quantity(s.swap_bandwidth.bytes_per_s(), io::Dimension::kBandwidth)}};
  j["router"] = spec::to_string(s.router);
  j["slo"] = {{"ttft", time(s.slo_ttft_s)}, {"tpot", time(s.slo_tpot_s)}};
  if (!s.rate_sweep.empty()) j["rate_sweep"] = s.rate_sweep;
  return j;
}

json resolved_json(const spec::ScenarioSpec& s) {
  json j;
  j["schema"] = s.schema;
  j["_file"] = s.file;
  j["name"] = s.name;
  j["description"] = s.description;
  j["seed"] = s.seed;
  j["hardware"] = hardware_json(s.hardware);
  j["topology"] = topology_json(s.topology);
  j["model"] = model_json(s.model);
  j["workload"] = workload_json(s.workload);
  json ls = json::array();
  for (const auto& l : s.layouts) ls.push_back(layout_json(l));
  j["layouts"] = ls;
  if (!s.profile_path.empty()) {
    j["profile"] = s.profile_path;
    j["kernels"] = s.kernels;
  }
  json cs = json::array();
  for (const auto& c : s.choices) cs.push_back({{"key", c.key}, {"value", c.value}, {"reason", c.reason}});
  j["choices"] = cs;
  if (s.timeline) j["timeline"] = timeline_json(*s.timeline);
  if (s.serving) j["serving"] = serving_json(*s.serving);
  return j;
}

}  // namespace masim::frontend
