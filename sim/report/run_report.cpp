#include <filesystem>
#include <fstream>

#include "sim/io/diagnostics.hpp"
#include "sim/io/file_io.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/report/format.hpp"
#include "sim/report/report.hpp"
#include "sim/report/results_view.hpp"
#include "sim/report/serving_report.hpp"
#include "sim/report/timeline_report.hpp"

namespace masim::report {

using nlohmann::json;

namespace {

// Atomically: a reader never sees a half-written report file.
void write_text(const std::string& path, const std::string& text) { io::write_file_atomically(path, text); }

Cell num(double v, std::string shown) { return Cell::number(v, std::move(shown)); }
Cell pct(double fraction) { return num(100.0 * fraction, format_fixed(100.0 * fraction, 1)); }

}  // namespace

std::vector<std::string> write_document(const Document& d, const OutputOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) throw io::EnvironmentError("cannot create directory " + o.out_dir + ": " + ec.message());
  std::vector<std::string> written;
  const std::string html_name = o.basename + ".html";
  if (o.markdown) {
    const std::string p = (fs::path(o.out_dir) / (o.basename + ".md")).string();
    write_text(p, render_markdown(d, html_name));
    written.push_back(p);
  }
  if (o.csv && !(d.tables().empty() && d.csv_tables().empty())) {
    const fs::path dir = fs::path(o.out_dir) / "csv";
    fs::create_directories(dir, ec);
    if (ec) throw io::EnvironmentError("cannot create directory " + dir.string() + ": " + ec.message());
    for (const auto* list : {&d.tables(), &d.csv_tables()}) {
      for (const Table& t : *list) {
        const std::string p = (dir / (t.id + ".csv")).string();
        write_text(p, render_csv(t));
        written.push_back(p);
      }
    }
  }
  if (o.html) {
    const WebAssets assets = load_web_assets(default_web_modules(o.web_modules));
    const std::string p = (fs::path(o.out_dir) / html_name).string();
    write_text(p, render_html(d, assets));
    written.push_back(p);
  }
  return written;
}

json load_results(const std::string& path) {
  io::Diagnostics d;
  if (!std::filesystem::exists(path)) throw io::EnvironmentError(path + ": no such file");
  auto doc = io::load_json_file(path, d);
  if (!doc) throw io::InputError(d);
  check_results_shape(*doc, path, d);  // every wrong type at once, before anything reads it
  if (!d.empty()) throw io::InputError(d);
  return *doc;
}

namespace {

// "7552 / 0": how many of a layout's ops the profile priced and how many fell
// back to the roofline (results.json "cost_sources").
std::string cost_sources_words(const json& l) {
  const json* c = l.contains("cost_sources") && l["cost_sources"].is_object() ? &l["cost_sources"] : nullptr;
  if (c == nullptr) return "—";
  auto count = [&](const char* k) -> std::int64_t {
    return c->contains(k) && (*c)[k].is_number_integer() ? (*c)[k].get<std::int64_t>() : 0;
  };
  return std::to_string(count("profile")) + " / " + std::to_string(count("roofline"));
}

}  // namespace

Document run_report_document(const json& results) {
  const std::string name = results.value("scenario_name", std::string("scenario"));
  Document d("masim run: " + name);
  const json workload = results.value("workload", json::object());
  const std::string kind = workload.value("kind", std::string("decode"));
  const bool decode = kind == "decode";
  const bool prefill = kind == "prefill";
  d.paragraph("Workload **" + kind + "**, batch " + std::to_string(workload.value("batch", 0)) +
              ", context " + std::to_string(workload.value("context_length", 0)) +
              ". Compute costs: " + results.value("cost_model", std::string("?")) +
              ". Network: " + results.value("network_model", std::string("?")) + ". masim " +
              results.value("masim_version", std::string("?")) + ".");

  std::vector<const json*> layouts;
  for (const json& l : results["layouts"]) layouts.push_back(&l);

  d.heading(2, "Metrics per layout");
  const std::string lat = decode ? "TPOT (ms)" : (prefill ? "TTFT (ms)" : "step (ms)");
  Table& t = d.table("metrics", "", {"Layout", "GPUs", lat, "tokens/s", "tokens/s per GPU",
                                     "GPU util, compute only (%)", "GPU util, compute or comm (%)", "MFU (%)", "HBM BW (%)", "comm (%)",
                                     "exposed comm (ms)", "memory eff. (%)", "energy (mJ/token)",
                                     "max batch", "ops priced by profile / roofline"});
  for (const json* l : layouts) {
    const double latency = metric(*l, decode ? "tpot_ms" : (prefill ? "ttft_ms" : "iteration_ms"));
    t.add_row({Cell::text(layout_label(*l)), num(l->value("gpus", 0), std::to_string(l->value("gpus", 0))),
               num(latency, format_fixed(latency, 3)),
               num(metric(*l, "tokens_per_s"), format_grouped(metric(*l, "tokens_per_s"))),
               num(metric(*l, "tokens_per_s_per_gpu"), format_grouped(metric(*l, "tokens_per_s_per_gpu"))),
               pct(metric(*l, "gpu_util_mean")), pct(metric(*l, "gpu_util_with_comm_mean")), pct(metric(*l, "mfu")), pct(metric(*l, "hbm_bw_util")),
               pct(comm_share(*l, "total")),
               num(comm_exposed_ms(*l, "total"), format_fixed(comm_exposed_ms(*l, "total"), 3)),
               pct(metric(*l, "memory_efficiency")),
               num(metric(*l, "energy_per_token_mj"), format_sig(metric(*l, "energy_per_token_mj"), 3)),
               num(l->value("max_batch_that_fits", 0), std::to_string(l->value("max_batch_that_fits", 0))),
               Cell::text(cost_sources_words(*l))});
  }
  t.note = "Definitions: `docs/METRICS.md`. Every number comes from the simulation. GPU utilization counts the time a "
           "GPU runs a kernel of the model (compute only); the second reading also counts the time a collective of "
           "the GPU is in flight, as nvidia-smi would.";

  d.heading(2, "Communication by type");
  std::vector<std::string> header = {"Layout"};
  for (const auto& tag : comm_tags()) header.push_back(std::string(tag.label) + " (%)");
  header.push_back("Total (%)");
  header.push_back("Exposed (ms)");
  Table& ct = d.table("communication", "Share of iteration time", header);
  for (const json* l : layouts) {
    std::vector<Cell> row = {Cell::text(layout_label(*l))};
    for (const auto& tag : comm_tags()) row.push_back(pct(comm_share(*l, tag.key)));
    row.push_back(pct(comm_share(*l, "total")));
    row.push_back(num(comm_exposed_ms(*l, "total"), format_fixed(comm_exposed_ms(*l, "total"), 3)));
    ct.add_row(std::move(row));
  }
  d.chart(comm_breakdown_chart(layouts, "communication", "Communication by type",
                               "Busy time of each communication type as a share of the iteration, "
                               "mean over the layout's GPUs (overlapped time included)"));

  d.heading(2, "Memory per GPU");
  header = {"Layout", "GPU"};
  for (const auto& c : memory_components()) header.push_back(std::string(c.label) + " (GiB)");
  header.push_back("Total (GiB)");
  header.push_back("Capacity (GiB)");
  Table& mt = d.table("memory", "The GPU with the most memory (per group for MA Separation)", header);
  for (const json* l : layouts) {
    for (const GpuMemoryView& v : memory_profiles(*l)) {
      std::vector<Cell> row = {Cell::text(layout_label(*l) + (v.role.empty() ? "" : " (" + v.role + ")")),
                               num(v.gpu, std::to_string(v.gpu))};
      for (double g : v.gib) row.push_back(num(g, format_fixed(g, 2)));
      row.push_back(num(v.total_gib, format_fixed(v.total_gib, 2)));
      row.push_back(num(v.capacity_gib, format_fixed(v.capacity_gib, 1)));
      mt.add_row(std::move(row));
    }
  }
  d.chart(memory_stack_chart(layouts, "memory", "Memory per GPU by component",
                             "The GPU with the most memory of each layout (of each group for MA "
                             "Separation); the dashed line is the HBM capacity"));

  d.heading(2, "Expert load");
  Table& et = d.table("experts", "", {"Layout", "share std", "share min (%)", "share max (%)",
                                      "aux loss", "dropped", "routed"});
  for (const json* l : layouts) {
    const json e = l->value("experts", json::object());
    et.add_row({Cell::text(layout_label(*l)),
                num(e.value("share_std", 0.0), format_sig(e.value("share_std", 0.0), 3)),
                pct(e.value("share_min", 0.0)), pct(e.value("share_max", 0.0)),
                num(e.value("aux_loss", 0.0), format_sig(e.value("aux_loss", 0.0), 4)),
                num(e.value("dropped", 0), std::to_string(e.value("dropped", 0))),
                num(e.value("routed", 0), std::to_string(e.value("routed", 0)))});
  }

  if (results.contains("run_timeline") && results["run_timeline"].is_object()) {
    add_run_timeline(d, results["run_timeline"]);
  }
  if (results.contains("serving") && results["serving"].is_object()) add_serving(d, results["serving"]);

  d.heading(2, "Timelines of one iteration");
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    const json& l = *layouts[i];
    const double overlap = timeline_overlap_fraction(l);
    auto c = timeline_chart(l, "timeline-" + std::to_string(i), layout_label(l) + ": one iteration per GPU stream",
                            "Compute and communication streams of every GPU; compute and communication "
                            "overlap on a GPU for " + format_fixed(100.0 * overlap, 1) +
                                "% of the iteration (mean over GPUs)");
    if (c) {
      d.chart(*c);
    } else {
      d.paragraph(layout_label(l) + ": no timeline in the results (run with the timeline recorded).");
    }
  }
  return d;
}

std::vector<std::string> write_run_report(const json& results, const OutputOptions& o) {
  return write_document(run_report_document(results), o);
}

}  // namespace masim::report
