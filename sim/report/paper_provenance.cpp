#include "sim/report/paper_provenance.hpp"

#include <map>

#include "sim/report/format.hpp"

namespace masim::report {

using nlohmann::json;

PricedRun priced_run(const std::string& label, const json& results) {
  PricedRun p;
  p.label = label;
  p.cost_model = results.value("cost_model", std::string("?"));
  p.band = results.contains("cost_band") && results["cost_band"].is_object();
  for (const json& l : results.value("layouts", json::array())) {
    const json c = l.value("cost_sources", json::object());
    p.profile_ops += c.value("profile", std::int64_t{0});
    p.roofline_ops += c.value("roofline", std::int64_t{0});
  }
  return p;
}

std::string relative_to_source(std::string text, const std::string& source_dir) {
  if (source_dir.empty() || source_dir == ".") return text;
  const std::string prefix = source_dir + "/";
  for (std::size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at)) {
    text.erase(at, prefix.size());
  }
  return text;
}

void add_cost_model_section(Document& d, const std::vector<PricedRun>& runs, const std::string& source_dir) {
  d.heading(2, "Which model priced each run");
  // Runs that share a cost model are listed under it once, in the order they ran.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const PricedRun*>> by_model;
  for (const PricedRun& r : runs) {
    const std::string m = relative_to_source(r.cost_model, source_dir);
    if (!by_model.contains(m)) order.push_back(m);
    by_model[m].push_back(&r);
  }
  d.paragraph("Every simulated run of this report, by the compute cost model that priced it (results.json "
              "`cost_model`). \"Ops\" counts the op costs of all its layouts: from the profile, and from the "
              "roofline where the profile has no table for an op. A band means the run's headline numbers carry "
              "the derived profile's measured error (results.json `cost_band`, `metrics_band`).");
  Table& t = d.table("cost_models", "", {"Cost model", "runs", "ops from the profile", "ops from the roofline",
                                          "band", "the runs"});
  for (const std::string& m : order) {
    const auto& rs = by_model[m];
    std::int64_t prof = 0, roof = 0;
    int banded = 0;
    std::string labels;
    for (const PricedRun* r : rs) {
      prof += r->profile_ops;
      roof += r->roofline_ops;
      banded += r->band ? 1 : 0;
      labels += (labels.empty() ? "" : "; ") + r->label;
    }
    const std::string band = banded == 0 ? "no"
                             : banded == static_cast<int>(rs.size())
                                 ? "yes"
                                 : std::to_string(banded) + " of " + std::to_string(rs.size());
    t.add_row({Cell::text(m), Cell::number(static_cast<double>(rs.size()), std::to_string(rs.size())),
               Cell::number(static_cast<double>(prof), format_grouped(static_cast<double>(prof))),
               Cell::number(static_cast<double>(roof), format_grouped(static_cast<double>(roof))),
               Cell::text(band), Cell::text(labels)});
  }
}

}  // namespace masim::report
