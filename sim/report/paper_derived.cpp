#include "sim/report/paper_derived.hpp"

#include <string>

#include "sim/report/format.hpp"
#include "sim/report/results_view.hpp"

namespace masim::report {

using nlohmann::json;

namespace {

constexpr const char* kBaselineKind = "tp_pp";  // the study's comparison: MA Separation vs TP=8, PP=2

std::string interval(const json& a, int digits) {
  if (!a.is_array() || a.size() != 2) return "-";
  return format_fixed(a[0].get<double>(), digits) + " – " + format_fixed(a[1].get<double>(), digits);
}
std::string interval_grouped(const json& a) {
  if (!a.is_array() || a.size() != 2) return "-";
  return format_grouped(a[0].get<double>()) + " – " + format_grouped(a[1].get<double>());
}
std::string signed_pct(double v) { return (v >= 0 ? "+" : "−") + format_fixed(v >= 0 ? v : -v, 1) + "%"; }

// MA Separation's TPOT against `base`'s, and its interval with each side off by any
// error of the band independently (the verdict_band rule, for a named baseline).
struct Ratio {
  double r = 0, lo = 0, hi = 0;
};
Ratio ratio(const json& ma, const json& base, const json& band) {
  const double r = metric(ma, "tpot_ms") / metric(base, "tpot_ms");
  const double mn = band.value("min_pct", 0.0) / 100, mx = band.value("max_pct", 0.0) / 100;
  return {r, r * (1 + mn) / (1 + mx), r * (1 + mx) / (1 + mn)};
}

// "3.710 ms (3.303–3.977)": a layout's TPOT with its metrics_band.
std::string tpot_with_band(const json& l) {
  const json mb = l.value("metrics_band", json::object());
  return format_fixed(metric(l, "tpot_ms"), 3) + " ms (" + interval(mb.value("tpot_ms", json()), 3) + ")";
}

}  // namespace

std::string derived_profile_headline(const json& derived) {
  const json* ma = find_layout_by_kind(derived, "ma_separation");
  const json* base = find_layout_by_kind(derived, kBaselineKind);
  if (!derived.contains("cost_band") || ma == nullptr || base == nullptr) return "";
  const Ratio q = ratio(*ma, *base, derived["cost_band"]);
  const bool survives = q.r > 1 ? q.lo > 1 : q.hi < 1;
  return "Priced by the A100 profile derived from the measured H200 one (no A100 was available), TPOT is " +
         tpot_with_band(*ma) + " for MA Separation and " + tpot_with_band(*base) + " for " + layout_label(*base) +
         " (band: the derivation's measured error); MA Separation's TPOT is **" + format_fixed(100 * (q.r - 1), 1) + "% " + (q.r > 1 ? "higher" : "lower") + "** than " +
         layout_label(*base) + "'s; with the derivation's error measured on an H100 applied against the verdict, "
         "the difference lies in " + signed_pct(100 * (q.lo - 1)) + " … " + signed_pct(100 * (q.hi - 1)) +
         ": the verdict **" + (survives ? "survives" : "does not survive") + "** the band.";
}

void add_derived_profile_section(Document& d, const json& derived, const json& roofline, bool report_on_profile) {
  d.heading(2, "Kernel costs from the derived A100 profile, with the measured derivation error");
  if (!derived.contains("cost_band") || !derived["cost_band"].is_object()) {
    d.paragraph("Not simulated: the derived A100 profile carries no measured error band.");
    return;
  }
  const json& band = derived["cost_band"];
  const double mn = band.value("min_pct", 0.0), mx = band.value("max_pct", 0.0);
  d.paragraph(
      std::string(report_on_profile
                      ? "Every scenario of this report names `calibrate/profiles/a100-sxm4-80gb.derived.json`, so its "
                        "kernel costs come from it (the roofline only for ops the profile does not cover; the table "
                        "below counts them), and the roofline column shows the seed study on the hardware file's "
                        "roofline instead (`masim report --paper --roofline` prices every run that way). No A100 "
                        "was available: the profile is derived, "
                      : "The kernel costs above come from the roofline (`--roofline`) and, here, from "
                        "`calibrate/profiles/a100-sxm4-80gb.derived.json`, a derived profile: ") +
      "the measured H200 profile carried to the A100 by datasheet "
      "ratios (`sim/profile/derive.hpp`, rule \"rates\"). How wrong such a derivation is was measured where it can "
      "be: the same rule derives an H100 profile from the H200 one, and a real H100 was calibrated "
      "(`calibrate/profiles/h100-sxm.json`). Over " + std::to_string(band.value("steps", 0)) +
      " whole decode and prefill steps of the four validation models (priced by both profiles, and real steps run "
      "on H100s) the derived H100 profile was " + signed_pct(band.value("bias_pct", 0.0)) + " off at the median, "
      "between " + signed_pct(mn) + " and " + signed_pct(mx) + " (`calibrate/results/h100/derivation-error.json`, "
      "docs/VALIDATION.md). A step priced at t by a derived profile is therefore taken to lie in t / (1 + max) … "
      "t / (1 + min) = " + format_fixed(1 / (1 + mx / 100), 3) + " t … " + format_fixed(1 / (1 + mn / 100), 3) +
      " t. This band is a floor on the A100's uncertainty, not a measurement of it: H100 and H200 share the SM "
      "count, clocks and tensor rates, so the H100 checks the bandwidth scaling but not the compute-rate or SM "
      "scaling the A100 also needs.");
  Table& t = d.table("derived_a100", "The seed study's setting priced by the derived A100 profile",
                     {"Layout", "TPOT (ms)", "TPOT band (ms)", "tokens/s", "tokens/s band", "TPOT on the roofline (ms)",
                      "ops from the profile"});
  for (const json& l : derived.value("layouts", json::array())) {
    const json mb = l.value("metrics_band", json::object());
    const json* r = find_layout_by_name(roofline, layout_label(l));
    const double tp = metric(l, "tpot_ms"), tk = metric(l, "tokens_per_s");
    const json cs = l.value("cost_sources", json::object());
    t.add_row({Cell::text(layout_label(l)), Cell::number(tp, format_fixed(tp, 3)),
               Cell::text(interval(mb.value("tpot_ms", json()), 3)), Cell::number(tk, format_grouped(tk)),
               Cell::text(interval_grouped(mb.value("tokens_per_s", json()))),
               r ? Cell::number(metric(*r, "tpot_ms"), format_fixed(metric(*r, "tpot_ms"), 3)) : Cell::text("-"),
               Cell::text(std::to_string(cs.value("profile", 0)) + " of " +
                          std::to_string(cs.value("profile", 0) + cs.value("roofline", 0)))});
  }
  t.note = "Band: the derived profile's measured step error applied to each number alone. Collectives come from "
           "masim's network model in both runs (the profiles hold no A100 collective tables).";
  std::vector<std::string> items;
  const json* ma = find_layout_by_kind(derived, "ma_separation");
  for (const char* kind : {kBaselineKind, "tp"}) {
    const json* base = find_layout_by_kind(derived, kind);
    if (ma == nullptr || base == nullptr) continue;
    const Ratio q = ratio(*ma, *base, band);
    const bool survives = q.r > 1 ? q.lo > 1 : q.hi < 1;
    items.push_back("MA Separation vs " + layout_label(*base) + ": TPOT ratio " + format_fixed(q.r, 3) + " (" +
                    signed_pct(100 * (q.r - 1)) + "); with MA Separation and " + layout_label(*base) +
                    " each off by any error of the band, independently, " + format_fixed(q.lo, 3) + " … " +
                    format_fixed(q.hi, 3) + ". The verdict (MA Separation " + (q.r > 1 ? "slower" : "faster") +
                    ") **" + (survives ? "survives" : "does not survive") + "** the band." +
                    (survives ? "" : " Within it, either layout may be faster."));
  }
  if (derived.contains("verdict_band")) {
    const json& v = derived["verdict_band"];
    items.push_back("results.json's `verdict_band` (MA Separation vs the best other layout, " +
                    v.value("baseline", std::string("?")) + "): ratio interval " +
                    interval(v.value("ratio_interval", json()), 3) + ", survives: " +
                    (v.value("survives", false) ? "yes" : "no") + ".");
  }
  items.push_back("Reproduce: `masim run scenarios/paper/seed_study.json` (results.json: `cost_band`, each "
                  "layout's `metrics_band`, `verdict_band`; docs/RESULTS.md); the roofline column with `--roofline`.");
  d.list(items);
}

}  // namespace masim::report
