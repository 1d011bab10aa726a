#include "sim/report/timeline_report.hpp"

#include <string>

#include "sim/report/charts.hpp"
#include "sim/report/format.hpp"

namespace masim::report {

using nlohmann::json;

namespace {

Cell num(double v, std::string shown) { return Cell::number(v, std::move(shown)); }
Cell pct(double fraction) { return num(100.0 * fraction, format_fixed(100.0 * fraction, 1)); }
Cell seconds_or_dash(const json& v) {
  if (!v.is_number()) return Cell::text("not within the run");
  const double s = v.get<double>();
  return num(s, format_fixed(s, 2));
}

std::string steps_text(const json& steps) {
  std::string out;
  for (const json& s : steps) {
    if (!out.empty()) out += " + ";
    out += s.value("name", std::string("?")) + " " + format_sig(s.value("duration_s", 0.0), 3) + " s";
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Chart run_timeline_chart(const json& t, const std::string& id, const std::string& title) {
  json rows = json::array();
  for (const json& l : t.value("layouts", json::array())) {
    const std::string name = l.value("name", std::string("?"));
    // Two points per segment draw the step function.
    for (const json& g : l.value("segments", json::array())) {
      const double tps = g.value("tokens_per_s", 0.0);
      rows.push_back({{"minute", g.value("start_s", 0.0) / 60.0}, {"tokens_per_s", tps}, {"layout", name},
                      {"order", rows.size()}});
      rows.push_back({{"minute", g.value("end_s", 0.0) / 60.0}, {"tokens_per_s", tps}, {"layout", name},
                      {"order", rows.size()}});
    }
  }
  LineChart c;
  c.x = {"minute", "time (min)"};
  c.y = {"tokens_per_s", "tokens/s"};
  c.color = {"layout", "Layout"};
  c.order = Field{"order", "order"};
  c.width = 760;
  return Chart{id, title,
               "Whole-layout tokens/s over simulated time; drops are failures and recoveries (detection, rebuild, "
               "reload, re-prefill), steps down are degraded plans on the surviving GPUs",
               make_line_chart(c, rows)};
}

void add_run_timeline(Document& d, const json& t) {
  const double duration = t.value("duration_s", 0.0);
  const json faults = t.value("faults", json::array());
  const json layouts = t.value("layouts", json::array());
  d.heading(2, "Run timeline: faults and recovery");
  d.paragraph("Every layout ran " + format_grouped(duration) + " s of simulated time facing the same " +
              std::to_string(faults.size()) + " faults; " + std::to_string(t.value("simulations", 0)) +
              " distinct cluster states and prefills were simulated. Recovery costs: detection " +
              format_sig(t.value("recovery_inputs", json::object()).value("detection_s", 0.0), 3) +
              " s, then the steps listed per incident (inputs and their sources: `docs/INPUTS.md`, "
              "\"Run timeline\"; definitions: `docs/METRICS.md`, \"Run timeline\").");
  if (!faults.empty()) {
    std::vector<std::string> items;
    for (const json& f : faults) {
      items.push_back(format_fixed(f.value("at_s", 0.0), 1) + " s: " + f.value("description", std::string("?")) +
                      (f.value("repair_after_s", json()).is_number()
                           ? ", repaired after " + format_sig(f["repair_after_s"].get<double>(), 4) + " s"
                           : ""));
    }
    d.list(items);
  }
  Table& s = d.table("run_timeline", "Goodput and availability",
                     {"Layout", "baseline tokens/s", "goodput (%)", "availability (%)", "incidents",
                      "worst recovery (s)", "tokens lost in flight", "tokens recomputed", "sequences conserved"});
  for (const json& l : layouts) {
    const std::string name = l.value("name", std::string("?"));
    double worst = -1.0;
    bool open = false;
    for (const json& i : l.value("incidents", json::array())) {
      const json r = i.value("recovery_s", json());
      if (r.is_number()) {
        worst = std::max(worst, r.get<double>());
      } else {
        open = true;
      }
    }
    const json cons = l.value("conservation", json::object());
    s.add_row({Cell::text(name), num(l.value("baseline_tokens_per_s", 0.0), format_grouped(l.value("baseline_tokens_per_s", 0.0))),
               pct(l.value("goodput", 0.0)), pct(l.value("availability", 0.0)),
               num(static_cast<double>(l.value("incidents", json::array()).size()),
                   std::to_string(l.value("incidents", json::array()).size())),
               open ? Cell::text("not recovered") : worst < 0 ? Cell::text("-") : num(worst, format_fixed(worst, 2)),
               num(l.value("tokens_lost_in_flight", 0.0), format_grouped(l.value("tokens_lost_in_flight", 0.0))),
               num(l.value("tokens_recomputed", 0.0), format_grouped(l.value("tokens_recomputed", 0.0))),
               Cell::text(cons.value("holds", false) ? "yes" : "NO")});
  }
  s.note = "Goodput: tokens generated over the run / baseline tokens/s x duration. Availability: share of the "
           "run within 5% of the baseline. Recovery: failure to throughput within 5% of the new steady level.";
  d.chart(run_timeline_chart(t, "run-timeline-throughput", "Throughput over the run"));

  Table& it = d.table("incidents", "Incidents and their recovery steps",
                      {"Layout", "at (s)", "fault", "domain", "action", "steps", "recovery (s)",
                       "to full capacity (s)", "tokens/s before", "tokens/s after", "re-prefilled"});
  Table seg{"timeline_segments", "Throughput segments", {"Layout", "start (s)", "end (s)", "tokens/s", "GPUs out",
            "running", "stalled", "kv_lost", "reprefilling", "waiting"}, {}, "", {}};
  for (const json& l : layouts) {
    const std::string name = l.value("name", std::string("?"));
    for (const json& i : l.value("incidents", json::array())) {
      it.add_row({Cell::text(name), num(i.value("at_s", 0.0), format_fixed(i.value("at_s", 0.0), 1)),
                  Cell::text(i.value("fault", std::string("?"))), Cell::text(i.value("domain", std::string("?"))),
                  Cell::text(i.value("action", std::string("?"))), Cell::text(steps_text(i.value("steps", json::array()))),
                  seconds_or_dash(i.value("recovery_s", json())), seconds_or_dash(i.value("full_capacity_s", json())),
                  num(i.value("tokens_per_s_before", 0.0), format_grouped(i.value("tokens_per_s_before", 0.0))),
                  num(i.value("tokens_per_s_after", 0.0), format_grouped(i.value("tokens_per_s_after", 0.0))),
                  num(i.value("sequences_reprefilled", 0), std::to_string(i.value("sequences_reprefilled", 0)))});
    }
    for (const json& g : l.value("segments", json::array())) {
      const json c = g.value("cohorts", json::object());
      auto n = [&](const char* k) { return num(c.value(k, 0), std::to_string(c.value(k, 0))); };
      seg.add_row({Cell::text(name), num(g.value("start_s", 0.0), format_fixed(g.value("start_s", 0.0), 3)),
                   num(g.value("end_s", 0.0), format_fixed(g.value("end_s", 0.0), 3)),
                   num(g.value("tokens_per_s", 0.0), format_fixed(g.value("tokens_per_s", 0.0), 1)),
                   num(g.value("gpus_out", 0), std::to_string(g.value("gpus_out", 0))), n("running"), n("stalled"),
                   n("kv_lost"), n("reprefilling"), n("waiting")});
    }
  }
  d.csv_table(std::move(seg));
}

}  // namespace masim::report
