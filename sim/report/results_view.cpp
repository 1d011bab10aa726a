#include "sim/report/results_view.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

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
