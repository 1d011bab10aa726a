// libFuzzer target for `masim report RESULTS.json`: arbitrary bytes through
// io::parse_json_text and report::check_results_shape (what load_results runs);
// whatever the check accepts must render as the run report and the Chrome trace
// without an exception. Build and run: scripts/fuzz.sh (docs/RELIABILITY.md).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/report/report.hpp"
#include "sim/report/results_view.hpp"
#include "sim/report/trace.hpp"
#include "tests/robustness/fuzz_check.hpp"

using namespace masim;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  io::Diagnostics d;
  const std::optional<nlohmann::json> doc = io::parse_json_text(text, "results.json", d);
  if (!doc) return 0;
  fuzz::no_throw("check_results_shape", [&] { report::check_results_shape(*doc, "results.json", d); });
  if (!d.empty()) return 0;
  fuzz::no_throw("run_report_document", [&] { (void)report::run_report_document(*doc); });
  fuzz::no_throw("chrome_trace", [&] { (void)report::chrome_trace(*doc); });
  return 0;
}
