#include "calibrate/recheck.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "calibrate/benches.hpp"
#include "calibrate/model_shapes.hpp"
#include "calibrate/run.hpp"
#include "kernels/reference/numeric.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/profile/fit.hpp"
#include "sim/profile/profile.hpp"

namespace masim::calibrate {

using nlohmann::json;

int run_recheck(const RecheckOptions& opt) {
  io::Diagnostics diags;
  auto loaded = profile::load_profile(opt.profile, diags);
  if (!loaded) throw io::InputError(std::move(diags));
  profile::Profile prof = std::move(*loaded);

  Device dev(static_cast<std::size_t>((opt.memory_cap_gib + 2) * 1073741824.0));
  dev.blas().set_tune_margin(opt.gemm_tune_margin);
  dev.blas().set_tune_neighbors(opt.gemm_tune_neighbors);
  const profile::Provenance here = dev.provenance();
  std::printf("masim-calibrate recheck of %s (%s, %s) on %s (%s), seed %llu, %d random shapes per table\n",
              opt.profile.c_str(), prof.provenance.gpu_name.c_str(), prof.provenance.gpu_uuid.c_str(),
              here.gpu_name.c_str(), here.gpu_uuid.c_str(), static_cast<unsigned long long>(opt.seed), opt.holdout);
  if (!profile::same_gpu_name(prof.provenance.gpu_name, here.gpu_name)) {
    std::printf("warning: the profile is for %s, this GPU is %s\n", prof.provenance.gpu_name.c_str(),
                here.gpu_name.c_str());
  }

  std::vector<ModelShape> model_list;
  if (opt.model_draws > 0) {
    io::Diagnostics md;
    const auto models = load_models(default_model_scenarios(), md);
    if (!md.empty()) std::printf("%s", md.format("model holdout: some scenarios were not loaded").c_str());
    model_list = model_shapes(models, opt.model_draws, opt.seed);
  }

  auto benches = all_benches();
  const auto started = std::chrono::steady_clock::now();
  bool out_of_time = false;
  int wrong = 0;
  std::uint64_t point_seed = opt.seed;
  for (profile::OpTable& t : prof.ops) {
    if (!opt.only.empty() && std::find(opt.only.begin(), opt.only.end(), t.name) == opt.only.end()) continue;
    const auto bit = std::find_if(benches.begin(), benches.end(), [&](const auto& b) { return b->table() == t.name; });
    if (bit == benches.end()) {
      std::printf("%s: no bench measures this table here; its holdout is kept\n", t.name.c_str());
      continue;
    }
    Bench& b = **bit;
    const auto table_started = std::chrono::steady_clock::now();
    // Random shapes as `run` draws them (its seed mixing), off the profile's grid.
    Rng rng = holdout_rng(opt.seed, t.name);
    std::vector<std::vector<double>> shapes;
    for (int i = 0, draws = 0; i < opt.holdout && draws < 16 * opt.holdout; ++draws) {
      std::vector<double> x = b.random_point(rng, false);
      if (on_grid(t.grid, x)) continue;
      shapes.push_back(std::move(x));
      ++i;
    }
    const std::vector<ModelShape> models = off_grid_shapes(model_list, t.name, t.grid);
    std::vector<profile::HoldoutPoint> holdout, model_holdout;
    std::map<std::string, int> counts;
    // Checks and times x; an ok shape joins `list`.
    auto measure_into = [&](std::vector<profile::HoldoutPoint>& list, const std::vector<double>& x,
                            const std::string& source) {
      point_seed = kernels::mix64(point_seed + 1);
      if (opt.deadline_s > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() > opt.deadline_s) {
        out_of_time = true;
        return;
      }
      const json r = measure_point(dev, b, x, true, opt.memory_cap_gib, opt.timing, point_seed);
      const std::string status = r.value("status", "error");
      ++counts[status];
      if (status == "wrong") {
        ++wrong;
        std::printf("  %s %s: wrong (%s)\n", t.name.c_str(), json(x).dump().c_str(), r.value("detail", "").c_str());
      }
      if (status != "ok") return;
      profile::HoldoutPoint hp;
      hp.at = x;
      hp.time_us = r.at("time_us").get<double>();
      hp.source = source;
      list.push_back(std::move(hp));
    };
    for (const auto& x : shapes) measure_into(holdout, x, "");
    for (const ModelShape& m : models) measure_into(model_holdout, m.x, m.source);
    t.holdout = std::move(holdout);
    if (opt.model_draws > 0) t.model_holdout = std::move(model_holdout);
    profile::refresh_errors(t, prof.ceilings);
    int over = 0;
    for (const auto& h : t.holdout) {
      if (h.model_us > 0 && std::abs(h.model_us - h.time_us) > 0.1 * h.time_us) ++over;
    }
    std::printf("%s: %d random shapes, median |error| %.2f%% p95 %.2f%% max %.2f%%, %d over 10%%", t.name.c_str(),
                t.holdout_error.points, t.holdout_error.median_abs_pct, t.holdout_error.p95_abs_pct,
                t.holdout_error.max_abs_pct, over);
    if (opt.model_draws > 0) {
      std::printf("; %d model shapes, median %.2f%% p95 %.2f%%", t.model_holdout_error.points,
                  t.model_holdout_error.median_abs_pct, t.model_holdout_error.p95_abs_pct);
    }
    for (const auto& [status, n] : counts) {
      if (status != "ok") std::printf("; %d %s", n, status.c_str());
    }
    std::printf(" (%.1f s)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - table_started).count());
    std::fflush(stdout);
  }
  char note[512];
  std::snprintf(note, sizeof note,
                "recheck: holdout lists re-measured on %s (%s) on %s with seed %llu (%d random shapes per table%s); "
                "grids, fits and provenance are the profile's own%s",
                here.gpu_name.c_str(), here.gpu_uuid.c_str(), utc_now().c_str(),
                static_cast<unsigned long long>(opt.seed), opt.holdout,
                opt.model_draws > 0 ? ", model shapes re-drawn" : "",
                out_of_time ? "; INCOMPLETE: the deadline cut it short" : "");
  prof.notes.push_back(note);
  std::string args;
  for (const auto& a : opt.arguments) args += (args.empty() ? "" : " ") + a;
  prof.notes.push_back("recheck command: " + args);
  profile::write_profile(prof, opt.out);
  std::printf("wrote %s; %d wrong results%s\n", opt.out.c_str(), wrong, out_of_time ? "; INCOMPLETE (deadline)" : "");
  return wrong > 0 ? 1 : 0;
}

}  // namespace masim::calibrate
