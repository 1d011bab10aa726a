// results.json "timeline" (docs/RESULTS.md, "timeline").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/faults/cluster.hpp"
#include "sim/faults/timeline.hpp"

namespace masim::faults {

using nlohmann::json;

namespace {

json cohorts_json(const Cohorts& c) {
  return {{"running", c.running},   {"stalled", c.stalled}, {"kv_lost", c.kv_lost},
          {"reprefilling", c.reprefilling}, {"waiting", c.waiting}, {"total", c.total()}};
}

json or_null(double x) { return x < 0 ? json(nullptr) : json(x); }

// Every floating-point number to 9 significant digits: readable, small diffs,
// and times of a year-long run still resolved to well under a second.
void round9(json& j) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (v != 0.0 && std::isfinite(v)) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.9g", v);
      j = std::strtod(buf, nullptr);
    }
  } else if (j.is_structured()) {
    for (auto& x : j) round9(x);
  }
}

}  // namespace

std::string format_summary(const TimelineResult& t) {
  std::ostringstream o;
  o << "run timeline: " << t.duration_s << " s simulated, " << t.faults.size() << " faults, " << t.simulations
    << " states simulated\n";
  o << std::left << std::setw(22) << "layout" << std::right << std::setw(14) << "baseline tok/s" << std::setw(10)
    << "goodput" << std::setw(14) << "availability" << std::setw(11) << "incidents" << std::setw(18)
    << "worst recovery s" << "\n";
  o.setf(std::ios::fixed);
  for (const LayoutTimeline& l : t.layouts) {
    double worst = -1.0;
    bool unrecovered = false;
    for (const Incident& i : l.incidents) {
      if (i.recovery_s < 0) unrecovered = true;
      worst = std::max(worst, i.recovery_s);
    }
    o << std::left << std::setw(22) << l.name << std::right << std::setw(14) << std::setprecision(0)
      << l.baseline_tokens_per_s << std::setw(9) << std::setprecision(1) << 100.0 * l.goodput << "%" << std::setw(13)
      << 100.0 * l.availability << "%" << std::setw(11) << l.incidents.size() << std::setw(18);
    if (unrecovered) {
      o << "not recovered";
    } else if (worst < 0) {
      o << "-";
    } else {
      o << std::setprecision(2) << worst;
    }
    o << "\n";
  }
  return o.str();
}

json to_json(const TimelineResult& t, const spec::TimelineSpec& sp) {
  json j;
  j["duration_s"] = t.duration_s;
  json fs = json::array();
  for (const spec::FaultSpec& f : t.faults) {
    json x;
    x["kind"] = spec::to_string(f.kind);
    x["at_s"] = f.at_s;
    x["description"] = describe(f);
    x["origin"] = f.random ? "drawn" : "listed";
    if (f.gpu >= 0) x["gpu"] = f.gpu;
    if (!f.vertex.empty()) x["vertex"] = f.vertex;
    if (!f.link_a.empty()) x["link"] = json::array({f.link_a, f.link_b});
    if (f.kind == spec::FaultKind::kLinkDegraded || f.kind == spec::FaultKind::kStraggler) x["factor"] = f.factor;
    x["repair_after_s"] = or_null(f.repair_after_s);
    if (f.kind == spec::FaultKind::kStraggler) x["duration_s"] = or_null(f.duration_s);
    fs.push_back(x);
  }
  j["faults"] = fs;
  const spec::RecoverySpec& rc = sp.recovery;
  j["recovery_inputs"] = {
      {"detection", spec::to_string(rc.detection)},
      {"detection_s", rc.detection == spec::DetectionKind::kWatchdog ? rc.watchdog_timeout_s
                                                                      : rc.heartbeat_interval_s * rc.heartbeat_misses},
      {"comm_rebuild_s", rc.comm_rebuild_s},
      {"weights", spec::to_string(rc.weights)},
      {"host_bandwidth_gb_per_s", rc.host_bandwidth.bytes_per_s() / 1e9},
      {"disk_bandwidth_gb_per_s", rc.disk_bandwidth.bytes_per_s() / 1e9},
      {"graph_recapture_s", rc.graph_recapture_s},
      {"standby_kv_mirrored", rc.standby_kv_mirrored},
      {"policy", spec::to_string(rc.policy)},
      {"spare_gpus", rc.spare_gpus},
      {"checkpoint_interval_s", rc.checkpoint_interval_s},
      {"checkpoint_bandwidth_gb_per_s", rc.checkpoint_bandwidth.bytes_per_s() / 1e9}};
  j["simulations"] = t.simulations;
  json ls = json::array();
  for (const LayoutTimeline& l : t.layouts) {
    json x;
    x["name"] = l.name;
    x["kind"] = spec::to_string(l.kind);
    x["baseline_tokens_per_s"] = l.baseline_tokens_per_s;
    x["sequences"] = l.sequences;
    x["tokens_generated"] = l.tokens_generated;
    x["tokens_at_baseline"] = l.tokens_at_baseline;
    x["goodput"] = l.goodput;
    x["availability"] = l.availability;
    x["tokens_lost_in_flight"] = l.tokens_lost_in_flight;
    x["tokens_recomputed"] = l.tokens_recomputed;
    x["conservation"] = {{"min_total", l.min_cohort_total},
                         {"max_total", l.max_cohort_total},
                         {"holds", l.min_cohort_total == l.sequences && l.max_cohort_total == l.sequences}};
    json segs = json::array();
    for (const Segment& s : l.segments) {
      segs.push_back({{"start_s", s.start_s},
                      {"end_s", s.end_s},
                      {"tokens_per_s", s.tokens_per_s},
                      {"gpus_out", s.gpus_out},
                      {"cohorts", cohorts_json(s.cohorts)}});
    }
    x["segments"] = segs;
    json incs = json::array();
    for (const Incident& i : l.incidents) {
      json steps = json::array();
      for (const RecoveryStep& st : i.steps) {
        steps.push_back({{"name", st.name}, {"start_s", st.start_s}, {"duration_s", st.duration_s},
                         {"detail", st.detail}});
      }
      incs.push_back({{"at_s", i.at_s},
                      {"fault", i.fault},
                      {"gpus_lost", i.gpus_lost},
                      {"domain", i.domain},
                      {"action", i.action},
                      {"outcome", i.outcome},
                      {"steps", steps},
                      {"tokens_per_s_before", i.tokens_per_s_before},
                      {"tokens_per_s_after", i.tokens_per_s_after},
                      {"recovery_s", or_null(i.recovery_s)},
                      {"full_capacity_s", or_null(i.full_capacity_s)},
                      {"sequences_affected", i.sequences_affected},
                      {"sequences_reprefilled", i.sequences_reprefilled},
                      {"tokens_lost_in_flight", i.tokens_lost_in_flight},
                      {"tokens_recomputed", i.tokens_recomputed},
                      {"lost_work_s", i.lost_work_s}});
    }
    x["incidents"] = incs;
    ls.push_back(x);
  }
  j["layouts"] = ls;
  if (sp.analyses.max_failures > 0) {
    json deg = json::array();
    for (const Degradation& d : t.analyses.degradation) {
      json rows = json::array();
      for (const DegradationRow& r : d.rows) {
        rows.push_back({{"failed", r.failed}, {"trials", r.trials}, {"mean_relative", r.mean_relative},
                        {"min_relative", r.min_relative}, {"max_relative", r.max_relative},
                        {"down_trials", r.down_trials}, {"mean_recovery_s", r.mean_recovery_s}});
      }
      deg.push_back({{"layout", d.layout}, {"rows", rows}, {"slope", d.slope}, {"intercept", d.intercept},
                     {"r2", d.r2}, {"max_deviation", d.max_deviation}});
    }
    json suc = json::array();
    for (const SuccessTable& st : t.analyses.success) {
      json rows = json::array();
      for (const SuccessRow& r : st.rows) {
        rows.push_back({{"failed", r.failed}, {"trials", r.trials}, {"successes", r.successes}, {"rate", r.rate},
                        {"wilson_low", r.wilson_low}, {"wilson_high", r.wilson_high}});
      }
      suc.push_back({{"layout", st.layout}, {"side", st.side}, {"rows", rows}});
    }
    j["analyses"] = {{"max_failures", sp.analyses.max_failures}, {"trials", sp.analyses.trials},
                     {"degradation", deg}, {"recovery_success", suc}};
  }
  round9(j);
  return j;
}

}  // namespace masim::faults
