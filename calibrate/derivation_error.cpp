#include "calibrate/derivation_error.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "sim/common/rng.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/models/model_params.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/profile/fit.hpp"
#include "sim/workload/layer_ops.hpp"
#include "sim/workload/routing.hpp"

namespace masim::calibrate {

using nlohmann::json;

namespace {

double pct_error(double derived, double measured) { return 100.0 * (derived - measured) / measured; }

std::int64_t log_uniform(Rng& rng, double lo, double hi) {
  return std::llround(std::exp(std::log(lo) + rng.uniform() * (std::log(hi) - std::log(lo))));
}

// Every layer's ops of one single-GPU step: decode of `batch` sequences against
// `context` cached tokens, or prefill of `batch` prompts of `context` tokens.
std::vector<models::Op> step_ops(const NamedModel& nm, std::int64_t batch, std::int64_t context, bool prefill, Rng rng) {
  const spec::ModelSpec& m = nm.model;
  const std::int64_t tokens = prefill ? batch * context : batch;
  std::vector<models::Op> ops;
  workload::ExpertRouter router(nm.routing, std::max(1, m.num_experts), std::max(1, m.top_k), Rng(rng.next_u64()));
  for (int l = 0; l < m.num_layers; ++l) {
    workload::AttentionShard a;
    a.sequences = batch;
    a.query_tokens = prefill ? context : 1;
    a.context = context;
    a.prefill = prefill;
    // The router draws only for MoE layers, as before (the draws' order fixes the routing).
    const std::vector<std::int64_t> counts =
        models::is_moe_layer(m, l) ? router.sample(tokens).tokens_per_expert : std::vector<std::int64_t>{};
    for (models::Op& o : workload::single_gpu_layer(m, l, a, tokens, counts)) ops.push_back(std::move(o));
  }
  return ops;
}

}  // namespace

ErrorStats error_stats(std::vector<double> e) {
  ErrorStats s;
  s.points = static_cast<int>(e.size());
  if (e.empty()) return s;
  std::vector<double> a(e.size());
  std::transform(e.begin(), e.end(), a.begin(), [](double v) { return std::fabs(v); });
  std::sort(a.begin(), a.end());
  std::sort(e.begin(), e.end());
  auto median = [](const std::vector<double>& v) {
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  s.median_abs_pct = median(a);
  // Nearest rank, as profile::summarize.
  const std::size_t rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(a.size())));
  s.p95_abs_pct = a[std::max<std::size_t>(rank, 1) - 1];
  s.bias_pct = median(e);
  s.min_pct = e.front();
  s.max_pct = e.back();
  return s;
}

std::optional<ValidateReport> parse_validate_report(const json& doc, const std::string& file, io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  if (!doc.is_object()) {
    diags.error(file, "", "expected a masim-calibrate validate report (a JSON object)");
    return std::nullopt;
  }
  ValidateReport v;
  v.file = file;
  auto str = [&](const char* key, std::string& out) {
    if (doc.contains(key) && doc[key].is_string()) {
      out = doc[key].get<std::string>();
    } else {
      diags.error(file, std::string("/") + key, "expected a string");
    }
  };
  auto num = [&](const char* key, double& out) {
    if (doc.contains(key) && doc[key].is_number() && doc[key].get<double>() > 0) {
      out = doc[key].get<double>();
    } else {
      diags.error(file, std::string("/") + key, "expected a positive number");
    }
  };
  str("model", v.model);
  str("profile", v.profile);
  str("gpu", v.gpu);
  double b = 0, c = 0;
  num("batch", b);
  num("context", c);
  num("step_measured_ms", v.measured_ms);
  num("step_predicted_ms", v.predicted_ms);
  v.batch = static_cast<int>(b);
  v.context = static_cast<int>(c);
  if (diags.size() != before) return std::nullopt;
  return v;
}

DerivationError derivation_error(const profile::Profile& measured, const profile::Profile& derived,
                                 const std::vector<std::pair<std::string, profile::Profile>>& rechecks,
                                 const std::vector<NamedModel>& models, const std::vector<ValidateReport>& real,
                                 int draws, std::uint64_t seed, io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  if (measured.derived) diags.error("measured", "/derived", "expected a measured profile, found a derived one");
  if (!derived.derived) diags.error("derived", "/derived", "expected a derived profile, found a measured one");
  if (!profile::same_gpu_name(measured.provenance.gpu_name, derived.provenance.gpu_name)) {
    diags.error("derived", "/provenance/gpu_name",
                "the derived profile is for " + derived.provenance.gpu_name + ", the measured one for " +
                    measured.provenance.gpu_name);
  }
  const std::string remeasured = "re-measured on " + measured.provenance.gpu_name;
  for (const auto& [path, p] : rechecks) {
    const bool says = std::any_of(p.notes.begin(), p.notes.end(),
                                  [&](const std::string& n) { return n.find(remeasured) != std::string::npos; });
    if (!says) {
      diags.error(path, "/notes",
                  "expected a recheck whose shapes were " + remeasured + " (a note of masim-calibrate recheck)");
    }
  }
  for (const ValidateReport& v : real) {
    if (!profile::same_gpu_name(v.gpu, measured.provenance.gpu_name)) {
      diags.error(v.file, "/gpu", "expected a step run on a " + measured.provenance.gpu_name + ", found " + v.gpu);
    }
  }
  DerivationError r;
  if (diags.size() != before) return r;

  std::map<std::string, std::unique_ptr<profile::TableModel>> fits;
  // masim's own kernels on both sides: a derivation scales masim's tables, so
  // production tables (issue 17) are not part of its error.
  for (const profile::OpTable& t : derived.ops) {
    if (t.kernels == profile::kKernelsMasim) fits[t.name] = std::make_unique<profile::TableModel>(t, derived.ceilings);
  }
  std::vector<double> all_grid, all_random, all_model;
  for (const profile::OpTable& t : measured.ops) {
    if (t.kernels != profile::kKernelsMasim) continue;
    const auto it = fits.find(t.name);
    if (it == fits.end()) continue;  // dropped by the derivation (host copies): the roofline prices it
    const profile::TableModel& fit = *it->second;
    std::vector<double> grid, random, model;
    for (std::size_t f = 0; f < t.points(); ++f) {
      const double v = t.time_us[f];
      if (!(v > 0) || !std::isfinite(v)) continue;
      if (const auto p = fit.predict_us(t.point(f))) grid.push_back(pct_error(*p, v));
    }
    auto holdouts = [&](const std::vector<profile::HoldoutPoint>& list, std::vector<double>& out) {
      for (const profile::HoldoutPoint& h : list) {
        if (!(h.time_us > 0)) continue;
        if (const auto p = fit.predict_us(h.at)) out.push_back(pct_error(*p, h.time_us));
      }
    };
    holdouts(t.holdout, random);
    holdouts(t.model_holdout, model);
    for (const auto& [path, p] : rechecks) {
      if (const profile::OpTable* rt = p.find(t.name)) holdouts(rt->holdout, random);
    }
    all_grid.insert(all_grid.end(), grid.begin(), grid.end());
    all_random.insert(all_random.end(), random.begin(), random.end());
    all_model.insert(all_model.end(), model.begin(), model.end());
    r.tables.push_back({t.name, error_stats(grid), error_stats(random), error_stats(model)});
  }
  r.grid = error_stats(all_grid);
  r.random = error_stats(all_random);
  r.model = error_stats(all_model);

  // Whole steps. The cost models are used for their profile prices only (no roofline).
  const profile::ProfileCostModel pm(measured, "measured", spec::GpuSpec{}, profile::kKernelsMasim);
  const profile::ProfileCostModel pd(derived, "derived", spec::GpuSpec{}, profile::kKernelsMasim);
  std::vector<double> dec, pre, band;
  for (std::size_t mi = 0; mi < models.size(); ++mi) {
    Rng rng = Rng(seed).fork(mi + 1);
    for (int prefill = 0; prefill < 2; ++prefill) {
      for (int d = 0; d < draws; ++d) {
        const std::int64_t batch = prefill ? log_uniform(rng, 1, 8) : log_uniform(rng, 8, 256);
        const std::int64_t context = prefill ? log_uniform(rng, 256, 4096) : log_uniform(rng, 512, 4096);
        double sm = 0, sd = 0;
        for (const models::Op& op : step_ops(models[mi], batch, context, prefill != 0, Rng(rng.next_u64()))) {
          const auto a = pm.profile_us(op);
          const auto b = pd.profile_us(op);
          if (!a || !b) {
            ++r.unpriced_ops;
            continue;
          }
          sm += *a;
          sd += *b;
        }
        if (!(sm > 0)) continue;
        DerivationError::Step s{models[mi].name, prefill != 0, static_cast<int>(batch), static_cast<int>(context),
                                sm * 1e-3, sd * 1e-3, pct_error(sd, sm)};
        (prefill ? pre : dec).push_back(s.error_pct);
        band.push_back(s.error_pct);
        r.steps.push_back(s);
      }
    }
  }
  r.decode = error_stats(dec);
  r.prefill = error_stats(pre);
  std::vector<double> re;
  for (const ValidateReport& v : real) {
    DerivationError::Step s{v.model, false, v.batch, v.context, v.measured_ms, v.predicted_ms,
                            pct_error(v.predicted_ms, v.measured_ms)};
    re.push_back(s.error_pct);
    band.push_back(s.error_pct);
    r.real.push_back(s);
  }
  r.real_steps = error_stats(re);
  r.band = error_stats(band);
  return r;
}

json to_json(const DerivationError& e, const std::string& measured_path, const std::string& derived_path) {
  auto stats = [](const ErrorStats& s) {
    return json{{"points", s.points},         {"median_abs_pct", s.median_abs_pct}, {"p95_abs_pct", s.p95_abs_pct},
                {"bias_pct", s.bias_pct},     {"min_pct", s.min_pct},               {"max_pct", s.max_pct}};
  };
  auto steps = [](const std::vector<DerivationError::Step>& list) {
    json a = json::array();
    for (const auto& s : list) {
      a.push_back(json{{"model", s.model},
                       {"kind", s.prefill ? "prefill" : "decode"},
                       {"batch", s.batch},
                       {"context", s.context},
                       {"measured_ms", s.measured_ms},
                       {"derived_ms", s.derived_ms},
                       {"error_pct", s.error_pct}});
    }
    return a;
  };
  json tables = json::array();
  for (const auto& t : e.tables) {
    tables.push_back(json{{"name", t.name}, {"grid", stats(t.grid)}, {"random", stats(t.random)}, {"model", stats(t.model)}});
  }
  return json{{"kind", "masim-derivation-error"},
              {"measured_profile", measured_path},
              {"derived_profile", derived_path},
              {"error", "100 * (derived - measured) / measured; bias = median signed error"},
              {"tables", tables},
              {"grid", stats(e.grid)},
              {"random", stats(e.random)},
              {"model", stats(e.model)},
              {"steps", steps(e.steps)},
              {"decode", stats(e.decode)},
              {"prefill", stats(e.prefill)},
              {"real", steps(e.real)},
              {"real_steps", stats(e.real_steps)},
              {"band", stats(e.band)},
              {"unpriced_ops", e.unpriced_ops}};
}

}  // namespace masim::calibrate
