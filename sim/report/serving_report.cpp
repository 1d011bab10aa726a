#include "sim/report/serving_report.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "sim/report/charts.hpp"
#include "sim/report/format.hpp"

namespace masim::report {

using nlohmann::json;

namespace {

Cell num(double v, std::string shown) { return Cell::number(v, std::move(shown)); }
Cell secs(const json& p, const char* k) {
  const double v = p.value(k, 0.0);
  return num(v, format_sig(v, 3));
}
Cell ms(const json& p, const char* k) {
  const double v = 1e3 * p.value(k, 0.0);
  return num(v, format_sig(v, 3));
}
Cell count(const json& v) {
  const auto x = v.is_number() ? v.get<double>() : 0.0;
  return num(x, format_grouped(x));
}

// Serving under faults: what each incident did to the requests, and goodput
// and TTFT over the run with the first failure marked.
void faults_section(Document& d, const json& layouts) {
  bool any = false;
  double first = -1.0;
  for (const json& l : layouts) {
    for (const json& e : l.value("faults", json::object()).value("incidents", json::array())) {
      any = true;
      const double at = e.value("at_s", 0.0);
      if (first < 0 || at < first) first = at;
    }
  }
  if (!any) return;
  Table& t = d.table("serving_faults", "Serving through the run timeline's faults",
                     {"Layout", "fault", "domain", "outcome", "at (s)", "serving again (s)", "affected",
                      "re-prefilled", "moved", "rejected", "kept KV", "tokens recomputed", "TTFT p99 during (s)",
                      "TTFT p99 outside (s)", "TPOT p99 during (ms)", "TPOT p99 outside (ms)"});
  for (const json& l : layouts) {
    const json f = l.value("faults", json::object());
    const json during = f.value("during", json::object()), outside = f.value("outside", json::object());
    for (const json& e : f.value("incidents", json::array())) {
      const json end = e.value("end_s", json());
      t.add_row({Cell::text(l.value("name", std::string("?"))), Cell::text(e.value("fault", std::string())),
                 Cell::text(e.value("domain", std::string())), Cell::text(e.value("outcome", std::string())),
                 secs(e, "at_s"), end.is_number() ? secs(e, "end_s") : Cell::text("not in the run"),
                 count(e.value("requests_affected", json(0))), count(e.value("requests_reprefilled", json(0))),
                 count(e.value("requests_rerouted", json(0))), count(e.value("requests_rejected", json(0))),
                 count(e.value("requests_stalled", json(0))), count(e.value("tokens_recomputed", json(0))),
                 secs(during.value("ttft_s", json::object()), "p99"), secs(outside.value("ttft_s", json::object()), "p99"),
                 ms(during.value("tpot_s", json::object()), "p99"), ms(outside.value("tpot_s", json::object()), "p99")});
    }
  }
  t.note = "The run timeline (sim/faults) decides what fails, when it is detected and when the replica serves again; "
           "the serving run replays it: the step in flight is lost, requests whose KV cache is gone re-prefill "
           "(or are rejected, serving.on_failure), queued ones move to the surviving replicas at detection. "
           "During / outside: completed requests whose lifetime overlaps an outage of the layout, and the rest.";
  json good = json::array(), ttft = json::array();
  for (const json& l : layouts) {
    const std::string name = l.value("name", std::string("?"));
    for (const json& p : l.value("series", json::array())) {
      good.push_back({{"t", 0.5 * (p.value("t0_s", 0.0) + p.value("t1_s", 0.0))},
                      {"goodput", p.value("goodput_requests_per_s", 0.0)},
                      {"replicas", p.value("replicas_serving", 0)}, {"layout", name}});
    }
    // TTFT p99 of the requests arriving in each of 40 bins of the run.
    const json c = l.value("per_request", json::object());
    const json arr = c.value("arrival_s", json::array()), tt = c.value("ttft_s", json::array());
    const double end = l.value("end_s", 0.0);
    constexpr int kBins = 40;
    if (end <= 0 || arr.size() != tt.size()) continue;
    std::vector<std::vector<double>> bins(kBins);
    for (std::size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_number() || !tt[i].is_number() || tt[i].get<double>() < 0) continue;
      const int b = std::min(kBins - 1, static_cast<int>(arr[i].get<double>() / end * kBins));
      bins[static_cast<std::size_t>(std::max(0, b))].push_back(tt[i].get<double>());
    }
    for (int b = 0; b < kBins; ++b) {
      auto& v = bins[static_cast<std::size_t>(b)];
      if (v.empty()) continue;
      std::sort(v.begin(), v.end());
      const double x = 0.99 * static_cast<double>(v.size() - 1);
      const auto lo = static_cast<std::size_t>(x);
      const std::size_t hi = std::min(lo + 1, v.size() - 1);
      const double p99 = v[lo] + (x - static_cast<double>(lo)) * (v[hi] - v[lo]);
      ttft.push_back({{"t", end * (b + 0.5) / kBins}, {"ttft_p99", p99}, {"requests", v.size()}, {"layout", name}});
    }
  }
  LineChart g;
  g.x = {"t", "time (s)"};
  g.y = {"goodput", "goodput (requests/s meeting both SLOs)"};
  g.color = {"layout", "Layout"};
  g.tooltip = {"replicas"};
  g.x_rule = Rule{first, "first failure"};
  g.width = 760;
  if (!good.empty()) {
    d.chart(Chart{"serving-faults-goodput", "Goodput over the run, through the faults",
                  "Completions per second that met both SLOs, per bin; hover for the replicas serving at the bin's start",
                  make_line_chart(g, good)});
  }
  LineChart c2 = g;
  c2.y = {"ttft_p99", "TTFT p99 (s)"};
  c2.tooltip = {"requests"};
  if (!ttft.empty()) {
    d.chart(Chart{"serving-faults-ttft", "TTFT p99 by arrival time, through the faults",
                  "Requests arriving in each of 40 bins of the run; the rule marks the first failure",
                  make_line_chart(c2, ttft)});
  }
}

}  // namespace

Chart serving_curve_chart(const json& sv, const std::string& id, const std::string& title, bool tpot) {
  json rows = json::array();
  for (const json& l : sv.value("layouts", json::array())) {
    for (const json& p : l.value("rate_sweep", json::array())) {
      const json lat = p.value(tpot ? "tpot_s" : "ttft_s", json::object());
      rows.push_back({{"tokens_per_s", p.value("throughput", json::object()).value("output_tokens_per_s", 0.0)},
                      {"latency_ms", 1e3 * lat.value(tpot ? "p50" : "p99", 0.0)},
                      {"rate", p.value("rate_per_s", 0.0)},
                      {"goodput", p.value("goodput", json::object()).value("fraction", 0.0)},
                      {"layout", l.value("name", std::string("?"))}});
    }
  }
  LineChart c;
  c.x = {"tokens_per_s", "output tokens/s"};
  c.y = {"latency_ms", tpot ? "TPOT p50 (ms)" : "TTFT p99 (ms)", true};
  c.color = {"layout", "Layout"};
  c.tooltip = {"rate", "goodput"};
  const double slo = 1e3 * sv.value("slo", json::object()).value(tpot ? "tpot_s" : "ttft_s", 0.0);
  if (slo > 0) c.y_rule = Rule{slo, "SLO"};
  return Chart{id, title,
               std::string("One point per arrival rate of the sweep (Poisson, the same requests' lengths at every rate); ") +
                   "the curve bends up where the layout saturates. Rule: the " + (tpot ? "TPOT" : "TTFT") + " SLO.",
               rows.empty() ? json() : make_line_chart(c, rows)};
}

void add_serving(Document& d, const json& sv) {
  const json layouts = sv.value("layouts", json::array());
  const json sched = sv.value("scheduler", json::object());
  const json slo = sv.value("slo", json::object());
  d.heading(2, "Serving: request traffic");
  d.paragraph(format_grouped(sv.value("requests", 0.0)) + " requests (" + sv.value("arrivals", std::string("?")) +
              " arrivals) on every layout; continuous batching with at most " +
              std::to_string(sched.value("max_num_seqs", 0)) + " sequences and " +
              format_grouped(sched.value("max_batched_tokens", 0.0)) + " tokens per step, KV blocks of " +
              std::to_string(sched.value("block_size", 0)) + " tokens, chunked prefill " +
              (sched.value("chunked_prefill", false) ? "on" : "off") + ", preemption by " +
              sched.value("preemption", std::string("?")) + ", " + sched.value("router", std::string("?")) +
              " routing over the replicas. Goodput counts requests meeting both TTFT <= " +
              format_sig(slo.value("ttft_s", 0.0), 3) + " s and TPOT <= " +
              format_sig(1e3 * slo.value("tpot_s", 0.0), 3) + " ms (definitions: `docs/METRICS.md`, \"Serving\").");
  Table& t = d.table("serving", "Request latencies, throughput and goodput",
                     {"Layout", "replicas", "completed", "rejected", "in flight", "TTFT p50 (s)", "TTFT p99 (s)",
                      "TPOT p50 (ms)", "TPOT p99 (ms)", "e2e p99 (s)", "output tokens/s", "goodput (%)",
                      "preemptions", "Little L / λW", "step-cost error (%)", "load"});
  for (const json& l : layouts) {
    const json rq = l.value("requests", json::object());
    const json lt = l.value("little", json::object());
    const double L = lt.value("L", 0.0), lw = lt.value("lambda_per_s", 0.0) * lt.value("W_s", 0.0);
    const double err = 100.0 * l.value("step_cost", json::object()).value("max_abs_rel_error", 0.0);
    const double tps = l.value("throughput", json::object()).value("output_tokens_per_s", 0.0);
    const double good = 100.0 * l.value("goodput", json::object()).value("fraction", 0.0);
    std::string load = l.value("overloaded", false) ? "overloaded" : "sustained";
    if (!l.value("ok", true)) load = l.value("error", std::string("cannot serve"));
    t.add_row({Cell::text(l.value("name", std::string("?"))), count(l.value("replicas", json(0))),
               count(rq.value("completed", json(0))), count(rq.value("rejected", json(0))),
               count(rq.value("in_flight", json(0))), secs(l.value("ttft_s", json::object()), "p50"),
               secs(l.value("ttft_s", json::object()), "p99"), ms(l.value("tpot_s", json::object()), "p50"),
               ms(l.value("tpot_s", json::object()), "p99"), secs(l.value("e2e_s", json::object()), "p99"),
               num(tps, format_grouped(tps)), num(good, format_fixed(good, 1)),
               count(l.value("preemptions", json(0))),
               Cell::text(format_sig(L, 4) + " / " + format_sig(lw, 4)), num(err, format_fixed(err, 2)),
               Cell::text(load)});
  }
  t.note = "Little L / λW: the time-average requests in system against arrival rate × mean time in system. "
           "Step-cost error: the largest gap between an interpolated step time and a direct simulation at this "
           "run's mean batch and off the grid. Load: overloaded when the offered rate exceeds the estimated "
           "capacity or requests were still in flight at the end.";
  // Throughput over time.
  json rows = json::array();
  for (const json& l : layouts) {
    for (const json& p : l.value("series", json::array())) {
      rows.push_back({{"t", 0.5 * (p.value("t0_s", 0.0) + p.value("t1_s", 0.0))},
                      {"tokens_per_s", p.value("output_tokens_per_s", 0.0)},
                      {"running", p.value("running", 0.0)},
                      {"kv", p.value("kv_occupancy", 0.0)},
                      {"layout", l.value("name", std::string("?"))}});
    }
  }
  if (!rows.empty()) {
    LineChart c;
    c.x = {"t", "time (s)"};
    c.y = {"tokens_per_s", "output tokens/s"};
    c.color = {"layout", "Layout"};
    c.tooltip = {"running", "kv"};
    c.width = 760;
    double first = -1.0;   // under faults: the first failure, marked
    for (const json& l : layouts) {
      for (const json& e : l.value("faults", json::object()).value("incidents", json::array())) {
        if (first < 0 || e.value("at_s", 0.0) < first) first = e.value("at_s", 0.0);
      }
    }
    if (first >= 0) c.x_rule = Rule{first, "first failure"};
    d.chart(Chart{"serving-throughput", "Output tokens/s over the run",
                  "Time-weighted means per bin; hover for the running batch and the KV-cache occupancy",
                  make_line_chart(c, rows)});
  }
  faults_section(d, layouts);
  Chart ttft = serving_curve_chart(sv, "serving-ttft-curve", "Throughput against TTFT p99", false);
  if (!ttft.spec.is_null()) {
    d.chart(std::move(ttft));
    d.chart(serving_curve_chart(sv, "serving-tpot-curve", "Throughput against TPOT p50", true));
  }
  // CSVs: per request, the arrival stream (a trace masim reads back), series, sweep.
  Table req{"serving_requests", "Per request",
            {"layout", "id", "replica", "arrival_s", "prompt_tokens", "output_tokens", "status", "reason", "ttft_s",
             "tpot_s", "e2e_s", "queueing_s", "preemptions"}, {}, "", {}};
  Table arr{"serving_arrivals", "The request stream", {"arrival_s", "prompt_tokens", "output_tokens"}, {}, "", {}};
  Table ser{"serving_series", "Series", {"layout", "t0_s", "t1_s", "running", "waiting", "kv_occupancy",
            "output_tokens_per_s"}, {}, "", {}};
  Table swp{"serving_sweep", "Rate sweep", {"layout", "rate_per_s", "output_tokens_per_s", "ttft_p50_s",
            "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "goodput_fraction", "overloaded"}, {}, "", {}};
  bool first = true;
  for (const json& l : layouts) {
    const std::string name = l.value("name", std::string("?"));
    const json c = l.value("per_request", json::object());
    const json ids = c.value("id", json::array());
    auto at = [&](const char* k, std::size_t i) {
      const json col = c.value(k, json::array());
      return i < col.size() ? col[i] : json();
    };
    auto n = [&](const json& v) { return v.is_number() ? num(v.get<double>(), v.dump()) : Cell::text(""); };
    for (std::size_t i = 0; i < ids.size(); ++i) {
      req.add_row({Cell::text(name), n(at("id", i)), n(at("replica", i)), n(at("arrival_s", i)),
                   n(at("prompt_tokens", i)), n(at("output_tokens", i)),
                   Cell::text(at("status", i).is_string() ? at("status", i).get<std::string>() : ""),
                   Cell::text(at("reason", i).is_string() ? at("reason", i).get<std::string>() : ""), n(at("ttft_s", i)),
                   n(at("tpot_s", i)), n(at("e2e_s", i)), n(at("queueing_s", i)), n(at("preemptions", i))});
      if (first) arr.add_row({n(at("arrival_s", i)), n(at("prompt_tokens", i)), n(at("output_tokens", i))});
    }
    first = false;
    for (const json& p : l.value("series", json::array())) {
      auto v = [&](const char* k) { return num(p.value(k, 0.0), format_sig(p.value(k, 0.0), 6)); };
      ser.add_row({Cell::text(name), v("t0_s"), v("t1_s"), v("running"), v("waiting"), v("kv_occupancy"),
                   v("output_tokens_per_s")});
    }
    for (const json& p : l.value("rate_sweep", json::array())) {
      auto g = [&](const char* o, const char* k) {
        const double x = p.value(o, json::object()).value(k, 0.0);
        return num(x, format_sig(x, 6));
      };
      swp.add_row({Cell::text(name), num(p.value("rate_per_s", 0.0), format_sig(p.value("rate_per_s", 0.0), 6)),
                   g("throughput", "output_tokens_per_s"), g("ttft_s", "p50"), g("ttft_s", "p99"), g("tpot_s", "p50"),
                   g("tpot_s", "p99"), g("goodput", "fraction"),
                   Cell::text(p.value("overloaded", false) ? "true" : "false")});
    }
  }
  d.csv_table(std::move(req));
  d.csv_table(std::move(arr));
  d.csv_table(std::move(ser));
  d.csv_table(std::move(swp));
}

}  // namespace masim::report
