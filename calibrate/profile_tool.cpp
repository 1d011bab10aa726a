// masim-profile: CPU-side tools for calibration profiles (no GPU needed).
//
//   masim-profile derive --from calibrate/profiles/h200.json --source h200 --target a100-sxm4-80gb
//                        -o calibrate/profiles/a100-sxm4-80gb.derived.json
//   masim-profile summary calibrate/profiles/h200.json      # per table: points, rates, fit errors
//   masim-profile check FILE...                             # strict validation, exit 2 on problems
//   masim-profile refit IN -o OUT --quantum attention_decode_d128.context=64 ...
//                        # sets tables' quanta (sim/profile/fit.hpp) and recomputes their fit errors
//   masim-profile refit IN -o OUT --alignment gemm_bf16.n=8   # unaligned widths are their own regime
//   masim-profile refit IN -o OUT --iso-bytes 'unpermute.tokens=width*top_k+1'
//                        # iso-bytes interpolation along tokens, bytes ∝ tokens·width·(top_k+1)
//   masim-profile pool BASE RECHECK...   # random off-grid shapes of BASE and its rechecks, priced by BASE
//   masim-profile merge BASE OTHER -o OUT   # OTHER's tables replace BASE's (a run finished on another GPU)
//   masim-profile derivation-error --measured calibrate/profiles/h100-sxm.json
//                        --derived calibrate/profiles/h100-sxm.derived.json --recheck R... --validate V...
//                        -o calibrate/results/h100/derivation-error.json   # issue 21
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "calibrate/derivation_error.hpp"
#include "calibrate/model_shapes.hpp"
#include "calibrate/pool.hpp"
#include "calibrate/power_fit.hpp"
#include "calibrate/production_steps.hpp"
#include "calibrate/refit_spec.hpp"
#include "sim/io/cli_args.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/profile/derive.hpp"
#include "sim/profile/fit.hpp"
#include "sim/profile/op_map.hpp"
#include "sim/profile/profile.hpp"

namespace {

using namespace masim;


int summary(const profile::Profile& p, const std::string& path) {
  std::printf("%s: %s%s, %s, %zu op tables, %zu collective tables\n", path.c_str(), p.provenance.gpu_name.c_str(),
              p.derived ? " (derived)" : "", p.provenance.date_utc.c_str(), p.ops.size(), p.collectives.size());
  std::printf("ceilings: copy %.3f TB/s, bf16 GEMM %.1f TFLOP/s, fp8 GEMM %.1f TFLOP/s\n",
              p.ceilings.copy_bytes_per_s * 1e-12, p.ceilings.bf16_flops_per_s * 1e-12,
              p.ceilings.fp8_flops_per_s * 1e-12);
  std::printf("%-24s %6s %6s %9s %9s %9s %9s %7s %9s %7s %8s %8s %9s %10s %9s\n", "table", "points", "valid",
              "loo_med%", "loo_p95%", "ext_med%", "hold_n", "hold_med%", "hold_p95%", "model_n", "model_med%",
              "model_p95%", "best_TF/s", "best_TB/s", "power_W");
  for (const profile::OpTable& t : p.ops) {
    int valid = 0;
    double best_tf = 0, best_tb = 0, pw = 0;
    int pn = 0;
    for (std::size_t f = 0; f < t.points(); ++f) {
      if (!(t.time_us[f] > 0)) continue;
      ++valid;
      const models::Op op = profile::representative_op(t, t.point(f));
      const double s = t.time_us[f] * 1e-6;
      best_tf = std::max(best_tf, op.flops.count() / s * 1e-12);
      best_tb = std::max(best_tb, op.bytes.as_double() / s * 1e-12);
      if (f < t.power_w.size() && std::isfinite(t.power_w[f])) {
        pw = std::max(pw, t.power_w[f]);
        ++pn;
      }
    }
    std::printf("%-24s %6zu %6d %9.2f %9.2f %9.2f %9d %7.2f %9.2f %7d %8.2f %8.2f %9.1f %10.3f %9.0f\n",
                t.name.c_str(), t.points(), valid, t.loo_interpolation.median_abs_pct, t.loo_interpolation.p95_abs_pct,
                t.loo_extrapolation.median_abs_pct, t.holdout_error.points, t.holdout_error.median_abs_pct,
                t.holdout_error.p95_abs_pct, t.model_holdout_error.points, t.model_holdout_error.median_abs_pct,
                t.model_holdout_error.p95_abs_pct, best_tf, best_tb, pn ? pw : 0.0);
  }
  // All holdout errors pooled (points without a prediction are counted apart).
  auto pooled = [&](const char* what, std::vector<profile::HoldoutPoint> profile::OpTable::*list) {
    std::vector<double> all;
    int unpriced = 0;
    for (const profile::OpTable& t : p.ops) {
      for (const profile::HoldoutPoint& h : t.*list) {
        if (h.time_us > 0 && h.model_us > 0) {
          all.push_back(100.0 * (h.model_us - h.time_us) / h.time_us);
        } else if (h.time_us > 0) {
          ++unpriced;
        }
      }
    }
    if (all.empty() && unpriced == 0) return;
    const profile::ErrorSummary s = profile::summarize(all);
    std::printf("all tables, %s: %d points, median |error| %.2f%%, p95 %.2f%%, max %.2f%%; %d without a table "
                "prediction (roofline)\n",
                what, s.points, s.median_abs_pct, s.p95_abs_pct, s.max_abs_pct, unpriced);
  };
  pooled("off-grid shapes", &profile::OpTable::holdout);
  pooled("model shapes", &profile::OpTable::model_holdout);
  for (const profile::CollectiveTable& c : p.collectives) {
    double best = 0;
    for (double b : c.busbw_gb_per_s) best = std::max(best, std::isfinite(b) ? b : 0.0);
    std::printf("collective %-14s ranks %d: %zu sizes, best busbw %.1f GB/s\n", c.name.c_str(), c.ranks,
                c.bytes.size(), best);
  }
  for (const std::string& n : p.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"masim-profile: derive, summarize and check calibration profiles (CPU only)"};
  app.require_subcommand(1);
  std::string from, source = "h200", target, out;
  auto* derive = app.add_subcommand("derive", "Derive a profile for another GPU from a measured one and datasheets");
  derive->add_option("--from", from, "Measured profile")->required()->check(CLI::ExistingFile);
  derive->add_option("--source", source, "Datasheet key of the measured GPU")->check(CLI::IsMember(profile::datasheet_keys()));
  derive->add_option("--target", target, "Datasheet key of the target GPU")
      ->required()
      ->check(CLI::IsMember(profile::datasheet_keys()));
  derive->add_option("-o,--out", out, "Derived profile to write")->required();
  std::string rule_name = "rates", measured_error_file;
  derive->add_option("--rule", rule_name, "Derivation rule: rates (default) or efficiency (sim/profile/derive.hpp)")
      ->check(CLI::IsMember({"rates", "efficiency"}));
  derive->add_option("--measured-error", measured_error_file,
                     "Derivation-error report (masim-profile derivation-error) whose step band the profile carries")
      ->check(CLI::ExistingFile);
  std::string merge_base, merge_other;
  auto* merge = app.add_subcommand("merge", "A profile whose tables of OTHER replace those of BASE (same GPU model)");
  merge->add_option("base", merge_base, "Profile to start from")->required()->check(CLI::ExistingFile);
  merge->add_option("other", merge_other, "Profile whose tables win")->required()->check(CLI::ExistingFile);
  merge->add_option("-o,--out", out, "Profile to write")->required();
  std::string de_measured, de_derived;
  std::vector<std::string> de_rechecks, de_validate, de_scenarios;
  int de_draws = 8;
  std::uint64_t de_seed = 1;
  auto* derr = app.add_subcommand("derivation-error",
                                  "How wrong a derived profile is, against a measured profile of the same GPU");
  derr->add_option("--measured", de_measured, "Measured profile")->required()->check(CLI::ExistingFile);
  derr->add_option("--derived", de_derived, "Derived profile of the same GPU")->required()->check(CLI::ExistingFile);
  derr->add_option("--recheck", de_rechecks, "Rechecks re-measured on that GPU")->check(CLI::ExistingFile);
  derr->add_option("--validate", de_validate, "masim-calibrate validate reports of real steps priced by the derived profile")
      ->check(CLI::ExistingFile);
  derr->add_option("--scenarios", de_scenarios, "Models of the whole steps (default: calibrate/validation's four)");
  derr->add_option("--draws", de_draws, "Decode and prefill steps per model")->check(CLI::Range(0, 10000));
  derr->add_option("--seed", de_seed, "Seed of the steps' batch, context and routing");
  derr->add_option("-o,--out", out, "JSON report");
  std::vector<std::string> files;
  auto* sum = app.add_subcommand("summary", "Per table: points, fit errors, best achieved rates");
  sum->add_option("files", files, "Profiles")->required()->check(CLI::ExistingFile);
  auto* chk = app.add_subcommand("check", "Strict validation of profile files");
  chk->add_option("files", files, "Profiles")->required();
  std::vector<std::string> shape_scenarios;
  int shape_draws = 8;
  std::uint64_t shape_seed = 1;
  std::string shape_profile;
  auto* shapes = app.add_subcommand("shapes", "Print the model-shape holdout masim-calibrate run would measure");
  shapes->add_option("scenarios", shape_scenarios, "Scenarios (default: calibrate/validation's four)");
  shapes->add_option("--draws", shape_draws, "Batch/context draws per model")->check(CLI::Range(1, 10000));
  shapes->add_option("--seed", shape_seed, "Seed");
  shapes->add_option("--profile", shape_profile, "Mark shapes on this profile's grids")->check(CLI::ExistingFile);
  std::string refit_in;
  std::vector<std::string> quanta;
  auto* refit = app.add_subcommand("refit", "Set tables' quanta (TABLE.AXIS=Q) and recompute their fit errors");
  refit->add_option("profile", refit_in, "Profile to read")->required()->check(CLI::ExistingFile);
  refit->add_option("-o,--out", out, "Profile to write")->required();
  refit->add_option("--quantum", quanta, "TABLE.AXIS=Q (Q >= 1; 1 removes it)");
  std::vector<std::string> alignments;
  refit->add_option("--alignment", alignments, "TABLE.AXIS=A: values not a multiple of A are their own regime (1 removes it)");
  std::vector<std::string> iso_specs;
  refit->add_option("--iso-bytes", iso_specs,
                    "TABLE.ALONG=AXIS[+O]*AXIS[+O]...: iso-bytes interpolation along ALONG, bytes ∝ "
                    "ALONG·Π(AXIS+O); TABLE=none removes it");
  double max_power_w = 0;
  refit->add_option("--max-power-w", max_power_w,
                    "Drop power_w values above this board limit (readings that cannot be real)")
      ->check(CLI::Range(1.0, 100000.0));
  std::string pool_base;
  std::vector<std::string> pool_files;
  auto* pool = app.add_subcommand(
      "pool", "Random off-grid shapes of a profile and its rechecks, priced by the profile's fits: per table and pooled");
  pool->add_option("base", pool_base, "Profile whose fits price every shape (its own shapes count too)")
      ->required()
      ->check(CLI::ExistingFile);
  pool->add_option("rechecks", pool_files, "Rechecks of it (masim-calibrate recheck) or the run it was refit from")
      ->check(CLI::ExistingFile);
  std::string ps_report, ps_spec = "calibrate/validation/production-steps.json", ps_profile, ps_kernels = "production";
  auto* psteps = app.add_subcommand(
      "production-steps",
      "masim's prediction of the production steps masim-calibrate-torch measured (issue 17): per step and op");
  psteps->add_option("report", ps_report, "masim-calibrate-torch steps output")->required()->check(CLI::ExistingFile);
  psteps->add_option("--spec", ps_spec, "The steps spec it ran")->check(CLI::ExistingFile);
  psteps->add_option("--profile", ps_profile, "Profile that prices the steps")->required()->check(CLI::ExistingFile);
  psteps->add_option("--kernels", ps_kernels, "production or masim (as a scenario's \"kernels\")")
      ->check(CLI::IsMember({"production", "masim"}));
  std::string ps_hardware;
  psteps->add_option("--hardware", ps_hardware, "HARDWARE.json,TOPOLOGY.json replacing the scenarios' (the profile's GPU)")
;
  psteps->add_option("-o,--out", out, "JSON report");
  std::string pf_readings, pf_profile, pf_report;
  auto* pfit = app.add_subcommand("power-fit", "Fit the power model to NVML readings (masim-calibrate-torch power) "
                                               "and write it into a profile (\"power_model\")");
  pfit->add_option("readings", pf_readings, "masim-calibrate-torch power output")->required()->check(CLI::ExistingFile);
  pfit->add_option("--profile", pf_profile, "Measured profile of the same GPU model")->required()->check(CLI::ExistingFile);
  pfit->add_option("-o,--out", out, "Profile to write")->required();
  pfit->add_option("--report", pf_report, "JSON report of the fit (per run)");
  if (auto code = masim::io::parse_args(app, argc, argv)) return *code;
  try {
    if (*pfit) {
      io::Diagnostics d;
      auto rd = io::load_json_file(pf_readings, d);
      auto p = profile::load_profile(pf_profile, d);
      std::optional<calibrate::PowerFitResult> f;
      if (rd && p) {
        const std::string gpu = rd->contains("provenance") ? (*rd)["provenance"].value("gpu_name", "") : "";
        if (!profile::same_gpu_name(gpu, p->provenance.gpu_name) || p->derived) {
          d.error(pf_readings, "/provenance/gpu_name",
                  "readings of \"" + gpu + "\" do not fit the measured profile of " + p->provenance.gpu_name);
        } else {
          f = calibrate::fit_power(*rd, pf_readings, d);
        }
      }
      if (!f) {
        std::fprintf(stderr, "%s", d.format("nothing was fitted").c_str());
        return 2;
      }
      for (const auto& r : f->report["runs"]) {
        std::printf("%-40s measured %6.1f W  fitted %6.1f W  %+6.1f%%  SM %5.0f MHz%s\n",
                    r["run"].get<std::string>().c_str(), r["measured_w"].get<double>(), r["fitted_w"].get<double>(),
                    r["error_pct"].get<double>(), r["sm_clock_mhz"].get<double>(),
                    r.contains("capped") ? ("  capped: model time " + std::to_string(r["capped_time_model_us"].get<double>()) +
                                            " us (" + std::to_string(r["capped_time_error_pct"].get<double>()) + "%)")
                                               .c_str()
                                         : "");
      }
      const models::PowerFit& pf = f->fit;
      std::printf("idle %.1f W, tensor %.3f pJ/FLOP, vector %.3f pJ/FLOP, HBM %.2f pJ/B, cap %.0f W\n%s\n", pf.idle_w,
                  pf.tensor_pj_per_flop, pf.vector_pj_per_flop, pf.hbm_pj_per_byte, pf.cap_w, pf.source.c_str());
      p->power_model = pf;
      // What the profile now prices each run's op at, before and after the cap.
      const profile::ProfileCostModel priced(*p, pf_profile, spec::GpuSpec{});
      calibrate::price_power_runs(*f, priced);
      for (const auto& r : f->report["runs"]) {
        if (!r.contains("priced_us")) continue;
        std::printf("%-40s measured %8.1f us  table %8.1f us (%+6.1f%%)  at the cap %8.1f us (%+6.1f%%)\n",
                    r["run"].get<std::string>().c_str(), r["op_us"].get<double>(), r["table_us"].get<double>(),
                    r["table_error_pct"].get<double>(), r["priced_us"].get<double>(),
                    r["priced_error_pct"].get<double>());
      }
      profile::write_profile(*p, out);
      if (!pf_report.empty()) profile::write_text_atomic(pf_report, f->report.dump(1) + "\n");
      return 0;
    }
    if (*psteps) {
      io::Diagnostics d;
      auto rep = io::load_json_file(ps_report, d);
      auto spec = io::load_json_file(ps_spec, d);
      std::optional<calibrate::ProductionStepsResult> r;
      if (rep && spec) r = calibrate::price_production_steps(*rep, ps_report, *spec, ps_spec, ps_profile, ps_kernels,
                                                                ps_hardware, d);
      if (!r) {
        std::fprintf(stderr, "%s", d.format("nothing was priced").c_str());
        return 2;
      }
      for (const auto& s : r->report["steps"]) {
        std::printf("%-20s %-7s b=%-4lld %s=%-5lld measured %9.1f us  masim %9.1f us  %+6.1f%%\n",
                    s["model"].get<std::string>().c_str(), s["phase"].get<std::string>().c_str(),
                    s["batch"].get<long long>(), s["phase"] == "prefill" ? "s" : "c",
                    s[s["phase"] == "prefill" ? "seq" : "context"].get<long long>(),
                    s["step_measured_us"].get<double>(), s["step_predicted_us"].get<double>(),
                    s["step_error_pct"].get<double>());
      }
      auto line = [](const char* what, const calibrate::ErrorStats& e) {
        std::printf("%-24s %4d points: median |error| %.2f%%, p95 %.2f%%, bias %+.2f%%, range %+.2f%% .. %+.2f%%\n",
                    what, e.points, e.median_abs_pct, e.p95_abs_pct, e.bias_pct, e.min_pct, e.max_pct);
      };
      std::printf("kernels %s, profile %s\n", ps_kernels.c_str(), ps_profile.c_str());
      line("decode steps", r->decode);
      line("prefill steps", r->prefill);
      line("dense GEMMs >= 50 us", r->gemm_50us);
      line("expert grouped GEMMs", r->grouped_gemm);
      line("decode attention", r->decode_attention);
      if (!out.empty()) profile::write_text_atomic(out, r->report.dump(1) + "\n");
      return 0;
    }
    if (*derive) {
      io::Diagnostics d;
      auto p = profile::load_profile(from, d);
      if (!p) {
        std::fprintf(stderr, "%s", d.format("nothing was derived").c_str());
        return 2;
      }
      const auto ds = profile::datasheet(source);
      const auto dt = profile::datasheet(target);
      if (!profile::same_gpu_name(p->provenance.gpu_name, ds->gpu_name)) {
        std::fprintf(stderr, "%s is a profile of %s, not of %s\n", from.c_str(), p->provenance.gpu_name.c_str(),
                     ds->gpu_name.c_str());
        return 2;
      }
      profile::Profile q = profile::derive_profile(*p, from, *ds, *dt, *profile::parse_derive_rule(rule_name));
      if (!measured_error_file.empty()) {
        auto doc = io::load_json_file(measured_error_file, d);
        const nlohmann::json* band = doc && doc->is_object() && doc->contains("band") ? &(*doc)["band"] : nullptr;
        if (band == nullptr || !(*band)["points"].is_number_integer() || (*band)["points"].get<int>() < 1 ||
            !doc->contains("measured_profile")) {
          std::fprintf(stderr, "%s%s: expected a masim-profile derivation-error report with a step band\n",
                       d.format_lines().c_str(), measured_error_file.c_str());
          return 2;
        }
        profile::MeasuredError e;
        e.against = (*doc)["measured_profile"].get<std::string>();
        e.report = measured_error_file;
        e.steps = (*band)["points"].get<int>();
        e.bias_pct = (*band)["bias_pct"].get<double>();
        e.p95_abs_pct = (*band)["p95_abs_pct"].get<double>();
        e.min_pct = (*band)["min_pct"].get<double>();
        e.max_pct = (*band)["max_pct"].get<double>();
        q.derivation->measured_error = e;
      }
      profile::write_profile(q, out);
      std::printf("wrote %s (%zu op tables)\n", out.c_str(), q.ops.size());
      return 0;
    }
    if (*merge) {
      io::Diagnostics d;
      auto base = profile::load_profile(merge_base, d);
      auto other = profile::load_profile(merge_other, d);
      if (base && other &&
          (base->derived || other->derived ||
           !profile::same_gpu_name(base->provenance.gpu_name, other->provenance.gpu_name))) {
        d.error(merge_other, "/provenance/gpu_name",
                "expected a measured profile of a " + base->provenance.gpu_name + " like the base's");
      }
      if (!d.empty()) {
        std::fprintf(stderr, "%s", d.format("nothing was merged").c_str());
        return 2;
      }
      std::string names;
      for (const profile::OpTable& t : other->ops) {
        names += (names.empty() ? "" : ", ") + t.name + (t.kernels == profile::kKernelsMasim ? "" : " (" + t.kernels + ")");
        if (profile::OpTable* mine = base->find(t.name, t.kernels)) {
          *mine = t;
        } else {
          base->ops.push_back(t);
        }
      }
      // A ceiling comes from the table it is measured on.
      if (other->find("memcpy_d2d")) base->ceilings.copy_bytes_per_s = other->ceilings.copy_bytes_per_s;
      if (other->find("gemm_bf16")) base->ceilings.bf16_flops_per_s = other->ceilings.bf16_flops_per_s;
      if (other->find("gemm_fp8")) base->ceilings.fp8_flops_per_s = other->ceilings.fp8_flops_per_s;
      const profile::Provenance& o = other->provenance;
      base->notes.push_back("merged: " + names + " from " + merge_other + " (" + o.gpu_name + " " + o.gpu_uuid + ", " +
                            o.date_utc + ", arguments: " + [&] {
                              std::string a;
                              for (const std::string& s : o.arguments) a += (a.empty() ? "" : " ") + s;
                              return a;
                            }() + "); the other tables and the provenance are " + merge_base + "'s (" +
                            base->provenance.gpu_uuid + ")");
      for (profile::OpTable& t : base->ops) profile::refresh_errors(t, base->ceilings);
      profile::write_profile(*base, out);
      summary(*base, out);
      return 0;
    }
    if (*derr) {
      io::Diagnostics d;
      auto m = profile::load_profile(de_measured, d);
      auto g = profile::load_profile(de_derived, d);
      std::vector<std::pair<std::string, profile::Profile>> rechecks;
      for (const std::string& f : de_rechecks) {
        if (auto p = profile::load_profile(f, d)) rechecks.emplace_back(f, std::move(*p));
      }
      std::vector<calibrate::ValidateReport> real;
      for (const std::string& f : de_validate) {
        auto doc = io::load_json_file(f, d);
        if (!doc) continue;
        if (auto v = calibrate::parse_validate_report(*doc, f, d)) real.push_back(*v);
      }
      const auto models =
          calibrate::load_models(de_scenarios.empty() ? calibrate::default_model_scenarios() : de_scenarios, d);
      calibrate::DerivationError e;
      if (d.empty() && m && g) e = calibrate::derivation_error(*m, *g, rechecks, models, real, de_draws, de_seed, d);
      if (!d.empty() || !m || !g) {
        std::fprintf(stderr, "%s", d.format("nothing was compared").c_str());
        return 2;
      }
      auto line = [](const std::string& what, const calibrate::ErrorStats& s) {
        std::printf("%-24s %6d  median |e| %6.2f%%  p95 %6.2f%%  bias %+7.2f%%  min %+7.2f%%  max %+7.2f%%\n",
                    what.c_str(), s.points, s.median_abs_pct, s.p95_abs_pct, s.bias_pct, s.min_pct, s.max_pct);
      };
      std::printf("%s priced against %s: 100 * (derived - measured) / measured\n", de_derived.c_str(),
                  de_measured.c_str());
      for (const auto& t : e.tables) {
        line(t.name + " grid", t.grid);
        line(t.name + " random", t.random);
        if (t.model.points > 0) line(t.name + " model", t.model);
      }
      line("all grid", e.grid);
      line("all random", e.random);
      line("all model", e.model);
      line("decode steps", e.decode);
      line("prefill steps", e.prefill);
      for (const auto& s : e.real) {
        std::printf("real step %-22s b=%d c=%d: measured %.3f ms, derived %.3f ms, %+.2f%%\n", s.model.c_str(),
                    s.batch, s.context, s.measured_ms, s.derived_ms, s.error_pct);
      }
      line("real steps", e.real_steps);
      line("band (all steps)", e.band);
      if (e.unpriced_ops > 0) std::printf("%d step ops without a price in one of the profiles left out\n", e.unpriced_ops);
      if (!out.empty()) {
        profile::write_text_atomic(out, calibrate::to_json(e, de_measured, de_derived).dump(1) + "\n");
        std::printf("wrote %s\n", out.c_str());
      }
      return 0;
    }
    if (*pool) {
      io::Diagnostics d;
      auto base = profile::load_profile(pool_base, d);
      std::vector<std::pair<std::string, profile::Profile>> sets;
      if (base) sets.emplace_back(pool_base, *base);
      for (const std::string& f : pool_files) {
        auto p = profile::load_profile(f, d);
        if (p) sets.emplace_back(f, std::move(*p));
      }
      calibrate::PoolResult r;
      if (base) r = calibrate::pool_holdouts(*base, sets, d);
      if (!d.empty()) {
        std::fprintf(stderr, "%s", d.format("nothing was pooled").c_str());
        return 2;
      }
      auto line = [](const char* head, const std::string& name, const calibrate::PoolResult::Table& t) {
        std::printf("%s%-24s %6d shapes, median |error| %5.2f%%, p95 %6.2f%%, max %6.2f%%, %4d over 10%%\n", head,
                    name.c_str(), t.errors.points, t.errors.median_abs_pct, t.errors.p95_abs_pct,
                    t.errors.max_abs_pct, t.over_10_pct);
      };
      std::printf("random off-grid shapes priced by %s's fits\n", pool_base.c_str());
      for (const auto& [path, t] : r.files) line("file  ", path, t);
      for (const auto& [name, t] : r.tables) line("table ", name, t);
      line("all   ", "pooled", r.all);
      if (r.unpriced > 0) std::printf("%d shapes without a table prediction (roofline) left out\n", r.unpriced);
      return 0;
    }
    if (*shapes) {
      io::Diagnostics d;
      const auto scenario_files = shape_scenarios.empty() ? calibrate::default_model_scenarios() : shape_scenarios;
      const auto models = calibrate::load_models(scenario_files, d);
      std::optional<profile::Profile> prof;
      if (!shape_profile.empty()) prof = profile::load_profile(shape_profile, d);
      if (!d.empty() || (!shape_profile.empty() && !prof)) {
        std::fprintf(stderr, "%s", d.format("no shapes").c_str());
        return 2;
      }
      int on_grid = 0;
      const auto list = calibrate::model_shapes(models, shape_draws, shape_seed);
      for (const calibrate::ModelShape& m : list) {
        const std::vector<double> shape = calibrate::measured_shape(m.x);
        std::string x;
        for (double v : shape) x += (x.empty() ? "" : ",") + std::to_string(static_cast<long long>(v));
        const profile::OpTable* t = prof ? prof->find(m.table) : nullptr;
        const bool grid = t != nullptr && calibrate::on_grid(t->grid, shape);
        on_grid += grid ? 1 : 0;
        std::printf("%-24s [%s]%s  %s\n", m.table.c_str(), x.c_str(), grid ? " (grid point)" : "", m.source.c_str());
      }
      std::printf("%zu shapes, %d on the grid\n", list.size(), on_grid);
      return 0;
    }
    if (*refit) {
      io::Diagnostics d;
      auto p = profile::load_profile(refit_in, d);
      if (!p) {
        std::fprintf(stderr, "%s", d.format("nothing was written").c_str());
        return 2;
      }
      int bad = 0;
      // TABLE.AXIS=N (an integer N >= 1) into `field` of that table.
      auto set_per_axis = [&](const char* option, const std::string& spec, std::vector<double> profile::OpTable::*field) {
        const auto dot = spec.find('.');
        const auto eq = spec.find('=', dot == std::string::npos ? 0 : dot);
        profile::OpTable* t = dot == std::string::npos ? nullptr : p->find(spec.substr(0, dot));
        std::size_t axis = t ? t->axes.size() : 0;
        if (t && eq != std::string::npos) {
          const std::string name = spec.substr(dot + 1, eq - dot - 1);
          for (std::size_t a = 0; a < t->axes.size(); ++a) {
            if (t->axes[a] == name) axis = a;
          }
        }
        char* end = nullptr;
        const double q = eq == std::string::npos ? 0 : std::strtod(spec.c_str() + eq + 1, &end);
        if (!t || axis == t->axes.size() || !(q >= 1) || q != std::floor(q) || (end && *end != '\0')) {
          std::fprintf(stderr, "%s %s: expected TABLE.AXIS=N with a table and axis of %s and an integer N >= 1\n",
                       option, spec.c_str(), refit_in.c_str());
          ++bad;
          return;
        }
        std::vector<double>& values = (*t).*field;
        if (values.size() != t->axes.size()) values.assign(t->axes.size(), 1.0);
        values[axis] = q;
        // The profile says how its fit departs from what the run wrote.
        p->notes.push_back(std::string("refit after the run: masim-profile refit ") + option + " " + spec);
      };
      for (const std::string& spec : quanta) set_per_axis("--quantum", spec, &profile::OpTable::quanta);
      for (const std::string& spec : alignments) set_per_axis("--alignment", spec, &profile::OpTable::alignment);
      for (const std::string& spec : iso_specs) {
        if (!calibrate::set_iso_bytes(*p, spec)) {
          std::fprintf(stderr,
                       "--iso-bytes %s: expected TABLE.ALONG=AXIS[+O]*AXIS[+O]... (axes of the table, offsets >= 0) "
                       "or TABLE=none, with a table of %s\n",
                       spec.c_str(), refit_in.c_str());
          ++bad;
          continue;
        }
        p->notes.push_back("refit after the run: masim-profile refit --iso-bytes " + spec);
      }
      if (bad) return 2;
      if (max_power_w > 0) {
        std::size_t dropped = 0;
        for (profile::OpTable& t : p->ops) {
          for (double& w : t.power_w) {
            if (std::isfinite(w) && w > max_power_w) {
              w = std::numeric_limits<double>::quiet_NaN();
              ++dropped;
            }
          }
        }
        if (dropped > 0) {
          char note[200];
          std::snprintf(note, sizeof note,
                        "%zu power_w values above the %.0f W board limit were dropped (NVML energy-counter steps over "
                        "short windows; masim-calibrate no longer uses the counter below 0.5 s)",
                        dropped, max_power_w);
          p->notes.push_back(note);
        }
      }
      for (profile::OpTable& t : p->ops) profile::refresh_errors(t, p->ceilings);
      profile::write_profile(*p, out);
      summary(*p, out);
      return 0;
    }
    int rc = 0;
    for (const std::string& f : files) {
      io::Diagnostics d;
      auto p = profile::load_profile(f, d);
      if (!p) {
        std::fprintf(stderr, "%s", d.format("profile rejected").c_str());
        rc = 2;
        continue;
      }
      if (*sum) {
        summary(*p, f);
      } else {
        std::printf("%s: ok (%s, %zu op tables)\n", f.c_str(), p->provenance.gpu_name.c_str(), p->ops.size());
      }
    }
    return rc;
  } catch (const io::EnvironmentError& e) {
    std::fprintf(stderr, "masim-profile: %s\n", e.what());
    return 3;
  }
}
