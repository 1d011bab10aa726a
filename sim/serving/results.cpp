#include "sim/serving/results.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/faults/cluster.hpp"
#include "sim/faults/evaluator.hpp"

namespace masim::serving {

using nlohmann::json;

namespace {

double round9(double x) {
  if (!std::isfinite(x)) return 0.0;
  return std::round(x * 1e9) / 1e9;
}

json pct_json(const Percentiles& p) {
  return {{"count", p.count}, {"mean", round9(p.mean)}, {"p50", round9(p.p50)},
          {"p90", round9(p.p90)}, {"p99", round9(p.p99)}, {"max", round9(p.max)}};
}

const char* status_name(RequestStatus s) {
  switch (s) {
    case RequestStatus::kCompleted: return "completed";
    case RequestStatus::kRejected: return "rejected";
    case RequestStatus::kInFlight: return "in_flight";
  }
  return "?";
}

json summary_json(const ServingLayout& l) {
  json j;
  j["name"] = l.name;
  j["ok"] = l.ok;
  if (!l.ok) j["error"] = l.error;
  j["replicas"] = l.replicas;
  j["prefill_replicas"] = l.prefill_replicas;
  j["kv_transfers"] = l.kv_transfers;
  j["kv_transfer_s"] = round9(l.kv_transfer_s);
  j["kv_capacity_tokens_per_replica"] = l.kv_capacity_tokens;
  j["requests"] = {{"arrived", l.arrived}, {"completed", l.completed}, {"rejected", l.rejected},
                   {"in_flight", l.in_flight}};
  j["offered_rate_per_s"] = round9(l.offered_rate_per_s);
  j["capacity_rate_per_s"] = round9(l.capacity_rate_per_s);
  j["overloaded"] = l.overloaded;
  j["ttft_s"] = pct_json(l.ttft);
  j["tpot_s"] = pct_json(l.tpot);
  j["e2e_s"] = pct_json(l.e2e);
  j["queueing_s"] = pct_json(l.queue);
  j["throughput"] = {{"requests_per_s", round9(l.throughput_requests_per_s)},
                     {"output_tokens_per_s", round9(l.throughput_tokens_per_s)}};
  j["goodput"] = {{"requests_per_s", round9(l.goodput_requests_per_s)}, {"fraction", round9(l.goodput_fraction)}};
  j["little"] = {{"L", round9(l.little_L)}, {"lambda_per_s", round9(l.little_lambda)}, {"W_s", round9(l.little_W)},
                 {"rel_error", round9(l.little_rel_error())}};
  j["preemptions"] = l.preemptions;
  j["recomputed_tokens"] = l.recomputed_tokens;
  j["output_tokens"] = l.output_tokens;
  j["swap_s"] = round9(l.swap_s);
  j["steps"] = l.steps;
  if (l.mixed_steps > 0) {
    j["mixed_steps"] = {{"count", l.mixed_steps}, {"one_pass_s", round9(l.mixed_one_pass_s)},
                        {"two_pass_s", round9(l.mixed_two_pass_s)}};
  }
  j["mean_batch"] = round9(l.mean_batch);
  j["peak_kv_occupancy"] = round9(l.peak_kv_occupancy);
  j["end_s"] = round9(l.end_s);
  if (!l.incidents.empty() || l.requests_during > 0) {
    json inc = json::array();
    for (const IncidentEffect& e : l.incidents) {
      inc.push_back({{"at_s", round9(e.at_s)}, {"end_s", e.end_s >= 0 ? json(round9(e.end_s)) : json(nullptr)},
                     {"fault", e.fault}, {"domain", e.domain}, {"outcome", e.outcome}, {"replica", e.replica},
                     {"requests_affected", e.affected}, {"requests_reprefilled", e.reprefilled},
                     {"requests_rerouted", e.rerouted}, {"requests_rejected", e.rejected},
                     {"requests_stalled", e.stalled}, {"tokens_recomputed", e.tokens_recomputed},
                     {"tokens_lost_in_flight", e.tokens_lost_in_flight}});
    }
    j["faults"] = {{"incidents", inc},
                   {"during", {{"requests", l.requests_during}, {"ttft_s", pct_json(l.ttft_during)},
                               {"tpot_s", pct_json(l.tpot_during)}}},
                   {"outside", {{"requests", l.requests_outside}, {"ttft_s", pct_json(l.ttft_outside)},
                                {"tpot_s", pct_json(l.tpot_outside)}}}};
  }
  return j;
}

}  // namespace

FaultSchedule fault_schedule(const faults::LayoutTimeline& t) {
  FaultSchedule f;
  for (const faults::Incident& i : t.incidents) f.incidents.push_back({i.at_s, i.fault, i.domain, i.outcome});
  for (const faults::DomainState& d : t.domain_states) {
    // Domains are the layout's replicas in order (one domain: the one replica).
    double detected = d.at_s;
    if (d.incident >= 0 && static_cast<std::size_t>(d.incident) < t.incidents.size()) {
      for (const faults::RecoveryStep& st : t.incidents[static_cast<std::size_t>(d.incident)].steps) {
        if (st.name == "detection") detected = std::max(detected, st.start_s + st.duration_s);
      }
    }
    f.states.push_back({d.at_s, d.domain, d.serving, d.speed, d.kv_lost_fraction, d.incident, detected});
  }
  return f;
}

ServingResult run_serving(const spec::ScenarioSpec& s, const topology::Topology& topo,
                          const models::ComputeCostModel& cost, const ServeOptions& opts) {
  ServingResult out;
  const spec::ServingSpec& sv = *s.serving;
  const std::vector<Request> requests = make_requests(sv);
  out.requests = static_cast<std::int64_t>(requests.size());
  out.sweeps.resize(s.layouts.size());
  // Under a run timeline: the same faults and recoveries as the timeline's
  // (sim/faults decides what happens and when), replayed per replica.
  std::vector<spec::FaultSpec> fault_list;
  std::unique_ptr<faults::Evaluator> ev;
  if (s.timeline) {
    fault_list = faults::run_faults(*s.timeline, s.topology);
    ev = std::make_unique<faults::Evaluator>(s, topo, cost);
  }
  for (std::size_t li = 0; li < s.layouts.size(); ++li) {
    const std::unique_ptr<StepCosts> costs = make_step_costs(s, static_cast<int>(li), topo, cost);
    FaultSchedule schedule;
    ServeOptions with = opts;
    if (s.timeline) {
      schedule = fault_schedule(faults::run_layout_timeline(s, static_cast<int>(li), *ev, fault_list));
      with.faults = &schedule;
      with.reject_on_failure = sv.reject_on_failure;
    }
    out.layouts.push_back(serve(s, static_cast<int>(li), *costs, requests, with));
    ServeOptions quick = with;
    quick.check_costs = false;
    quick.series_bins = 1;
    for (double rate : sv.rate_sweep) {
      SweepPoint p;
      p.rate_per_s = rate;
      p.result = serve(s, static_cast<int>(li), *costs, make_requests(sv, rate), quick);
      p.result.requests.clear();
      p.result.series.clear();
      out.sweeps[li].push_back(std::move(p));
    }
  }
  return out;
}

json to_json(const ServingResult& r, const spec::ServingSpec& sv) {
  json j;
  j["arrivals"] = spec::to_string(sv.arrivals);
  j["requests"] = r.requests;
  j["slo"] = {{"ttft_s", sv.slo_ttft_s}, {"tpot_s", sv.slo_tpot_s}};
  j["scheduler"] = {{"max_num_seqs", sv.max_num_seqs}, {"max_batched_tokens", sv.max_batched_tokens},
                    {"block_size", sv.block_size}, {"chunked_prefill", sv.chunked_prefill},
                    {"preemption", spec::to_string(sv.preemption)}, {"router", spec::to_string(sv.router)}};
  json ls = json::array();
  for (std::size_t li = 0; li < r.layouts.size(); ++li) {
    const ServingLayout& l = r.layouts[li];
    json x = summary_json(l);
    json checks = json::array();
    double worst = 0.0;
    for (const CostCheck& c : l.cost_checks) {
      checks.push_back({{"phase", c.phase}, {"batch", c.batch}, {"length", c.length},
                        {"interpolated_s", round9(c.interpolated_s)}, {"simulated_s", round9(c.simulated_s)},
                        {"rel_error", round9(c.rel_error())}});
      worst = std::max(worst, std::abs(c.rel_error()));
    }
    x["step_cost"] = {{"simulations", l.simulations}, {"checks", checks}, {"max_abs_rel_error", round9(worst)}};
    if (!l.mixed_checks.empty()) {
      json mixed = json::array();
      double mworst = 0.0;
      for (const CostCheck& c : l.mixed_checks) {
        mixed.push_back({{"phase", c.phase}, {"batch", c.batch}, {"length", c.length},
                         {"one_pass_s", round9(c.interpolated_s)}, {"simulated_s", round9(c.simulated_s)},
                         {"rel_error", round9(c.rel_error())}});
        mworst = std::max(mworst, std::abs(c.rel_error()));
      }
      x["step_cost"]["mixed_checks"] = mixed;
      x["step_cost"]["mixed_max_abs_rel_error"] = round9(mworst);
    }
    json series = json::array();
    for (const SeriesPoint& p : l.series) {
      series.push_back({{"t0_s", round9(p.t0_s)}, {"t1_s", round9(p.t1_s)}, {"running", round9(p.running)},
                        {"waiting", round9(p.waiting)}, {"kv_occupancy", round9(p.kv_occupancy)},
                        {"output_tokens_per_s", round9(p.output_tokens_per_s)},
                        {"goodput_requests_per_s", round9(p.goodput_requests_per_s)},
                        {"replicas_serving", p.replicas_serving}});
    }
    x["series"] = series;
    // Per request, as columns (compact for 10^5 requests).
    json cols;
    std::vector<std::int64_t> id, rep, prompt, output, gen, pre;
    std::vector<double> arr, ttft, tpot, e2e, queue;
    std::vector<std::string> status, reason;
    for (const RequestResult& q : l.requests) {
      id.push_back(q.id);
      rep.push_back(q.replica);
      prompt.push_back(q.prompt);
      output.push_back(q.output);
      gen.push_back(q.generated);
      pre.push_back(q.preemptions);
      arr.push_back(round9(q.arrival_s));
      ttft.push_back(round9(q.ttft_s()));
      tpot.push_back(round9(q.tpot_s()));
      e2e.push_back(round9(q.e2e_s()));
      queue.push_back(round9(q.queue_s()));
      status.emplace_back(status_name(q.status));
      reason.push_back(q.reason);
    }
    cols["id"] = id;
    cols["replica"] = rep;
    cols["arrival_s"] = arr;
    cols["prompt_tokens"] = prompt;
    cols["output_tokens"] = output;
    cols["generated_tokens"] = gen;
    cols["status"] = status;
    cols["reason"] = reason;
    cols["ttft_s"] = ttft;
    cols["tpot_s"] = tpot;
    cols["e2e_s"] = e2e;
    cols["queueing_s"] = queue;
    cols["preemptions"] = pre;
    x["per_request"] = cols;
    json sweep = json::array();
    for (const SweepPoint& p : r.sweeps[li]) {
      json y = summary_json(p.result);
      y["rate_per_s"] = p.rate_per_s;
      sweep.push_back(y);
    }
    x["rate_sweep"] = sweep;
    ls.push_back(x);
  }
  j["layouts"] = ls;
  return j;
}

std::string format_summary(const ServingResult& r) {
  std::ostringstream o;
  int w = 16;
  for (const ServingLayout& l : r.layouts) w = std::max(w, static_cast<int>(l.name.size()) + 2);
  o << "Serving (" << r.requests << " requests)\n";
  o << std::left << std::setw(w) << "layout" << std::right << std::setw(10) << "done" << std::setw(9) << "rejected"
    << std::setw(11) << "TTFT p50" << std::setw(11) << "TTFT p99" << std::setw(11) << "TPOT p50" << std::setw(11)
    << "TPOT p99" << std::setw(11) << "tok/s" << std::setw(10) << "goodput" << "\n";
  o << std::fixed;
  for (const ServingLayout& l : r.layouts) {
    o << std::left << std::setw(w) << l.name << std::right << std::setw(10) << l.completed << std::setw(9)
      << l.rejected << std::setprecision(3) << std::setw(10) << l.ttft.p50 << "s" << std::setw(10) << l.ttft.p99 << "s"
      << std::setprecision(1) << std::setw(9) << l.tpot.p50 * 1e3 << "ms" << std::setw(9) << l.tpot.p99 * 1e3 << "ms"
      << std::setprecision(0) << std::setw(11) << l.throughput_tokens_per_s << std::setprecision(1) << std::setw(9)
      << l.goodput_fraction * 100 << "%" << (l.overloaded ? "  overloaded" : "") << (l.ok ? "" : "  " + l.error)
      << "\n";
  }
  return o.str();
}

}  // namespace masim::serving
