// The seed study's reproduction: every table and claim of
// shared/seed/000_6565165f715ebb4a.txt beside its simulated counterpart, with
// the delta per cell, the checks that keep both honest, and the sweeps the
// study's claims need (GPU count, sequence length, concurrency, sensitivity to
// the values the study leaves unstated, routing seed).
//
// Inputs: the scenarios in scenarios/paper/ (each unstated value is a `choice`
// with its reason; SLOs are choices named "slo.*"), the sweep files
// scenarios/sweeps/seed_{scaling,sequence_length,equal_slo,sensitivity}.json
// (every sweep point and variant the report runs, with the axes' reasons) and
// scenarios/paper/reference.json (the study's figures, used only for comparison).
// Every simulated number comes from running those scenarios and sweep points
// through the simulator; the only variants built in code are the routing seeds
// (as many as the study's independent runs) and the other cost model.
//
//   PaperOptions o;
//   o.output.out_dir = "reports/paper";
//   PaperSummary s = generate_paper_report(o);          // report.md, report.html, csv/*.csv
//
// Regenerate the committed copy with:  build/default/masim report --paper -o reports/paper
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"
#include "sim/report/report.hpp"
#include "sim/spec/spec.hpp"

namespace masim::report {

// Reads and validates one scenario file. Throws io::InputError (with every
// diagnostic) or io::EnvironmentError.
using ScenarioLoader = std::function<spec::ScenarioSpec(const std::string& path)>;
// Simulates one scenario and returns its results.json (docs/RESULTS.md), the
// resolved scenario under "scenario". Throws io::InputError when a layout
// cannot be simulated (e.g. it does not fit in memory).
using ScenarioRunner = std::function<nlohmann::json(const spec::ScenarioSpec&)>;

// A sweep file the report runs (scenarios/sweeps/*.json, `masim sweep`'s
// format): each point's scenario, validated, with its label (the axes' labels
// joined by ", ") and its variants' descriptions; each axis with its values'
// labels and its reason (the report's choices table shows them).
struct SweepAxis {
  std::string name, reason;
  std::vector<std::string> labels;
};
struct SweepPoint {
  std::string label;
  std::string description;
  spec::ScenarioSpec spec;
};
struct LoadedSweep {
  std::string file, name;
  std::vector<SweepAxis> axes;
  std::vector<SweepPoint> points;
};
// Reads a sweep file and validates every point. Throws io::InputError (every
// problem of every point) or io::EnvironmentError.
using SweepLoader = std::function<LoadedSweep(const std::string& path)>;

// The loader and runner of the real simulator: frontend::load_scenario,
// topology::Topology::build, the roofline cost model, layouts::simulate and
// layouts::to_json. The runner records timelines only when `timelines` is true.
ScenarioLoader default_scenario_loader();
SweepLoader default_sweep_loader();
ScenarioRunner default_scenario_runner(bool timelines);

struct PaperOptions {
  OutputOptions output;          // out_dir, formats, node_modules
  std::string source_dir;        // repository root; "" = the compiled-in source tree
  std::ostream* progress = nullptr;  // one line per simulated scenario, if set
  bool trace = false;            // also write trace_seed_study.json (Perfetto) into out_dir
  bool roofline = false;         // price every run with the roofline, ignoring the scenarios' profiles
};

struct PaperSummary {
  std::vector<std::string> files;   // written, in order
  int simulations = 0;              // scenario runs (a variant or sweep point each)
  int failed_layouts = 0;           // layouts that could not be simulated (listed in the report)
  double tpot_reduction = 0.0;      // MA Separation vs TP=8, PP=2 at the study's setting (fraction)
  double throughput_gain = 0.0;     // same, tokens/s (fraction)
};

// Builds the report document only (no files); `progress` as in PaperOptions.
Document paper_document(const std::string& source_dir, const ScenarioLoader& load,
                        const SweepLoader& load_sweep, const ScenarioRunner& run, std::ostream* progress, PaperSummary* summary,
                        nlohmann::json* seed_results = nullptr);

// Runs everything and writes the report. Throws io::InputError (bad scenario or
// reference file), io::EnvironmentError (missing files, node_modules for HTML).
PaperSummary generate_paper_report(const PaperOptions& o);
PaperSummary generate_paper_report(const PaperOptions& o, const ScenarioLoader& load,
                                   const SweepLoader& load_sweep, const ScenarioRunner& run);

}  // namespace masim::report
