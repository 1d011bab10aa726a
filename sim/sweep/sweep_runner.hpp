// `masim sweep`: run every point of a sweep on a pool of threads, stream each
// finished point to the journal (JSON Lines) and a CSV as it finishes, and
// write the final, ordered outputs atomically at the end.
//
// Files in the output directory DIR:
//   points.csv, points.jsonl   the final outputs, in point order, written
//                              together (io::StagedFiles) once every point is
//                              done: byte-identical for any --jobs, fresh or resumed;
//   journal.jsonl              one line per simulated point as it finishes
//                              (completion order): {"hash", "record"}; the key of
//                              --resume, kept after the sweep ends;
//   stream.csv                 the same points as CSV rows, in completion
//                              order, for watching a sweep run (removed at the end).
// Over several MPI ranks, rank r > 0 writes journal.r.jsonl and stream.r.csv;
// --resume reads every rank's journal, whatever the number of ranks now.
// An interrupted sweep (SIGINT, SIGTERM) finishes the points in flight, keeps
// the journal and returns with `interrupted` set; with `resume`, points whose
// resolved scenario's hash is in the journal are not simulated again.
//
//   SweepOptions o;  o.out_dir = "out/seq";  o.jobs = 2;
//   SweepSummary r = run_sweep(spec, o, frontend::FileSource{});
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/frontend/estimate.hpp"
#include "sim/frontend/files.hpp"
#include "sim/sweep/sweep_spec.hpp"

namespace masim::sweep {

// The processes of a distributed sweep (MPI ranks, sim/sweep/mpi_ranks.hpp);
// the default is one process. Rank r takes the points i with i mod size = r,
// each on its own thread pool; rank 0 gathers every record and writes the
// final files, so they are the same bytes as one process writes.
class Ranks {
 public:
  virtual ~Ranks() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  // Collective. At rank 0: every rank's text, in rank order; elsewhere: empty.
  virtual std::vector<std::string> gather(const std::string& text) { return {text}; }
  // Collective: the sum over the ranks, at every rank.
  virtual std::uint64_t sum(std::uint64_t v) { return v; }
};

struct SweepOptions {
  std::string out_dir;
  int jobs = 1;
  bool resume = false;
  frontend::Limits limits;           // per point (frontend::check_limits)
  std::string version = "0.0.0";     // part of every point's hash
  std::ostream* progress = nullptr;  // progress lines or bar (stderr)
  bool progress_bar = false;         // a terminal: one bar redrawn with \r; else plain lines
  // Tests: after this many points simulated in this run, raise SIGINT as a
  // user's Ctrl-C would (0 = never).
  std::size_t interrupt_after = 0;
  Ranks* ranks = nullptr;            // nullptr: one process
};

struct SweepSummary {
  std::size_t points = 0;
  std::size_t simulated = 0;   // simulated in this run
  std::size_t resumed = 0;     // taken from the journal
  std::size_t invalid = 0;     // not valid scenarios
  std::size_t refused = 0;     // past the limits
  std::size_t failed = 0;      // valid points with at least one failed layout
  std::size_t done = 0;        // points with a record (all of them unless interrupted)
  int rank = 0;                // this process's rank; only rank 0 writes the final files
  bool interrupted = false;
  std::vector<std::string> problems;  // "point 3 (tp=3): file:/ptr: message", one per problem of a point that did not run fully
  std::vector<std::string> files;     // written, in order
};

SweepSummary run_sweep(const SweepSpec& s, const SweepOptions& o, const frontend::FileSource& files);

// The output paths under `dir` (for the CLI's check that none is an input).
std::vector<std::string> sweep_output_paths(const std::string& dir);

// The CSV of records (with "point" and "axes" set), one row per layout (a
// point with no layout row, an invalid one, gets one row): header, then rows.
std::string csv_header(const SweepSpec& s);
std::string csv_rows(const SweepSpec& s, const nlohmann::json& record);

}  // namespace masim::sweep
