// masim: the command-line front end.
//
//   masim run [SCENARIO] [-o DIR] [--trace FILE] [--report]   simulate every layout of a scenario
//   masim check FILE... [--builtin]                validate input files of any kind
//   masim report RESULTS.json [-o DIR]             Markdown/CSV/HTML report of a run
//   masim collective --topology FILE --op all_reduce --size "256 MiB" --gpus 8
//   masim --version
//
// Exit codes: 0 success; 2 bad input (every diagnostic printed, then
// "N problems; nothing was simulated.", nothing written); 3 environment (an
// output directory that cannot be created or written, ...); 1 an internal error.
// Only main() exits; everything below returns or throws.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "sim/cli/embedded_files.hpp"
#include "sim/frontend/echo.hpp"
#include "sim/frontend/files.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/io/quantity.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/network/network.hpp"
#include "sim/topology/topology.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/report/report.hpp"
#include "sim/report/trace.hpp"

#ifndef MASIM_VERSION_STRING
#define MASIM_VERSION_STRING "0.0.0"
#endif

namespace masim::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitEnvironment = 3;

// Every diagnostic, then the summary. A problem with a command-line option
// (its "file" is the option, e.g. "--size") has no JSON Pointer to show.
int report_bad_input(const io::Diagnostics& d) {
  for (const io::Diagnostic& x : d.items()) {
    if (x.pointer.empty() && x.file.rfind("--", 0) == 0) {
      std::cerr << x.file << ": " << x.message << "\n";
    } else {
      io::Diagnostics one;
      one.error(x.file, x.pointer, x.message);
      std::cerr << one.format_lines();
    }
  }
  std::cerr << d.size() << (d.size() == 1 ? " problem; " : " problems; ") << "nothing was simulated.\n";
  return kExitBadInput;
}

// Writes `text` to `path` atomically: a temporary file beside it, then rename,
// so a reader never sees a half-written results.json.
void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw io::EnvironmentError("cannot write " + tmp.string() + ": " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) throw io::EnvironmentError("cannot write " + tmp.string() + " (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw io::EnvironmentError("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  }
}

void make_output_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw io::EnvironmentError("cannot create output directory " + dir.string() + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) throw io::EnvironmentError("output path " + dir.string() + " is not a directory");
}

// A directory name from a scenario name: letters, digits, '-', '_' and '.' kept.
std::string safe_dir_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  return out.empty() || out == "." || out == ".." ? std::string("scenario") : out;
}

struct RunArgs {
  std::string scenario;
  std::string out_dir;
  std::string trace;
  bool report = false;
};

int cmd_run(const RunArgs& a) {
  const bool use_default = a.scenario.empty();
  const std::string path = use_default ? kDefaultScenario : a.scenario;
  const frontend::FileSource files = use_default ? frontend::FileSource(embedded_files()) : frontend::FileSource();
  if (use_default) {
    std::cerr << "masim: no scenario given; running the seed study (" << path
              << (fs::exists(path) ? ", from disk" : ", built in") << ")\n";
  }
  io::Diagnostics diags;
  auto s = frontend::load_scenario(path, diags, files);
  if (!s) return report_bad_input(diags);
  auto topo = topology::Topology::build(s->topology, s->file, diags);
  if (!topo) return report_bad_input(diags);
  // The calibration profile when the scenario names one (roofline for ops it does
  // not cover), else the roofline alone.
  const std::unique_ptr<models::ComputeCostModel> cost = profile::make_cost_model(*s, diags);
  if (!cost) return report_bad_input(diags);
  layouts::SimOptions opts;
  opts.record_timeline = !a.trace.empty() || a.report;
  const layouts::ScenarioResult result = layouts::simulate(*s, *topo, *cost, opts);

  // Only now, with every number in hand, touch the file system.
  const fs::path dir = a.out_dir.empty() ? fs::path("out") / safe_dir_name(s->name) : fs::path(a.out_dir);
  make_output_dir(dir);
  const nlohmann::json results = layouts::to_json(result, frontend::resolved_json(*s));
  write_atomically(dir / "results.json", results.dump(2) + "\n");
  std::cout << layouts::format_table(result);
  std::cout << "\nwrote " << (dir / "results.json").string() << "\n";
  if (!a.trace.empty()) {
    report::write_chrome_trace(results, a.trace);
    std::cout << "wrote " << a.trace << " (open in ui.perfetto.dev)\n";
  }
  if (a.report) {
    report::OutputOptions o;
    o.out_dir = dir.string();
    for (const std::string& f : report::write_run_report(results, o)) std::cout << "wrote " << f << "\n";
  }
  return kExitOk;
}

int cmd_report(const std::string& results_path, const std::string& out_dir) {
  const nlohmann::json results = report::load_results(results_path);
  report::OutputOptions o;
  o.out_dir = out_dir.empty() ? fs::path(results_path).parent_path().string() : out_dir;
  if (o.out_dir.empty()) o.out_dir = ".";
  for (const std::string& f : report::write_run_report(results, o)) std::cout << "wrote " << f << "\n";
  return kExitOk;
}

int cmd_check(const std::vector<std::string>& paths, bool builtin) {
  io::Diagnostics diags;
  if (builtin) {
    const frontend::FileSource files(embedded_files());
    const frontend::CheckResult r = frontend::check_file(kDefaultScenario, diags, files);
    if (r.ok) std::cout << kDefaultScenario << " (built in): ok, " << r.summary << "\n";
  }
  for (const std::string& p : paths) {
    const frontend::CheckResult r = frontend::check_file(p, diags);
    if (r.ok) std::cout << p << ": ok, " << r.summary << "\n";
  }
  if (!diags.empty()) return report_bad_input(diags);
  return kExitOk;
}

struct CollectiveArgs {
  std::string topology;
  std::string op = "all_reduce";
  std::vector<std::string> sizes{"256 MiB"};
  int gpus = 0;
  std::string algorithm = "auto";
};

int cmd_collective(const CollectiveArgs& a) {
  io::Diagnostics diags;
  const std::size_t n_before = diags.size();
  auto doc = [&]() -> std::optional<nlohmann::json> {
    const auto rr = frontend::FileSource().read(a.topology);
    if (rr.status != frontend::FileSource::Status::kOk) {
      diags.error(a.topology, "", rr.status == frontend::FileSource::Status::kNotFound ? "file not found"
                                                                                         : "cannot read file");
      return std::nullopt;
    }
    return io::parse_json_text(rr.text, a.topology, diags);
  }();
  std::vector<Bytes> sizes;
  for (const std::string& s : a.sizes) {
    const auto q = io::parse_quantity(s, io::Dimension::kBytes);
    if (!q.ok || q.value < 1.0) {
      diags.error("--size", "", q.ok ? "expected at least 1 B, found \"" + s + "\"" : q.error);
      continue;
    }
    sizes.push_back(Bytes(static_cast<std::int64_t>(q.value)));
  }
  if (!doc) return report_bad_input(diags);
  auto spec = topology::parse_topology(*doc, a.topology, "", diags);
  if (!spec) return report_bad_input(diags);
  auto topo = topology::Topology::build(*spec, a.topology, diags);
  if (!topo) return report_bad_input(diags);
  const int n = a.gpus == 0 ? topo->num_gpus() : a.gpus;
  if (n < 1 || n > topo->num_gpus()) {
    diags.error("--gpus", "", "expected a GPU count in [1, " + std::to_string(topo->num_gpus()) + "] (topology \"" +
                                  spec->name + "\"), found " + std::to_string(n));
  }
  if (diags.size() != n_before) return report_bad_input(diags);

  const std::map<std::string, network::CollectiveKind> ops = {
      {"all_reduce", network::CollectiveKind::kAllReduce},     {"all_gather", network::CollectiveKind::kAllGather},
      {"reduce_scatter", network::CollectiveKind::kReduceScatter}, {"broadcast", network::CollectiveKind::kBroadcast},
      {"reduce", network::CollectiveKind::kReduce},            {"all_to_all", network::CollectiveKind::kAllToAll},
      {"send_recv", network::CollectiveKind::kSendRecv}};
  const std::map<std::string, network::Algorithm> algos = {
      {"auto", network::Algorithm::kAuto}, {"ring", network::Algorithm::kRing}, {"tree", network::Algorithm::kTree},
      {"pairwise", network::Algorithm::kPairwise}, {"hierarchical", network::Algorithm::kHierarchical}};
  network::CollectiveRequest req;
  req.kind = ops.at(a.op);
  req.algorithm = algos.at(a.algorithm);
  if (req.kind == network::CollectiveKind::kSendRecv) {
    req.ranks = {0, n - 1};
  } else {
    for (int r = 0; r < n; ++r) req.ranks.push_back(r);
  }
  std::cout << a.op << " over " << req.ranks.size() << " GPUs of topology \"" << spec->name << "\", algorithm "
            << a.algorithm << " (busbw factor as nccl-tests doc/PERFORMANCE.md)\n";
  std::cout << std::setw(16) << "size (B)" << std::setw(14) << "time (us)" << std::setw(16) << "algbw (GB/s)"
            << std::setw(16) << "busbw (GB/s)" << "\n";
  for (Bytes b : sizes) {
    req.bytes = b;
#ifdef MASIM_HAVE_NETWORK
    const network::CollectiveResult r = network::run_collective(*topo, req);
#else
    const network::CollectiveResult r;
    throw io::EnvironmentError("this build has no network model (sim/network)");
#endif
    std::cout << std::fixed << std::setw(16) << b.count() << std::setw(14) << std::setprecision(2) << r.time.us()
              << std::setw(16) << std::setprecision(2) << r.algbw_gb_per_s << std::setw(16) << std::setprecision(2)
              << r.busbw_gb_per_s << "\n";
  }
  return kExitOk;
}

int run_main(int argc, char** argv) {
  CLI::App app{"masim " MASIM_VERSION_STRING
               ": discrete-event simulation of Mixture-of-Experts transformers on GPU clusters under "
               "TP, PP, TP x PP, EP and MA Separation layouts.\n"
               "Exit codes: 0 ok, 2 bad input (all problems listed; nothing written), 3 environment "
               "(e.g. an output directory that cannot be written).",
               "masim"};
  app.set_version_flag("--version", "masim " MASIM_VERSION_STRING, "Print the version and exit");
  app.require_subcommand(0, 1);

  RunArgs ra;
  CLI::App* run = app.add_subcommand(
      "run",
      "Simulate every layout of a scenario: print a comparison table and write DIR/results.json "
      "(masim version, the fully resolved inputs, per-layout metrics; docs/RESULTS.md). Without SCENARIO, "
      "runs the seed study (scenarios/paper/seed_study.json, built into the binary; files on disk win).");
  run->add_option("SCENARIO", ra.scenario, "Scenario file (docs/INPUTS.md)");
  run->add_option("-o,--output", ra.out_dir, "Output directory (default: out/<scenario name>)");
  run->add_option("--trace", ra.trace, "Also write a Perfetto/Chrome trace of one iteration to FILE");
  run->add_flag("--report", ra.report,
                "Also write the run's report into DIR: report.md, csv/*.csv and a self-contained report.html");

  std::vector<std::string> check_files;
  CLI::App* check = app.add_subcommand(
      "check",
      "Validate input files of any kind (scenario, hardware, model, Hugging Face config.json, topology): "
      "every problem with its file and JSON Pointer, exit 2 if any. Nothing is simulated.");
  bool check_builtin = false;
  check->add_option("FILE", check_files, "Files to check");
  check->add_flag("--builtin", check_builtin,
                  "Also check the built-in default scenario (what `masim run` runs without SCENARIO)");

  CollectiveArgs ca;
  CLI::App* coll = app.add_subcommand(
      "collective",
      "Simulate one collective alone on an idle topology and print time, algbw and busbw "
      "(nccl-tests' definitions).");
  coll->add_option("--topology", ca.topology, "Topology file (topologies/*.json)")->required();
  coll->add_option("--op", ca.op, "Collective")
      ->check(CLI::IsMember({"all_reduce", "all_gather", "reduce_scatter", "broadcast", "reduce", "all_to_all",
                             "send_recv"}))
      ->capture_default_str();
  coll->add_option("--size", ca.sizes, "Per-rank buffer size(s) with a unit, e.g. \"256 MiB\" (repeatable)")
      ->capture_default_str();
  coll->add_option("--gpus", ca.gpus, "Number of GPUs (ranks 0..N-1; default: all of the topology)");
  coll->add_option("--algorithm", ca.algorithm, "Algorithm")
      ->check(CLI::IsMember({"auto", "ring", "tree", "pairwise", "hierarchical"}))
      ->capture_default_str();

  std::string report_results;
  std::string report_out;
  CLI::App* rep = app.add_subcommand(
      "report", "Write the report of a finished run (report.md, csv/*.csv, report.html) from its results.json.");
  rep->add_option("RESULTS", report_results, "results.json written by masim run")->required();
  rep->add_option("-o,--output", report_out, "Output directory (default: the directory of RESULTS)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  if (*run) return cmd_run(ra);
  if (*check) {
    if (check_files.empty() && !check_builtin) {
      std::cerr << "masim check: give at least one FILE (or --builtin)\n" << check->help();
      return kExitBadInput;
    }
    return cmd_check(check_files, check_builtin);
  }
  if (*coll) return cmd_collective(ca);
  if (*rep) return cmd_report(report_results, report_out);
  std::cout << app.help();
  return kExitBadInput;
}

}  // namespace
}  // namespace masim::cli

int main(int argc, char** argv) {
  try {
    return masim::cli::run_main(argc, argv);
  } catch (const masim::io::InputError& e) {
    return masim::cli::report_bad_input(e.diagnostics());
  } catch (const masim::io::EnvironmentError& e) {
    std::cerr << "masim: error: " << e.what() << "\n";
    return masim::cli::kExitEnvironment;
  } catch (const std::exception& e) {
    std::cerr << "masim: internal error: " << e.what() << "\n";
    return masim::cli::kExitInternal;
  }
}
