#include "sim/report/paper_serving.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "sim/report/format.hpp"
#include "sim/report/serving_report.hpp"

namespace masim::report {

using nlohmann::json;

namespace {

Cell num(double v, std::string shown) { return Cell::number(v, std::move(shown)); }

struct Pick {
  bool found = false;
  double rate = 0.0, tokens_per_s = 0.0, ttft_p99 = 0.0, tpot_p50 = 0.0, attained = 0.0;
};

// The highest rate of the sweep at which this and every lower rate attain the SLOs.
Pick best_rate(const json& layout, double attainment) {
  std::vector<const json*> pts;
  const auto it = layout.find("rate_sweep");
  if (it == layout.end() || !it->is_array()) return {};
  for (const json& p : *it) pts.push_back(&p);
  std::sort(pts.begin(), pts.end(),
            [](const json* a, const json* b) { return a->value("rate_per_s", 0.0) < b->value("rate_per_s", 0.0); });
  Pick best;
  for (const json* p : pts) {
    const double g = p->value("goodput", json::object()).value("fraction", 0.0);
    if (g < attainment) break;
    best.found = true;
    best.rate = p->value("rate_per_s", 0.0);
    best.tokens_per_s = p->value("throughput", json::object()).value("output_tokens_per_s", 0.0);
    best.ttft_p99 = p->value("ttft_s", json::object()).value("p99", 0.0);
    best.tpot_p50 = p->value("tpot_s", json::object()).value("p50", 0.0);
    best.attained = g;
  }
  return best;
}

double choice_number(const json& results, const std::string& key, double def) {
  const json choices = results.value("scenario", json::object()).value("choices", json::array());
  for (const json& c : choices) {
    if (c.value("key", std::string()) == key) {
      try {
        return std::stod(c.value("value", std::string()));
      } catch (const std::exception&) {
        return def;
      }
    }
  }
  return def;
}

}  // namespace

void add_serving_slo_section(Document& d, const json& results, const std::map<std::string, double>& steady) {
  d.heading(2, "Equal-SLO comparison on serving traffic");
  const auto sv_it = results.find("serving");
  if (sv_it == results.end() || !sv_it->is_object()) {
    d.paragraph("Not simulated: the results of `serving.json` carry no serving member.");
    return;
  }
  const json& sv = *sv_it;
  const double attainment = choice_number(results, "slo.attainment", 0.9);
  const json slo = sv.value("slo", json::object());
  const double ttft = slo.value("ttft_s", 0.0), tpot = slo.value("tpot_s", 0.0);
  const int gpus = [&] {
    int g = 0;
    for (const json& l : results.value("layouts", json::array())) g = std::max(g, l.value("gpus", 0));
    return g > 0 ? g : 16;
  }();
  d.paragraph("The steady-state comparison above holds every layout at a fixed concurrency. Served traffic adds "
              "what it leaves out: requests arrive at random, prompts and outputs vary, and prefills compete with "
              "decodes for the same GPUs. Scenario `serving.json` sends " +
              format_grouped(sv.value("requests", 0.0)) +
              " Poisson requests at each rate of a sweep through vLLM-style continuous batching (docs/METRICS.md, "
              "\"Serving\"); a layout's capacity under the SLO is the highest rate at which at least " +
              format_fixed(100.0 * attainment, 0) + "% of requests get their first token within " +
              format_sig(ttft, 3) + " s and then a token every " + format_sig(1e3 * tpot, 3) +
              " ms or faster (DistServe's goodput), with every lower rate meeting it too.");
  Table& t = d.table("serving_slo", "Highest arrival rate meeting the SLOs",
                     {"Layout", "rate (req/s)", "output tokens/s per GPU", "SLO attainment", "TTFT p99 (s)",
                      "TPOT p50 (ms)", "vs TP=8, PP=2", "steady-state equal-SLO tokens/s per GPU"});
  Pick base;
  std::vector<std::pair<std::string, Pick>> picks;
  for (const json& l : sv.value("layouts", json::array())) {
    const std::string name = l.value("name", std::string("?"));
    const Pick p = best_rate(l, attainment);
    picks.emplace_back(name, p);
    if (name == "TP=8, PP=2") base = p;
  }
  std::string best_serving, best_steady;
  double best_rate_v = -1.0, best_steady_v = -1.0;
  for (const auto& [name, p] : picks) {
    const auto st = steady.find(name);
    const Cell steady_cell = st == steady.end() || st->second < 0 ? Cell::text("none meets the SLO")
                                                                  : num(st->second, format_grouped(st->second));
    if (st != steady.end() && st->second > best_steady_v) {
      best_steady_v = st->second;
      best_steady = name;
    }
    if (!p.found) {
      t.add_row({Cell::text(name), Cell::text("none in the sweep"), Cell::text("—"), Cell::text("—"), Cell::text("—"),
                 Cell::text("—"), Cell::text("—"), steady_cell});
      continue;
    }
    if (p.rate > best_rate_v) {
      best_rate_v = p.rate;
      best_serving = name;
    }
    const double per_gpu = p.tokens_per_s / gpus;
    t.add_row({Cell::text(name), num(p.rate, format_sig(p.rate, 4)), num(per_gpu, format_grouped(per_gpu)),
               num(100.0 * p.attained, format_fixed(100.0 * p.attained, 1) + "%"), num(p.ttft_p99, format_sig(p.ttft_p99, 3)),
               num(1e3 * p.tpot_p50, format_sig(1e3 * p.tpot_p50, 3)),
               base.found && base.rate > 0 ? num(p.rate / base.rate, format_fixed(p.rate / base.rate, 2) + "×")
                                           : Cell::text("—"),
               steady_cell});
  }
  t.note = "Rates are those of the sweep, so a layout's capacity lies between its rate here and the next rate of the "
           "sweep. Tokens/s per GPU at that rate are what the traffic asks for, not the layout's ceiling.";
  if (!best_serving.empty() && !best_steady.empty()) {
    d.paragraph(best_serving == best_steady
                    ? "Both comparisons pick the same layout: **" + best_serving + "**."
                    : "The two comparisons disagree: the steady state picks **" + best_steady +
                          "**, served traffic **" + best_serving +
                          "**. A steady decode step hides the prefills that a served layout must fit between its "
                          "decode steps; a layout whose prefill is slow (MA Separation runs one prompt on one "
                          "attention group) loses more to them.");
  }
  Chart a = serving_curve_chart(sv, "paper-serving-ttft", "Served throughput against TTFT p99", false);
  if (!a.spec.is_null()) {
    d.chart(std::move(a));
    d.chart(serving_curve_chart(sv, "paper-serving-tpot", "Served throughput against TPOT p50", true));
  }
}

}  // namespace masim::report
