// masim::report, the entry points the CLI calls.
//
//   masim run SCENARIO -o DIR --report   ->  write_run_report(results, {.out_dir = DIR})
//   masim run SCENARIO -o DIR --trace    ->  write_chrome_trace(results, DIR + "/trace.json")   (trace.hpp)
//   masim report RESULTS.json -o DIR     ->  write_run_report(load_results(path), {.out_dir = DIR})
//   masim report --paper -o reports/paper -> generate_paper_report({.out_dir = ...})          (paper.hpp)
//
// Every report is written as Markdown (report.md), one CSV per table
// (csv/<table>.csv) and a self-contained HTML page (report.html: Vega-Lite and
// vega-embed inlined from tools/web/node_modules, so it opens offline). Output
// is byte-identical for identical results: no dates, no host names, no paths.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"

namespace masim::report {

struct OutputOptions {
  std::string out_dir;          // created if missing
  bool markdown = true;         // report.md
  bool csv = true;              // csv/<table id>.csv
  bool html = true;             // report.html (needs tools/web/node_modules)
  std::string web_modules;      // node_modules to inline from; "" = default_web_modules()
  std::string basename = "report";
};

// Writes `d` as the formats selected in `o`; returns the paths written, in order.
// Markdown and CSV are written before the HTML, so a missing node_modules
// (io::EnvironmentError naming `npm ci --prefix tools/web`) leaves them in place.
std::vector<std::string> write_document(const Document& d, const OutputOptions& o);

// The report of one run: per-layout metrics, communication by type, memory by
// component, expert load, and charts (communication breakdown, memory stack, a
// per-GPU timeline of one iteration per layout).
Document run_report_document(const nlohmann::json& results);
std::vector<std::string> write_run_report(const nlohmann::json& results, const OutputOptions& o);

// Reads a results.json file. Throws io::EnvironmentError (missing / unreadable)
// or io::InputError (not JSON, or no "layouts" array).
nlohmann::json load_results(const std::string& path);

}  // namespace masim::report
