// masim: the command-line front end.
//
//   masim run [SCENARIO] [-o DIR] [--trace FILE] [--report]   simulate every layout of a scenario
//   masim check FILE... [--builtin]                validate input files of any kind
//   masim report RESULTS.json [-o DIR]             Markdown/CSV/HTML report of a run
//   masim report --paper [-o reports/paper]        the seed-study reproduction (sim/report/paper.hpp)
//   masim sweep SWEEP [-o DIR] [-j N] [--resume]     every point of a sweep file, on all cores
//   masim search SEARCH [-o DIR] [-j N]              best configuration per layout under a TPOT SLO
//   masim collective --topology FILE --op all_reduce --size "256 MiB" --gpus 8
//   masim --version
//
// Exit codes: 0 success; 2 bad input (every diagnostic printed, then
// "N problems; nothing was simulated.", nothing written); 3 environment (an
// output directory that cannot be created or written, ...); 1 an internal error.
// Only main() exits; everything below returns or throws. Inputs are read with
// io::read_regular_file (a FIFO, device or directory is bad input, never read)
// and outputs written with io::StagedFiles (atomic); `masim run` refuses an
// output that is one of its inputs (docs/RELIABILITY.md).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "sim/cli/embedded_files.hpp"
#include "sim/faults/timeline.hpp"
#include "sim/serving/results.hpp"
#include "sim/frontend/echo.hpp"
#include "sim/frontend/files.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/cli_args.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/io/file_io.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/io/quantity.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/network/fit.hpp"
#include "sim/network/network.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/profile/fit.hpp"
#include "sim/profile/profile.hpp"
#include "sim/report/paper.hpp"
#include "sim/report/report.hpp"
#include "sim/report/trace.hpp"
#include "sim/sweep/point_runner.hpp"
#include "sim/sweep/pool.hpp"
#include "sim/sweep/search.hpp"
#include "sim/sweep/sweep_runner.hpp"
#include "sim/sweep/sweep_spec.hpp"
#ifdef MASIM_HAVE_MPI
#include "sim/sweep/mpi_ranks.hpp"
#endif
#include "sim/topology/topology.hpp"

#ifndef MASIM_VERSION_STRING
#define MASIM_VERSION_STRING "0.0.0"
#endif

namespace masim::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr double kMaxCollectiveBytes = 1e15;  // masim collective --size upper bound
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
      if (x.line > 0) {
        one.error_at_line(x.file, x.line, x.message);
      } else {
        one.error(x.file, x.pointer, x.message);
      }
      std::cerr << one.format_lines();
    }
  }
  std::cerr << d.not_listed_line() << d.size() << (d.size() == 1 ? " problem; " : " problems; ") << "nothing was simulated.\n";
  return kExitBadInput;
}

// Whether `a` and `b` name one file: the same inode when both exist (hard
// links, symbolic links, "..", different spellings), else the same path once
// symbolic links and ".." are resolved as far as the path exists.
bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) {
    const bool eq = fs::equivalent(a, b, ec);
    if (!ec) return eq;
  }
  std::error_code ea, eb;
  const fs::path ca = fs::weakly_canonical(a, ea);
  const fs::path cb = fs::weakly_canonical(b, eb);
  if (ea || eb) return fs::absolute(a, ec).lexically_normal() == fs::absolute(b, ec).lexically_normal();
  return ca == cb;
}

// An output of `masim run` that is one of the files the run read (the scenario,
// the files it names, the profile) is refused: one bad -o or --trace would
// otherwise destroy an input. `option` names the option that chose `out`.
void refuse_clobbering(const std::string& option, const fs::path& out, const std::vector<std::string>& inputs,
                       io::Diagnostics& diags) {
  for (const std::string& in : inputs) {
    if (!same_file(out, in)) continue;
    std::string msg = out.string() + " is an input of this run";
    if (fs::path(in).lexically_normal() != out.lexically_normal()) msg += " (the same file as " + in + ")";
    diags.error(option, "", msg + "; masim never overwrites its inputs, choose another path");
    return;
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

// --max-memory and --max-events (frontend::Limits): the estimate of a
// scenario's work and memory must stay within them (docs/INPUTS.md, "Limits").
struct LimitArgs {
  std::string max_memory;   // a size with a unit; empty = the default
  double max_events = frontend::Limits{}.max_events;
};

void add_limit_options(CLI::App* cmd, LimitArgs& a) {
  cmd->add_option("--max-memory", a.max_memory,
                  "Refuse a scenario whose estimated peak memory exceeds SIZE (default \"8 GiB\")")
      ->type_name("SIZE");
  cmd->add_option("--max-events", a.max_events,
                  "Refuse a scenario whose estimated work (engine events, routing draws, run-timeline "
                  "re-simulations) exceeds N (default 2e9, some minutes of one core)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
}

// The limits, or a diagnostic at the option that is malformed.
frontend::Limits limits_of(const LimitArgs& a, io::Diagnostics& diags) {
  frontend::Limits l;
  l.max_events = a.max_events;
  if (!a.max_memory.empty()) {
    const auto q = io::parse_quantity(a.max_memory, io::Dimension::kBytes);
    if (!q.ok || !(q.value >= 1.0)) {
      diags.error("--max-memory", "", q.ok ? "expected a positive size, found \"" + a.max_memory + "\"" : q.error);
    } else {
      l.max_memory_bytes = q.value;
    }
  }
  return l;
}

struct RunArgs {
  std::string scenario;
  std::string out_dir;
  std::string trace;
  bool report = false;
  bool roofline = false;   // price every op with the roofline, even if the scenario names a profile
  LimitArgs limits;
};

// The scenario's profile text when it came from the binary's embedded copy
// (the default scenario run away from the source tree); nullptr = read from disk.
std::optional<std::string> embedded_profile_text(const spec::ScenarioSpec& s, const frontend::FileSource& files) {
  if (s.profile_path.empty()) return std::nullopt;
  frontend::FileSource::ReadResult rr = files.read(profile::resolve_profile_path(s));
  if (rr.status != frontend::FileSource::Status::kOk || !rr.embedded) return std::nullopt;
  return std::move(rr.text);
}

int cmd_run(const RunArgs& a) {
  const bool use_default = a.scenario.empty();
  const std::string path = use_default ? kDefaultScenario : a.scenario;
  frontend::FileSource files = use_default ? frontend::FileSource(embedded_files()) : frontend::FileSource();
  std::vector<std::string> inputs;  // every file on disk the run reads
  files.log_reads_to(&inputs);
  if (use_default) {
    std::cerr << "masim: no scenario given; running the seed study (" << path
              << (fs::exists(path) ? ", from disk" : ", built in") << ")\n";
  }
  io::Diagnostics diags;
  const frontend::Limits limits = limits_of(a.limits, diags);
  if (!diags.empty()) return report_bad_input(diags);
  auto s = frontend::load_scenario(path, diags, files);
  if (!s) return report_bad_input(diags);
  if (a.roofline && !s->profile_path.empty()) {
    std::cerr << "masim: --roofline: pricing every op with the roofline instead of " << s->profile_path << "\n";
    s->profile_path.clear();   // the echoed scenario in results.json then names no profile
  }
  // Work and memory, estimated before any plan is built: a scenario past the
  // limits is refused now, not after it has exhausted the machine.
  frontend::check_limits(frontend::estimate_work(*s), limits, s->file, diags);
  if (!diags.empty()) return report_bad_input(diags);

  // Outputs that would overwrite an input are bad input, refused before anything runs.
  const fs::path dir = a.out_dir.empty() ? fs::path("out") / safe_dir_name(s->name) : fs::path(a.out_dir);
  const fs::path results_path = dir / "results.json";
  refuse_clobbering("--output", results_path, inputs, diags);
  if (!a.trace.empty()) {
    refuse_clobbering("--trace", a.trace, inputs, diags);
    if (same_file(a.trace, results_path)) {
      diags.error("--trace", "", a.trace + " is where results.json goes; choose another path");
    }
  }
  if (a.report) {
    for (const char* name : {"report.md", "report.html"}) refuse_clobbering("--report", dir / name, inputs, diags);
    for (const std::string& in : inputs) {
      if (fs::path(in).extension() == ".csv") refuse_clobbering("--report", dir / "csv" / fs::path(in).filename(), {in}, diags);
    }
  }
  if (!diags.empty()) return report_bad_input(diags);

  auto topo = topology::Topology::build(s->topology, s->file, diags);
  if (!topo) return report_bad_input(diags);
  for (const std::string& w : network::fit_range_warnings(*topo)) std::cerr << "masim: warning: " << w << "\n";
  // The calibration profile when the scenario names one (roofline for ops it does
  // not cover), else the roofline alone.
  const std::optional<std::string> profile_text = embedded_profile_text(*s, files);
  const std::unique_ptr<models::ComputeCostModel> cost =
      profile::make_cost_model(*s, diags, profile_text ? &*profile_text : nullptr);
  if (!cost) return report_bad_input(diags);
  layouts::SimOptions opts;
  opts.record_timeline = !a.trace.empty() || a.report;
  const layouts::ScenarioResult result = layouts::simulate(*s, *topo, *cost, opts);
  std::optional<faults::TimelineResult> timeline;
  if (s->timeline) timeline = faults::run_timeline(*s, *topo, *cost);
  std::optional<serving::ServingResult> served;
  if (s->serving) served = serving::run_serving(*s, *topo, *cost);

  // Only now, with every number in hand, touch the file system. results.json
  // and the trace are staged (written and synced as temporary files) and renamed
  // into place together, so a failed trace leaves no results.json of this run
  // behind. The report, derived from results.json, comes after them: if it
  // fails, results.json and the trace are complete and `masim report` can retry.
  make_output_dir(dir);
  nlohmann::json results = layouts::to_json(result, frontend::resolved_json(*s));
  if (timeline) results["run_timeline"] = faults::to_json(*timeline, *s->timeline);
  if (served) results["serving"] = serving::to_json(*served, *s->serving);
  io::StagedFiles staged;
  staged.add(results_path.string(), results.dump(2) + "\n");
  if (!a.trace.empty()) staged.add(a.trace, report::chrome_trace_text(results));
  staged.commit();
  std::cout << layouts::format_table(result);
  // Which model priced the run (results.json "cost_model"; "cost_band" where derived).
  std::cout << "compute costs: " << cost->describe() << "\n";
  if (const auto band = cost->band()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "cost band: %+.1f%% to %+.1f%% (the profile's measured error; results.json metrics_band)\n",
                  band->min_pct, band->max_pct);
    std::cout << buf;
  }
  if (timeline) std::cout << "\n" << faults::format_summary(*timeline);
  if (served) std::cout << "\n" << serving::format_summary(*served);
  std::cout << "\nwrote " << results_path.string() << "\n";
  if (!a.trace.empty()) std::cout << "wrote " << a.trace << " (open in ui.perfetto.dev)\n";
  if (a.report) {
    report::OutputOptions o;
    o.out_dir = dir.string();
    for (const std::string& f : report::write_run_report(results, o)) std::cout << "wrote " << f << "\n";
  }
  return kExitOk;
}

struct SweepArgs {
  std::string file;
  std::string out_dir;
  int jobs = 0;  // 0 = the machine's hardware threads
  bool resume = false;
  double max_points = sweep::kDefaultMaxPoints;
  LimitArgs limits;
  std::size_t interrupt_after = 0;
};

constexpr int kExitInterrupted = 130;  // as a shell reports a process ended by SIGINT

int cmd_sweep(const SweepArgs& a) {
  // Under mpirun every rank runs this; rank r takes the points i with
  // i mod N = r and rank 0 writes the outputs (sim/sweep/mpi_ranks.hpp). Every
  // rank validates the same inputs; only rank 0 speaks.
#ifdef MASIM_HAVE_MPI
  std::optional<sweep::MpiRanks> mpi;
  if (sweep::launched_by_mpi()) mpi.emplace(nullptr, nullptr);
  sweep::Ranks* ranks = mpi ? &*mpi : nullptr;
#else
  sweep::Ranks* ranks = nullptr;
#endif
  const int rank = ranks != nullptr ? ranks->rank() : 0;
  const int nranks = ranks != nullptr ? ranks->size() : 1;
  const auto bad = [&](const io::Diagnostics& d) { return rank == 0 ? report_bad_input(d) : kExitBadInput; };
  io::Diagnostics diags;
  const frontend::Limits limits = limits_of(a.limits, diags);
  if (!diags.empty()) return bad(diags);
  frontend::FileSource files;
  std::vector<std::string> inputs;  // the sweep file, the base and the files it names
  files.log_reads_to(&inputs);
  auto s = sweep::load_sweep(a.file, diags, files);
  if (!s) return bad(diags);
  sweep::check_point_count(*s, a.max_points, "--max-points", diags);
  if (!diags.empty()) return bad(diags);
  (void)sweep::resolve_point(*s, sweep::point_at(*s, 0), files, limits, MASIM_VERSION_STRING);
  files.log_reads_to(nullptr);  // the workers share `files`; the log is not thread-safe
  const fs::path dir = a.out_dir.empty() ? fs::path("out") / safe_dir_name(s->name) : fs::path(a.out_dir);
  for (const std::string& p : sweep::sweep_output_paths(dir.string())) refuse_clobbering("--output", p, inputs, diags);
  if (!diags.empty()) return bad(diags);

  sweep::SweepOptions o;
  o.out_dir = dir.string();
  // Default threads: the hardware's, shared by the ranks on this host.
  int local_ranks = nranks;
  if (const char* l = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local_ranks = std::max(1, std::atoi(l));
  o.jobs = a.jobs > 0 ? a.jobs : std::max(1, sweep::default_jobs() / local_ranks);
  o.resume = a.resume;
  o.limits = limits;
  o.version = MASIM_VERSION_STRING;
  o.progress = rank == 0 ? &std::cerr : nullptr;
  o.progress_bar = ::isatty(STDERR_FILENO) != 0;
  o.interrupt_after = a.interrupt_after;
  o.ranks = ranks;
  std::string sizes;
  for (const sweep::Axis& x : s->axes) sizes += (sizes.empty() ? "" : " x ") + x.name + " " + std::to_string(x.values.size());
  if (rank == 0) {
    std::cerr << "sweep \"" << s->name << "\": " << static_cast<std::size_t>(s->point_count()) << " points (" << sizes
              << ") on " << o.jobs << (o.jobs == 1 ? " thread" : " threads")
              << (nranks > 1 ? " in each of " + std::to_string(nranks) + " MPI ranks" : std::string())
              << "; streaming to " << (dir / "stream.csv").string() << " and " << (dir / "journal.jsonl").string()
              << "\n";
    for (const std::string& note : s->notes) std::cerr << "sweep: note: " << note << "\n";
  }
  const sweep::SweepSummary r = sweep::run_sweep(*s, o, files);
  if (rank != 0) return r.interrupted ? kExitInterrupted : kExitOk;
  constexpr std::size_t kListed = 50;
  for (std::size_t i = 0; i < r.problems.size() && i < kListed; ++i) std::cerr << r.problems[i] << "\n";
  if (r.problems.size() > kListed) std::cerr << "... and " << r.problems.size() - kListed << " more problems not listed\n";
  if (r.interrupted) {
    std::cerr << "sweep interrupted: " << r.done << " of " << r.points << " points done (" << r.simulated
              << " simulated now); the journal " << (dir / "journal.jsonl").string()
              << " keeps them: rerun with --resume to continue\n";
    return kExitInterrupted;
  }
  std::cout << r.points << " points: " << r.simulated << " simulated, " << r.resumed << " from the journal, "
            << r.invalid << " invalid, " << r.refused << " refused by the limits, " << r.failed
            << " with failed layouts (failed rows in the outputs)\n";
  for (const std::string& f : r.files) std::cout << "wrote " << f << "\n";
  return kExitOk;
}

std::optional<sweep::SearchSpec> load_search_checked(const std::string& path, io::Diagnostics& diags,
                                                     const frontend::FileSource& files);

int cmd_search(const std::string& file, const std::string& out_dir, int jobs) {
  io::Diagnostics diags;
  frontend::FileSource files;
  std::vector<std::string> inputs;
  files.log_reads_to(&inputs);
  // The base must be a valid scenario on every system (its layouts are replaced by each candidate's).
  auto s = load_search_checked(file, diags, files);
  if (!s) return report_bad_input(diags);
  files.log_reads_to(nullptr);
  const fs::path dir = out_dir.empty() ? fs::path("out") / safe_dir_name(s->name) : fs::path(out_dir);
  for (const char* f : {"search.json", "search.csv"}) refuse_clobbering("--output", dir / f, inputs, diags);
  if (!diags.empty()) return report_bad_input(diags);
  const int j = jobs > 0 ? jobs : sweep::default_jobs();
  const sweep::SearchResult r = sweep::run_search(*s, j, files, MASIM_VERSION_STRING);
  std::cout << sweep::format_search(*s, r);
  make_output_dir(dir);
  io::StagedFiles staged;
  staged.add((dir / "search.json").string(), sweep::search_json(*s, r).dump(2) + "\n");
  staged.add((dir / "search.csv").string(), sweep::search_csv(r));
  std::cout << "\n";
  for (const std::string& f : staged.commit()) std::cout << "wrote " << f << "\n";
  std::cerr << "search: " << r.simulated << " configurations simulated in " << std::fixed << std::setprecision(1)
            << r.seconds << " s on " << j << (j == 1 ? " thread" : " threads") << "\n";
  return kExitOk;
}

// The seed study's reproduction: runs the scenarios of scenarios/paper/ and
// writes every table beside the study's value (report::generate_paper_report).
int cmd_report_paper(const std::string& out_dir, bool html, bool trace, bool roofline) {
  report::PaperOptions o;
  o.roofline = roofline;
  o.output.out_dir = out_dir.empty() ? "reports/paper" : out_dir;
  o.output.html = html;
  o.progress = &std::cerr;
  o.trace = trace;
  const report::PaperSummary s = report::generate_paper_report(o);
  for (const std::string& f : s.files) std::cout << "wrote " << f << "\n";
  std::cout << s.simulations << " scenario runs; " << s.failed_layouts
            << " layout runs refused by the simulator (listed in the report)\n";
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

// A sweep file is checked as a whole: its own schema, the point count against
// --max-points, then every point as a scenario (each problem names the point).
// Nothing is simulated.
enum class PlanKind { kOther, kSweep, kSearch };
PlanKind plan_kind(const std::string& path) {
  const auto rr = frontend::FileSource().read(path);
  if (rr.status != frontend::FileSource::Status::kOk) return PlanKind::kOther;
  io::Diagnostics ignored;
  const auto doc = io::parse_json_text(rr.text, path, ignored);
  if (!doc) return PlanKind::kOther;
  return sweep::is_sweep(*doc) ? PlanKind::kSweep : sweep::is_search(*doc) ? PlanKind::kSearch : PlanKind::kOther;
}

// The base scenario of a search, on each of its systems, must be valid.
std::optional<sweep::SearchSpec> load_search_checked(const std::string& path, io::Diagnostics& diags,
                                                     const frontend::FileSource& files) {
  auto s = sweep::load_search(path, diags, files);
  if (!s) return std::nullopt;
  const std::size_t before = diags.size();
  for (const sweep::SearchSystem& sys : s->systems) {
    nlohmann::json base = s->base;
    if (!sys.hardware.is_null()) base["hardware"] = sys.hardware;
    if (!sys.topology.is_null()) base["topology"] = sys.topology;
    (void)frontend::parse_scenario(base, s->base_file, diags, files);
  }
  if (diags.size() != before) return std::nullopt;
  return s;
}

void check_sweep_file(const std::string& path, const frontend::Limits& limits, double max_points,
                      io::Diagnostics& diags) {
  const frontend::FileSource files;
  auto s = sweep::load_sweep(path, diags, files);
  if (!s) return;
  const std::size_t before = diags.size();
  sweep::check_point_count(*s, max_points, "--max-points", diags);
  if (diags.size() != before) return;
  const auto n = static_cast<std::size_t>(s->point_count());
  std::vector<sweep::Resolved> rs(n);
  sweep::parallel_for(n, sweep::default_jobs(), nullptr, [&](std::size_t i) {
    rs[i] = sweep::resolve_point(*s, sweep::point_at(*s, i), files, limits, MASIM_VERSION_STRING);
  });
  double events = 0;
  for (std::size_t i = 0; i < n; ++i) {
    events += rs[i].estimated_events;
    if (rs[i].spec) continue;
    const std::string label = "point " + std::to_string(i) + " (" + sweep::describe(*s, sweep::point_at(*s, i)) + "): ";
    for (const io::Diagnostic& d : rs[i].problems) diags.error(d.file, d.pointer, label + d.message);
  }
  if (diags.size() != before) return;
  std::string sizes;
  for (const sweep::Axis& a : s->axes) sizes += (sizes.empty() ? "" : " x ") + a.name + " " + std::to_string(a.values.size());
  char est[64];
  std::snprintf(est, sizeof est, "%.2g", events);
  std::cout << path << ": ok, sweep \"" << s->name << "\": " << n << " points (" << sizes << "), base "
            << s->base_file << (s->base_pointer.empty() ? "" : s->base_pointer) << "; estimated ~" << est
            << " events over all points\n";
  for (const std::string& note : s->notes) std::cout << path << ": note: " << note << "\n";
}

int cmd_check(const std::vector<std::string>& paths, bool builtin, const LimitArgs& la, double max_points) {
  io::Diagnostics diags;
  const frontend::Limits limits = limits_of(la, diags);
  if (!diags.empty()) return report_bad_input(diags);
  // A scenario within the limits is ok; one past them is bad input, as masim run would say.
  const auto report = [&](const std::string& name, const frontend::CheckResult& r) {
    if (!r.ok) return;
    const std::size_t before = diags.size();
    if (r.estimate) frontend::check_limits(*r.estimate, limits, name, diags);
    if (diags.size() == before) std::cout << name << ": ok, " << r.summary << "\n";
    for (const std::string& w : r.warnings) std::cout << name << ": warning: " << w << "\n";
  };
  if (builtin) {
    const frontend::FileSource files(embedded_files());
    const frontend::CheckResult r = frontend::check_file(kDefaultScenario, diags, files);
    report(std::string(kDefaultScenario) + " (built in)", r);
  }
  for (const std::string& p : paths) {
    const PlanKind pk = plan_kind(p);
    if (pk == PlanKind::kSweep) {
      check_sweep_file(p, limits, max_points, diags);
      continue;
    }
    if (pk == PlanKind::kSearch) {
      if (const auto s = load_search_checked(p, diags, frontend::FileSource())) {
        std::cout << p << ": ok, search \"" << s->name << "\": "
                  << sweep::search_candidates(*s, frontend::FileSource()).size() << " candidates over "
                  << s->systems.size() << (s->systems.size() == 1 ? " system" : " systems") << ", base " << s->base_file
                  << "\n";
      }
      continue;
    }
    const frontend::CheckResult r = frontend::check_file(p, diags);
    report(p, r);
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
  std::string protocol = "auto";
  std::string against;  // a calibration profile with measured NCCL tables
  bool unfitted = false;  // ignore the topology's network_fit (NetworkParams defaults)
};

// The network parameters a topology's collectives run with, and its fit-range warnings on stderr.
network::NetworkParams topology_network_params(const topology::Topology& topo, bool unfitted) {
  if (unfitted) return {};
  for (const std::string& w : network::fit_range_warnings(topo)) std::cerr << "masim: warning: " << w << "\n";
  return network::apply_fit({}, topo.spec());
}

// A profile's measured NCCL tables as the network fit reads them.
std::vector<network::MeasuredCollective> measured_collectives(const profile::Profile& p, const std::string& path) {
  std::vector<network::MeasuredCollective> out;
  for (const profile::CollectiveTable& t : p.collectives) {
    network::MeasuredCollective m;
    m.name = t.name;
    m.ranks = t.ranks;
    m.source = path;
    for (std::size_t i = 0; i < t.bytes.size() && i < t.time_us.size(); ++i) {
      const bool ok = (i >= t.status.size() || t.status[i] == "ok") && t.time_us[i] > 0 && t.bytes[i] >= 1;
      if (!ok) continue;
      m.bytes.push_back(t.bytes[i]);
      m.time_us.push_back(t.time_us[i]);
    }
    out.push_back(std::move(m));
  }
  return out;
}

nlohmann::json residuals_json(const network::Residuals& r) {
  auto r3 = [](double v) { return std::round(v * 1e3) / 1e3; };
  return {{"points", r.points}, {"median_abs_pct", r3(r.median_abs_pct)}, {"p95_abs_pct", r3(r.p95_abs_pct)},
          {"bias_pct", r3(r.bias_pct)}};
}

struct FitArgs {
  std::string topology;
  std::vector<std::string> measured;
  std::string out;
};

// masim fit-network: the two fitted terms (sim/network/fit.hpp) from measured
// NCCL tables, their residuals before and after, and the "network_fit" object
// a topology carries to use them. Deterministic: same inputs, same bytes.
int cmd_fit_network(const FitArgs& a) {
  io::Diagnostics diags;
  auto doc = io::load_json_file(a.topology, diags);
  if (!doc) return report_bad_input(diags);
  auto spec = topology::parse_topology(*doc, a.topology, "", diags);
  if (!spec) return report_bad_input(diags);
  spec->network_fit.reset();   // fit from the defaults, whatever the file carries now
  auto topo = topology::Topology::build(*spec, a.topology, diags);
  if (!topo) return report_bad_input(diags);
  std::vector<network::MeasuredCollective> measured;
  std::string gpu;
  for (const std::string& m : a.measured) {
    auto p = profile::load_profile(m, diags);
    if (!p) continue;
    if (!spec->gpu_model.empty() && !profile::same_gpu_name(p->provenance.gpu_name, spec->gpu_model)) {
      diags.error(m, "/provenance/gpu_name",
                  "measured on \"" + p->provenance.gpu_name + "\", topology says \"" + spec->gpu_model + "\"");
    }
    if (p->collectives.empty()) diags.error(m, "/collectives", "no measured collective tables to fit");
    gpu = p->provenance.gpu_name;
    for (auto& c : measured_collectives(*p, m)) measured.push_back(std::move(c));
  }
  if (!diags.empty()) return report_bad_input(diags);
  const network::NetworkFit f = network::fit_network(*topo, measured);
  if (f.per_collective.empty()) {
    diags.error(a.measured.front(), "/collectives", "no table masim can compare (all one rank, send_recv or ma_exchange)");
    return report_bad_input(diags);
  }
  nlohmann::json kinds = nlohmann::json::array();
  for (spec::LinkKind k : f.fitted_link_kinds) kinds.push_back(spec::to_string(k));
  char lat[32];
  std::snprintf(lat, sizeof lat, "%.3f us", f.intra_node_call_latency.us());
  const std::string record = a.out.empty() ? std::string("") : a.out;
  nlohmann::json carried = {{"source", record},
                            {"nvlink_efficiency", f.nvlink_efficiency},
                            {"intra_node_call_latency", lat},
                            {"fitted_ranks", f.fitted_ranks},
                            {"fitted_nodes", f.fitted_nodes},
                            {"fitted_link_kinds", kinds}};
  nlohmann::json per = nlohmann::json::array();
  for (const network::CollectiveResiduals& c : f.per_collective) {
    per.push_back({{"collective", c.name}, {"ranks", c.ranks}, {"measured", c.source},
                   {"before", residuals_json(c.before)}, {"after", residuals_json(c.after)}});
  }
  nlohmann::json measured_files = a.measured;
  std::string cmd = "masim fit-network --topology " + a.topology;
  for (const std::string& m : a.measured) cmd += " " + m;
  if (!a.out.empty()) cmd += " -o " + a.out;
  nlohmann::json out = {
      {"schema", 1},
      {"kind", "masim-network-fit"},
      {"command", cmd},
      {"topology", a.topology},
      {"gpu", gpu},
      {"measured", measured_files},
      {"model", "nvlink_efficiency and intra_node_call_latency of network::NetworkParams fitted by least squares "
                "of the relative time error over every compared size (sim/network/fit.hpp); every other "
                "parameter at its default"},
      {"network_fit", carried},
      {"residuals", {{"before", residuals_json(f.before)}, {"after", residuals_json(f.after)}, {"per_collective", per}}}};
  std::printf("fitted on %s (%s): nvlink_efficiency %.3f (default 0.80), intra_node_call_latency %s (default 0)\n",
              a.topology.c_str(), gpu.c_str(), f.nvlink_efficiency, lat);
  std::printf("residuals over %d sizes: before median |error| %.1f%%, p95 %.1f%%, bias %+.1f%%; after median %.1f%%, "
              "p95 %.1f%%, bias %+.1f%%\n",
              f.after.points, f.before.median_abs_pct, f.before.p95_abs_pct, f.before.bias_pct, f.after.median_abs_pct,
              f.after.p95_abs_pct, f.after.bias_pct);
  for (const network::CollectiveResiduals& c : f.per_collective) {
    std::printf("  %-15s %d ranks  before %5.1f%% / %5.1f%%  after %5.1f%% / %5.1f%%  (%s)\n", c.name.c_str(), c.ranks,
                c.before.median_abs_pct, c.before.p95_abs_pct, c.after.median_abs_pct, c.after.p95_abs_pct,
                c.source.c_str());
  }
  std::cout << "carry it in the topology as \"network_fit\": " << carried.dump() << "\n";
  if (!a.out.empty()) {
    io::write_file_atomically(a.out, out.dump(2) + "\n");
    std::cout << "wrote " << a.out << "\n";
  }
  return kExitOk;
}

// masim's prediction against each measured collective table of a profile (the
// first `ranks` GPUs of the topology, nccl-tests' sizes): per size the measured
// and predicted time and busbw and the error, then the median and p95 of |error|
// per table and over all. Tables of one rank (no communication) and collectives
// masim has no name for (ma_exchange) are listed as not compared.
int compare_collectives(const topology::Topology& topo, const std::string& topo_name, const std::string& path,
                        const network::NetworkParams& params) {
  io::Diagnostics diags;
  auto prof = profile::load_profile(path, diags);
  if (!prof) return report_bad_input(diags);
  std::cout << "measured: " << path << " (" << prof->provenance.gpu_name << ", NCCL " << prof->provenance.nccl_version
            << "); predicted: topology \"" << topo_name << "\"; error = (masim - measured) / measured\n";
  std::vector<double> all;
  auto summary = [](const std::vector<double>& errors) {
    const profile::ErrorSummary e = profile::summarize(errors);
    std::ostringstream o;
    o << std::fixed << std::setprecision(1) << "median |error| " << e.median_abs_pct << "%, p95 " << e.p95_abs_pct
      << "% over " << e.points << " sizes";
    return o.str();
  };
  for (const profile::CollectiveTable& t : prof->collectives) {
    const auto kind = network::parse_collective_kind(t.name);
    if (t.ranks < 2 || !kind || *kind == network::CollectiveKind::kManyToMany ||
        *kind == network::CollectiveKind::kSendRecv) {
      std::cout << "\n" << t.name << " over " << t.ranks << " rank(s): not compared ("
                << (t.ranks < 2 ? "one rank moves no data between GPUs" : "no masim counterpart with the same pattern")
                << ")\n";
      continue;
    }
    if (t.ranks > topo.num_gpus()) {
      std::cout << "\n" << t.name << " over " << t.ranks << " ranks: not compared (the topology has "
                << topo.num_gpus() << " GPUs)\n";
      continue;
    }
    std::cout << "\n" << t.name << " over " << t.ranks << " ranks (" << t.launch << ")\n";
    std::cout << std::setw(14) << "size (B)" << std::setw(14) << "measured us" << std::setw(12) << "masim us"
              << std::setw(14) << "busbw meas." << std::setw(14) << "busbw masim" << std::setw(10) << "error"
              << "\n";
    const std::vector<int> ranks = network::first_ranks(t.ranks);
    std::vector<double> errs;
    for (std::size_t i = 0; i < t.bytes.size() && i < t.time_us.size(); ++i) {
      const bool ok = (i >= t.status.size() || t.status[i] == "ok") && t.time_us[i] > 0 && t.bytes[i] >= 1;
      if (!ok) continue;
      const network::NamedCollectiveResult nr =
          network::run_named_collective(topo, t.name, Bytes(static_cast<std::int64_t>(t.bytes[i])), ranks, "auto", "auto",
                                        params);
      if (!nr.result) continue;
      const double pred = nr.result->time.us();
      const double err = 100.0 * (pred - t.time_us[i]) / t.time_us[i];
      errs.push_back(err);
      all.push_back(err);
      const double busbw = i < t.busbw_gb_per_s.size() ? t.busbw_gb_per_s[i] : 0.0;
      std::cout << std::fixed << std::setw(14) << static_cast<std::int64_t>(t.bytes[i]) << std::setw(14)
                << std::setprecision(2) << t.time_us[i] << std::setw(12) << pred << std::setw(14) << busbw
                << std::setw(14) << nr.result->busbw_gb_per_s << std::setw(9) << std::setprecision(1) << err
                << "%\n";
    }
    if (!errs.empty()) std::cout << t.name << ": " << summary(errs) << "\n";
  }
  if (all.empty()) {
    std::cout << "\nno multi-GPU collective tables to compare\n";
  } else {
    std::cout << "\nall compared tables: " << summary(all) << "\n";
  }
  return kExitOk;
}

int cmd_collective(const CollectiveArgs& a) {
  io::Diagnostics diags;
  auto doc = [&]() -> std::optional<nlohmann::json> {
    const auto rr = frontend::FileSource().read(a.topology);
    if (rr.status != frontend::FileSource::Status::kOk) {
      diags.error(a.topology, "", rr.status == frontend::FileSource::Status::kNotFound ? "file not found"
                                                                                         : "cannot read file: " + rr.error);
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
    // A per-rank buffer past 1 PB is no GPU's (and near 9.2e18 B the byte
    // count would overflow int64): refused before it is converted.
    if (!(q.value <= kMaxCollectiveBytes)) {
      diags.error("--size", "", "expected at most 1 PB (1e15 B) per rank, found \"" + s + "\"");
      continue;
    }
    sizes.push_back(Bytes(static_cast<std::int64_t>(q.value)));
  }
  const auto kind = network::parse_collective_kind(a.op);
  if (!kind || *kind == network::CollectiveKind::kManyToMany) {
    std::vector<std::string> names = network::collective_kind_names();
    names.erase(std::remove(names.begin(), names.end(), "many_to_many"), names.end());
    std::string msg = "unknown collective \"" + a.op + "\"";
    const std::string near = io::nearest(a.op, names);
    if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
    msg += " (expected one of:";
    for (const auto& n : names) msg += " \"" + n + "\"";
    diags.error("--op", "", msg + ")");
  }
  if (!doc) return report_bad_input(diags);
  auto spec = topology::parse_topology(*doc, a.topology, "", diags);
  if (!spec) return report_bad_input(diags);
  auto topo = topology::Topology::build(*spec, a.topology, diags);
  if (!topo) return report_bad_input(diags);
  const network::NetworkParams params = topology_network_params(*topo, a.unfitted);
  if (!a.against.empty()) return compare_collectives(*topo, spec->name, a.against, params);
  const int n = a.gpus == 0 ? topo->num_gpus() : a.gpus;
  if (n < 1 || n > topo->num_gpus() || (kind == network::CollectiveKind::kSendRecv && n < 2)) {
    diags.error("--gpus", "", "expected a GPU count in [" + std::string(kind == network::CollectiveKind::kSendRecv ? "2" : "1") +
                                  ", " + std::to_string(topo->num_gpus()) + "] (topology \"" + spec->name +
                                  "\"), found " + std::to_string(n));
  }
  if (!diags.empty()) return report_bad_input(diags);

  // send_recv: from rank 0 to rank n-1 (the farthest of the first n); else ranks 0..n-1.
  const std::vector<int> ranks =
      *kind == network::CollectiveKind::kSendRecv ? std::vector<int>{0, n - 1} : network::first_ranks(n);
  std::cout << network::to_string(*kind) << " over " << (*kind == network::CollectiveKind::kSendRecv ? 2 : n)
            << " GPUs of topology \"" << spec->name << "\"; algbw = size / time, busbw = algbw x "
            << network::busbw_factor(*kind, static_cast<int>(ranks.size()))
            << " (nccl-tests doc/PERFORMANCE.md)\n";
  std::cout << std::setw(14) << "size (B)" << std::setw(14) << "time (us)" << std::setw(14) << "algbw (GB/s)"
            << std::setw(14) << "busbw (GB/s)" << std::setw(14) << "algorithm" << std::setw(10) << "protocol"
            << "\n";
  for (Bytes b : sizes) {
    const network::NamedCollectiveResult nr =
        network::run_named_collective(*topo, a.op, b, ranks, a.algorithm, a.protocol, params);
    if (!nr.result) {
      diags.error("--op", "", nr.error);
      return report_bad_input(diags);
    }
    const network::CollectiveResult& r = *nr.result;
    std::cout << std::fixed << std::setw(14) << b.count() << std::setw(14) << std::setprecision(2) << r.time.us()
              << std::setw(14) << r.algbw_gb_per_s << std::setw(14) << r.busbw_gb_per_s << std::setw(14)
              << network::to_string(r.algorithm) << std::setw(10) << network::to_string(r.protocol) << "\n";
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
  run->add_option("SCENARIO", ra.scenario, "Scenario file (docs/INPUTS.md)")->type_name("FILE");
  run->add_option("-o,--output", ra.out_dir, "Output directory (default: out/<scenario name>)")->type_name("DIR");
  run->add_option("--trace", ra.trace, "Also write a Perfetto/Chrome trace of one iteration to FILE")
      ->type_name("FILE");
  run->footer("Examples:\n  masim run\n  masim run scenarios/paper/seed_study.json -o out/seed --report\n"
              "  masim run scenarios/paper/sequence_length.json -o out/seq --trace out/seq/trace.json");
  run->add_flag("--report", ra.report,
                "Also write the run's report into DIR: report.md, csv/*.csv and a self-contained report.html");
  run->add_flag("--roofline", ra.roofline,
                "Price every op with the roofline (hardware file's efficiencies) even where the scenario names a "
                "calibration profile");
  add_limit_options(run, ra.limits);

  std::vector<std::string> check_files;
  CLI::App* check = app.add_subcommand(
      "check",
      "Validate input files of any kind (scenario, hardware, model, Hugging Face config.json, topology): "
      "every problem with its file and JSON Pointer, exit 2 if any. Nothing is simulated.");
  check->footer("Examples:\n  masim check scenarios/paper/*.json scenarios/models/deepseek-v3.config.json\n"
                "  masim check --builtin");
  bool check_builtin = false;
  check->add_option("FILE", check_files, "Files to check")->type_name("FILE...");
  check->add_flag("--builtin", check_builtin,
                  "Also check the built-in default scenario (what `masim run` runs without SCENARIO)");
  LimitArgs check_limits;
  add_limit_options(check, check_limits);
  double check_max_points = sweep::kDefaultMaxPoints;

  check->add_option("--max-points", check_max_points,
                    "Sweep files: refuse a sweep of more than N points (default 10000)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);

  SweepArgs sa;
  CLI::App* sw = app.add_subcommand(
      "sweep",
      "Run every point of a sweep file (a base scenario and axes; docs/INPUTS.md, \"Sweeps\") on all cores. "
      "Writes DIR/points.csv and DIR/points.jsonl (one row per point and layout, in point order, byte-identical "
      "for any -j); points stream to DIR/stream.csv and DIR/journal.jsonl as they finish. A point that is not a "
      "valid scenario, or a layout the simulator refuses, is a failed row with the reason.");
  sw->add_option("SWEEP", sa.file, "Sweep file")->required()->type_name("FILE");
  sw->add_option("-o,--output", sa.out_dir, "Output directory (default: out/<sweep name>)")->type_name("DIR");
  sw->add_option("-j,--jobs", sa.jobs, "Threads (default: the machine's hardware threads)")
      ->type_name("N")
      ->check(CLI::Range(1, 4096));
  sw->add_flag("--resume", sa.resume,
               "Continue an interrupted sweep: points whose resolved scenario is in DIR/journal.jsonl are not "
               "simulated again (without it the journal starts empty)");
  sw->add_option("--max-points", sa.max_points, "Refuse a sweep of more than N points (default 10000)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  sw->add_option("--interrupt-after", sa.interrupt_after,
                 "Testing: raise SIGINT after N points are simulated, as Ctrl-C would")
      ->group("");
  add_limit_options(sw, sa.limits);
  sw->footer("Examples:\n  masim sweep scenarios/sweeps/seed_sequence_length.json -o out/seq\n"
             "  masim sweep scenarios/sweeps/seed_scaling.json -j 2 --resume");

  std::string search_file, search_out;
  int search_jobs = 0;
  CLI::App* se = app.add_subcommand(
      "search",
      "Per layout kind, the configuration (TP/PP/EP degrees, MA Separation's split and TP degrees, replicas, "
      "micro-batches, load per GPU) with the highest tokens/s per GPU, and per dollar, that meets a TPOT SLO and "
      "fits in memory; why it wins (its binding resource, what stops more load) and how far the runner-up is "
      "(docs/INPUTS.md, \"Search\"). Writes DIR/search.json and DIR/search.csv (every candidate).");
  se->add_option("SEARCH", search_file, "Search file")->required()->type_name("FILE");
  se->add_option("-o,--output", search_out, "Output directory (default: out/<search name>)")->type_name("DIR");
  se->add_option("-j,--jobs", search_jobs, "Threads (default: the machine's hardware threads)")
      ->type_name("N")
      ->check(CLI::Range(1, 4096));
  se->footer("Example:\n  masim search scenarios/search/seed_search.json -o out/search");

  CollectiveArgs ca;
  CLI::App* coll = app.add_subcommand(
      "collective",
      "Simulate one collective alone on an idle topology and print time, algbw and busbw "
      "(nccl-tests' definitions).");
  coll->footer("Example:\n  masim collective --topology topologies/dgx-a100.json --op all_reduce --size \"256 MiB\" --gpus 8");
  coll->add_option("--topology", ca.topology, "Topology file (topologies/*.json)")->required()->type_name("FILE");
  coll->add_option("--op", ca.op,
                   "Collective: all_reduce, all_gather, reduce_scatter, broadcast, reduce, all_to_all, send_recv "
                   "(rank 0 to rank N-1)")
      ->capture_default_str();
  coll->add_option("--size", ca.sizes, "Per-rank buffer size(s) with a unit, e.g. \"256 MiB\" (repeatable)")
      ->capture_default_str();
  coll->add_option("--gpus", ca.gpus, "Number of GPUs (ranks 0..N-1; default: all of the topology)")->type_name("N");
  coll->add_option("--against", ca.against,
                   "Compare masim with a calibration profile's measured NCCL tables (masim-calibrate nccl), each "
                   "over the first N GPUs of the topology; --op, --size and --gpus are then not used")
      ->type_name("PROFILE");
  coll->add_flag("--unfitted", ca.unfitted,
                 "Ignore the topology's network_fit: NCCL's tuning-model defaults (network::NetworkParams)");
  coll->add_option("--algorithm", ca.algorithm, "Algorithm")
      ->check(CLI::IsMember({"auto", "ring", "tree", "pairwise", "hierarchical"}))
      ->capture_default_str();
  coll->add_option("--protocol", ca.protocol, "NCCL protocol")
      ->check(CLI::IsMember({"auto", "simple", "ll128", "ll"}))
      ->capture_default_str();

  FitArgs fa;
  CLI::App* fit = app.add_subcommand(
      "fit-network",
      "Fit the flow model's NVLink efficiency and per-call latency to measured NCCL tables (masim-calibrate nccl "
      "output), print the residuals before and after, and the \"network_fit\" object a topology carries to use them.");
  fit->footer("Example:\n  masim fit-network --topology topologies/hgx-h200.json calibrate/results/h200/nccl-x2/nccl2.json "
              "calibrate/results/h200/nccl-x2/nccl2-repeat.json -o calibrate/network/h200-nccl-x2.fit.json");
  fit->add_option("--topology", fa.topology, "Topology the measurements ran on (its ranks 0..N-1)")
      ->required()
      ->type_name("FILE");
  fit->add_option("MEASURED", fa.measured, "Files with measured collective tables")->required()->type_name("FILE...");
  fit->add_option("-o,--output", fa.out, "Write the fit's record (parameters, range, residuals) to FILE")->type_name("FILE");

  std::string report_results;
  std::string report_out;
  CLI::App* rep = app.add_subcommand(
      "report", "Write the report of a finished run (report.md, csv/*.csv, report.html) from its results.json.");
  bool report_paper = false;
  bool report_no_html = false;
  bool report_trace = false;
  rep->add_option("RESULTS", report_results, "results.json written by masim run")->type_name("FILE");
  rep->add_flag("--paper", report_paper,
                "Instead: the seed-study reproduction (runs scenarios/paper/; default -o reports/paper)");
  rep->add_flag("--no-html", report_no_html, "With --paper: Markdown and CSV only (no tools/web/node_modules needed)");
  rep->add_flag("--trace", report_trace, "With --paper: also write trace_seed_study.json (Perfetto)");
  bool report_roofline = false;
  rep->add_flag("--roofline", report_roofline,
                "With --paper: price every run with the roofline instead of the scenarios' profiles (the "
                "derived-profile section then shows the profile)");
  rep->add_option("-o,--output", report_out, "Output directory (default: the directory of RESULTS)")->type_name("DIR");

  if (auto code = io::parse_args(app, argc, argv)) return *code;
  if (*run) return cmd_run(ra);
  if (*check) {
    if (check_files.empty() && !check_builtin) {
      std::cerr << "masim check: give at least one FILE (or --builtin)\n" << check->help();
      return kExitBadInput;
    }
    return cmd_check(check_files, check_builtin, check_limits, check_max_points);
  }
  if (*sw) return cmd_sweep(sa);
  if (*se) return cmd_search(search_file, search_out, search_jobs);
  if (*coll) return cmd_collective(ca);
  if (*fit) return cmd_fit_network(fa);
  if (*rep) {
    if (report_paper) return cmd_report_paper(report_out, !report_no_html, report_trace, report_roofline);
    if (report_results.empty()) {
      std::cerr << "masim report: give RESULTS (a results.json) or --paper\n" << rep->help();
      return kExitBadInput;
    }
    return cmd_report(report_results, report_out);
  }
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
