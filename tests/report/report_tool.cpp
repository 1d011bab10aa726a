// Test helper for the report module (the user-facing commands are `masim report`
// and `masim run --report`):
//   report_tool RESULTS.json OUT_DIR      the run report of a results.json
//   report_tool --paper OUT_DIR [--no-html]  the seed-study report (runs the simulator)
// Exit 0 on success, 2 bad input, 3 environment (e.g. no tools/web/node_modules).
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>

#include "sim/io/diagnostics.hpp"
#include "sim/report/paper.hpp"
#include "sim/report/report.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: report_tool RESULTS.json OUT_DIR | report_tool --paper OUT_DIR [--no-html]\n");
    return 2;
  }
  try {
    if (std::strcmp(argv[1], "--paper") == 0) {
      masim::report::PaperOptions o;
      o.output.out_dir = argv[2];
      o.output.html = !(argc > 3 && std::strcmp(argv[3], "--no-html") == 0);
      o.progress = &std::cerr;
      const auto s = masim::report::generate_paper_report(o);
      for (const auto& f : s.files) std::printf("wrote %s\n", f.c_str());
      std::printf("%d simulations, %d layouts could not be simulated\n", s.simulations, s.failed_layouts);
      return 0;
    }
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
