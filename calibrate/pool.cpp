#include "calibrate/pool.hpp"

#include <cmath>
#include <memory>

#include "sim/profile/fit.hpp"

namespace masim::calibrate {

namespace {

PoolResult::Table summarize_table(const std::vector<double>& errors_pct) {
  PoolResult::Table t;
  t.errors = profile::summarize(errors_pct);
  for (double e : errors_pct) t.over_10_pct += std::fabs(e) > 10.0 ? 1 : 0;
  return t;
}

}  // namespace

PoolResult pool_holdouts(const profile::Profile& base,
                         const std::vector<std::pair<std::string, profile::Profile>>& files,
                         io::Diagnostics& diags) {
  const std::size_t problems_before = diags.size();
  for (const auto& [path, p] : files) {
    if (!profile::same_gpu_name(p.provenance.gpu_name, base.provenance.gpu_name) || p.derived != base.derived) {
      diags.error(path, "/provenance/gpu_name",
                  "expected shapes measured on a " + base.provenance.gpu_name + (base.derived ? " (derived)" : "") +
                      " like the base's, found " + p.provenance.gpu_name + (p.derived ? " (derived)" : ""));
    }
    for (std::size_t i = 0; i < p.ops.size(); ++i) {
      const profile::OpTable& t = p.ops[i];
      const profile::OpTable* b = base.find(t.name, t.kernels);
      const std::string pointer = "/ops/" + std::to_string(i);
      if (b == nullptr) {
        diags.error(path, pointer + "/name", "expected a table of the base profile, found \"" + t.name + "\", which it lacks");
      } else if (b->axes != t.axes || b->grid != t.grid) {
        diags.error(path, pointer + "/grid",
                    "expected the base profile's axes and grid for " + t.name +
                        ", found others (not a recheck of the base, nor the run it was refit from)");
      }
    }
  }
  PoolResult r;
  if (diags.size() != problems_before) return r;
  std::map<std::string, std::unique_ptr<profile::TableModel>> models;
  // One model per table and implementation (a profile may hold masim's and production's).
  auto key = [](const profile::OpTable& t) {
    return t.kernels == profile::kKernelsMasim ? t.name : t.name + " (" + t.kernels + ")";
  };
  for (const profile::OpTable& t : base.ops) models[key(t)] = std::make_unique<profile::TableModel>(t, base.ceilings);
  std::map<std::string, std::vector<double>> by_table;
  std::vector<double> all;
  for (const auto& [path, p] : files) {
    std::vector<double> in_file;
    for (const profile::OpTable& t : p.ops) {
      const auto found = models.find(key(t));
      if (found == models.end()) continue;
      const profile::TableModel& m = *found->second;
      for (const profile::HoldoutPoint& h : t.holdout) {
        if (!(h.time_us > 0)) continue;
        const auto pred = m.predict_us(h.at);
        if (!pred) {
          ++r.unpriced;
          continue;
        }
        const double e = 100.0 * (*pred - h.time_us) / h.time_us;
        by_table[key(t)].push_back(e);
        in_file.push_back(e);
        all.push_back(e);
      }
    }
    r.files.emplace_back(path, summarize_table(in_file));
  }
  for (const auto& [name, errs] : by_table) r.tables[name] = summarize_table(errs);
  r.all = summarize_table(all);
  return r;
}

}  // namespace masim::calibrate
