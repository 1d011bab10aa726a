#include "sim/profile/profile.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/common/assert.hpp"
#include "sim/io/file_io.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/profile/op_map.hpp"

namespace masim::profile {

using nlohmann::json;
using io::Required;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const std::vector<std::string>& status_values() {
  static const std::vector<std::string> v = {"ok", "wrong", "unsupported", "skipped", "error"};
  return v;
}

// A numeric array; `nullable` lets null stand for "no measurement" (NaN).
std::optional<std::vector<double>> read_numbers(io::JsonReader& r, const std::string& key, Required req,
                                                bool nullable, double min) {
  const json* a = r.array(key, req);
  if (!a) return std::nullopt;
  std::vector<double> out;
  out.reserve(a->size());
  bool ok = true;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const json& v = (*a)[i];
    const std::string ptr = io::pointer_join(r.pointer_of(key), i);
    if (v.is_null() && nullable) {
      out.push_back(kNaN);
    } else if (v.is_number()) {
      const double x = v.get<double>();
      if (!(x >= min) || !std::isfinite(x)) {
        r.diagnostics().error(r.file(), ptr, "expected a finite number >= " + json(min).dump() + ", found " + v.dump());
        ok = false;
      }
      out.push_back(x);
    } else {
      r.diagnostics().error(r.file(), ptr,
                            std::string("expected a number") + (nullable ? " or null" : "") + ", found " +
                                io::describe(v));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> read_strings(io::JsonReader& r, const std::string& key, Required req) {
  const json* a = r.array(key, req);
  if (!a) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < a->size(); ++i) {
    if (!(*a)[i].is_string()) {
      r.diagnostics().error(r.file(), io::pointer_join(r.pointer_of(key), i),
                            "expected a string, found " + io::describe((*a)[i]));
      ok = false;
      continue;
    }
    out.push_back((*a)[i].get<std::string>());
  }
  if (!ok) return std::nullopt;
  return out;
}

void read_summary(io::JsonReader& parent, const std::string& key, ErrorSummary& s) {
  auto r = parent.object(key, Required::kNo);
  if (!r || !r->valid()) return;
  s.points = static_cast<int>(r->integer_or("points", 0, 0, 1 << 30));
  s.median_abs_pct = r->number_or("median_abs_pct", 0, 0, 1e9);
  s.p95_abs_pct = r->number_or("p95_abs_pct", 0, 0, 1e9);
  s.max_abs_pct = r->number_or("max_abs_pct", 0, 0, 1e9);
  r->finish();
}

void parse_provenance(io::JsonReader& r, Provenance& p) {
  p.gpu_name = r.string("gpu_name", Required::kYes).value_or("");
  p.gpu_uuid = r.string_or("gpu_uuid", "");
  p.sm_count = static_cast<int>(r.integer_or("sm_count", 0, 0, 100000));
  p.l2_bytes = r.number_or("l2_bytes", 0, 0, 1e12);
  p.hbm_bytes = r.number_or("hbm_bytes", 0, 0, 1e15);
  if (auto c = r.object("clocks_mhz", Required::kNo); c && c->valid()) {
    const json* node = r.raw("clocks_mhz");
    for (auto it = node->begin(); it != node->end(); ++it) {
      if (auto v = c->number(it.key(), Required::kYes, 0, 1e6)) p.clocks_mhz[it.key()] = *v;
    }
    c->finish();
  }
  p.driver_version = r.string_or("driver_version", "");
  p.cuda_runtime_version = r.string_or("cuda_runtime_version", "");
  p.cuda_driver_version = r.string_or("cuda_driver_version", "");
  p.cublas_version = r.string_or("cublas_version", "");
  p.nccl_version = r.string_or("nccl_version", "");
  p.date_utc = r.string_or("date_utc", "");
  p.host = r.string_or("host", "");
  p.masim_version = r.string_or("masim_version", "");
  p.git_commit = r.string_or("git_commit", "");
  if (auto a = read_strings(r, "arguments", Required::kNo)) p.arguments = *a;
  r.finish();
}

void parse_ceilings(io::JsonReader& r, Ceilings& c) {
  c.copy_bytes_per_s = r.number_or("copy_bytes_per_s", 0, 0, 1e15);
  c.bf16_flops_per_s = r.number_or("bf16_flops_per_s", 0, 0, 1e18);
  c.fp8_flops_per_s = r.number_or("fp8_flops_per_s", 0, 0, 1e18);
  c.vector_fp32_flops_per_s = r.number_or("vector_fp32_flops_per_s", 0, 0, 1e18);
  if (auto a = read_strings(r, "sources", Required::kNo)) c.sources = *a;
  r.finish();
}

std::optional<OpTable> parse_table(const json& node, const std::string& file, const std::string& ptr,
                                   io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  io::JsonReader r(node, file, ptr, diags);
  if (!r.valid()) return std::nullopt;
  OpTable t;
  t.name = r.string("name", Required::kYes).value_or("");
  if (auto k = r.string("op", Required::kYes)) {
    if (auto kind = parse_op_kind(*k)) {
      t.kind = *kind;
    } else {
      r.error("op", "unknown op kind \"" + *k + "\"");
    }
  }
  if (auto d = r.string("dtype", Required::kYes)) {
    if (auto dt = parse_dtype(*d)) {
      t.dtype = *dt;
    } else {
      r.error("dtype", "unknown dtype \"" + *d + "\"");
    }
  }
  t.head_dim = static_cast<int>(r.integer_or("head_dim", 0, 0, 4096));
  t.implementation = r.string_or("implementation", "");
  t.kernels = r.string_or("kernels", kKernelsMasim);
  if (t.kernels != kKernelsMasim && t.kernels != kKernelsProduction) {
    r.error("kernels", "expected \"masim\" or \"production\", found \"" + t.kernels + "\"");
  }
  if (auto a = read_strings(r, "axes", Required::kYes)) t.axes = *a;
  if (diags.size() == before) {
    const std::vector<std::string>& want = canonical_axes(t.kind);
    if (t.axes != want) {
      std::string list;
      for (const std::string& w : want) list += (list.empty() ? "" : ", ") + w;
      r.error("axes", std::string("a ") + models::to_string(t.kind) + " table has axes [" + list + "]");
    }
    const bool attention = t.kind == models::OpKind::kAttentionDecode || t.kind == models::OpKind::kAttentionPrefill;
    if (attention && t.head_dim <= 0) r.error("head_dim", "an attention table needs head_dim");
    const bool copy = t.kind == models::OpKind::kMemcpy;
    const std::string expected = table_name(t.kind, t.dtype, t.head_dim);
    if (!copy && t.name != expected) {
      r.error("name", "a " + std::string(models::to_string(t.kind)) + " table of dtype " + spec::to_string(t.dtype) +
                          " is named \"" + expected + "\", found \"" + t.name + "\"");
    }
    if (copy && t.name != "memcpy_d2d" && t.name != "memcpy_h2d" && t.name != "memcpy_d2h") {
      r.error("name", "a memcpy table is named memcpy_d2d, memcpy_h2d or memcpy_d2h, found \"" + t.name + "\"");
    }
  }
  if (auto g = r.object("grid", Required::kYes); g && g->valid()) {
    for (const std::string& axis : t.axes) {
      auto values = read_numbers(*g, axis, Required::kYes, false, 0.0);
      if (!values) {
        t.grid.emplace_back();
        continue;
      }
      bool increasing = !values->empty();
      for (std::size_t i = 0; i < values->size(); ++i) {
        if ((*values)[i] <= 0 || (i > 0 && (*values)[i] <= (*values)[i - 1])) increasing = false;
      }
      if (!increasing) g->error(axis, "grid values must be positive and strictly increasing");
      t.grid.push_back(*values);
    }
    g->finish();
  }
  auto per_axis = [&](const char* key, std::vector<double>& out) {
    if (auto q = r.object(key, Required::kNo); q && q->valid()) {
      out.assign(t.axes.size(), 1.0);
      for (std::size_t a = 0; a < t.axes.size(); ++a) {
        if (auto v = q->integer(t.axes[a], Required::kNo, 1, 1 << 20)) out[a] = static_cast<double>(*v);
      }
      q->finish();
    }
  };
  per_axis("quanta", t.quanta);
  per_axis("alignment", t.alignment);
  if (auto iso = r.object("iso_bytes", Required::kNo); iso && iso->valid()) {
    if (auto along = iso->string("along", Required::kYes)) {
      const auto at = std::find(t.axes.begin(), t.axes.end(), *along);
      if (at == t.axes.end()) {
        iso->error("along", "expected one of the table's axes, found \"" + *along + "\"");
      } else {
        t.iso_along = static_cast<int>(at - t.axes.begin());
      }
    }
    t.iso_offset.assign(t.axes.size(), std::nan(""));
    if (auto scale = iso->object("scale", Required::kYes); scale && scale->valid()) {
      for (std::size_t a = 0; a < t.axes.size(); ++a) {
        if (static_cast<int>(a) == t.iso_along) continue;
        if (auto o = scale->number(t.axes[a], Required::kNo, 0.0, 1e6)) t.iso_offset[a] = *o;
      }
      scale->finish();
    }
    iso->finish();
    if (t.iso_along < 0) t.iso_offset.clear();
  }
  auto times = read_numbers(r, "time_us", Required::kYes, true, 0.0);
  if (times) t.time_us = *times;
  const std::size_t expected = t.grid.size() == t.axes.size() ? t.points() : 0;
  if (times && expected != 0 && times->size() != expected) {
    r.error("time_us", "expected " + std::to_string(expected) + " values (the product of the grid sizes), found " +
                           std::to_string(times->size()));
  }
  auto optional_series = [&](const char* key, std::vector<double>& out) {
    if (auto v = read_numbers(r, key, Required::kNo, true, 0.0)) {
      if (!v->empty() && v->size() != t.time_us.size()) {
        r.error(key, "expected " + std::to_string(t.time_us.size()) + " values (one per grid point), found " +
                         std::to_string(v->size()));
      }
      out = *v;
    }
  };
  optional_series("time_min_us", t.time_min_us);
  optional_series("time_p90_us", t.time_p90_us);
  optional_series("spread_pct", t.spread_pct);
  optional_series("power_w", t.power_w);
  if (auto s = read_strings(r, "status", Required::kNo)) {
    if (!s->empty() && s->size() != t.time_us.size()) {
      r.error("status", "expected " + std::to_string(t.time_us.size()) + " values, found " + std::to_string(s->size()));
    }
    for (std::size_t i = 0; i < s->size(); ++i) {
      const auto& allowed = status_values();
      if (std::find(allowed.begin(), allowed.end(), (*s)[i]) == allowed.end()) {
        diags.error(file, io::pointer_join(r.pointer_of("status"), i),
                    "unknown status \"" + (*s)[i] + "\" (expected ok, wrong, unsupported, skipped or error)");
      }
    }
    t.status = *s;
  }
  read_summary(r, "loo_interpolation", t.loo_interpolation);
  read_summary(r, "loo_extrapolation", t.loo_extrapolation);
  read_summary(r, "holdout_error", t.holdout_error);
  read_summary(r, "model_holdout_error", t.model_holdout_error);
  auto read_holdout = [&](const char* key, std::vector<HoldoutPoint>& out) {
    const json* h = r.array(key, Required::kNo);
    if (h == nullptr) return;
    for (std::size_t i = 0; i < h->size(); ++i) {
      io::JsonReader hr((*h)[i], file, io::pointer_join(r.pointer_of(key), i), diags);
      if (!hr.valid()) continue;
      HoldoutPoint p;
      if (auto at = read_numbers(hr, "at", Required::kYes, false, 0.0)) {
        if (at->size() != t.axes.size()) hr.error("at", "expected one value per axis");
        p.at = *at;
      }
      p.time_us = hr.number("time_us", Required::kYes, 0, 1e12).value_or(0);
      p.model_us = hr.number_or("model_us", 0, 0, 1e12);
      p.source = hr.string_or("source", "");
      hr.finish();
      out.push_back(std::move(p));
    }
  };
  read_holdout("holdout", t.holdout);
  read_holdout("model_holdout", t.model_holdout);
  r.finish();
  if (diags.size() != before) return std::nullopt;
  return t;
}

std::optional<CollectiveTable> parse_collective(const json& node, const std::string& file, const std::string& ptr,
                                                io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  io::JsonReader r(node, file, ptr, diags);
  if (!r.valid()) return std::nullopt;
  CollectiveTable c;
  c.name = r.choice("name", Required::kYes, {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv",
                                             "ma_exchange"})
               .value_or("");
  c.ranks = static_cast<int>(r.integer("ranks", Required::kYes, 1, 1 << 20).value_or(1));
  c.launch = r.string_or("launch", "");
  if (auto v = read_numbers(r, "bytes", Required::kYes, false, 0.0)) c.bytes = *v;
  auto series = [&](const char* key, std::vector<double>& out, Required req) {
    if (auto v = read_numbers(r, key, req, true, 0.0)) {
      if (v->size() != c.bytes.size()) {
        r.error(key, "expected " + std::to_string(c.bytes.size()) + " values (one per size), found " +
                         std::to_string(v->size()));
      }
      out = *v;
    }
  };
  series("time_us", c.time_us, Required::kYes);
  series("algbw_gb_per_s", c.algbw_gb_per_s, Required::kNo);
  series("busbw_gb_per_s", c.busbw_gb_per_s, Required::kNo);
  if (auto s = read_strings(r, "status", Required::kNo)) c.status = *s;
  r.finish();
  if (diags.size() != before) return std::nullopt;
  return c;
}

// Lower-case alphanumeric tokens of a GPU name without the vendor ("NVIDIA
// H100-SXM5-80GB" -> h100 sxm5 80gb).
std::vector<std::string> name_tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (std::isalnum(static_cast<unsigned char>(ch))) {
      cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  if (!out.empty() && out.front() == "nvidia") out.erase(out.begin());
  return out;
}

bool is_memory_token(const std::string& t) {
  return t.size() > 2 && t.compare(t.size() - 2, 2, "gb") == 0 &&
         std::all_of(t.begin(), t.end() - 2, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::string form_factor(const std::vector<std::string>& tokens) {
  for (const std::string& t : tokens) {
    if (t == "pcie" || t == "nvl") return t;
    if (t.rfind("sxm", 0) == 0) return "sxm";
  }
  return "";
}

std::string memory_size(const std::vector<std::string>& tokens) {
  for (const std::string& t : tokens) {
    if (is_memory_token(t)) return t;
  }
  return "";
}

// ---------------------------------------------------------------- writing
json numbers(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) {
    if (std::isfinite(x)) {
      a.push_back(x);
    } else {
      a.push_back(nullptr);
    }
  }
  return a;
}

json summary_json(const ErrorSummary& s) {
  return json{{"points", s.points},
              {"median_abs_pct", s.median_abs_pct},
              {"p95_abs_pct", s.p95_abs_pct},
              {"max_abs_pct", s.max_abs_pct}};
}

// Keeps `digits` significant digits so the file stays readable and stable.
double round_sig(double x, int digits) {
  if (!std::isfinite(x) || x == 0.0) return x;
  const double mag = std::floor(std::log10(std::fabs(x)));
  const double scale = std::pow(10.0, digits - 1 - mag);
  return std::round(x * scale) / scale;
}

std::vector<double> rounded(const std::vector<double>& v, int digits) {
  std::vector<double> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [&](double x) { return round_sig(x, digits); });
  return out;
}

json table_json(const OpTable& t) {
  json j = json::object();
  j["name"] = t.name;
  j["op"] = models::to_string(t.kind);
  j["dtype"] = spec::to_string(t.dtype);
  if (t.head_dim > 0) j["head_dim"] = t.head_dim;
  if (!t.implementation.empty()) j["implementation"] = t.implementation;
  if (t.kernels != kKernelsMasim) j["kernels"] = t.kernels;
  j["axes"] = t.axes;
  json g = json::object();
  for (std::size_t a = 0; a < t.axes.size() && a < t.grid.size(); ++a) g[t.axes[a]] = numbers(t.grid[a]);
  j["grid"] = g;
  auto per_axis = [&](const char* key, const std::vector<double>& values) {
    json q = json::object();
    for (std::size_t a = 0; a < t.axes.size() && a < values.size(); ++a) {
      if (values[a] > 1) q[t.axes[a]] = static_cast<std::int64_t>(values[a]);
    }
    if (!q.empty()) j[key] = q;
  };
  per_axis("quanta", t.quanta);
  per_axis("alignment", t.alignment);
  if (t.iso_along >= 0 && static_cast<std::size_t>(t.iso_along) < t.axes.size()) {
    json scale = json::object();
    for (std::size_t a = 0; a < t.axes.size(); ++a) {
      if (t.iso_scales(a)) scale[t.axes[a]] = t.iso_offset[a];
    }
    j["iso_bytes"] = json{{"along", t.axes[static_cast<std::size_t>(t.iso_along)]}, {"scale", scale}};
  }
  j["time_us"] = numbers(rounded(t.time_us, 5));
  if (!t.time_min_us.empty()) j["time_min_us"] = numbers(rounded(t.time_min_us, 5));
  if (!t.time_p90_us.empty()) j["time_p90_us"] = numbers(rounded(t.time_p90_us, 5));
  if (!t.spread_pct.empty()) j["spread_pct"] = numbers(rounded(t.spread_pct, 3));
  if (!t.power_w.empty()) j["power_w"] = numbers(rounded(t.power_w, 4));
  if (!t.status.empty()) j["status"] = t.status;
  j["loo_interpolation"] = summary_json(t.loo_interpolation);
  j["loo_extrapolation"] = summary_json(t.loo_extrapolation);
  auto holdout_json = [](const std::vector<HoldoutPoint>& points) {
    json h = json::array();
    for (const HoldoutPoint& p : points) {
      json e{{"at", numbers(p.at)}, {"time_us", round_sig(p.time_us, 5)}, {"model_us", round_sig(p.model_us, 5)}};
      if (!p.source.empty()) e["source"] = p.source;
      h.push_back(std::move(e));
    }
    return h;
  };
  if (!t.holdout.empty()) {
    j["holdout"] = holdout_json(t.holdout);
    j["holdout_error"] = summary_json(t.holdout_error);
  }
  if (!t.model_holdout.empty()) {
    j["model_holdout"] = holdout_json(t.model_holdout);
    j["model_holdout_error"] = summary_json(t.model_holdout_error);
  }
  return j;
}

// Pretty printer: objects one key per line; arrays of scalars on one line.
void emit(const json& v, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  const std::string pad_in(static_cast<std::size_t>(indent + 2), ' ');
  if (v.is_object()) {
    if (v.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!first) out += ",\n";
      first = false;
      out += pad_in + json(it.key()).dump() + ": ";
      emit(it.value(), indent + 2, out);
    }
    out += "\n" + pad + "}";
  } else if (v.is_array()) {
    const bool scalars = std::all_of(v.begin(), v.end(), [](const json& e) { return !e.is_structured(); });
    if (scalars) {
      out += v.dump();
      return;
    }
    out += "[\n";
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) out += ",\n";
      out += pad_in;
      emit(v[i], indent + 2, out);
    }
    out += "\n" + pad + "]";
  } else {
    out += v.dump();
  }
}

}  // namespace

std::size_t OpTable::points() const {
  std::size_t n = 1;
  for (const auto& g : grid) n *= g.size();
  return grid.empty() ? 0 : n;
}

std::size_t OpTable::flat_index(const std::vector<std::size_t>& idx) const {
  MASIM_ASSERT(idx.size() == grid.size(), "index rank differs from the grid's");
  std::size_t f = 0;
  for (std::size_t a = 0; a < grid.size(); ++a) f = f * grid[a].size() + idx[a];
  return f;
}

double OpTable::quantum(std::size_t a) const { return a < quanta.size() && quanta[a] > 1 ? quanta[a] : 1.0; }
bool OpTable::iso_scales(std::size_t a) const {
  return iso_along >= 0 && static_cast<int>(a) != iso_along && a < iso_offset.size() && !std::isnan(iso_offset[a]);
}
double OpTable::alignment_of(std::size_t a) const {
  return a < alignment.size() && alignment[a] > 1 ? alignment[a] : 1.0;
}

std::vector<std::size_t> OpTable::unflatten(std::size_t flat) const {
  std::vector<std::size_t> idx(grid.size());
  for (std::size_t a = grid.size(); a-- > 0;) {
    idx[a] = flat % grid[a].size();
    flat /= grid[a].size();
  }
  return idx;
}

std::vector<double> OpTable::point(std::size_t flat) const {
  const auto idx = unflatten(flat);
  std::vector<double> x(grid.size());
  for (std::size_t a = 0; a < grid.size(); ++a) x[a] = grid[a][idx[a]];
  return x;
}

const OpTable* Profile::find(std::string_view name) const { return find(name, kKernelsMasim); }

OpTable* Profile::find(std::string_view name) { return find(name, kKernelsMasim); }

const OpTable* Profile::find(std::string_view name, std::string_view kernels) const {
  for (const OpTable& t : ops) {
    if (t.name == name && t.kernels == kernels) return &t;
  }
  return nullptr;
}

OpTable* Profile::find(std::string_view name, std::string_view kernels) {
  for (OpTable& t : ops) {
    if (t.name == name && t.kernels == kernels) return &t;
  }
  return nullptr;
}

std::optional<spec::DType> parse_dtype(std::string_view s) {
  for (spec::DType d : {spec::DType::kFP32, spec::DType::kTF32, spec::DType::kBF16, spec::DType::kFP16,
                        spec::DType::kFP8}) {
    if (s == spec::to_string(d)) return d;
  }
  return std::nullopt;
}

std::optional<models::OpKind> parse_op_kind(std::string_view s) {
  using models::OpKind;
  for (OpKind k : {OpKind::kGemm, OpKind::kGroupedGemm, OpKind::kAttentionDecode, OpKind::kAttentionPrefill,
                   OpKind::kRmsNorm, OpKind::kRouterTopK, OpKind::kPermute, OpKind::kUnpermute, OpKind::kSwiGLU,
                   OpKind::kElementwise, OpKind::kMemcpy}) {
    if (s == models::to_string(k)) return k;
  }
  return std::nullopt;
}

bool same_gpu_name(std::string_view a, std::string_view b) {
  const auto ta = name_tokens(a);
  const auto tb = name_tokens(b);
  if (ta.empty() || tb.empty() || ta.front() != tb.front()) return false;
  const std::string fa = form_factor(ta), fb = form_factor(tb);
  if (!fa.empty() && !fb.empty() && fa != fb) return false;
  const std::string ma = memory_size(ta), mb = memory_size(tb);
  return ma.empty() || mb.empty() || ma == mb;
}

std::optional<Profile> parse_profile(const json& doc, const std::string& file, io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  io::JsonReader r(doc, file, "", diags);
  if (!r.valid()) return std::nullopt;
  Profile p;
  p.schema = static_cast<int>(r.integer("schema", Required::kYes, 0, 1000).value_or(kProfileSchema));
  if (p.schema != kProfileSchema) {
    r.error("schema", "profile schema " + std::to_string(p.schema) + " is not supported (this masim reads schema " +
                          std::to_string(kProfileSchema) + ")");
  }
  if (auto kind = r.string("kind", Required::kYes); kind && *kind != kProfileKind) {
    r.error("kind", std::string("expected \"") + kProfileKind + "\", found \"" + *kind + "\"");
  }
  p.derived = r.boolean_or("derived", false);
  if (auto d = r.object("derivation", Required::kNo); d && d->valid()) {
    Derivation der;
    der.method = d->string("method", Required::kYes).value_or("");
    der.source_profile = d->string_or("source_profile", "");
    der.source_gpu = d->string_or("source_gpu", "");
    der.source_date_utc = d->string_or("source_date_utc", "");
    for (const char* key : {"source_datasheet", "target_datasheet"}) {
      auto& out = std::string(key) == "source_datasheet" ? der.source_datasheet : der.target_datasheet;
      if (auto o = d->object(key, Required::kNo); o && o->valid()) {
        const json* node = d->raw(key);
        for (auto it = node->begin(); it != node->end(); ++it) {
          if (auto v = o->number(it.key(), Required::kYes, 0, 1e20)) out[it.key()] = *v;
        }
        o->finish();
      }
    }
    if (auto s = read_strings(*d, "sources", Required::kNo)) der.sources = *s;
    if (auto e = d->object("measured_error", Required::kNo); e && e->valid()) {
      MeasuredError me;
      me.against = e->string("against", Required::kYes).value_or("");
      me.report = e->string_or("report", "");
      me.steps = static_cast<int>(e->integer("steps", Required::kYes, 1, 1 << 30).value_or(0));
      me.bias_pct = e->number("bias_pct", Required::kYes, -100, 1e6).value_or(0);
      me.p95_abs_pct = e->number("p95_abs_pct", Required::kYes, 0, 1e6).value_or(0);
      me.min_pct = e->number("min_pct", Required::kYes, -99.999, 1e6).value_or(0);
      me.max_pct = e->number("max_pct", Required::kYes, -99.999, 1e6).value_or(0);
      if (me.max_pct < me.min_pct) e->error("max_pct", "expected max_pct >= min_pct");
      e->finish();
      der.measured_error = me;
    }
    d->finish();
    p.derivation = der;
  }
  if (p.derived && !p.derivation) r.error_here("a derived profile must say how it was derived (\"derivation\")");
  if (auto pr = r.object("provenance", Required::kYes); pr && pr->valid()) parse_provenance(*pr, p.provenance);
  if (auto c = r.object("ceilings", Required::kYes); c && c->valid()) parse_ceilings(*c, p.ceilings);
  if (const json* ops = r.array("ops", Required::kYes)) {
    for (std::size_t i = 0; i < ops->size(); ++i) {
      const std::string ptr = io::pointer_join("/ops", i);
      if (auto t = parse_table((*ops)[i], file, ptr, diags)) {
        if (p.find(t->name, t->kernels) != nullptr) {
          diags.error(file, ptr + "/name", "duplicate op table \"" + t->name + "\" (kernels \"" + t->kernels + "\")");
        }
        p.ops.push_back(std::move(*t));
      }
    }
  }
  if (const json* cs = r.array("collectives", Required::kNo)) {
    for (std::size_t i = 0; i < cs->size(); ++i) {
      if (auto c = parse_collective((*cs)[i], file, io::pointer_join("/collectives", i), diags)) {
        p.collectives.push_back(std::move(*c));
      }
    }
  }
  if (auto pm = r.object("power_model", Required::kNo); pm && pm->valid()) {
    models::PowerFit f;
    f.idle_w = pm->number("idle_w", Required::kYes, 0, 1e5).value_or(0);
    f.tensor_pj_per_flop = pm->number("tensor_pj_per_flop", Required::kYes, 0, 1e6).value_or(0);
    f.vector_pj_per_flop = pm->number("vector_pj_per_flop", Required::kYes, 0, 1e6).value_or(0);
    f.hbm_pj_per_byte = pm->number("hbm_pj_per_byte", Required::kYes, 0, 1e6).value_or(0);
    f.cap_w = pm->number("cap_w", Required::kYes, 0, 1e5).value_or(0);
    f.source = pm->string_or("source", "");
    if (f.cap_w <= f.idle_w) pm->error("cap_w", "expected a board limit above idle_w");
    pm->finish();
    p.power_model = f;
  }
  if (auto n = read_strings(r, "notes", Required::kNo)) p.notes = *n;
  r.finish();
  if (diags.size() != before) return std::nullopt;
  return p;
}

std::optional<Profile> load_profile(const std::string& path, io::Diagnostics& diags) {
  auto doc = io::load_json_file(path, diags);
  if (!doc) return std::nullopt;
  return parse_profile(*doc, path, diags);
}

std::string to_json_text(const Profile& p) {
  json j = json::object();
  j["schema"] = p.schema;
  j["kind"] = kProfileKind;
  j["derived"] = p.derived;
  if (p.derivation) {
    const Derivation& d = *p.derivation;
    j["derivation"] = json{{"method", d.method},
                           {"source_profile", d.source_profile},
                           {"source_gpu", d.source_gpu},
                           {"source_date_utc", d.source_date_utc},
                           {"source_datasheet", d.source_datasheet},
                           {"target_datasheet", d.target_datasheet},
                           {"sources", d.sources}};
    if (d.measured_error) {
      const MeasuredError& e = *d.measured_error;
      j["derivation"]["measured_error"] = json{{"against", e.against},       {"report", e.report},
                                               {"steps", e.steps},           {"bias_pct", e.bias_pct},
                                               {"p95_abs_pct", e.p95_abs_pct}, {"min_pct", e.min_pct},
                                               {"max_pct", e.max_pct}};
    }
  }
  const Provenance& v = p.provenance;
  j["provenance"] = json{{"gpu_name", v.gpu_name},
                         {"gpu_uuid", v.gpu_uuid},
                         {"sm_count", v.sm_count},
                         {"l2_bytes", v.l2_bytes},
                         {"hbm_bytes", v.hbm_bytes},
                         {"clocks_mhz", v.clocks_mhz},
                         {"driver_version", v.driver_version},
                         {"cuda_runtime_version", v.cuda_runtime_version},
                         {"cuda_driver_version", v.cuda_driver_version},
                         {"cublas_version", v.cublas_version},
                         {"nccl_version", v.nccl_version},
                         {"date_utc", v.date_utc},
                         {"host", v.host},
                         {"masim_version", v.masim_version},
                         {"git_commit", v.git_commit},
                         {"arguments", v.arguments}};
  j["ceilings"] = json{{"copy_bytes_per_s", round_sig(p.ceilings.copy_bytes_per_s, 5)},
                       {"bf16_flops_per_s", round_sig(p.ceilings.bf16_flops_per_s, 5)},
                       {"fp8_flops_per_s", round_sig(p.ceilings.fp8_flops_per_s, 5)},
                       {"vector_fp32_flops_per_s", round_sig(p.ceilings.vector_fp32_flops_per_s, 5)},
                       {"sources", p.ceilings.sources}};
  json ops = json::array();
  for (const OpTable& t : p.ops) ops.push_back(table_json(t));
  j["ops"] = ops;
  json cs = json::array();
  for (const CollectiveTable& c : p.collectives) {
    json cj = json{{"name", c.name}, {"ranks", c.ranks}, {"launch", c.launch}, {"bytes", numbers(c.bytes)},
                   {"time_us", numbers(rounded(c.time_us, 5))}};
    if (!c.algbw_gb_per_s.empty()) cj["algbw_gb_per_s"] = numbers(rounded(c.algbw_gb_per_s, 4));
    if (!c.busbw_gb_per_s.empty()) cj["busbw_gb_per_s"] = numbers(rounded(c.busbw_gb_per_s, 4));
    if (!c.status.empty()) cj["status"] = c.status;
    cs.push_back(cj);
  }
  j["collectives"] = cs;
  if (p.power_model) {
    const models::PowerFit& f = *p.power_model;
    j["power_model"] = json{{"idle_w", round_sig(f.idle_w, 5)},
                            {"tensor_pj_per_flop", round_sig(f.tensor_pj_per_flop, 5)},
                            {"vector_pj_per_flop", round_sig(f.vector_pj_per_flop, 5)},
                            {"hbm_pj_per_byte", round_sig(f.hbm_pj_per_byte, 5)},
                            {"cap_w", round_sig(f.cap_w, 5)},
                            {"source", f.source}};
  }
  if (!p.notes.empty()) j["notes"] = p.notes;
  std::string out;
  emit(j, 0, out);
  out += "\n";
  return out;
}

void write_text_atomic(const std::string& path, const std::string& text) { io::write_file_atomically(path, text); }

void write_profile(const Profile& p, const std::string& path) { write_text_atomic(path, to_json_text(p)); }

}  // namespace masim::profile
