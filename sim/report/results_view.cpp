#include "sim/report/results_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "sim/io/json_reader.hpp"
#include "sim/report/charts.hpp"

namespace masim::report {

using nlohmann::json;

const std::vector<CommTagInfo>& comm_tags() {
  static const std::vector<CommTagInfo> kTags = {
      {"tp_allreduce", "TP all-reduce"},      {"ep_alltoall", "EP all-to-all"},
      {"ma_dispatch", "MA dispatch"},         {"ma_combine", "MA combine"},
      {"pp_sendrecv", "PP send/recv"},        {"grad_sync", "Gradient sync"},
      {"param_broadcast", "Parameter broadcast"}};
  return kTags;
}

const std::vector<MemoryComponentInfo>& memory_components() {
  static const std::vector<MemoryComponentInfo> kComponents = {
      {"parameters", "Parameters"},   {"kv_cache", "KV cache"},
      {"activations", "Activations"}, {"gradients", "Gradients"},
      {"optimizer_states", "Optimizer states"}, {"comm_buffers", "Communication buffers"},
      {"reserve", "Runtime reserve"}};
  return kComponents;
}

namespace {

// One shape check: walks the members the report reads, recording each one of
// the wrong type; returns the member only when its type is right.
class ShapeCheck {
 public:
  ShapeCheck(const std::string& file, io::Diagnostics& diags) : file_(file), diags_(diags) {}

  enum class Type { kNumber, kInteger, kString, kBoolean, kObject, kArray };

  // `obj[key]` if present and of type `t`; nullptr (and a diagnostic if present) otherwise.
  const json* member(const json& obj, const std::string& ptr, const std::string& key, Type t) {
    const auto it = obj.find(key);
    if (it == obj.end()) return nullptr;
    return is(*it, io::pointer_join(ptr, key), t) ? &*it : nullptr;
  }

  // Whether `v` is of type `t`; a diagnostic at `ptr` if not.
  bool is(const json& v, const std::string& ptr, Type t) {
    bool ok = false;
    const char* want = "";
    switch (t) {
      case Type::kNumber: ok = v.is_number(); want = "a number"; break;
      case Type::kInteger:
        // Read as int (GPU numbers, counts): a whole number in int's range.
        ok = v.is_number() && std::floor(v.get<double>()) == v.get<double>() && std::abs(v.get<double>()) < 1e9;
        want = "an integer";
        break;
      case Type::kString: ok = v.is_string(); want = "a string"; break;
      case Type::kBoolean: ok = v.is_boolean(); want = "a boolean"; break;
      case Type::kObject: ok = v.is_object(); want = "an object"; break;
      case Type::kArray: ok = v.is_array(); want = "an array"; break;
    }
    if (!ok) diags_.error(file_, ptr, std::string("expected ") + want + ", found " + io::describe(v));
    return ok;
  }

  // Each named member of `obj` that is present must be of type `t`.
  void members(const json& obj, const std::string& ptr, std::initializer_list<const char*> keys, Type t) {
    for (const char* k : keys) member(obj, ptr, k, t);
  }

  // `obj[key]`, if present, is an array whose elements are all of type `t`.
  const json* array_of(const json& obj, const std::string& ptr, const std::string& key, Type t) {
    const json* a = member(obj, ptr, key, Type::kArray);
    if (a == nullptr) return nullptr;
    bool all = true;
    for (std::size_t i = 0; i < a->size(); ++i) all = is((*a)[i], io::pointer_join(io::pointer_join(ptr, key), i), t) && all;
    return all ? a : nullptr;
  }

 private:
  const std::string& file_;
  io::Diagnostics& diags_;
};

void check_layout_shape(const json& l, const std::string& p, ShapeCheck& c) {
  using T = ShapeCheck::Type;
  c.members(l, p, {"name", "kind", "router_location", "layer_split"}, T::kString);
  c.members(l, p, {"gpus", "max_batch_that_fits", "events"}, T::kInteger);
  c.member(l, p, "fits", T::kBoolean);
  c.array_of(l, p, "gpu_ranks", T::kInteger);
  if (const json* b = c.member(l, p, "metrics_band", T::kObject)) {
    const std::string bp = io::pointer_join(p, "metrics_band");
    for (const char* k : {"tpot_ms", "ttft_ms", "iteration_ms", "tokens_per_s", "tokens_per_s_per_gpu"}) {
      c.array_of(*b, bp, k, T::kNumber);  // [low, high]
    }
  }
  if (const json* par = c.member(l, p, "parallelism", T::kObject)) {
    const std::string pp = io::pointer_join(p, "parallelism");
    c.members(*par, pp, {"tp", "pp", "ep", "dp", "micro_batches", "attention_gpus", "expert_gpus", "attention_dp",
                         "attention_replicas", "expert_tp", "hot_expert_replicas"},
              T::kInteger);
    c.member(*par, pp, "stage_parallelism", T::kString);
  }
  if (const json* m = c.member(l, p, "metrics", T::kObject)) {
    // Every metric is a number (null where the simulation gave none, e.g. NaN),
    // or an array of numbers (gpu_util).
    const std::string mp = io::pointer_join(p, "metrics");
    for (const auto& [k, v] : m->items()) {
      if (v.is_null()) continue;
      if (v.is_array()) {
        c.array_of(*m, mp, k, T::kNumber);
      } else {
        c.is(v, io::pointer_join(mp, k), T::kNumber);
      }
    }
  }
  if (const json* cm = c.member(l, p, "communication", T::kObject)) {
    const std::string cp = io::pointer_join(p, "communication");
    for (const auto& [tag, v] : cm->items()) {
      if (c.is(v, io::pointer_join(cp, tag), T::kObject)) {
        c.members(v, io::pointer_join(cp, tag), {"share", "exposed_ms", "bytes", "calls"}, T::kNumber);
      }
    }
  }
  if (const json* mem = c.member(l, p, "memory", T::kArray)) {
    for (std::size_t i = 0; i < mem->size(); ++i) {
      const std::string ip = io::pointer_join(io::pointer_join(p, "memory"), i);
      const json& g = (*mem)[i];
      if (!c.is(g, ip, T::kObject)) continue;
      c.member(g, ip, "gpu", T::kInteger);
      for (const auto& comp : memory_components()) c.member(g, ip, std::string(comp.key) + "_gib", T::kNumber);
      c.members(g, ip, {"total_gib", "capacity_gib"}, T::kNumber);
    }
  }
  if (const json* e = c.member(l, p, "experts", T::kObject)) {
    const std::string ep = io::pointer_join(p, "experts");
    c.members(*e, ep, {"share_std", "share_min", "share_max", "aux_loss", "gpu_load_max_over_mean"}, T::kNumber);
    c.members(*e, ep, {"dropped", "routed"}, T::kInteger);
  }
  if (const json* tl = c.member(l, p, "timeline", T::kArray)) {
    for (std::size_t i = 0; i < tl->size(); ++i) {
      const std::string ip = io::pointer_join(io::pointer_join(p, "timeline"), i);
      const json& e = (*tl)[i];
      if (!c.is(e, ip, T::kObject)) continue;
      c.members(e, ip, {"gpu", "layer", "micro_batch"}, T::kInteger);
      c.members(e, ip, {"stream", "name", "cat"}, T::kString);
      c.members(e, ip, {"start_us", "dur_us"}, T::kNumber);
    }
  }
}

// What the run report's timeline section reads (sim/report/timeline_report.cpp).
void check_run_timeline_shape(const json& t, const std::string& p, ShapeCheck& c) {
  using T = ShapeCheck::Type;
  c.members(t, p, {"duration_s"}, T::kNumber);
  c.member(t, p, "simulations", T::kInteger);
  if (const json* fs = c.member(t, p, "faults", T::kArray)) {
    for (std::size_t i = 0; i < fs->size(); ++i) {
      const std::string fp = io::pointer_join(io::pointer_join(p, "faults"), i);
      if (!c.is((*fs)[i], fp, T::kObject)) continue;
      c.member((*fs)[i], fp, "description", T::kString);
      c.member((*fs)[i], fp, "at_s", T::kNumber);
      const auto r = (*fs)[i].find("repair_after_s");
      if (r != (*fs)[i].end() && !r->is_null()) c.member((*fs)[i], fp, "repair_after_s", T::kNumber);
    }
  }
  if (const json* ri = c.member(t, p, "recovery_inputs", T::kObject)) {
    c.member(*ri, io::pointer_join(p, "recovery_inputs"), "detection_s", T::kNumber);
  }
  const json* ls = c.member(t, p, "layouts", T::kArray);
  if (ls == nullptr) return;
  for (std::size_t i = 0; i < ls->size(); ++i) {
    const std::string lp = io::pointer_join(io::pointer_join(p, "layouts"), i);
    const json& l = (*ls)[i];
    if (!c.is(l, lp, T::kObject)) continue;
    c.member(l, lp, "name", T::kString);
    c.members(l, lp, {"baseline_tokens_per_s", "goodput", "availability", "tokens_lost_in_flight", "tokens_recomputed"},
              T::kNumber);
    if (const json* cons = c.member(l, lp, "conservation", T::kObject)) {
      c.member(*cons, io::pointer_join(lp, "conservation"), "holds", T::kBoolean);
    }
    if (const json* segs = c.member(l, lp, "segments", T::kArray)) {
      for (std::size_t k = 0; k < segs->size(); ++k) {
        const std::string sp = io::pointer_join(io::pointer_join(lp, "segments"), k);
        const json& g = (*segs)[k];
        if (!c.is(g, sp, T::kObject)) continue;
        c.members(g, sp, {"start_s", "end_s", "tokens_per_s"}, T::kNumber);
        c.member(g, sp, "gpus_out", T::kInteger);
        if (const json* co = c.member(g, sp, "cohorts", T::kObject)) {
          c.members(*co, io::pointer_join(sp, "cohorts"), {"running", "stalled", "kv_lost", "reprefilling", "waiting"},
                    T::kInteger);
        }
      }
    }
    if (const json* incs = c.member(l, lp, "incidents", T::kArray)) {
      for (std::size_t k = 0; k < incs->size(); ++k) {
        const std::string ip = io::pointer_join(io::pointer_join(lp, "incidents"), k);
        const json& inc = (*incs)[k];
        if (!c.is(inc, ip, T::kObject)) continue;
        c.members(inc, ip, {"fault", "domain", "action"}, T::kString);
        c.members(inc, ip, {"at_s", "tokens_per_s_before", "tokens_per_s_after"}, T::kNumber);
        c.member(inc, ip, "sequences_reprefilled", T::kInteger);
        for (const char* k2 : {"recovery_s", "full_capacity_s"}) {
          const auto r = inc.find(k2);
          if (r != inc.end() && !r->is_null()) c.member(inc, ip, k2, T::kNumber);
        }
        if (const json* steps = c.member(inc, ip, "steps", T::kArray)) {
          for (std::size_t q = 0; q < steps->size(); ++q) {
            const std::string qp = io::pointer_join(io::pointer_join(ip, "steps"), q);
            if (!c.is((*steps)[q], qp, T::kObject)) continue;
            c.member((*steps)[q], qp, "name", T::kString);
            c.member((*steps)[q], qp, "duration_s", T::kNumber);
          }
        }
      }
    }
  }
}

// What the run report's serving section reads (sim/report/serving_report.cpp).
void check_serving_shape(const json& sv, const std::string& p, ShapeCheck& c) {
  using T = ShapeCheck::Type;
  c.member(sv, p, "arrivals", T::kString);
  c.member(sv, p, "requests", T::kInteger);
  if (const json* slo = c.member(sv, p, "slo", T::kObject)) {
    c.members(*slo, io::pointer_join(p, "slo"), {"ttft_s", "tpot_s"}, T::kNumber);
  }
  if (const json* sc = c.member(sv, p, "scheduler", T::kObject)) {
    const std::string sp = io::pointer_join(p, "scheduler");
    c.members(*sc, sp, {"max_num_seqs", "max_batched_tokens", "block_size"}, T::kInteger);
    c.members(*sc, sp, {"preemption", "router"}, T::kString);
    c.member(*sc, sp, "chunked_prefill", T::kBoolean);
  }
  auto summary = [&](const json& l, const std::string& lp) {
    c.members(l, lp, {"name"}, T::kString);
    c.members(l, lp, {"ok", "overloaded"}, T::kBoolean);
    c.member(l, lp, "error", T::kString);
    c.members(l, lp, {"replicas", "preemptions"}, T::kInteger);
    if (const json* rq = c.member(l, lp, "requests", T::kObject)) {
      c.members(*rq, io::pointer_join(lp, "requests"), {"arrived", "completed", "rejected", "in_flight"}, T::kInteger);
    }
    for (const char* k : {"ttft_s", "tpot_s", "e2e_s", "queueing_s"}) {
      if (const json* q = c.member(l, lp, k, T::kObject)) {
        c.members(*q, io::pointer_join(lp, k), {"mean", "p50", "p90", "p99", "max"}, T::kNumber);
      }
    }
    if (const json* t = c.member(l, lp, "throughput", T::kObject)) {
      c.members(*t, io::pointer_join(lp, "throughput"), {"requests_per_s", "output_tokens_per_s"}, T::kNumber);
    }
    if (const json* g = c.member(l, lp, "goodput", T::kObject)) {
      c.members(*g, io::pointer_join(lp, "goodput"), {"requests_per_s", "fraction"}, T::kNumber);
    }
    if (const json* lt = c.member(l, lp, "little", T::kObject)) {
      c.members(*lt, io::pointer_join(lp, "little"), {"L", "lambda_per_s", "W_s"}, T::kNumber);
    }
  };
  const json* ls = c.member(sv, p, "layouts", T::kArray);
  if (ls == nullptr) return;
  for (std::size_t i = 0; i < ls->size(); ++i) {
    const std::string lp = io::pointer_join(io::pointer_join(p, "layouts"), i);
    const json& l = (*ls)[i];
    if (!c.is(l, lp, T::kObject)) continue;
    summary(l, lp);
    if (const json* st = c.member(l, lp, "step_cost", T::kObject)) {
      c.member(*st, io::pointer_join(lp, "step_cost"), "max_abs_rel_error", T::kNumber);
    }
    if (const json* se = c.member(l, lp, "series", T::kArray)) {
      for (std::size_t k = 0; k < se->size(); ++k) {
        const std::string sp = io::pointer_join(io::pointer_join(lp, "series"), k);
        if (!c.is((*se)[k], sp, T::kObject)) continue;
        c.members((*se)[k], sp, {"t0_s", "t1_s", "running", "waiting", "kv_occupancy", "output_tokens_per_s"},
                  T::kNumber);
      }
    }
    if (const json* pr = c.member(l, lp, "per_request", T::kObject)) {
      const std::string pp = io::pointer_join(lp, "per_request");
      for (const char* k : {"id", "replica", "prompt_tokens", "output_tokens", "preemptions"}) c.array_of(*pr, pp, k, T::kInteger);
      for (const char* k : {"arrival_s", "ttft_s", "tpot_s", "e2e_s", "queueing_s"}) c.array_of(*pr, pp, k, T::kNumber);
      for (const char* k : {"status", "reason"}) c.array_of(*pr, pp, k, T::kString);
    }
    if (const json* sw = c.member(l, lp, "rate_sweep", T::kArray)) {
      for (std::size_t k = 0; k < sw->size(); ++k) {
        const std::string sp = io::pointer_join(io::pointer_join(lp, "rate_sweep"), k);
        if (!c.is((*sw)[k], sp, T::kObject)) continue;
        summary((*sw)[k], sp);
        c.member((*sw)[k], sp, "rate_per_s", T::kNumber);
      }
    }
  }
}

}  // namespace

void check_results_shape(const json& results, const std::string& file, io::Diagnostics& diags) {
  using T = ShapeCheck::Type;
  ShapeCheck c(file, diags);
  if (!results.is_object() || !results.contains("layouts") || !results["layouts"].is_array()) {
    diags.error(file, "/layouts", "expected a results.json with a \"layouts\" array (docs/RESULTS.md)");
    if (!results.is_object()) return;
  }
  c.members(results, "", {"masim_version", "scenario_name", "cost_model", "network_model"}, T::kString);
  c.member(results, "", "schema", T::kInteger);
  if (const json* w = c.member(results, "", "workload", T::kObject)) {
    c.member(*w, "/workload", "kind", T::kString);
    c.members(*w, "/workload", {"batch", "context_length"}, T::kInteger);
  }
  if (const json* t = c.member(results, "", "run_timeline", T::kObject)) check_run_timeline_shape(*t, "/run_timeline", c);
  if (const json* sv = c.member(results, "", "serving", T::kObject)) check_serving_shape(*sv, "/serving", c);
  if (const json* b = c.member(results, "", "cost_band", T::kObject)) {
    c.member(*b, "/cost_band", "what", T::kString);
    c.member(*b, "/cost_band", "steps", T::kInteger);
    c.members(*b, "/cost_band", {"bias_pct", "min_pct", "max_pct"}, T::kNumber);
  }
  if (const json* v = c.member(results, "", "verdict_band", T::kObject)) {
    c.members(*v, "/verdict_band", {"metric", "ma_layout", "baseline", "verdict"}, T::kString);
    c.member(*v, "/verdict_band", "ratio", T::kNumber);
    c.array_of(*v, "/verdict_band", "ratio_interval", T::kNumber);
    c.member(*v, "/verdict_band", "survives", T::kBoolean);
  }
  const auto it = results.find("layouts");
  if (it == results.end() || !it->is_array()) return;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string p = io::pointer_join("/layouts", i);
    if (c.is((*it)[i], p, T::kObject)) check_layout_shape((*it)[i], p, c);
  }
}

const json* find_layout_by_kind(const json& results, const std::string& kind) {
  if (!results.contains("layouts")) return nullptr;
  for (const json& l : results["layouts"]) {
    if (l.value("kind", "") == kind) return &l;
  }
  return nullptr;
}

const json* find_layout_by_name(const json& results, const std::string& name) {
  if (!results.contains("layouts")) return nullptr;
  for (const json& l : results["layouts"]) {
    if (l.value("name", "") == name) return &l;
  }
  return nullptr;
}

std::optional<double> metric_opt(const json& layout, const std::string& key) {
  if (!layout.contains("metrics")) return std::nullopt;
  const json& m = layout["metrics"];
  if (!m.contains(key) || !m[key].is_number()) return std::nullopt;
  return m[key].get<double>();
}

double metric(const json& layout, const std::string& key) { return metric_opt(layout, key).value_or(0.0); }

namespace {
double comm_field(const json& layout, const std::string& tag, const char* field) {
  if (!layout.contains("communication")) return 0.0;
  const json& c = layout["communication"];
  if (!c.contains(tag) || !c[tag].contains(field) || !c[tag][field].is_number()) return 0.0;
  return c[tag][field].get<double>();
}
}  // namespace

double comm_share(const json& layout, const std::string& tag) { return comm_field(layout, tag, "share"); }
double comm_exposed_ms(const json& layout, const std::string& tag) {
  return comm_field(layout, tag, "exposed_ms");
}

double moe_exchange_share(const json& layout) {
  return comm_share(layout, "ep_alltoall") + comm_share(layout, "ma_dispatch") +
         comm_share(layout, "ma_combine");
}

std::string layout_label(const json& layout) { return layout.value("name", std::string("?")); }

std::vector<GpuMemoryView> memory_profiles(const json& layout) {
  std::vector<GpuMemoryView> all;
  if (!layout.contains("memory") || !layout["memory"].is_array()) return {};
  for (const json& m : layout["memory"]) {
    GpuMemoryView v;
    v.gpu = m.value("gpu", 0);
    for (const auto& c : memory_components()) v.gib.push_back(m.value(std::string(c.key) + "_gib", 0.0));
    v.total_gib = m.value("total_gib", 0.0);
    v.capacity_gib = m.value("capacity_gib", 0.0);
    all.push_back(v);
  }
  if (all.empty()) return {};
  auto largest = [](const std::vector<GpuMemoryView>& vs) {
    return *std::max_element(vs.begin(), vs.end(), [](const GpuMemoryView& a, const GpuMemoryView& b) {
      return a.total_gib < b.total_gib || (a.total_gib == b.total_gib && a.gpu > b.gpu);
    });
  };
  if (layout.value("kind", "") == "ma_separation" && layout.contains("parallelism") &&
      layout.contains("gpu_ranks")) {
    // gpu_ranks lists the layout's GPUs in layout order: attention GPUs first.
    const int attention = layout["parallelism"].value("attention_gpus", 0);
    std::set<int> attention_ranks;
    const json& ranks = layout["gpu_ranks"];
    for (int i = 0; i < attention && i < static_cast<int>(ranks.size()); ++i) {
      attention_ranks.insert(ranks[static_cast<std::size_t>(i)].get<int>());
    }
    std::vector<GpuMemoryView> a, e;
    for (const GpuMemoryView& v : all) (attention_ranks.count(v.gpu) ? a : e).push_back(v);
    std::vector<GpuMemoryView> out;
    if (!a.empty()) {
      out.push_back(largest(a));
      out.back().role = "attention GPU";
    }
    if (!e.empty()) {
      out.push_back(largest(e));
      out.back().role = "expert GPU";
    }
    return out;
  }
  return {largest(all)};
}

namespace {
std::string lane_name(int gpu, const std::string& stream) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "GPU %02d %s", gpu, stream.c_str());
  return buf;
}
}  // namespace

std::optional<Chart> timeline_chart(const json& layout, const std::string& id, const std::string& title,
                                    const std::string& caption) {
  if (!layout.contains("timeline") || !layout["timeline"].is_array() || layout["timeline"].empty()) {
    return std::nullopt;
  }
  json rows = json::array();
  std::set<std::pair<int, int>> lanes;  // (gpu, stream 0 compute / 1 comm)
  for (const json& e : layout["timeline"]) {
    const int gpu = e.value("gpu", 0);
    const std::string stream = e.value("stream", "compute");
    const double start = e.value("start_us", 0.0);
    const double dur = e.value("dur_us", 0.0);
    lanes.insert({gpu, stream == "comm" ? 1 : 0});
    rows.push_back({{"lane", lane_name(gpu, stream)},
                    {"start_us", start},
                    {"end_us", start + dur},
                    {"cat", e.value("cat", "")},
                    {"op", e.value("name", "")},
                    {"layer", e.value("layer", -1)},
                    {"micro_batch", e.value("micro_batch", 0)}});
  }
  std::vector<std::string> order;
  for (const auto& [gpu, s] : lanes) order.push_back(lane_name(gpu, s == 1 ? "comm" : "compute"));
  Gantt g{.lane = {"lane", "GPU stream"},
          .start = {"start_us", "time (us)"},
          .end = {"end_us", "end (us)"},
          .color = {"cat", "Category"},
          .lane_order = order,
          .tooltip = {"op", "layer", "micro_batch"}};
  Chart c;
  c.id = id;
  c.title = title;
  c.caption = caption;
  c.spec = make_gantt(g, std::move(rows), lanes.size());
  return c;
}

double timeline_overlap_fraction(const json& layout) {
  if (!layout.contains("timeline") || !layout["timeline"].is_array()) return 0.0;
  // Per GPU: union of compute intervals and of comm intervals, then the measure
  // of their intersection, over the span of the iteration.
  std::map<int, std::vector<std::pair<double, double>>> compute, comm;
  double t0 = 0.0, t1 = 0.0;
  bool first = true;
  for (const json& e : layout["timeline"]) {
    const double s = e.value("start_us", 0.0);
    const double f = s + e.value("dur_us", 0.0);
    if (first || s < t0) t0 = s;
    if (first || f > t1) t1 = f;
    first = false;
    (e.value("stream", "compute") == "comm" ? comm : compute)[e.value("gpu", 0)].push_back({s, f});
  }
  if (t1 <= t0 || compute.empty()) return 0.0;
  auto merge = [](std::vector<std::pair<double, double>> v) {
    std::sort(v.begin(), v.end());
    std::vector<std::pair<double, double>> out;
    for (const auto& iv : v) {
      if (!out.empty() && iv.first <= out.back().second) {
        out.back().second = std::max(out.back().second, iv.second);
      } else {
        out.push_back(iv);
      }
    }
    return out;
  };
  double sum = 0.0;
  int gpus = 0;
  std::set<int> all_gpus;
  for (const auto& [g, v] : compute) all_gpus.insert(g);
  for (const auto& [g, v] : comm) all_gpus.insert(g);
  for (int g : all_gpus) {
    const auto a = merge(compute[g]);
    const auto b = merge(comm[g]);
    double overlap = 0.0;
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
      const double lo = std::max(a[i].first, b[j].first);
      const double hi = std::min(a[i].second, b[j].second);
      if (hi > lo) overlap += hi - lo;
      if (a[i].second < b[j].second) {
        ++i;
      } else {
        ++j;
      }
    }
    sum += overlap / (t1 - t0);
    ++gpus;
  }
  return gpus > 0 ? sum / gpus : 0.0;
}

Chart comm_breakdown_chart(const std::vector<const json*>& layouts, const std::string& id,
                           const std::string& title, const std::string& caption) {
  json rows = json::array();
  std::vector<std::string> cats, parts;
  for (const auto& t : comm_tags()) parts.push_back(t.label);
  for (const json* l : layouts) {
    if (l == nullptr) continue;
    cats.push_back(layout_label(*l));
    for (const auto& t : comm_tags()) {
      const double share = comm_share(*l, t.key);
      if (share <= 0.0) continue;
      rows.push_back({{"layout", layout_label(*l)},
                      {"type", t.label},
                      {"share_pct", 100.0 * share},
                      {"exposed_ms", comm_exposed_ms(*l, t.key)}});
    }
  }
  StackedBar sb{.category = {"layout", "Layout"},
                .part = {"type", "Communication"},
                .value = {"share_pct", "share of iteration time (%)"},
                .part_order = parts,
                .category_order = cats,
                .tooltip = {"exposed_ms"}};
  Chart c;
  c.id = id;
  c.title = title;
  c.caption = caption;
  c.spec = make_stacked_bar(sb, std::move(rows));
  return c;
}

Chart memory_stack_chart(const std::vector<const json*>& layouts, const std::string& id,
                         const std::string& title, const std::string& caption) {
  json rows = json::array();
  std::vector<std::string> cats, parts;
  for (const auto& m : memory_components()) parts.push_back(m.label);
  double capacity = 0.0;
  for (const json* l : layouts) {
    if (l == nullptr) continue;
    for (const GpuMemoryView& v : memory_profiles(*l)) {
      const std::string cat =
          layout_label(*l) + (v.role.empty() ? "" : " (" + v.role + ")");
      cats.push_back(cat);
      capacity = std::max(capacity, v.capacity_gib);
      for (std::size_t i = 0; i < memory_components().size(); ++i) {
        if (v.gib[i] <= 0.0) continue;
        rows.push_back({{"layout", cat},
                        {"component", memory_components()[i].label},
                        {"gib", v.gib[i]},
                        {"gpu", v.gpu}});
      }
    }
  }
  StackedBar sb{.category = {"layout", "Layout (GPU with the most memory)"},
                .part = {"component", "Component"},
                .value = {"gib", "memory per GPU (GiB)"},
                .part_order = parts,
                .category_order = cats,
                .tooltip = {"gpu"}};
  if (capacity > 0.0) sb.value_rule = Rule{capacity, "HBM capacity"};
  Chart c;
  c.id = id;
  c.title = title;
  c.caption = caption;
  c.spec = make_stacked_bar(sb, std::move(rows));
  return c;
}

}  // namespace masim::report
