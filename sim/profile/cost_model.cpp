#include "sim/profile/cost_model.hpp"

#include <cstdio>
#include <filesystem>

#include "sim/common/assert.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/profile/op_map.hpp"

namespace masim::profile {

ProfileCostModel::ProfileCostModel(Profile p, std::string path, spec::GpuSpec gpu, std::string kernels)
    : profile_(std::move(p)), path_(std::move(path)), kernels_(std::move(kernels)), roofline_(std::move(gpu)) {
  MASIM_ASSERT(kernels_ == kKernelsProduction || kernels_ == kKernelsMasim, "unknown kernels choice");
  // profile_ is never moved after this point (the class is not copyable or
  // movable), so the models may keep references to its tables.
  if (kernels_ == kKernelsProduction) {
    for (const OpTable& t : profile_.ops) {
      if (t.kernels != kKernelsProduction) continue;
      tables_[t.name].emplace_back(t, profile_.ceilings);
      production_used_.push_back(t.name);
    }
  }
  for (const OpTable& t : profile_.ops) {
    if (t.kernels == kKernelsMasim) tables_[t.name].emplace_back(t, profile_.ceilings);
  }
}

std::optional<double> ProfileCostModel::profile_us(const models::Op& op) const {
  if (op.backward && (op.kind == models::OpKind::kAttentionDecode || op.kind == models::OpKind::kAttentionPrefill)) {
    return std::nullopt;
  }
  const auto q = table_query(op);
  if (!q) return std::nullopt;
  const auto it = tables_.find(q->table);
  if (it == tables_.end()) return std::nullopt;
  for (const TableModel& m : it->second) {
    if (auto us = m.predict_us(q->x)) return us;
  }
  return std::nullopt;
}

SimTime ProfileCostModel::at_power_cap(const models::Op& op, SimTime t) const {
  if (!profile_.power_model) return t;
  // Only ops the SM clock paces: tensor FLOPs per byte above the measured ridge
  // (best bf16 rate / copy bandwidth). A lower clock does not slow an op HBM paces.
  const Ceilings& c = profile_.ceilings;
  if (c.bf16_flops_per_s <= 0 || c.copy_bytes_per_s <= 0 || op.bytes.count() <= 0) return t;
  const double tensor = op.flops.count() - op.vector_flops.count();
  if (tensor / op.bytes.as_double() <= c.bf16_flops_per_s / c.copy_bytes_per_s) return t;
  return profile_.power_model->capped_time(op, t);
}

std::optional<models::OpCost> ProfileCostModel::find_cost(const models::Op& op) const {
  const auto us = profile_us(op);
  if (!us) return std::nullopt;
  return models::OpCost{at_power_cap(op, SimTime::us(*us)), models::CostSource::kProfile};
}

models::OpCost ProfileCostModel::cost(const models::Op& op) const {
  if (auto c = find_cost(op)) return *c;
  models::OpCost c = roofline_.cost(op);
  c.time = at_power_cap(op, c.time);
  return c;
}

std::string ProfileCostModel::describe() const {
  const Provenance& v = profile_.provenance;
  std::string s = "calibration profile " + path_ + " (" + v.gpu_name;
  if (profile_.derived) {
    s += ", derived from " + (profile_.derivation ? profile_.derivation->source_gpu : std::string("?")) +
         " measurements and datasheets";
  } else {
    s += ", measured " + v.date_utc;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, ", %zu op tables)", profile_.ops.size());
  s += buf;
  if (kernels_ == kKernelsMasim) {
    s += ", masim's own kernels";
  } else if (production_used_.empty()) {
    s += ", masim's own kernels (the profile has no production tables)";
  } else {
    std::string list;
    for (const std::string& n : production_used_) list += (list.empty() ? "" : ", ") + n;
    s += ", production kernels for " + list + " (masim's own elsewhere)";
  }
  if (profile_.power_model) {
    char pw[200];
    std::snprintf(pw, sizeof pw,
                  "; power fitted from NVML (idle %.0f W, %.3f pJ/FLOP, %.1f pJ/B, cap %.0f W; ops above the cap "
                  "slowed to it)",
                  profile_.power_model->idle_w, profile_.power_model->tensor_pj_per_flop,
                  profile_.power_model->hbm_pj_per_byte, profile_.power_model->cap_w);
    s += pw;
  }
  return s + "; else " + roofline_.describe();
}

std::optional<models::CostBand> ProfileCostModel::band() const {
  if (!profile_.derived || !profile_.derivation || !profile_.derivation->measured_error) return std::nullopt;
  const MeasuredError& e = *profile_.derivation->measured_error;
  return models::CostBand{"the error of this profile's derivation rule (" + profile_.derivation->source_gpu + " -> " +
                              profile_.provenance.gpu_name + ") over whole steps, measured on a GPU derived the same "
                              "way and calibrated: " + e.against + " (" + e.report + ")",
                          e.steps, e.bias_pct, e.min_pct, e.max_pct};
}

void check_profile_gpu(const Profile& p, const spec::GpuSpec& gpu, const std::string& file,
                       const std::string& pointer, io::Diagnostics& diags) {
  if (gpu.name.empty() || same_gpu_name(p.provenance.gpu_name, gpu.name)) return;
  diags.error(file, pointer,
              "profile is for \"" + p.provenance.gpu_name + "\", hardware says \"" + gpu.name + "\"");
}

std::string resolve_profile_path(const spec::ScenarioSpec& s) {
  namespace fs = std::filesystem;
  const fs::path given(s.profile_path);
  if (given.is_absolute() || fs::exists(given) || s.file.empty()) return s.profile_path;
  const fs::path beside = (fs::path(s.file).parent_path() / given).lexically_normal();
  // Neither exists (e.g. the default scenario's profile, built into the binary):
  // the path as the scenario resolved it.
  return fs::exists(beside) ? beside.string() : s.profile_path;
}

std::unique_ptr<models::ComputeCostModel> make_cost_model(const spec::ScenarioSpec& s, io::Diagnostics& diags,
                                                          const std::string* profile_text) {
  if (s.profile_path.empty()) return std::make_unique<models::RooflineCostModel>(s.hardware.gpu);
  const std::string path = resolve_profile_path(s);
  io::Diagnostics local;
  std::optional<Profile> p;
  if (profile_text != nullptr) {
    if (auto doc = io::parse_json_text(*profile_text, path, local)) p = parse_profile(*doc, path, local);
  } else {
    p = load_profile(path, local);
  }
  if (!p) {
    diags.append(local);
    if (!local.empty() && local.items().front().message == "cannot open file") {
      diags.error(s.file, "/profile", "cannot open profile \"" + path + "\"");
    }
    return nullptr;
  }
  check_profile_gpu(*p, s.hardware.gpu, s.file, "/profile", local);
  if (!local.empty()) {
    diags.append(local);
    return nullptr;
  }
  return std::make_unique<ProfileCostModel>(std::move(*p), path, s.hardware.gpu, s.kernels);
}

}  // namespace masim::profile
