#include "sim/report/paper.hpp"
#include "sim/report/paper_derived.hpp"
#include "sim/report/paper_provenance.hpp"
#include "sim/report/paper_robustness.hpp"
#include "sim/report/paper_serving.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <ostream>
#include <sstream>

#include "sim/common/assert.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/models/model_params.hpp"
#include "sim/report/charts.hpp"
#include "sim/report/format.hpp"
#include "sim/report/reference.hpp"
#include "sim/report/results_view.hpp"
#include "sim/report/trace.hpp"

namespace masim::report {

using nlohmann::json;

namespace {

// ------------------------------------------------------------------ basics

constexpr const char* kRegenerate = "build/default/masim report --paper -o reports/paper";
// The study's baseline (its "Baseline: Hybrid TP+PP (TP=8, PP=2)").
constexpr const char* kBaseline = "tp_pp";
constexpr const char* kMa = "ma_separation";
const std::vector<std::string> kKinds = {"tp", "pp", "tp_pp", "ma_separation"};

Cell num(double v, std::string shown) { return Cell::number(v, std::move(shown)); }
Cell txt(std::string s) { return Cell::text(std::move(s)); }
Cell pct_cell(double fraction, int decimals = 1) {
  return num(100.0 * fraction, format_fixed(100.0 * fraction, decimals));
}

std::string pct_str(double fraction, int decimals = 1) { return format_fixed(100.0 * fraction, decimals) + "%"; }

// Shows a value the way the study prints its unit.
std::string show(double v, const std::string& unit) {
  if (unit == "ms") return format_fixed(v, 2);
  if (unit == "tokens/s") return format_grouped(v);
  if (unit == "%") return format_fixed(v, 1);
  if (unit == "GB") return format_fixed(v, 1);
  return format_auto(v);
}

std::string delta(double sim, double study, const std::string& unit) {
  return unit == "%" ? format_delta_pp(sim, study) : format_delta_pct(sim, study);
}

std::string kind_label(const std::string& kind) {
  if (kind == "tp") return "TP=8";
  if (kind == "pp") return "PP=2";
  if (kind == "tp_pp") return "TP=8, PP=2";
  if (kind == "ma_separation") return "MA Separation";
  return kind;
}

double gib_to_gb(double gib) { return gib * 1.073741824; }

// Sample mean and the half-width of its 95% confidence interval (Student t).
std::pair<double, double> mean_ci95(const std::vector<double>& v) {
  if (v.empty()) return {0.0, 0.0};
  double m = 0.0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  if (v.size() < 2) return {m, 0.0};
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  const double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  // t quantiles (0.975) for 1..30 degrees of freedom (any statistics table).
  static const double kT[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                              2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                              2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  const std::size_t dof = v.size() - 1;
  const double t = dof <= 30 ? kT[dof - 1] : 1.96;
  return {m, t * sd / std::sqrt(static_cast<double>(v.size()))};
}

// ------------------------------------------------------------------ scenario access

const spec::Choice* find_choice(const spec::ScenarioSpec& s, const std::string& key) {
  for (const spec::Choice& c : s.choices) {
    if (c.key == key) return &c;
  }
  return nullptr;
}

// The numbers of a "sweep.*" / "slo.*" choice ("4, 8, 16").
std::vector<double> choice_numbers(const spec::ScenarioSpec& s, const std::string& key) {
  const spec::Choice* c = find_choice(s, key);
  io::Diagnostics d;
  if (c == nullptr) {
    d.error(s.file, "/choices", "the paper report needs a choice with key \"" + key + "\" (a list of numbers)");
    throw io::InputError(d);
  }
  std::vector<double> out;
  std::stringstream ss(c->value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const std::size_t b = item.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    char* end = nullptr;
    const double v = std::strtod(item.c_str() + b, &end);
    if (end == item.c_str() + b) {
      d.error(s.file, "/choices", "choice \"" + key + "\": expected a comma-separated list of numbers, found \"" +
                                      c->value + "\"");
      throw io::InputError(d);
    }
    out.push_back(v);
  }
  return out;
}

// ------------------------------------------------------------------ running

// The first problem of a refused layout, cut to its first clause (a memory
// shortfall lists every GPU; the first says enough).
std::string short_reason(const io::Diagnostics& d) {
  if (d.empty()) return "refused without a reason";
  std::string msg = d.items().front().message;
  const std::size_t cut = msg.find("; ");
  if (cut != std::string::npos) msg = msg.substr(0, cut) + "; …";
  if (d.size() > 1) msg += " (" + std::to_string(d.size() - 1) + " more)";
  return msg;
}

struct Runner {
  const ScenarioRunner& run;
  std::ostream* progress;
  int simulations = 0;
  int failed = 0;
  std::vector<std::string> failures;  // "scenario / layout: message"
  std::vector<PricedRun> priced;      // which cost model priced each run (paper_provenance.hpp)

  // Runs `s`; where the whole scenario is refused, runs each layout alone so
  // that one layout that cannot run (e.g. does not fit) does not hide the others.
  json operator()(const spec::ScenarioSpec& s, const std::string& label) {
    ++simulations;
    if (progress != nullptr) *progress << "paper: simulating " << label << "\n" << std::flush;
    try {
      json r = run(s);
      r["failed_layouts"] = json::array();
      priced.push_back(priced_run(label, r));
      return r;
    } catch (const io::InputError& whole) {
      json merged;
      merged["layouts"] = json::array();
      merged["failed_layouts"] = json::array();
      for (const spec::LayoutSpec& l : s.layouts) {
        spec::ScenarioSpec one = s;
        one.layouts = {l};
        try {
          json r = run(one);
          for (const auto& [k, v] : r.items()) {
            if (k != "layouts" && !merged.contains(k)) merged[k] = v;
          }
          if (!r["layouts"].empty()) merged["layouts"].push_back(r["layouts"][0]);
        } catch (const io::InputError& e) {
          const std::string msg = short_reason(e.diagnostics());
          merged["failed_layouts"].push_back(
              {{"name", l.name}, {"kind", spec::to_string(l.kind)}, {"error", msg}});
          failures.push_back(label + " / " + l.name + ": " + msg);
          ++failed;
        }
      }
      priced.push_back(priced_run(label, merged));
      return merged;
    }
  }
};

std::optional<std::string> failure_of(const json& results, const std::string& kind) {
  if (!results.contains("failed_layouts")) return std::nullopt;
  for (const json& f : results["failed_layouts"]) {
    if (f.value("kind", "") == kind) return f.value("error", std::string("?"));
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ comparison tables

struct SimValue {
  std::optional<double> value;
  std::string why_none;   // shown when there is no value
  std::optional<std::pair<double, double>> band;   // results.json metrics_band (a derived profile's error)
};

using SimLookup = std::function<SimValue(const RefRow&, const RefColumn&)>;

struct Improvement {
  std::string base_kind;   // the layout MA Separation is compared with
  std::string label;       // column header
};

// Records of every compared cell, for csv/comparison.csv.
struct ComparisonLog {
  Table table{"comparison", "Every compared cell",
              {"table", "row", "column", "simulated", "study", "delta", "delta_relative", "unit", "note"}, {}, "", {}};
  void add(const std::string& t, const std::string& row, const std::string& col, const SimValue& sim,
           double study, const std::string& unit) {
    std::vector<Cell> r = {txt(t), txt(row), txt(col)};
    if (sim.value) {
      bool ok = false;
      const double rel = relative_delta(*sim.value, study, &ok);
      r.push_back(num(*sim.value, format_auto(*sim.value)));
      r.push_back(num(study, format_auto(study)));
      r.push_back(num(*sim.value - study, format_auto(*sim.value - study)));
      r.push_back(ok ? num(rel, format_sig(rel, 4)) : txt(""));
      r.push_back(txt(unit));
      r.push_back(txt(""));
    } else {
      r.push_back(txt(""));
      r.push_back(num(study, format_auto(study)));
      r.push_back(txt(""));
      r.push_back(txt(""));
      r.push_back(txt(unit));
      r.push_back(txt(sim.why_none));
    }
    table.add_row(std::move(r));
  }
};

// A compared metric shown with a second simulated reading beside it.
struct Companion {
  std::string label;         // the compared reading's row label
  std::string other_metric;  // the second reading
  std::string other_label;
};

std::optional<Companion> companion_of(const std::string& metric) {
  // gpu_util_mean counts compute kernels only (docs/METRICS.md); nvidia-smi's
  // reading also counts NCCL kernels, which is gpu_util_with_comm_mean.
  if (metric == "gpu_util_mean") {
    return Companion{"simulated, compute only", "gpu_util_with_comm_mean", "simulated, compute or communication"};
  }
  return std::nullopt;
}

// The study's table with simulated / study / delta for every cell. With
// `improvement`, a last column compares MA Separation with its base layout.
Table compare_table(const RefTable& ref, const std::string& id, const std::string& title, const SimLookup& sim,
                    const std::optional<Improvement>& improvement, ComparisonLog& log) {
  Table t;
  t.id = id;
  t.title = title;
  t.header = {ref.id == "sequence_length" ? "Sequence length" : "Metric", ""};
  for (const RefColumn& c : ref.columns) t.header.push_back(c.label);
  if (improvement) t.header.push_back(improvement->label);
  std::vector<std::string> footnotes;
  for (const RefRow& row : ref.rows) {
    t.group_starts.push_back(t.rows.size());
    // A metric with a second reading (utilization counts compute only; the
    // reading with communication in flight goes beside it, not compared).
    const std::optional<Companion> comp = companion_of(row.metric);
    std::vector<Cell> s_row = {txt(row.label), txt(comp ? comp->label : "simulated")};
    std::vector<Cell> c_row = {txt(""), txt(comp ? comp->other_label : "")};
    std::vector<Cell> b_row = {txt(""), txt("simulated band")};
    bool any_band = false;
    std::vector<Cell> r_row = {txt(""), txt("study")};
    std::vector<Cell> d_row = {txt(""), txt(row.unit == "%" ? "Δ (pp)" : "Δ")};
    std::map<std::string, SimValue> by_kind, other_by_kind;
    RefRow other_row = row;
    if (comp) other_row.metric = comp->other_metric;
    for (std::size_t c = 0; c < ref.columns.size(); ++c) {
      const SimValue v = sim(row, ref.columns[c]);
      by_kind[ref.columns[c].layout] = v;
      if (comp) {
        const SimValue o = sim(other_row, ref.columns[c]);
        other_by_kind[ref.columns[c].layout] = o;
        c_row.push_back(o.value ? num(*o.value, show(*o.value, row.unit)) : txt("—"));
      }
      const double study = row.values[c];
      log.add(ref.id, row.label, ref.columns[c].label, v, study, row.unit);
      any_band = any_band || v.band.has_value();
      b_row.push_back(v.band ? txt(show(v.band->first, row.unit) + " – " + show(v.band->second, row.unit)) : txt("—"));
      if (v.value) {
        s_row.push_back(num(*v.value, show(*v.value, row.unit)));
        d_row.push_back(txt(delta(*v.value, study, row.unit)));
      } else {
        const std::string fn = ref.columns[c].label + ": " + v.why_none;
        auto it = std::find(footnotes.begin(), footnotes.end(), fn);
        if (it == footnotes.end()) it = footnotes.insert(footnotes.end(), fn);
        s_row.push_back(txt("—[" + std::to_string(it - footnotes.begin() + 1) + "]"));
        d_row.push_back(txt("—"));
      }
      r_row.push_back(num(study, show(study, row.unit)));
    }
    if (improvement) {
      const SimValue& ma = by_kind[kMa];
      const SimValue& base = by_kind[improvement->base_kind];
      const bool lower_is_better = row.metric == "tpot_ms";
      auto improvement_cell = [&](const SimValue& m, const SimValue& b) -> std::optional<std::pair<double, Cell>> {
        if (!m.value || !b.value || *b.value == 0.0) return std::nullopt;
        const double imp = lower_is_better ? 1.0 - *m.value / *b.value : *m.value / *b.value - 1.0;
        const std::string word = lower_is_better ? (imp >= 0 ? " reduction" : " increase")
                                                 : (imp >= 0 ? " increase" : " decrease");
        return std::make_pair(imp, num(100.0 * imp, pct_str(std::fabs(imp)) + word));
      };
      if (comp) {
        const auto o = improvement_cell(other_by_kind[kMa], other_by_kind[improvement->base_kind]);
        c_row.push_back(o ? o->second : txt("—"));
      }
      if (const auto ic = improvement_cell(ma, base)) {
        const double imp = ic->first;
        s_row.push_back(ic->second);
        if (!row.improvement_text.empty()) {
          // The study's own improvement, as printed; delta in percentage points.
          const double study_imp = std::strtod(row.improvement_text.c_str(), nullptr) / 100.0;
          d_row.push_back(txt(format_delta_pp(100.0 * imp, 100.0 * study_imp)));
        } else {
          d_row.push_back(txt(""));
        }
      } else {
        s_row.push_back(txt("—"));
        d_row.push_back(txt("—"));
      }
      r_row.push_back(txt(row.improvement_text));
    }
    if (improvement) b_row.push_back(txt(""));
    t.add_row(std::move(s_row));
    if (comp) t.add_row(std::move(c_row));
    if (any_band) t.add_row(std::move(b_row));
    t.add_row(std::move(r_row));
    t.add_row(std::move(d_row));
  }
  for (std::size_t i = 0; i < footnotes.size(); ++i) {
    t.note += (i ? " " : "") + std::string("[") + std::to_string(i + 1) + "] " + footnotes[i] + ".";
  }
  return t;
}

// The value of one of the reference's metric names in a layout of results.json.
SimValue sim_metric(const json& results, const std::string& kind, const std::string& metric_name) {
  if (auto f = failure_of(results, kind)) return {std::nullopt, "not simulated: " + *f};
  const json* l = find_layout_by_kind(results, kind);
  if (l == nullptr) return {std::nullopt, "no such layout in the scenario"};
  auto as_pct = [](double f) { return 100.0 * f; };
  if (metric_name == "gpu_util_mean" || metric_name == "gpu_util_with_comm_mean" || metric_name == "memory_efficiency") {
    auto v = metric_opt(*l, metric_name);
    if (!v) return {std::nullopt, "not in the results"};
    return {as_pct(*v), ""};
  }
  if (metric_name.rfind("comm.", 0) == 0) {
    const std::string tag = metric_name.substr(5);
    if (tag == "moe_alltoall") return {as_pct(moe_exchange_share(*l)), ""};
    return {as_pct(comm_share(*l, tag)), ""};
  }
  if (metric_name.rfind("memory.", 0) == 0) {
    const std::string comp = metric_name.substr(7);
    const auto profiles = memory_profiles(*l);
    if (profiles.empty()) return {std::nullopt, "no memory breakdown in the results"};
    // The GPU with the largest total: the one that decides whether the layout fits.
    const GpuMemoryView* top = &profiles.front();
    for (const GpuMemoryView& p : profiles) {
      if (p.total_gib > top->total_gib) top = &p;
    }
    if (comp == "total") return {gib_to_gb(top->total_gib), ""};
    for (std::size_t i = 0; i < memory_components().size(); ++i) {
      if (comp == memory_components()[i].key) return {gib_to_gb(top->gib[i]), ""};
    }
    return {std::nullopt, "unknown memory component"};
  }
  auto v = metric_opt(*l, metric_name);
  if (!v) return {std::nullopt, "not in the results"};
  SimValue out{*v, "", std::nullopt};
  if (l->contains("metrics_band") && (*l)["metrics_band"].is_object()) {
    const json& b = (*l)["metrics_band"];
    if (b.contains(metric_name) && b[metric_name].is_array() && b[metric_name].size() == 2 &&
        b[metric_name][0].is_number() && b[metric_name][1].is_number()) {
      out.band = std::make_pair(b[metric_name][0].get<double>(), b[metric_name][1].get<double>());
    }
  }
  return out;
}

// ------------------------------------------------------------------ the study

struct SensitivityResult {
  std::string name;
  std::string what;
  json results;
};

// A value as written in a file: the shortest form that reads back the same
// to 6 digits ("20", "0.3", "1.528").
std::string as_written(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// GPUs of a scenario's fabric (its topology's GPU vertices).
int fabric_gpus(const spec::ScenarioSpec& s) {
  int n = 0;
  for (const auto& v : s.topology.vertices) n += v.kind == spec::VertexKind::kGpu ? 1 : 0;
  return n;
}

// A routing distribution as a reader names it ("Zipf 0.3", "uniform").
std::string routing_words(const spec::RoutingSpec& r) {
  if (r.kind == spec::RoutingKind::kZipf) return "Zipf " + as_written(r.zipf_exponent);
  return spec::to_string(r.kind);
}

std::string gpus_list(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : ", ") + format_grouped(x);
  return s;
}

// Keeps only the layouts of the given kinds (in the scenario's order).
spec::ScenarioSpec only_kinds(spec::ScenarioSpec s, const std::set<std::string>& kinds) {
  std::vector<spec::LayoutSpec> keep;
  for (const spec::LayoutSpec& l : s.layouts) {
    if (kinds.count(spec::to_string(l.kind))) keep.push_back(l);
  }
  s.layouts = keep;
  return s;
}

// "24" or "12–48": the values' range, as the prose states a per-GPU load.
std::string range_words(const std::vector<double>& v) {
  if (v.empty()) return "—";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return *lo == *hi ? format_grouped(*lo) : format_grouped(*lo) + "–" + format_grouped(*hi);
}

// The GPU count a scaling point is labelled with (seed_scaling.json's variants).
int gpu_count_label(const LoadedSweep& sw, const SweepPoint& p) {
  char* end = nullptr;
  const long n = std::strtol(p.label.c_str(), &end, 10);
  if (p.label.empty() || *end != '\0' || n < 1 || n > 1000000) {
    io::Diagnostics d;
    d.error(sw.file, "/axes/0", "expected each point of the scaling sweep to be labelled by its GPU count, found \"" +
                                    p.label + "\"");
    throw io::InputError(d);
  }
  return static_cast<int>(n);
}

}  // namespace

namespace {

struct Study {
  Document& d;
  const Reference& ref;
  ComparisonLog log;
  std::string source_dir;
  spec::ScenarioSpec seed_spec, scal_spec, seq_spec, train_spec, slo_spec;
  // The sweep files the report runs (scenarios/sweeps/), in the order of their sections.
  std::vector<LoadedSweep> sweeps;
  json seed, training;
  std::vector<std::pair<int, json>> scaling;   // (GPUs, results)
  std::vector<std::pair<int, json>> seqlen;    // (context, results)
  std::vector<std::pair<int, json>> slo;       // (batch, results)
  std::vector<double> scaling_per_gpu;         // sequences per GPU at each scaling point
  std::vector<SensitivityResult> sens;
  std::vector<json> seeds;
  std::vector<std::uint64_t> seed_values;
  json derived;  // the seed study priced by the derived A100 profile (paper_derived.hpp)
  double tpot_reduction = 0.0, throughput_gain = 0.0;

  // ---------------------------------------------------------------- helpers
  std::optional<double> value(const json& r, const std::string& kind, const std::string& m) const {
    const json* l = find_layout_by_kind(r, kind);
    if (l == nullptr) return std::nullopt;
    return metric_opt(*l, m);
  }

  // MA Separation vs the baseline in one result: (TPOT reduction, tokens/s gain).
  std::optional<std::pair<double, double>> ma_vs(const json& r, const std::string& base) const {
    const auto mt = value(r, kMa, "tpot_ms");
    const auto bt = value(r, base, "tpot_ms");
    const auto ms = value(r, kMa, "tokens_per_s");
    const auto bs = value(r, base, "tokens_per_s");
    if (!mt || !bt || !ms || !bs || *bt == 0.0 || *bs == 0.0) return std::nullopt;
    return std::make_pair(1.0 - *mt / *bt, *ms / *bs - 1.0);
  }

  std::string not_simulated(const json& r, const std::string& kind) const {
    if (auto f = failure_of(r, kind)) return "not simulated (" + *f + ")";
    return "not simulated";
  }

  // ---------------------------------------------------------------- sections
  void intro(const PaperSummary& s) {
    d.paragraph("This report puts every table and claim of the seed study (`" + ref.source + "`, \"" + ref.study +
                "\") beside what masim simulates for it, cell by cell: simulated value, the study's value, and the "
                "delta. Every simulated number comes from the discrete-event simulation of the scenarios in "
                "`scenarios/paper/`; every study number comes from `scenarios/paper/reference.json`, which is used "
                "for nothing but this comparison. Nothing in the simulator or the scenarios is tuned to make a delta "
                "small: where the two disagree, the report says so and why.");
    d.paragraph("Regenerate with `" + std::string(kRegenerate) + "` (" + std::to_string(s.simulations) +
                " simulated scenario runs). Compute costs of the seed study: " +
                relative_to_source(seed.value("cost_model", std::string("?")), source_dir) +
                " (every run's in \"Which model priced each run\"). Network: " + seed.value("network_model", std::string("?")) + ". masim " +
                seed.value("masim_version", std::string("?")) + ".");
    d.heading(2, "Headline");
    std::vector<std::string> items;
    if (auto imp = ma_vs(seed, kBaseline)) {
      tpot_reduction = imp->first;
      throughput_gain = imp->second;
      const RefTable& perf = ref.table("performance");
      const double st = 1.0 - *perf.value("tpot_ms", kMa) / *perf.value("tpot_ms", kBaseline);
      const double ss = *perf.value("tokens_per_s", kMa) / *perf.value("tokens_per_s", kBaseline) - 1.0;
      items.push_back("At the study's setting (" + std::to_string(fabric_gpus(seed_spec)) + "× " +
                      seed_spec.hardware.gpu.name + ", " + std::to_string(seed_spec.workload.batch) +
                      " concurrent sequences, context " + std::to_string(seed_spec.workload.context_length) +
                      "), masim finds MA Separation's TPOT **" +
                      (imp->first >= 0 ? pct_str(imp->first) + " lower" : pct_str(-imp->first) + " higher") +
                      "** than TP=8, PP=2 and its throughput **" +
                      (imp->second >= 0 ? pct_str(imp->second) + " higher" : pct_str(-imp->second) + " lower") +
                      "**; the study reports " + pct_str(st) + " lower and " + pct_str(ss) + " higher.");
      const double slo_ms = choice_numbers(slo_spec, "slo.tpot_ms").at(0);
      SloPick best;
      for (const std::string& k : kKinds) {
        const SloPick p = best_under(k, slo_ms);
        if (p.found && (!best.found || p.tps_gpu > best.tps_gpu)) best = p;
      }
      const SloPick ma = best_under(kMa, slo_ms);
      if (best.found) {
        items.push_back("At an equal latency target (TPOT ≤ " + format_fixed(slo_ms, 1) + " ms), the most tokens/s per "
                        "GPU come from **" + kind_label(best.kind) + "** (" + format_grouped(best.tps_gpu) +
                        "); MA Separation " +
                        (ma.found ? "reaches " + format_grouped(ma.tps_gpu) : std::string("meets the target at no concurrency of the sweep")) +
                        ".");
      }
    } else {
      items.push_back("MA Separation or TP=8, PP=2 could not be simulated at the study's setting: " +
                      not_simulated(seed, kMa) + "; " + not_simulated(seed, kBaseline) + ".");
    }
    if (const std::string h = derived_profile_headline(derived); !h.empty()) items.push_back(h);
    d.list(items);
  }

  void setup_section() {
    d.heading(2, "Setup and the values the study leaves unstated");
    const models::ModelParams p = models::count_params(seed_spec.model);
    const spec::GpuSpec& g = seed_spec.hardware.gpu;
    d.list({"Model `" + seed_spec.model.name + "`: " + std::to_string(seed_spec.model.num_layers) +
                " layers, hidden " + std::to_string(seed_spec.model.hidden_size) + ", " +
                std::to_string(seed_spec.model.num_heads) + " query / " +
                std::to_string(seed_spec.model.num_kv_heads) + " KV heads, " +
                std::to_string(seed_spec.model.num_experts) + " experts, top-" +
                std::to_string(seed_spec.model.top_k) + ", expert FFN " +
                std::to_string(seed_spec.model.expert_ffn_size) + ", " + spec::to_string(seed_spec.model.dtype) +
                "; " + format_fixed(static_cast<double>(p.total()) * 1e-9, 2) + " B parameters, " +
                format_fixed(static_cast<double>(p.active_per_token()) * 1e-9, 2) + " B active per token.",
            "GPU " + g.name + ": " + format_grouped(g.hbm_bandwidth.gb_per_s()) + " GB/s HBM, " +
                format_fixed(g.hbm_capacity.gb(), 0) + " GB, " +
                format_fixed(g.peak_flops.count(spec::DType::kBF16) ? g.peak_flops.at(spec::DType::kBF16).tflops() : 0.0, 0) +
                " TFLOP/s bf16 dense, " + format_fixed(g.tdp_w, 0) + " W TDP, " + format_fixed(g.idle_w, 0) +
                " W idle (from `" + seed_spec.hardware.id + "`).",
            "Topology `" + seed_spec.topology.name + "` (" + std::to_string(seed_spec.topology.num_nodes) +
                " nodes) for the " + std::to_string(fabric_gpus(seed_spec)) + "-GPU scenarios, `" + scal_spec.topology.name + "` for the scaling sweep."});
    d.paragraph("Every value the study does not state is a choice written into the scenario (or model) file with "
                "its reason; they are listed here. The sensitivity section below shows how the MA-vs-baseline "
                "conclusion moves when the most influential of them change.");
    Table& t = d.table("choices", "Choices and reasons", {"Scenario", "Key", "Value", "Reason"});
    auto add = [&](const spec::ScenarioSpec& s) {
      for (const spec::Choice& c : s.choices) t.add_row({txt("`" + s.name + "`"), txt("`" + c.key + "`"), txt(c.value), txt(c.reason)});
    };
    add(seed_spec);
    add(scal_spec);
    add(seq_spec);
    add(train_spec);
    add(slo_spec);
    // The sweep files' axes: the values each sweep runs and why.
    for (const LoadedSweep& sw : sweeps) {
      for (const SweepAxis& a : sw.axes) {
        std::string values;
        for (const std::string& l : a.labels) values += (values.empty() ? "" : ", ") + l;
        t.add_row({txt("sweep `" + sw.name + "`"), txt("`" + a.name + "` (axis)"), txt(values),
                   txt(a.reason.empty() ? "(no reason given)" : a.reason)});
      }
    }
    // The model file's own "_choices" (documentation keys, not part of ModelSpec).
    if (!seed_spec.model.source.empty()) {
      io::Diagnostics diag;
      if (auto doc = io::load_json_file(seed_spec.model.source, diag); doc && doc->contains("_choices")) {
        for (const auto& [k, v] : (*doc)["_choices"].items()) {
          if (!v.is_string()) continue;
          std::string value = v.get<std::string>(), reason = value;
          const std::size_t colon = value.find(": ");
          if (colon != std::string::npos && colon < 60) {
            reason = value.substr(colon + 2);
            value = value.substr(0, colon);
          } else {
            value.clear();
          }
          t.add_row({txt("model `" + seed_spec.model.name + "`"), txt("`" + k + "`"), txt(value), txt(reason)});
        }
      }
    }
  }

  void performance_section() {
    d.heading(2, "Performance comparison at equal concurrency");
    d.paragraph("The study's main table. Its TPS column is tokens/s per GPU and its throughput column is " +
                ref.setup.at("gpus") + " × TPS; "
                "every layout serves the same " + std::to_string(seed_spec.workload.batch) +
                " concurrent sequences (scenario `seed_study.json`). The study defines neither its GPU utilization "
                "nor its \"memory efficiency\". masim's GPU utilization is given two ways (`docs/METRICS.md`): "
                "*compute only*, the share of the step in which a GPU runs a kernel of the model (compared with "
                "the study's row), and *compute or communication*, which also counts the time a collective of the "
                "GPU is in flight, as `nvidia-smi` would (a GPU waiting on the network looks busy by it).");
    const RefTable& perf = ref.table("performance");
    d.add_table(compare_table(
        perf, "performance", "Performance Metrics Comparison (equal concurrency)",
        [&](const RefRow& r, const RefColumn& c) { return sim_metric(seed, c.layout, r.metric); },
        Improvement{kBaseline, "MA vs TP=8, PP=2"}, log));
    why_paragraph();
    std::vector<const json*> ls;
    json rows = json::array();
    for (const std::string& k : kKinds) {
      const auto sim = value(seed, k, "tpot_ms");
      if (sim) rows.push_back({{"layout", kind_label(k)}, {"source", "simulated"}, {"tpot_ms", *sim}});
      if (auto st = perf.value("tpot_ms", k)) rows.push_back({{"layout", kind_label(k)}, {"source", "study"}, {"tpot_ms", *st}});
    }
    Chart c;
    c.id = "performance-tpot";
    c.title = "TPOT per layout: simulated and the study's";
    c.caption = "Equal concurrency (" + std::to_string(seed_spec.workload.batch) + " sequences on " + std::to_string(fabric_gpus(seed_spec)) + " GPUs)";
    c.spec = make_grouped_bar(GroupedBar{.category = {"layout", "Layout"}, .series = {"source", "Source"},
                                         .value = {"tpot_ms", "TPOT (ms)"},
                                         .category_order = {"TP=8", "PP=2", "TP=8, PP=2", "MA Separation"},
                                         .series_order = {"simulated", "study"}},
                              rows);
    d.chart(c);
  }

  // An explanation of the MA-vs-baseline result in the simulation's own numbers:
  // weight bytes each GPU must read per micro-batch in a weight-bound decode step.
  void why_paragraph() {
    const json* ma = find_layout_by_kind(seed, kMa);
    const json* base = find_layout_by_kind(seed, kBaseline);
    if (ma == nullptr || base == nullptr) return;
    const double bw = seed_spec.hardware.gpu.hbm_bandwidth.bytes_per_s();
    auto params_of = [](const json& l, const std::string& role) -> std::optional<double> {
      std::optional<double> best;
      for (const GpuMemoryView& v : memory_profiles(l)) {
        if (role.empty() || v.role == role) best = std::max(best.value_or(0.0), v.gib[0]);
      }
      return best;
    };
    const auto ma_expert = params_of(*ma, "expert GPU");
    const auto ma_attn = params_of(*ma, "attention GPU");
    const auto b = params_of(*base, "");
    if (!ma_expert || !ma_attn || !b) return;
    const int m_ma = (*ma)["parallelism"].value("micro_batches", 1);
    const int m_b = (*base)["parallelism"].value("micro_batches", 1);
    auto ms = [&](double gib, int m) { return m * gib * 1073741824.0 / bw * 1e3; };
    d.paragraph("What drives the simulated result: in decode the expert and projection GEMMs are bound by reading "
                "their weights from HBM, and every micro-batch reads them again. An MA Separation expert GPU holds " +
                format_fixed(*ma_expert, 2) + " GiB of weights (its attention GPUs " + format_fixed(*ma_attn, 2) +
                " GiB) and runs " + std::to_string(m_ma) + " micro-batches per step: at least " +
                format_fixed(ms(*ma_expert, m_ma), 2) + " ms of weight reads per step at the datasheet bandwidth. "
                "A TP=8, PP=2 GPU holds " + format_fixed(*b, 2) + " GiB and runs " + std::to_string(m_b) +
                " micro-batches: " + format_fixed(ms(*b, m_b), 2) +
                " ms, a ratio of " + format_fixed(ms(*ma_expert, m_ma) / ms(*b, m_b), 2) +
                ". The sensitivity section shows which choices move this balance.");
  }

  // Each layout's best tokens/s per GPU with TPOT <= slo over the batch sweep.
  struct SloPick {
    std::string kind;
    int batch = 0;
    double tpot = 0.0, tps_gpu = 0.0, tps = 0.0;
    bool found = false;
  };
  SloPick best_under(const std::string& kind, double slo_ms) const {
    SloPick p;
    p.kind = kind;
    for (const auto& [batch, r] : slo) {
      const auto t = value(r, kind, "tpot_ms");
      const auto g = value(r, kind, "tokens_per_s_per_gpu");
      if (!t || !g || *t > slo_ms) continue;
      if (!p.found || *g > p.tps_gpu) {
        p.found = true;
        p.batch = batch;
        p.tpot = *t;
        p.tps_gpu = *g;
        p.tps = value(r, kind, "tokens_per_s").value_or(0.0);
      }
    }
    return p;
  }

  // Layout name -> best steady-state tokens/s per GPU under the TPOT SLO (-1: none).
  std::map<std::string, double> steady_slo_picks() {
    const double slo_ms = choice_numbers(slo_spec, "slo.tpot_ms").at(0);
    std::map<std::string, double> out;
    for (const std::string& k : kKinds) {
      const SloPick p = best_under(k, slo_ms);
      out[kind_label(k)] = p.found ? p.tps_gpu : -1.0;
    }
    return out;
  }

  std::vector<double> slo_batches() const {
    std::vector<double> v;
    for (const auto& [b, r] : slo) v.push_back(b);
    return v;
  }

  void equal_slo_section() {
    d.heading(2, "Equal-SLO comparison");
    const double slo_ms = choice_numbers(slo_spec, "slo.tpot_ms").at(0);
    const spec::Choice* why = find_choice(slo_spec, "slo.tpot_ms");
    d.paragraph("Production systems compare layouts at a latency target, not at equal concurrency: each layout "
                "serves as many sequences as it can while its TPOT stays at or below the SLO. Here each layout "
                "runs at every concurrency of the sweep (" + gpus_list(slo_batches()) +
                " sequences on " + std::to_string(fabric_gpus(slo_spec)) +
                " GPUs, sweep `seed_equal_slo.json` over scenario `equal_slo.json`) and the point with the highest tokens/s per GPU "
                "and TPOT ≤ **" + format_fixed(slo_ms, 1) + " ms** is kept. Why this SLO: " +
                (why ? why->reason : std::string("(no reason given)")));
    Table& t = d.table("equal_slo", "Best throughput per GPU with TPOT ≤ " + format_fixed(slo_ms, 1) + " ms",
                       {"Layout", "sequences", "TPOT (ms)", "tokens/s per GPU", "tokens/s", "vs TP=8, PP=2",
                        "equal-concurrency tokens/s per GPU"});
    const SloPick base = best_under(kBaseline, slo_ms);
    for (const std::string& k : kKinds) {
      const SloPick p = best_under(k, slo_ms);
      const auto eq = value(seed, k, "tokens_per_s_per_gpu");
      const Cell eq_cell = eq ? num(*eq, format_grouped(*eq)) : txt("—");
      if (!p.found) {
        t.add_row({txt(kind_label(k)), txt("none meets the SLO"), txt("—"), txt("—"), txt("—"), txt("—"), eq_cell});
        continue;
      }
      t.add_row({txt(kind_label(k)), num(p.batch, std::to_string(p.batch)), num(p.tpot, format_fixed(p.tpot, 2)),
                 num(p.tps_gpu, format_grouped(p.tps_gpu)), num(p.tps, format_grouped(p.tps)),
                 base.found ? num(p.tps_gpu / base.tps_gpu, format_fixed(p.tps_gpu / base.tps_gpu, 2) + "×") : txt("—"),
                 eq_cell});
    }
    std::vector<std::string> alt_lines;
    std::vector<double> slos = {slo_ms};
    for (double a : choice_numbers(slo_spec, "slo.tpot_ms_alternatives")) slos.push_back(a);
    std::sort(slos.begin(), slos.end());
    Table& at = d.table("equal_slo_alternatives", "Winner at other SLOs",
                        {"TPOT SLO (ms)", "best layout", "its tokens/s per GPU", "MA Separation / best other layout"});
    for (double s : slos) {
      SloPick best;
      SloPick ma = best_under(kMa, s);
      SloPick best_other;
      for (const std::string& k : kKinds) {
        const SloPick p = best_under(k, s);
        if (p.found && (!best.found || p.tps_gpu > best.tps_gpu)) best = p;
        if (k != kMa && p.found && (!best_other.found || p.tps_gpu > best_other.tps_gpu)) best_other = p;
      }
      at.add_row({num(s, format_fixed(s, 1)), txt(best.found ? kind_label(best.kind) : "none"),
                  best.found ? num(best.tps_gpu, format_grouped(best.tps_gpu)) : txt("—"),
                  ma.found && best_other.found ? num(ma.tps_gpu / best_other.tps_gpu, format_fixed(ma.tps_gpu / best_other.tps_gpu, 2) + "×")
                                               : txt("—")});
    }
    // Frontier chart.
    json rows = json::array();
    for (const auto& [batch, r] : slo) {
      for (const std::string& k : kKinds) {
        const auto tp = value(r, k, "tpot_ms");
        const auto g = value(r, k, "tokens_per_s_per_gpu");
        if (!tp || !g) continue;
        rows.push_back({{"layout", kind_label(k)}, {"tpot_ms", *tp}, {"tokens_per_s_per_gpu", *g}, {"sequences", batch}});
      }
    }
    Chart c;
    c.id = "frontier";
    c.title = "Throughput per GPU vs TPOT (each point one concurrency)";
    c.caption = "Every layout over the concurrency sweep of `equal_slo.json`; the dashed line is the " +
                format_fixed(slo_ms, 1) + " ms SLO. Up and to the left is better.";
    c.spec = make_line_chart(LineChart{.x = {"tpot_ms", "TPOT (ms)", true},
                                       .y = {"tokens_per_s_per_gpu", "tokens/s per GPU", true},
                                       .color = {"layout", "Layout"},
                                       .order = Field{"sequences", "sequences"},
                                       .tooltip = {"sequences"},
                                       .x_rule = Rule{slo_ms, "SLO " + format_fixed(slo_ms, 1) + " ms"}},
                             rows);
    d.chart(c);
  }

  void scalability_section() {
    d.heading(2, "Scalability");
    const std::string per_gpu = range_words(scaling_per_gpu);
    std::vector<double> gpus;
    for (const auto& [n, r] : scaling) gpus.push_back(n);
    const double study_gpus = std::strtod(ref.setup.at("gpus").c_str(), nullptr);
    d.paragraph("Weak scaling at " + per_gpu + " sequences per GPU on a " +
                std::to_string(fabric_gpus(scal_spec)) + "-GPU fabric (sweep `seed_scaling.json` over scenario "
                "`scalability.json` at " + gpus_list(gpus) +
                " GPUs; the layout rules at each size are the sweep axis's reason in the choices table above). \"Speedup\" "
                "follows the study's definition: MA Separation's tokens/s over TP=8, PP=2's at the same GPU count. "
                "Scaling efficiency is given two ways: the conventional one, (tokens/s at N / tokens/s at 4) / (N/4) "
                "for MA Separation, and the study's formula (Speedup_N / N) / (Speedup_4 / 4).");
    Table& t = d.table("scalability", "Throughput (tokens/s) by GPU count",
                       {"GPUs", "TP=8", "PP=2", "TP=8, PP=2", "MA Separation", "speedup (MA / TP=8, PP=2)",
                        "MA efficiency, conventional (%)", "MA efficiency, study's formula (%)", "MA beats every baseline"});
    std::optional<double> ma4, speedup4;
    std::optional<int> break_even;
    json rows = json::array();
    for (const auto& [n, r] : scaling) {
      std::vector<Cell> row = {num(n, std::to_string(n))};
      double best_base = 0.0;
      bool all = true;
      for (const std::string& k : kKinds) {
        const auto v = value(r, k, "tokens_per_s");
        if (v) {
          row.push_back(num(*v, format_grouped(*v)));
          rows.push_back({{"gpus", n}, {"layout", kind_label(k)}, {"tokens_per_s", *v},
                          {"tokens_per_s_per_gpu", *v / n}, {"source", "simulated"}});
          if (k != kMa) best_base = std::max(best_base, *v);
        } else {
          row.push_back(txt("—"));
          if (k != kMa) all = false;
        }
      }
      const auto ma = value(r, kMa, "tokens_per_s");
      const auto base = value(r, kBaseline, "tokens_per_s");
      std::optional<double> speedup;
      if (ma && base && *base > 0) speedup = *ma / *base;
      if (n == 4) {
        ma4 = ma;
        speedup4 = speedup;
      }
      row.push_back(speedup ? num(*speedup, format_fixed(*speedup, 3)) : txt("—"));
      if (ma && ma4 && *ma4 > 0) {
        const double eff = (*ma / *ma4) / (n / 4.0);
        row.push_back(pct_cell(eff));
      } else {
        row.push_back(txt("—"));
      }
      if (speedup && speedup4 && *speedup4 > 0) {
        row.push_back(pct_cell((*speedup / n) / (*speedup4 / 4.0)));
      } else {
        row.push_back(txt("—"));
      }
      const bool beats = ma && all && *ma > best_base;
      if (beats && !break_even) break_even = n;
      row.push_back(txt(ma && all ? (beats ? "yes" : "no") : "—"));
      t.add_row(std::move(row));
    }
    // The study's only absolute points: its 16-GPU throughputs.
    const RefTable& perf = ref.table("performance");
    for (const std::string& k : kKinds) {
      if (auto v = perf.value("tokens_per_s", k)) {
        rows.push_back({{"gpus", study_gpus}, {"layout", kind_label(k)}, {"tokens_per_s", *v},
                        {"tokens_per_s_per_gpu", *v / study_gpus},
                        {"source", "study"}});
      }
    }
    const RefClaim& eff = ref.claim("scalability.efficiency_16");
    const RefClaim& be = ref.claim("scalability.break_even");
    const RefClaim& sp = ref.claim("scalability.speedup_16");
    t.note = "Study: speedup " + format_fixed(sp.at("ma_separation"), 3) + " at " + format_grouped(study_gpus) +
             " GPUs, " + format_fixed(eff.at("ma_separation"), 0) + "% scaling efficiency at " +
             format_grouped(study_gpus) + " GPUs, break-even from " +
             format_fixed(be.at("ma_separation"), 0) + " GPUs, plateau beyond " +
             format_fixed(ref.claim("scalability.plateau").at("ma_separation"), 0) + " GPUs.";
    std::vector<std::string> findings;
    findings.push_back(break_even ? "Simulated break-even: MA Separation first beats every baseline at **" +
                                        std::to_string(*break_even) + " GPUs** (study: " +
                                        format_fixed(be.at("ma_separation"), 0) + ")."
                                  : "Simulated break-even: MA Separation beats every baseline at **no** GPU count of "
                                    "the sweep (study: from " + format_fixed(be.at("ma_separation"), 0) + ").");
    // Plateau: MA's tokens/s per GPU at the largest sizes relative to the study's GPU count.
    const int anchor = static_cast<int>(study_gpus);
    std::optional<double> ma_anchor;
    for (const auto& [n, r] : scaling) {
      if (n == anchor) ma_anchor = value(r, kMa, "tokens_per_s");
    }
    if (ma_anchor) {
      std::string s = "MA Separation's tokens/s per GPU relative to " + std::to_string(anchor) + " GPUs:";
      for (const auto& [n, r] : scaling) {
        if (n <= anchor) continue;
        if (auto v = value(r, kMa, "tokens_per_s")) {
          s += " " + std::to_string(n) + " GPUs " + pct_str((*v / n) / (*ma_anchor / anchor)) + ";";
        }
      }
      const RefClaim& pl = ref.claim("scalability.plateau");
      findings.push_back(s + " a plateau would show as a falling ratio (study: gains plateau beyond " +
                         as_written(pl.at("ma_separation")) + " GPUs).");
    }
    if (speedup4) {
      // (Speedup_16 / 16) / (Speedup_4 / 4) = efficiency  =>  Speedup_4 = 4 · Speedup_16 / (16 · efficiency).
      const double implied = 4.0 * sp.at("ma_separation") / (study_gpus * eff.at("ma_separation") / 100.0);
      const std::string relation = implied < 1.0 ? format_fixed(1.0 / implied, 1) + "× slower than"
                                                 : format_fixed(implied, 1) + "× faster than";
      findings.push_back("The study's efficiency formula needs Speedup_4; its own numbers imply Speedup_4 = 4 × " +
                         format_fixed(sp.at("ma_separation"), 3) + " / (" + format_grouped(study_gpus) + " × " +
                         format_fixed(eff.at("ma_separation") / 100.0, 2) + ") = " + format_fixed(implied, 3) +
                         ", i.e. MA Separation " + relation + " the baseline at 4 GPUs; simulated Speedup_4 = " +
                         format_fixed(*speedup4, 3) + ".");
    }
    d.list(findings);
    Chart c;
    c.id = "scaling";
    c.title = "Scaling: throughput per GPU by GPU count";
    c.caption = "Weak scaling at " + per_gpu + " sequences per GPU; lines are simulated, the dashed "
                "points at " + format_grouped(study_gpus) + " GPUs are the "
                "study's. Flat lines mean linear scaling.";
    c.spec = make_line_chart(LineChart{.x = {"gpus", "GPUs"},
                                       .y = {"tokens_per_s_per_gpu", "tokens/s per GPU"},
                                       .color = {"layout", "Layout"},
                                       .dash = Field{"source", "Source"},
                                       .tooltip = {"tokens_per_s"},
                                       .x_ordinal = true},
                             rows);
    d.chart(c);
  }

  void sequence_section() {
    d.heading(2, "TPOT by sequence length");
    d.paragraph("The study's sequence-length table (its improvement column compares MA Separation with TP=8, "
                "not with its TP=8, PP=2 baseline). Scenario `sequence_length.json`, swept over the KV-cache "
                "length at the main table's concurrency.");
    const RefTable& st = ref.table("sequence_length");
    auto result_at = [&](int ctx) -> const json* {
      for (const auto& [c, r] : seqlen) {
        if (c == ctx) return &r;
      }
      return nullptr;
    };
    d.add_table(compare_table(
        st, "sequence_length", "Inference Performance by Sequence Length (TPOT, ms)",
        [&](const RefRow& r, const RefColumn& c) -> SimValue {
          const json* res = r.context_length ? result_at(*r.context_length) : nullptr;
          if (res == nullptr) return {std::nullopt, "context length not in the sweep"};
          return sim_metric(*res, c.layout, "tpot_ms");
        },
        Improvement{"tp", "MA vs TP=8"}, log));
    json rows = json::array();
    for (const auto& [ctx, r] : seqlen) {
      for (const std::string& k : {std::string("tp"), std::string(kBaseline), std::string(kMa)}) {
        if (auto v = value(r, k, "tpot_ms")) rows.push_back({{"context", ctx}, {"layout", kind_label(k)}, {"tpot_ms", *v}, {"source", "simulated"}});
      }
    }
    for (const RefRow& row : st.rows) {
      for (std::size_t c = 0; c < st.columns.size(); ++c) {
        rows.push_back({{"context", row.context_length.value_or(0)}, {"layout", kind_label(st.columns[c].layout)},
                        {"tpot_ms", row.values[c]}, {"source", "study"}});
      }
    }
    Chart c;
    c.id = "tpot-vs-context";
    c.title = "TPOT vs sequence length";
    c.caption = "Solid: simulated; dashed: the study's table";
    c.spec = make_line_chart(LineChart{.x = {"context", "sequence length (tokens)", true},
                                       .y = {"tpot_ms", "TPOT (ms)"},
                                       .color = {"layout", "Layout"},
                                       .dash = Field{"source", "Source"}},
                             rows);
    d.chart(c);
  }

  void communication_section() {
    d.heading(2, "Communication overhead by type");
    d.paragraph("The study's table has gradient-synchronization and parameter-broadcast rows, which exist only in "
                "training, next to attention all-reduce and all-to-all rows, which exist in both; it does not say "
                "which workload it measured. masim therefore compares it with both: the training step of "
                "`training.json` and the decode step of `seed_study.json`. A share is the time a type of "
                "communication is busy on a GPU divided by the iteration time, mean over the layout's GPUs "
                "(overlapped time included; exposed time is in the run tables). \"MoE All-to-All\" is masim's "
                "EP all-to-all plus MA Separation's dispatch and combine. The study's PP=2 column shows no "
                "pipeline send/recv row at all; masim's is in the chart.");
    const RefTable& ct = ref.table("communication");
    d.add_table(compare_table(
        ct, "communication_training", "Communication Overhead Analysis, against the simulated training step",
        [&](const RefRow& r, const RefColumn& c) { return sim_metric(training, c.layout, r.metric); }, std::nullopt,
        log));
    d.add_table(compare_table(
        ct, "communication_decode", "Communication Overhead Analysis, against the simulated decode step",
        [&](const RefRow& r, const RefColumn& c) { return sim_metric(seed, c.layout, r.metric); }, std::nullopt, log));
    std::vector<const json*> tl, dl;
    for (const std::string& k : kKinds) {
      if (const json* l = find_layout_by_kind(training, k)) tl.push_back(l);
      if (const json* l = find_layout_by_kind(seed, k)) dl.push_back(l);
    }
    if (!tl.empty()) {
      d.chart(comm_breakdown_chart(tl, "comm-training", "Communication by type: training step",
                                   "Share of the training step per communication type (`training.json`)"));
    }
    d.chart(comm_breakdown_chart(dl, "comm-decode", "Communication by type: decode step",
                                 "Share of the decode step per communication type (`seed_study.json`)"));
  }

  void memory_section() {
    d.heading(2, "Memory by component (training)");
    const double cap_gb = seed_spec.hardware.gpu.hbm_capacity.gb();
    d.paragraph("The study's memory table lists gradients and optimizer states, so it describes training; masim "
                "simulates one training step of `training.json` (Adam, " +
                std::to_string(train_spec.workload.optimizer_bytes_per_param) +
                " bytes of optimizer state per parameter, micro-batches of " +
                std::to_string(train_spec.workload.micro_batch_size) +
                " sequences). Values are for the GPU with the most memory (the one that must fit), in GB "
                "(10⁹ bytes, as the study and the A100's " + format_fixed(cap_gb, 0) +
                " GB capacity are stated). Every total of the study is above that capacity; see the honesty "
                "checks.");
    const RefTable& mt = ref.table("memory");
    d.add_table(compare_table(
        mt, "memory_training", "Memory Utilization Analysis (per GPU, GB)",
        [&](const RefRow& r, const RefColumn& c) { return sim_metric(training, c.layout, r.metric); }, std::nullopt,
        log));
    std::vector<const json*> tl, dl;
    for (const std::string& k : kKinds) {
      if (const json* l = find_layout_by_kind(training, k)) tl.push_back(l);
      if (const json* l = find_layout_by_kind(seed, k)) dl.push_back(l);
    }
    if (!tl.empty()) {
      d.chart(memory_stack_chart(tl, "memory-training", "Memory per GPU: training",
                                 "The GPU with the most memory per layout (per group for MA Separation); dashed: "
                                 "HBM capacity"));
    }
    d.chart(memory_stack_chart(dl, "memory-decode", "Memory per GPU: decode at the study's setting",
                               "As above for the decode scenario `seed_study.json`"));
  }

  // The coefficient the study's load-balancing losses imply, given the
  // simulated uncoefficiented loss E·Σ fᵢ·Pᵢ of the same layouts.
  std::string aux_coefficient_words() const {
    const RefClaim& c = ref.claim("load_balance.aux_loss");
    const json* ma = find_layout_by_kind(seed, kMa);
    const json* base = find_layout_by_kind(seed, kBaseline);
    auto sim = [](const json* l) -> double {
      return l != nullptr && l->contains("experts") ? (*l)["experts"].value("aux_loss", 0.0) : 0.0;
    };
    std::string s = "; the study's values (" + as_written(c.at("ma_separation")) + ", " +
                    as_written(c.at("baseline")) + ") are not losses of that form";
    if (sim(ma) > 0.0 && sim(base) > 0.0) {
      s += ": against the simulated " + format_sig(sim(ma), 3) + " and " + format_sig(sim(base), 3) +
           " they need a coefficient of " + format_sig(c.at("ma_separation") / sim(ma), 2) + " and " +
           format_sig(c.at("baseline") / sim(base), 2) + ", which the study does not state";
    }
    return s;
  }

  void load_balance_section() {
    d.heading(2, "Expert load balancing");
    d.paragraph("Which expert a token picks is decided by the trained router, not by where the experts run: the "
                "same model served under TP, PP or MA Separation routes identically. masim samples expert loads "
                "from the scenario's routing distribution (" + routing_words(seed_spec.workload.routing) + " over " +
                std::to_string(seed_spec.model.num_experts) +
                " experts, seeded), so its statistics are the same for every layout by construction; the study's "
                "difference between MA Separation and its baseline would need two differently trained routers, "
                "which a performance simulator does not model. The auxiliary loss is E·Σ fᵢ·Pᵢ without a "
                "coefficient (1.0 for perfectly uniform routing)" + aux_coefficient_words() + ".");
    const json* ma = find_layout_by_kind(seed, kMa);
    const json* base = find_layout_by_kind(seed, kBaseline);
    Table& t = d.table("load_balance", "Expert usage (share of routed token-slots per expert)",
                       {"Statistic", "simulated MA Separation", "simulated TP=8, PP=2", "study MA Separation",
                        "study baseline"});
    struct Item {
      const char* claim;
      const char* key;
      bool percent;
    };
    for (const Item& it : {Item{"load_balance.share_std", "share_std", false}, Item{"load_balance.share_min", "share_min", true},
                           Item{"load_balance.share_max", "share_max", true}, Item{"load_balance.aux_loss", "aux_loss", false}}) {
      const RefClaim& c = ref.claim(it.claim);
      auto sim = [&](const json* l) -> Cell {
        if (l == nullptr || !l->contains("experts")) return txt("—");
        const double v = (*l)["experts"].value(it.key, 0.0);
        return it.percent ? num(100.0 * v, format_fixed(100.0 * v, 2) + "%") : num(v, format_sig(v, 3));
      };
      t.add_row({txt(c.text.substr(0, c.text.find(':'))), sim(ma), sim(base),
                 num(c.at("ma_separation"), format_auto(c.at("ma_separation")) + (it.percent ? "%" : "")),
                 num(c.at("baseline"), format_auto(c.at("baseline")) + (it.percent ? "%" : ""))});
    }
  }

  void energy_section() {
    d.heading(2, "Energy per token");
    const spec::GpuSpec& g = seed_spec.hardware.gpu;
    d.paragraph("Simulated energy integrates each GPU's power over the decode step (idle power plus activity up "
                "to TDP; `sim/models/power.hpp`) and divides by the tokens produced. It covers the GPUs only: no "
                "CPUs, NICs, switches or cooling, so PUE and carbon (facility properties, not properties of a "
                "layout) are out of its reach.");
    const RefClaim& e = ref.claim("energy.per_token");
    Table& t = d.table("energy", "Energy per token (mJ), decode at the study's setting",
                       {"Layout", "simulated", "study", "Δ", "mean power per GPU (W)", "idle floor (mJ/token)"});
    for (const std::string& k : kKinds) {
      const auto v = value(seed, k, "energy_per_token_mj");
      const auto tps = value(seed, k, "tokens_per_s");
      const json* l = find_layout_by_kind(seed, k);
      std::optional<double> study;
      if (k == kMa) study = e.at("ma_separation");
      if (k == kBaseline) study = e.at("baseline");
      const int gpus = l ? l->value("gpus", 0) : 0;
      t.add_row({txt(kind_label(k)), v ? num(*v, format_sig(*v, 3)) : txt("—"),
                 study ? num(*study, format_auto(*study)) : txt("—"),
                 v && study ? txt(format_delta_pct(*v, *study)) : txt("—"),
                 l ? num(metric(*l, "avg_power_w"), format_fixed(metric(*l, "avg_power_w"), 0)) : txt("—"),
                 tps && *tps > 0 ? num(1e3 * g.idle_w * gpus / *tps, format_sig(1e3 * g.idle_w * gpus / *tps, 3))
                                 : txt("—")});
    }
    t.note = "Idle floor: the energy per token if every GPU drew only its idle power (" + format_fixed(g.idle_w, 0) +
             " W, the hardware file's stated assumption) at the simulated throughput; no schedule can go below it.";
    if (auto imp = [&]() -> std::optional<double> {
          const auto a = value(seed, kMa, "energy_per_token_mj");
          const auto b = value(seed, kBaseline, "energy_per_token_mj");
          if (!a || !b || *b == 0) return std::nullopt;
          return 1.0 - *a / *b;
        }()) {
      d.paragraph("Simulated energy-efficiency gain of MA Separation over TP=8, PP=2: " + pct_str(*imp) +
                  " (study: " + format_fixed(ref.claim("energy.efficiency").at("ma_separation"), 1) + "%).");
    }
  }

  void training_section() {
    d.heading(2, "Training: time per step instead of convergence");
    const double steps = std::strtod(ref.setup.at("training_steps").c_str(), nullptr);
    d.paragraph("Perplexity, loss curves, convergence speed and loss variance depend on optimization dynamics "
                "(data, learning rate, router training), which a performance simulator does not model. What it "
                "can say is how long one training step of the study's setting takes under each layout (" +
                std::to_string(train_spec.workload.batch) + " sequences × " +
                std::to_string(train_spec.workload.context_length) + " tokens = " +
                format_grouped(static_cast<double>(train_spec.workload.batch) * train_spec.workload.context_length) +
                " tokens per step) and so how long the study's " + format_grouped(steps) +
                " steps would take if every layout converged in the same number of steps.");
    Table& t = d.table("training", "One training step (`training.json`)",
                       {"Layout", "step time (s)", "training tokens/s", "tokens/s per GPU", "MFU (%)",
                        format_grouped(steps) + " steps (h)", "peak memory (GB)", "fits in " + format_fixed(seed_spec.hardware.gpu.hbm_capacity.gb(), 0) + " GB"});
    for (const std::string& k : kKinds) {
      const json* l = find_layout_by_kind(training, k);
      if (l == nullptr) {
        t.add_row({txt(kind_label(k)), txt(not_simulated(training, k)), txt("—"), txt("—"), txt("—"), txt("—"), txt("—"), txt("no")});
        continue;
      }
      const double step_s = metric(*l, "iteration_ms") / 1e3;
      double peak = 0.0, cap = 0.0;
      for (const GpuMemoryView& v : memory_profiles(*l)) {
        peak = std::max(peak, gib_to_gb(v.total_gib));
        cap = gib_to_gb(v.capacity_gib);
      }
      t.add_row({txt(kind_label(k)), num(step_s, format_fixed(step_s, 3)),
                 num(metric(*l, "tokens_per_s"), format_grouped(metric(*l, "tokens_per_s"))),
                 num(metric(*l, "tokens_per_s_per_gpu"), format_grouped(metric(*l, "tokens_per_s_per_gpu"))),
                 pct_cell(metric(*l, "mfu")), num(step_s * steps / 3600.0, format_fixed(step_s * steps / 3600.0, 1)),
                 num(peak, format_fixed(peak, 1)), txt(peak <= cap ? "yes" : "no")});
    }
    const RefClaim& cs = ref.claim("convergence.speed");
    const auto ma = value(training, kMa, "iteration_ms");
    const auto base = value(training, kBaseline, "iteration_ms");
    if (ma && base && *ma > 0) {
      d.paragraph("Simulated step time of TP=8, PP=2 over MA Separation's: " + format_fixed(*base / *ma, 3) +
                  "×. The study's \"" + cs.text + "\" cannot be checked: it is a claim about steps to a loss, "
                  "not time per step.");
    }
  }

  void timeline_section() {
    d.heading(2, "One decode step on every GPU");
    d.paragraph("Per-GPU timelines of one simulated decode step at the study's setting (compute and communication "
                "streams of every GPU). With two micro-batches, MA Separation's attention GPUs work on one "
                "micro-batch while its expert GPUs work on the other; the overlap is the share of the step in "
                "which a GPU computes and communicates at once. A Perfetto trace of these timelines is written "
                "with `--trace` (open in ui.perfetto.dev).");
    for (const std::string& k : {std::string(kMa), std::string(kBaseline)}) {
      const json* l = find_layout_by_kind(seed, k);
      if (l == nullptr) continue;
      const double overlap = timeline_overlap_fraction(*l);
      auto c = timeline_chart(*l, "timeline-" + k, kind_label(k) + ": one decode step per GPU stream",
                              "Compute and communication overlap on a GPU for " + pct_str(overlap) +
                                  " of the step (mean over GPUs)");
      if (c) {
        d.chart(*c);
      } else {
        d.paragraph(kind_label(k) + ": the results carry no timeline.");
      }
    }
  }

  void honesty_section() {
    d.heading(2, "Honesty checks");
    d.heading(3, "Identities");
    d.paragraph("In steady-state decode every sequence gets one token per TPOT, so tokens/s × TPOT = the number of "
                "sequences in flight (Little's law). The study's numbers must satisfy it, and its other derived "
                "figures are recomputed from its own inputs the same way. \"Holds\" means within 1% (the study "
                "prints 3 to 4 digits). The simulation is not listed: it computes tokens/s as the tokens of its "
                "measured window over the window's length, so the identity holds for it by construction and "
                "would test nothing.");
    Table& t = d.table("identities", "", {"Check", "Layout", "computed from the study's figures", "the study's own", "holds"});
    auto add = [&](const std::string& check, const std::string& layout, double lhs,
                   double rhs, int digits) {
      const bool ok = std::fabs(lhs - rhs) <= 0.01 * std::fabs(rhs) + 1e-12;
      t.add_row({txt(check), txt(layout), num(lhs, format_fixed(lhs, digits)),
                 num(rhs, format_fixed(rhs, digits)), txt(ok ? "yes" : "**no**")});
    };
    const RefTable& perf = ref.table("performance");
    const double study_gpus = std::strtod(ref.setup.at("gpus").c_str(), nullptr);
    const double per_gpu = static_cast<double>(seed_spec.workload.batch) / study_gpus;
    for (const RefColumn& c : perf.columns) {
      add("TPS × TPOT = sequences per GPU", c.label,
          *perf.value("tokens_per_s_per_gpu", c.layout) * *perf.value("tpot_ms", c.layout) / 1e3, per_gpu, 2);
      add("TPS × " + format_grouped(study_gpus) + " = throughput", c.label,
          *perf.value("tokens_per_s_per_gpu", c.layout) * study_gpus, *perf.value("tokens_per_s", c.layout), 0);
    }
    for (const RefRow& r : perf.rows) {
      if (r.improvement_text.empty()) continue;
      const double ma = *perf.value(r.metric, kMa);
      const double b = *perf.value(r.metric, kBaseline);
      const double imp = r.metric == "tpot_ms" ? 100.0 * (1.0 - ma / b) : 100.0 * (ma / b - 1.0);
      add("improvement of \"" + r.label + "\" from its own columns", "MA vs TP=8, PP=2", imp,
          std::strtod(r.improvement_text.c_str(), nullptr), 1);
    }
    for (const RefRow& r : ref.table("sequence_length").rows) {
      const double imp = 100.0 * (1.0 - r.values[1] / r.values[0]);
      add("sequence " + r.label + ": improvement from its own columns", "MA vs TP=8", imp,
          std::strtod(r.improvement_text.c_str(), nullptr), 1);
    }
    const RefTable& mem = ref.table("memory");
    for (const RefColumn& c : mem.columns) {
      double sum = 0.0;
      for (const RefRow& r : mem.rows) {
        if (r.unit == "GB" && r.metric != "memory.total") sum += *mem.value(r.metric, c.layout);
      }
      add("memory components sum to the total", c.label, sum, *mem.value("memory.total", c.layout), 1);
    }
    const RefTable& comm = ref.table("communication");
    for (const RefColumn& c : comm.columns) {
      double sum = 0.0;
      for (const RefRow& r : comm.rows) {
        if (r.metric != "comm.total") sum += *comm.value(r.metric, c.layout);
      }
      add("communication rows sum to the total", c.label, sum, *comm.value("comm.total", c.layout), 1);
    }
    const RefClaim& e = ref.claim("energy.per_token");
    const RefClaim& pue = ref.claim("energy.pue");
    add("energy efficiency = 1 − E_MA / E_baseline", "MA vs baseline",
        100.0 * (1.0 - e.at("ma_separation") / e.at("baseline")), ref.claim("energy.efficiency").at("ma_separation"), 1);
    add("carbon reduction = 1 − (E·PUE)_MA / (E·PUE)_baseline", "MA vs baseline",
        100.0 * (1.0 - e.at("ma_separation") * pue.at("ma_separation") / (e.at("baseline") * pue.at("baseline"))),
        ref.claim("energy.carbon").at("ma_separation"), 1);
    add("Speedup_16 = TPS_MA / TPS_baseline", "MA vs TP=8, PP=2",
        *perf.value("tokens_per_s_per_gpu", kMa) / *perf.value("tokens_per_s_per_gpu", kBaseline),
        ref.claim("scalability.speedup_16").at("ma_separation"), 3);
    add("training tokens per step = " + std::to_string(train_spec.workload.batch) + " × " +
            std::to_string(train_spec.workload.context_length) + " = \"" + ref.setup.at("training_batch_tokens_text") +
            "\" (read as 2 × 2²⁰)",
        "all",
        static_cast<double>(train_spec.workload.batch) * train_spec.workload.context_length, 2.0 * 1048576.0, 0);

    // ---- lower bounds
    d.heading(3, "Lower bounds per decode step");
    const spec::GpuSpec& g = seed_spec.hardware.gpu;
    d.paragraph("Every decode step must read, on each GPU, the weights it holds and the KV cache of the sequences "
                "it serves, at most at the datasheet HBM bandwidth (" + format_grouped(g.hbm_bandwidth.gb_per_s()) +
                " GB/s). The bound per GPU is (parameter bytes − the input-embedding table where that GPU holds it, "
                "of which a step reads only a few rows, + KV-cache bytes) / HBM bandwidth, using masim's memory "
                "breakdown of that GPU (`embedding_gib`: the table's shard on the GPUs of the first stage or the "
                "attention group, 0 on the others); the step cannot be shorter than the largest. The study's TPOT is checked against the same bound, "
                "which depends on the chosen model (the study states none).");
    Table& lb = d.table("lower_bounds", "", {"Layout", "bound (ms)", "binding GPU", "simulated TPOT (ms)",
                                             "simulated ≥ bound", "study TPOT (ms)", "study ≥ bound"});
    for (const std::string& k : kKinds) {
      const json* l = find_layout_by_kind(seed, k);
      if (l == nullptr || !l->contains("memory")) continue;
      double bound_ms = 0.0;
      int binding = -1;
      for (const json& m : (*l)["memory"]) {
        const double gib = std::max(0.0, m.value("parameters_gib", 0.0) - m.value("embedding_gib", 0.0)) +
                           m.value("kv_cache_gib", 0.0);
        const double ms = gib * 1073741824.0 / g.hbm_bandwidth.bytes_per_s() * 1e3;
        if (ms > bound_ms) {
          bound_ms = ms;
          binding = m.value("gpu", 0);
        }
      }
      const double sim = metric(*l, "tpot_ms");
      const auto study = perf.value("tpot_ms", k);
      lb.add_row({txt(kind_label(k)), num(bound_ms, format_fixed(bound_ms, 3)), num(binding, std::to_string(binding)),
                  num(sim, format_fixed(sim, 3)), txt(sim >= bound_ms ? "yes" : "**no (simulator bug)**"),
                  study ? num(*study, format_fixed(*study, 2)) : txt("—"),
                  study ? txt(*study >= bound_ms ? "yes" : "**no**") : txt("—")});
    }

    // ---- unreachable claims
    d.heading(3, "Claims the simulation cannot reach under any stated choice");
    std::vector<std::string> items;
    const double cap = seed_spec.hardware.gpu.hbm_capacity.gb();
    {
      std::string totals;
      for (const RefColumn& c : mem.columns) {
        totals += (totals.empty() ? "" : ", ") + c.label + " " + format_fixed(*mem.value("memory.total", c.layout), 1) + " GB";
      }
      items.push_back("**Memory table totals** (" + totals + " per GPU) exceed the A100's " + format_fixed(cap, 0) +
                      " GB. No layout can keep more on a GPU than its HBM holds; a run with these totals does not start.");
      const double tp = *mem.value("memory.parameters", "tp");
      const double pp = *mem.value("memory.parameters", "pp");
      const double tppp = *mem.value("memory.parameters", "tp_pp");
      items.push_back("**Memory table parameters** imply different models: TP=8 shards parameters 8 ways, so " +
                      format_fixed(tp, 1) + " GB per GPU means " + format_fixed(8 * tp, 1) +
                      " GB in all; PP=2 splits them 2 ways, so " + format_fixed(pp, 1) + " GB means " +
                      format_fixed(2 * pp, 1) + " GB; TP=8, PP=2 splits them 16 ways, so " + format_fixed(tppp, 1) +
                      " GB means " + format_fixed(16 * tppp, 1) + " GB. No single model gives all three columns.");
    }
    {
      const double tput = *perf.value("tokens_per_s", kMa);
      const double w = e.at("ma_separation") * 1e-3 * tput / study_gpus;
      const double wb = e.at("baseline") * 1e-3 * *perf.value("tokens_per_s", kBaseline) / study_gpus;
      items.push_back("**Energy per token**: " + format_fixed(e.at("ma_separation"), 2) + " mJ × " +
                      format_grouped(tput) + " tokens/s = " + format_fixed(w * study_gpus, 0) + " W for " +
                      format_grouped(study_gpus) + " GPUs, " +
                      format_fixed(w, 1) + " W per GPU (baseline: " + format_fixed(wb, 1) +
                      " W), below the " + format_fixed(g.idle_w, 0) +
                      " W an idle " + g.name + " draws (the hardware file's stated assumption; the TDP is " +
                      format_fixed(g.tdp_w, 0) + " W). No schedule reaches it.");
    }
    {
      const RefClaim& sd = ref.claim("load_balance.share_std");
      const RefClaim& mn = ref.claim("load_balance.share_min");
      const RefClaim& mx = ref.claim("load_balance.share_max");
      const double mean = 1.0 / seed_spec.model.num_experts;
      auto bound = [&](const char* who) {
        return std::sqrt(std::max(0.0, (mx.at(who) / 100.0 - mean) * (mean - mn.at(who) / 100.0)));
      };
      items.push_back("**Expert-usage spread**: shares between " + format_fixed(mn.at("ma_separation"), 1) + "% and " +
                      format_fixed(mx.at("ma_separation"), 1) + "% with mean 1/" +
                      std::to_string(seed_spec.model.num_experts) +
                      " have a standard deviation of at most √((max − mean)(mean − min)) = " +
                      format_fixed(bound("ma_separation"), 4) + " (Bhatia–Davis inequality), not the stated " +
                      format_fixed(sd.at("ma_separation"), 3) + " (the baseline's " +
                      format_fixed(sd.at("baseline"), 3) + " is within its bound " + format_fixed(bound("baseline"), 4) +
                      "). Whatever the expert count, the MA figures cannot all hold.");
    }
    {
      const RefClaim& lc = ref.claim("convergence.loss_curves");
      items.push_back("**Loss and perplexity**: the loss curves level off at " + format_fixed(lc.at("ma_separation_floor"), 1) +
                      " and " + format_fixed(lc.at("baseline_floor"), 1) +
                      ", the same numbers as the \"final perplexity\"; a loss of " +
                      format_fixed(lc.at("ma_separation_floor"), 1) + " nats is a perplexity of e^" +
                      format_fixed(lc.at("ma_separation_floor"), 1) + " ≈ " +
                      format_grouped(std::exp(lc.at("ma_separation_floor"))) + ", and a perplexity of " +
                      format_fixed(lc.at("ma_separation_floor"), 1) + " is a loss of " +
                      format_fixed(std::log(lc.at("ma_separation_floor")), 2) +
                      ". Both cannot be true. Either way, convergence, perplexity, loss variance and the \"expert "
                      "utilization\" of training are outside what a performance simulator predicts; the training "
                      "section reports time per step and training tokens/s instead.");
    }
    items.push_back("**Load-balancing difference between layouts**: routing is a property of the trained model, so at "
                    "equal weights every layout sees the same expert loads; masim's expert statistics are "
                    "identical across layouts by construction.");
    items.push_back("**PUE and carbon**: facility properties, not properties of a GPU layout; the study's carbon "
                    "figure is not even consistent with its own energy and PUE (identities above).");
    items.push_back("**GPU utilization and memory efficiency**: the study defines neither; masim's compute-only "
                    "utilization (with the compute-or-communication reading beside it) and memory efficiency "
                    "(`docs/METRICS.md`) are compared in the table but the deltas measure a definition gap as much "
                    "as a performance gap.");
    items.push_back("**Statistical significance over " + as_written(ref.claim("significance.runs").at("ma_separation")) +
                    " runs**: the simulator is deterministic for a seed; the only run-to-run variation it has is the "
                    "sampled expert routing, whose spread is shown below.");
    d.list(items);
  }

  void sensitivity_section() {
    d.heading(2, "Sensitivity to the unstated choices");
    const RefTable& perf = ref.table("performance");
    const double st = 1.0 - *perf.value("tpot_ms", kMa) / *perf.value("tpot_ms", kBaseline);
    const double ss = *perf.value("tokens_per_s", kMa) / *perf.value("tokens_per_s", kBaseline) - 1.0;
    d.paragraph("Each row changes one choice of `seed_study.json` (everything else as chosen) and simulates "
                "MA Separation and TP=8, PP=2 again. The study's conclusion (from its performance table) is a " +
                pct_str(st) + " lower TPOT and " + pct_str(ss) + " more tokens/s for MA Separation.");
    Table& t = d.table("sensitivity", "How the MA Separation vs TP=8, PP=2 conclusion moves",
                       {"Variant", "What changes", "MA TPOT (ms)", "TP=8, PP=2 TPOT (ms)", "TPOT reduction",
                        "tokens/s gain", "MA faster"});
    for (const SensitivityResult& s : sens) {
      const auto mt = value(s.results, kMa, "tpot_ms");
      const auto bt = value(s.results, kBaseline, "tpot_ms");
      const auto imp = ma_vs(s.results, kBaseline);
      std::string why;
      if (!mt) why = not_simulated(s.results, kMa);
      if (!bt) why += (why.empty() ? "" : "; ") + not_simulated(s.results, kBaseline);
      t.add_row({txt(s.name), txt(s.what), mt ? num(*mt, format_fixed(*mt, 3)) : txt("—"),
                 bt ? num(*bt, format_fixed(*bt, 3)) : txt("—"),
                 imp ? num(100.0 * imp->first, pct_str(imp->first)) : txt(why.empty() ? "—" : why),
                 imp ? num(100.0 * imp->second, pct_str(imp->second)) : txt("—"),
                 txt(imp ? (imp->first > 0 ? "yes" : "no") : "—")});
    }
  }

  void sensitivity_summary() {
    if (sens.empty()) return;
    const auto base = ma_vs(sens.front().results, kBaseline);
    if (!base) return;
    std::vector<std::string> flips;
    for (std::size_t i = 1; i < sens.size(); ++i) {
      const auto v = ma_vs(sens[i].results, kBaseline);
      if (v && (v->first > 0) != (base->first > 0)) flips.push_back(sens[i].name);
    }
    std::string s = "With the choices as made, MA Separation is " +
                    std::string(base->first > 0 ? "faster" : "slower") + " than TP=8, PP=2. ";
    if (flips.empty()) {
      s += "No single change in the table flips that.";
    } else {
      s += "The conclusion flips under: ";
      for (std::size_t i = 0; i < flips.size(); ++i) s += (i ? ", " : "") + flips[i];
      s += ".";
    }
    d.paragraph(s);
  }

  void seeds_section() {
    d.heading(2, "Spread over routing seeds");
    const RefClaim& ct = ref.claim("significance.tpot");
    const RefClaim& cs = ref.claim("significance.tps");
    const RefClaim& cu = ref.claim("significance.gpu_util");
    std::vector<double> red, gain, util;
    for (const json& r : seeds) {
      if (auto imp = ma_vs(r, kBaseline)) {
        red.push_back(100.0 * imp->first);
        gain.push_back(100.0 * imp->second);
      }
      if (auto u = value(r, kMa, "gpu_util_mean")) util.push_back(100.0 * *u);
    }
    d.paragraph("The study's " + as_written(ref.claim("significance.runs").at("ma_separation")) +
                " independent runs, reproduced as " + std::to_string(seeds.size()) +
                " simulations of `seed_study.json` (MA Separation and TP=8, PP=2) with routing seeds " +
                std::to_string(seed_values.empty() ? 0 : seed_values.front()) + "–" +
                std::to_string(seed_values.empty() ? 0 : seed_values.back()) +
                ": mean and 95% confidence half-width (Student t), and for GPU utilization the standard deviation "
                "as the study gives it.");
    Table& t = d.table("seeds", "", {"Quantity", "simulated mean", "simulated ± (95% CI)", "study", "study ±"});
    const auto [rm, rh] = mean_ci95(red);
    const auto [gm, gh] = mean_ci95(gain);
    const auto [um, uh] = mean_ci95(util);
    double usd = 0.0;
    if (util.size() > 1) {
      for (double x : util) usd += (x - um) * (x - um);
      usd = std::sqrt(usd / static_cast<double>(util.size() - 1));
    }
    (void)uh;
    t.add_row({txt("TPOT reduction (%)"), num(rm, format_fixed(rm, 2)), num(rh, format_fixed(rh, 2)),
               num(ct.at("ma_separation"), format_fixed(ct.at("ma_separation"), 1)),
               num(ct.at("half_width"), format_fixed(ct.at("half_width"), 1))});
    t.add_row({txt("tokens/s gain (%)"), num(gm, format_fixed(gm, 2)), num(gh, format_fixed(gh, 2)),
               num(cs.at("ma_separation"), format_fixed(cs.at("ma_separation"), 1)),
               num(cs.at("half_width"), format_fixed(cs.at("half_width"), 1))});
    t.add_row({txt("MA GPU utilization, compute only (%), ± is the standard deviation"), num(um, format_fixed(um, 2)),
               num(usd, format_fixed(usd, 2)), num(cu.at("ma_separation"), format_fixed(cu.at("ma_separation"), 1)),
               num(cu.at("half_width"), format_fixed(cu.at("half_width"), 1))});
  }

  void failures_section(const std::vector<std::string>& failures) {
    if (failures.empty()) return;
    d.heading(2, "Layouts that could not be simulated");
    d.paragraph("Each was refused by the simulator with the reason given (for example, it does not fit in memory); "
                "its cells above are marked —.");
    d.list(failures);
  }
};

std::string find_source_dir(const std::string& given) {
  if (!given.empty()) return given;
#ifdef MASIM_SOURCE_DIR
  if (std::filesystem::exists(std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/reference.json")) return MASIM_SOURCE_DIR;
#endif
  return ".";
}

}  // namespace

Document paper_document(const std::string& source_dir_in, const ScenarioLoader& load, const SweepLoader& load_sweep,
                        const ScenarioRunner& run, std::ostream* progress, PaperSummary* summary, json* seed_results) {
  const std::string source_dir = find_source_dir(source_dir_in);
  const std::string dir = source_dir + "/scenarios/paper/";
  const Reference ref = load_reference(dir + "reference.json");
  Document doc("Reproducing the seed study: MA Separation vs TP, PP and TP×PP");
  Study st{doc, ref, {}, source_dir, load(dir + "seed_study.json"), load(dir + "scalability.json"),
           load(dir + "sequence_length.json"), load(dir + "training.json"), load(dir + "equal_slo.json"),
           {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  Runner runner{run, progress};

  st.seed = runner(st.seed_spec, "seed_study");
  st.training = runner(st.train_spec, "training");
  const std::string sweeps = source_dir + "/scenarios/sweeps/";
  for (const char* f : {"seed_scaling.json", "seed_sequence_length.json", "seed_equal_slo.json", "seed_sensitivity.json"}) {
    st.sweeps.push_back(load_sweep(sweeps + f));
  }
  const LoadedSweep& scaling = st.sweeps[0];
  for (const SweepPoint& p : scaling.points) {
    const int n = gpu_count_label(scaling, p);
    st.scaling_per_gpu.push_back(static_cast<double>(p.spec.workload.batch) / n);
    st.scaling.emplace_back(n, runner(p.spec, "scalability, " + std::to_string(n) + " GPUs"));
  }
  for (const SweepPoint& p : st.sweeps[1].points) {
    const int c = p.spec.workload.context_length;
    st.seqlen.emplace_back(c, runner(p.spec, "sequence length " + std::to_string(c)));
  }
  for (const SweepPoint& p : st.sweeps[2].points) {
    const int b = p.spec.workload.batch;
    st.slo.emplace_back(b, runner(p.spec, "equal SLO, " + std::to_string(b) + " sequences"));
  }
  for (const SweepPoint& p : st.sweeps[3].points) {
    st.sens.push_back({p.label, p.description, runner(p.spec, "sensitivity: " + p.label)});
  }
  const spec::ScenarioSpec pair = only_kinds(st.seed_spec, {kBaseline, kMa});
  // As many routing seeds as the study has independent runs (reference.json).
  const auto runs = static_cast<std::uint64_t>(std::llround(ref.claim("significance.runs").at("ma_separation")));
  for (std::uint64_t seed = 1; seed <= runs; ++seed) {
    spec::ScenarioSpec s = pair;
    s.seed = seed;
    st.seed_values.push_back(seed);
    st.seeds.push_back(runner(s, "routing seed " + std::to_string(seed)));
  }

  const json faults_results = runner(load(dir + "faults.json"), "faults and recovery (one simulated hour)");
  const json serving_results = runner(load(dir + "serving.json"), "serving traffic (rate sweep)");
  // The study's setting on the other cost model: the roofline when the scenarios
  // name their profile (the default), the derived A100 profile when they do not.
  spec::ScenarioSpec other_spec = st.seed_spec;
  const bool seed_on_profile = !st.seed_spec.profile_path.empty();
  if (seed_on_profile) {
    other_spec.profile_path.clear();
  } else {
    other_spec.profile_path = source_dir + "/calibrate/profiles/a100-sxm4-80gb.derived.json";
  }
  const json other = runner(other_spec, seed_on_profile ? "seed study, roofline" : "seed study, derived A100 profile");
  st.derived = seed_on_profile ? st.seed : other;
  const json& roofline_seed = seed_on_profile ? other : st.seed;

  PaperSummary sum;
  sum.simulations = runner.simulations;
  st.intro(sum);
  st.setup_section();
  st.performance_section();
  st.equal_slo_section();
  add_serving_slo_section(doc, serving_results, st.steady_slo_picks());
  st.scalability_section();
  st.sequence_section();
  st.communication_section();
  st.memory_section();
  st.load_balance_section();
  st.energy_section();
  st.training_section();
  st.timeline_section();
  st.honesty_section();
  st.sensitivity_section();
  st.sensitivity_summary();
  st.seeds_section();
  add_robustness_section(doc, ref, faults_results);
  add_derived_profile_section(doc, st.derived, roofline_seed, seed_on_profile);
  add_cost_model_section(doc, runner.priced, source_dir);
  st.failures_section(runner.failures);
  doc.csv_table(st.log.table);
  sum.failed_layouts = runner.failed;
  sum.tpot_reduction = st.tpot_reduction;
  sum.throughput_gain = st.throughput_gain;
  if (summary != nullptr) *summary = sum;
  if (seed_results != nullptr) *seed_results = st.seed;
  return doc;
}

PaperSummary generate_paper_report(const PaperOptions& o, const ScenarioLoader& load, const SweepLoader& load_sweep,
                                   const ScenarioRunner& run) {
  PaperSummary sum;
  json seed;
  const Document d = paper_document(o.source_dir, load, load_sweep, run, o.progress, &sum, &seed);
  sum.files = write_document(d, o.output);
  if (o.trace) {
    const std::string p = (std::filesystem::path(o.output.out_dir) / "trace_seed_study.json").string();
    write_chrome_trace(seed, p);
    sum.files.push_back(p);
  }
  return sum;
}

PaperSummary generate_paper_report(const PaperOptions& o) {
  ScenarioLoader load = default_scenario_loader();
  SweepLoader load_sweep = default_sweep_loader();
  if (o.roofline) {
    load = [inner = std::move(load)](const std::string& path) {
      spec::ScenarioSpec s = inner(path);
      s.profile_path.clear();
      return s;
    };
    load_sweep = [inner = std::move(load_sweep)](const std::string& path) {
      LoadedSweep sw = inner(path);
      for (SweepPoint& p : sw.points) p.spec.profile_path.clear();
      return sw;
    };
  }
  return generate_paper_report(o, load, load_sweep, default_scenario_runner(true));
}

}  // namespace masim::report
