#include "sim/layouts/results.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/io/file_io.hpp"

namespace masim::layouts {

const char* to_string(CommTag t) {
  switch (t) {
    case CommTag::kTpAllReduce: return "tp_allreduce";
    case CommTag::kEpAllToAll: return "ep_alltoall";
    case CommTag::kMaDispatch: return "ma_dispatch";
    case CommTag::kMaCombine: return "ma_combine";
    case CommTag::kPpSendRecv: return "pp_sendrecv";
    case CommTag::kGradSync: return "grad_sync";
    case CommTag::kParamBroadcast: return "param_broadcast";
  }
  return "?";
}

const char* to_string(Stream s) { return s == Stream::kCompute ? "compute" : "comm"; }

namespace {

// Rounds to 6 significant decimals so that JSON stays readable and diffs stay small;
// the value is still exactly what the simulation produced up to that precision.
double r6(double v) {
  if (v == 0.0 || !std::isfinite(v)) return v;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

nlohmann::json comm_json(const CommStats& c) {
  return {{"share", r6(c.share)}, {"exposed_ms", r6(c.exposed_ms)}, {"bytes", c.bytes},
          {"calls", c.calls}};
}

nlohmann::json band_json(const std::array<double, 2>& v) { return nlohmann::json::array({r6(v[0]), r6(v[1])}); }

// The headline time of a layout for the workload: TPOT (decode), TTFT (prefill), step time (training).
const char* headline_metric(spec::WorkloadKind w) {
  if (w == spec::WorkloadKind::kDecode) return "tpot_ms";
  if (w == spec::WorkloadKind::kPrefill) return "ttft_ms";
  return "iteration_ms";
}
double headline_value(const LayoutMetrics& m, spec::WorkloadKind w) {
  if (w == spec::WorkloadKind::kDecode) return m.tpot_ms;
  if (w == spec::WorkloadKind::kPrefill) return m.ttft_ms;
  return m.iteration_ms;
}

nlohmann::json layout_json(const LayoutResult& l) {
  nlohmann::json j;
  j["name"] = l.name;
  j["kind"] = spec::to_string(l.kind);
  j["gpus"] = l.gpus;
  j["gpu_ranks"] = l.gpu_ranks;
  const Parallelism& p = l.parallelism;
  nlohmann::json par = {{"tp", p.tp},
                        {"pp", p.pp},
                        {"ep", p.ep},
                        {"dp", p.dp},
                        {"micro_batches", p.micro_batches},
                        {"stage_parallelism", spec::to_string(p.stage_parallelism)}};
  if (l.kind == spec::LayoutKind::kMaSeparation) {
    par["attention_gpus"] = p.attention_gpus;
    par["expert_gpus"] = p.expert_gpus;
    par["attention_dp"] = p.attention_dp;
    par["attention_replicas"] = p.attention_replicas;
    par["expert_tp"] = p.expert_tp;
    par["hot_expert_replicas"] = p.hot_expert_replicas;
  }
  j["parallelism"] = par;
  j["router_location"] = l.router_location;
  if (!l.layer_split.empty()) j["layer_split"] = l.layer_split;

  const LayoutMetrics& m = l.metrics;
  nlohmann::json util = nlohmann::json::array();
  for (double u : m.gpu_util) util.push_back(r6(u));
  j["metrics"] = {{"tpot_ms", r6(m.tpot_ms)},
                  {"ttft_ms", r6(m.ttft_ms)},
                  {"tokens_per_s", r6(m.tokens_per_s)},
                  {"tokens_per_s_per_gpu", r6(m.tokens_per_s_per_gpu)},
                  {"iteration_ms", r6(m.iteration_ms)},
                  {"gpu_util_mean", r6(m.gpu_util_mean)},
                  {"gpu_util", util},
                  {"gpu_util_with_comm_mean", r6(m.gpu_util_with_comm_mean)},
                  {"mfu", r6(m.mfu)},
                  {"hbm_bw_util", r6(m.hbm_bw_util)},
                  {"energy_per_token_mj", r6(m.energy_per_token_mj)},
                  {"avg_power_w", r6(m.avg_power_w)},
                  {"memory_efficiency", r6(m.memory_efficiency)},
                  {"model_flops_per_token", r6(m.model_flops_per_token)}};

  nlohmann::json comm;
  for (int t = 0; t < kNumCommTags; ++t) {
    comm[to_string(static_cast<CommTag>(t))] = comm_json(l.communication[static_cast<std::size_t>(t)]);
  }
  comm["total"] = comm_json(l.communication_total);
  j["communication"] = comm;

  nlohmann::json mem = nlohmann::json::array();
  for (const GpuMemory& g : l.memory) {
    const models::MemoryBreakdown& b = g.breakdown;
    mem.push_back({{"gpu", g.gpu},
                   {"parameters_gib", r6(b.parameters.gib())},
                   {"embedding_gib", r6(g.embedding.gib())},
                   {"kv_cache_gib", r6(b.kv_cache.gib())},
                   {"activations_gib", r6(b.activations.gib())},
                   {"gradients_gib", r6(b.gradients.gib())},
                   {"optimizer_states_gib", r6(b.optimizer_states.gib())},
                   {"comm_buffers_gib", r6(b.comm_buffers.gib())},
                   {"reserve_gib", r6(b.reserve.gib())},
                   {"total_gib", r6(b.total().gib())},
                   {"capacity_gib", r6(g.capacity.gib())}});
  }
  j["memory"] = mem;
  j["fits"] = l.fits;
  j["memory_shortfalls"] = l.memory_shortfalls;
  j["max_batch_that_fits"] = l.max_batch_that_fits;
  j["experts"] = {{"share_std", r6(l.experts.share_std)}, {"share_min", r6(l.experts.share_min)},
                  {"share_max", r6(l.experts.share_max)}, {"aux_loss", r6(l.experts.aux_loss)},
                  {"dropped", l.experts.dropped},         {"routed", l.experts.routed},
                  {"gpu_load_max_over_mean", r6(l.experts.gpu_load_max_over_mean)}};
  j["cost_sources"] = {{"roofline", l.cost_roofline}, {"profile", l.cost_profile}};
  j["events"] = l.events;

  nlohmann::json tl = nlohmann::json::array();
  for (const TimelineEntry& e : l.timeline) {
    tl.push_back({{"gpu", e.gpu},
                  {"stream", to_string(e.stream)},
                  {"name", e.name},
                  {"cat", e.cat},
                  {"layer", e.layer},
                  {"micro_batch", e.micro_batch},
                  {"start_us", r6(e.start_us)},
                  {"dur_us", r6(e.dur_us)}});
  }
  j["timeline"] = tl;
  return j;
}

}  // namespace

nlohmann::json to_json(const ScenarioResult& r) {
  nlohmann::json j;
  j["schema"] = 1;
  j["masim_version"] = r.masim_version;
  j["scenario_name"] = r.scenario_name;
  j["workload"] = {{"kind", spec::to_string(r.workload)},
                   {"batch", r.batch},
                   {"context_length", r.context_length}};
  j["cost_model"] = r.cost_model;
  j["network_model"] = r.network_model;
  nlohmann::json ls = nlohmann::json::array();
  for (const LayoutResult& l : r.layouts) {
    nlohmann::json lj = layout_json(l);
    if (r.cost_band) {
      const models::CostBand& b = *r.cost_band;
      const LayoutMetrics& m = l.metrics;
      lj["metrics_band"] = {{"tpot_ms", band_json(band_time(m.tpot_ms, b))},
                            {"ttft_ms", band_json(band_time(m.ttft_ms, b))},
                            {"iteration_ms", band_json(band_time(m.iteration_ms, b))},
                            {"tokens_per_s", band_json(band_rate(m.tokens_per_s, b))},
                            {"tokens_per_s_per_gpu", band_json(band_rate(m.tokens_per_s_per_gpu, b))}};
    }
    ls.push_back(lj);
  }
  j["layouts"] = ls;
  if (r.cost_band) {
    const models::CostBand& b = *r.cost_band;
    j["cost_band"] = {{"what", b.what},
                      {"steps", b.steps},
                      {"bias_pct", r6(b.bias_pct)},
                      {"min_pct", r6(b.min_pct)},
                      {"max_pct", r6(b.max_pct)}};
    // MA Separation against the best other layout, with the band applied against the
    // verdict: each side may be off by any error in the band, independently.
    const LayoutResult* ma = nullptr;
    const LayoutResult* base = nullptr;
    for (const LayoutResult& l : r.layouts) {
      const double v = headline_value(l.metrics, r.workload);
      if (!(v > 0)) continue;
      const LayoutResult*& slot = l.kind == spec::LayoutKind::kMaSeparation ? ma : base;
      if (slot == nullptr || v < headline_value(slot->metrics, r.workload)) slot = &l;
    }
    if (ma != nullptr && base != nullptr) {
      const double ratio = headline_value(ma->metrics, r.workload) / headline_value(base->metrics, r.workload);
      const double lo = ratio * (1 + b.min_pct / 100) / (1 + b.max_pct / 100);
      const double hi = ratio * (1 + b.max_pct / 100) / (1 + b.min_pct / 100);
      j["verdict_band"] = {{"metric", headline_metric(r.workload)},
                           {"ma_layout", ma->name},
                           {"baseline", base->name},
                           {"ratio", r6(ratio)},
                           {"ratio_interval", nlohmann::json::array({r6(lo), r6(hi)})},
                           {"verdict", ratio > 1 ? "MA Separation slower" : "MA Separation faster"},
                           {"survives", ratio > 1 ? lo > 1 : hi < 1}};
    }
  }
  return j;
}

std::array<double, 2> band_time(double v, const models::CostBand& b) {
  return {v / (1 + b.max_pct / 100), v / (1 + b.min_pct / 100)};
}
std::array<double, 2> band_rate(double v, const models::CostBand& b) {
  return {v * (1 + b.min_pct / 100), v * (1 + b.max_pct / 100)};
}

nlohmann::json to_json(const ScenarioResult& r, const nlohmann::json& resolved_scenario) {
  nlohmann::json j = to_json(r);
  j["scenario"] = resolved_scenario;
  return j;
}

void write_json(const ScenarioResult& r, const std::string& path) {
  io::write_file_atomically(path, to_json(r).dump(2) + '\n');
}

std::string format_table(const ScenarioResult& r) {
  std::ostringstream os;
  const bool decode = r.workload == spec::WorkloadKind::kDecode;
  const bool prefill = r.workload == spec::WorkloadKind::kPrefill;
  char line[512];
  // "util %" counts compute kernels only; "+comm %" also the time a collective is in flight.
  std::snprintf(line, sizeof line, "%-16s %5s %10s %12s %12s %9s %7s %7s %7s %7s %8s %9s %9s\n", "layout",
                "GPUs", decode ? "TPOT ms" : (prefill ? "TTFT ms" : "step ms"), "tokens/s",
                "tok/s/GPU", "util %", "+comm %", "MFU %", "HBM %", "comm %", "mem eff", "mJ/token",
                "max batch");
  os << line;
  for (const LayoutResult& l : r.layouts) {
    const LayoutMetrics& m = l.metrics;
    const double lat = decode ? m.tpot_ms : (prefill ? m.ttft_ms : m.iteration_ms);
    std::snprintf(line, sizeof line,
                  "%-16.16s %5d %10.3f %12.0f %12.1f %9.1f %7.1f %7.1f %7.1f %7.1f %7.1f%% %9.3f %9lld\n",
                  l.name.c_str(), l.gpus, lat, m.tokens_per_s, m.tokens_per_s_per_gpu,
                  100.0 * m.gpu_util_mean, 100.0 * m.gpu_util_with_comm_mean, 100.0 * m.mfu, 100.0 * m.hbm_bw_util,
                  100.0 * l.communication_total.share, 100.0 * m.memory_efficiency,
                  m.energy_per_token_mj, static_cast<long long>(l.max_batch_that_fits));
    os << line;
  }
  return os.str();
}

}  // namespace masim::layouts
