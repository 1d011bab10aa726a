// Test helper: writes the run report (Markdown, CSV, HTML) of a results.json.
//   report_tool RESULTS.json OUT_DIR
// Exit 0 on success, 3 on an environment problem (e.g. no tools/web/node_modules).
#include <cstdio>
#include <exception>

#include "sim/io/diagnostics.hpp"
#include "sim/report/report.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: report_tool RESULTS.json OUT_DIR\n");
    return 2;
  }
  try {
    masim::report::OutputOptions o;
    o.out_dir = argv[2];
    for (const auto& f : masim::report::write_run_report(masim::report::load_results(argv[1]), o)) {
      std::printf("wrote %s\n", f.c_str());
    }
  } catch (const masim::io::InputError& e) {
    std::fprintf(stderr, "%s", e.diagnostics().format().c_str());
    return 2;
  } catch (const masim::io::EnvironmentError& e) {
    std::fprintf(stderr, "report_tool: %s\n", e.what());
    return 3;
  }
  return 0;
}
