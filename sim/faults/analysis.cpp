// run_analyses(): the degradation and recovery-success tables of
// docs/METRICS.md ("Run timeline: analyses"), each cell a set of short runs.
// Trial r of k failures fails k distinct GPUs drawn without replacement
// (Rng(seed).fork(...)) all at the same instant, with no repair; the run is
// long enough for every recovery step to end, and the layout's last segment is
// its settled throughput.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "sim/common/rng.hpp"
#include "sim/faults/evaluator.hpp"
#include "sim/faults/timeline.hpp"

namespace masim::faults {

namespace {

constexpr double kFailAt = 1.0;

std::vector<int> pick(Rng rng, std::vector<int> from, int k) {
  // Partial Fisher-Yates.
  for (int i = 0; i < k && i < static_cast<int>(from.size()); ++i) {
    const auto j = static_cast<std::size_t>(i) + rng.below(from.size() - static_cast<std::size_t>(i));
    std::swap(from[static_cast<std::size_t>(i)], from[j]);
  }
  from.resize(static_cast<std::size_t>(std::min<int>(k, static_cast<int>(from.size()))));
  return from;
}

std::vector<spec::FaultSpec> failures(const std::vector<int>& gpus) {
  std::vector<spec::FaultSpec> f;
  for (int g : gpus) {
    spec::FaultSpec x;
    x.kind = spec::FaultKind::kGpu;
    x.gpu = g;
    x.at_s = kFailAt;
    f.push_back(x);
  }
  return f;
}

// GPUs serving traffic: MA's active attention groups and expert GPUs (not standbys).
std::vector<int> serving_gpus(const spec::LayoutSpec& l, bool attention_side, bool expert_side) {
  std::vector<int> g;
  if (l.kind == spec::LayoutKind::kMaSeparation) {
    const int atp = std::max(1, l.ma.attention_tp);
    const int rep = std::max(1, l.ma.attention_replicas);
    const int active = static_cast<int>(l.ma.attention_gpus.size()) / (atp * rep) * atp;
    if (attention_side) g.insert(g.end(), l.ma.attention_gpus.begin(), l.ma.attention_gpus.begin() + active);
    if (expert_side) g.insert(g.end(), l.ma.expert_gpus.begin(), l.ma.expert_gpus.end());
    return g;
  }
  if (!l.gpus.empty()) return l.gpus;
  g.resize(static_cast<std::size_t>(l.gpu_count()));
  std::iota(g.begin(), g.end(), 0);
  return g;
}

bool waited(const LayoutTimeline& t) {
  return std::any_of(t.incidents.begin(), t.incidents.end(), [](const Incident& i) { return i.outcome == "wait"; });
}

}  // namespace

std::pair<double, double> wilson95(int successes, int trials) {
  if (trials <= 0) return {0.0, 1.0};
  const double z = 1.959963984540054;
  const double n = trials;
  const double p = successes / n;
  const double denom = 1.0 + z * z / n;
  const double centre = (p + z * z / (2 * n)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom;
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Analyses run_analyses(const spec::ScenarioSpec& s_in, Evaluator& ev) {
  Analyses out;
  const spec::FaultAnalysesSpec& a = s_in.timeline->analyses;
  if (a.max_failures <= 0) return out;
  spec::ScenarioSpec s = s_in;
  const spec::RecoverySpec& rc = s.timeline->recovery;
  const double detect =
      rc.detection == spec::DetectionKind::kWatchdog ? rc.watchdog_timeout_s : rc.heartbeat_interval_s * rc.heartbeat_misses;
  // Long enough for detection and every later step (weights, prefill: minutes at most).
  s.timeline->duration_s = kFailAt + 2.0 * (detect + rc.comm_rebuild_s + rc.graph_recapture_s) + 3600.0;
  const Rng root(s.seed ^ 0x6661756c7473ULL);  // "faults"
  for (std::size_t li = 0; li < s.layouts.size(); ++li) {
    const spec::LayoutSpec& l = s.layouts[li];
    const int index = static_cast<int>(li);
    const double base = run_layout_timeline(s, index, ev, {}).baseline_tokens_per_s;
    Degradation d;
    d.layout = l.name;
    const std::vector<int> all = serving_gpus(l, true, true);
    for (int k = 0; k <= a.max_failures && k <= static_cast<int>(all.size()); ++k) {
      DegradationRow row;
      row.failed = k;
      row.trials = k == 0 ? 1 : a.trials;
      std::vector<double> rel;
      double rec_sum = 0.0;
      int rec_n = 0;
      for (int tr = 0; tr < row.trials; ++tr) {
        const auto gpus = pick(root.fork(li * 1000003ULL + static_cast<std::uint64_t>(k) * 1009ULL + tr), all, k);
        const LayoutTimeline t = run_layout_timeline(s, index, ev, failures(gpus));
        const double last = t.segments.empty() ? 0.0 : t.segments.back().tokens_per_s;
        rel.push_back(base > 0 ? last / base : 0.0);
        if (last <= 0.0) ++row.down_trials;
        double worst = 0.0;
        bool all_recovered = true;
        for (const Incident& i : t.incidents) {
          if (i.recovery_s < 0) all_recovered = false;
          worst = std::max(worst, i.recovery_s);
        }
        if (all_recovered && !t.incidents.empty()) {
          rec_sum += worst;
          ++rec_n;
        }
      }
      row.mean_relative = std::accumulate(rel.begin(), rel.end(), 0.0) / static_cast<double>(rel.size());
      row.min_relative = *std::min_element(rel.begin(), rel.end());
      row.max_relative = *std::max_element(rel.begin(), rel.end());
      row.mean_recovery_s = rec_n > 0 ? rec_sum / rec_n : 0.0;
      d.rows.push_back(row);
    }
    // Least squares over the rows.
    const double n = static_cast<double>(d.rows.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (const DegradationRow& r : d.rows) {
      sx += r.failed;
      sy += r.mean_relative;
      sxx += static_cast<double>(r.failed) * r.failed;
      sxy += r.failed * r.mean_relative;
    }
    const double den = n * sxx - sx * sx;
    d.slope = den != 0 ? (n * sxy - sx * sy) / den : 0.0;
    d.intercept = n > 0 ? (sy - d.slope * sx) / n : 0.0;
    double ss_res = 0, ss_tot = 0;
    const double mean_y = n > 0 ? sy / n : 0.0;
    for (const DegradationRow& r : d.rows) {
      const double fit = d.intercept + d.slope * r.failed;
      ss_res += (r.mean_relative - fit) * (r.mean_relative - fit);
      ss_tot += (r.mean_relative - mean_y) * (r.mean_relative - mean_y);
      d.max_deviation = std::max(d.max_deviation, std::abs(r.mean_relative - fit));
    }
    d.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0;
    out.degradation.push_back(d);

    if (l.kind != spec::LayoutKind::kMaSeparation || s.workload.kind == spec::WorkloadKind::kTraining) continue;
    for (const bool attention : {false, true}) {
      SuccessTable st;
      st.layout = l.name;
      st.side = attention ? "attention" : "expert";
      const std::vector<int> side = serving_gpus(l, attention, !attention);
      for (int k = 1; k <= a.max_failures && k < static_cast<int>(side.size()); ++k) {
        SuccessRow row;
        row.failed = k;
        row.trials = a.trials;
        for (int tr = 0; tr < row.trials; ++tr) {
          const auto gpus =
              pick(root.fork(li * 1000003ULL + (attention ? 7919ULL : 104729ULL) * static_cast<std::uint64_t>(k) + tr),
                   side, k);
          const LayoutTimeline t = run_layout_timeline(s, index, ev, failures(gpus));
          const double last = t.segments.empty() ? 0.0 : t.segments.back().tokens_per_s;
          if (!waited(t) && last > 0.0) ++row.successes;
        }
        row.rate = static_cast<double>(row.successes) / row.trials;
        std::tie(row.wilson_low, row.wilson_high) = wilson95(row.successes, row.trials);
        st.rows.push_back(row);
      }
      out.success.push_back(st);
    }
  }
  return out;
}

}  // namespace masim::faults
