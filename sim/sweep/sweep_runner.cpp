#include "sim/sweep/sweep_runner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>

#include "sim/io/diagnostics.hpp"
#include "sim/io/file_io.hpp"
#include "sim/sweep/point_runner.hpp"
#include "sim/sweep/pool.hpp"

namespace masim::sweep {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Set by SIGINT/SIGTERM while a sweep runs. A signal handler can reach nothing
// else: this flag is the one piece of process-wide state, and only the sweep
// driver reads it (workers take no new point once it is set).
std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted.store(true); }

// Installs the handler for the life of a sweep; a second signal (the handler
// is reset after the first, SA_RESETHAND) ends the process at once.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// An append-only file written one whole line per write(2): a reader (or a
// resumed sweep) sees complete lines, and a line cut by a crash is skipped.
class LineFile {
 public:
  LineFile(const std::string& path, bool truncate) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
    if (fd_ < 0) throw io::EnvironmentError("cannot open " + path + ": " + std::strerror(errno));
  }
  ~LineFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;
  void write(const std::string& text) {
    std::size_t off = 0;
    while (off < text.size()) {
      const ssize_t w = ::write(fd_, text.data() + off, text.size() - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw io::EnvironmentError("cannot write " + path_ + ": " + std::strerror(errno));
      }
      off += static_cast<std::size_t>(w);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string cell(const json& row, const std::string& key) {
  if (!row.contains(key)) return "";
  const json& v = row[key];
  if (v.is_string()) return csv_field(v.get<std::string>());
  if (v.is_null()) return "";
  return v.dump();
}

std::map<std::string, json> load_journal(const std::string& path, std::size_t& skipped) {
  std::map<std::string, json> out;
  const io::FileRead f = io::read_regular_file(path);
  if (f.status == io::ReadStatus::kNotFound) return out;
  if (!f.ok()) throw io::EnvironmentError("cannot read the journal " + path + ": " + f.error);
  std::istringstream in(f.text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("hash") || !j["hash"].is_string() || !j.contains("record") ||
        !j["record"].is_object()) {
      ++skipped;  // a line cut short by a kill mid-write, or not ours
      continue;
    }
    out[j["hash"].get<std::string>()] = j["record"];
  }
  return out;
}

std::string seconds(double s) {
  char b[32];
  if (s < 100) {
    std::snprintf(b, sizeof b, "%.1f s", s);
  } else {
    std::snprintf(b, sizeof b, "%.0f min %02.0f s", std::floor(s / 60), std::fmod(s, 60));
  }
  return b;
}

// Every rank's journal under `dir`: journal.jsonl and journal.<r>.jsonl, sorted.
std::vector<std::string> journal_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n == "journal.jsonl" || (n.rfind("journal.", 0) == 0 && n.size() > 14 && n.substr(n.size() - 6) == ".jsonl")) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string rank_file(const std::string& dir, const char* stem, const char* ext, int rank) {
  return (fs::path(dir) / (std::string(stem) + (rank == 0 ? "" : "." + std::to_string(rank)) + ext)).string();
}

}  // namespace

std::vector<std::string> sweep_output_paths(const std::string& dir) {
  return {(fs::path(dir) / "points.csv").string(), (fs::path(dir) / "points.jsonl").string(),
          (fs::path(dir) / "journal.jsonl").string(), (fs::path(dir) / "stream.csv").string()};
}

std::string csv_header(const SweepSpec& s) {
  std::string h = "point";
  for (const Axis& a : s.axes) h += "," + csv_field(a.name);
  h += ",layout,kind,gpus,status";
  for (const std::string& c : metric_columns()) h += "," + c;
  return h + ",estimated_events,hash,error\n";
}

std::string csv_rows(const SweepSpec& s, const json& rec) {
  std::string prefix = std::to_string(rec.value("point", 0));
  for (const Axis& a : s.axes) prefix += "," + csv_field(rec["axes"].value(a.name, std::string()));
  const std::string suffix = "," + cell(rec, "estimated_events") + "," + cell(rec, "hash");
  std::string out;
  const json empty = json::array();
  const json& ls = rec.contains("layouts") ? rec["layouts"] : empty;
  if (ls.empty()) {
    std::string err;
    if (rec.contains("errors") && !rec["errors"].empty()) {
      err = rec["errors"][0].get<std::string>();
      if (rec["errors"].size() > 1) err += " (" + std::to_string(rec["errors"].size() - 1) + " more)";
    }
    out += prefix + ",,,," + cell(rec, "status");
    for (std::size_t i = 0; i < metric_columns().size(); ++i) out += ",";
    return out + suffix + "," + csv_field(err) + "\n";
  }
  for (const json& l : ls) {
    out += prefix + "," + cell(l, "name") + "," + cell(l, "kind") + "," + cell(l, "gpus") + "," + cell(l, "status");
    for (const std::string& c : metric_columns()) out += "," + cell(l, c);
    out += suffix + "," + cell(l, "error") + "\n";
  }
  return out;
}

SweepSummary run_sweep(const SweepSpec& s, const SweepOptions& o, const frontend::FileSource& files) {
  SweepSummary sum;
  const double count = s.point_count();
  const std::size_t n = static_cast<std::size_t>(count);
  sum.points = n;
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec || !fs::is_directory(o.out_dir, ec)) {
    throw io::EnvironmentError("cannot create output directory " + o.out_dir + (ec ? ": " + ec.message() : ""));
  }
  Ranks one;
  Ranks& ranks = o.ranks != nullptr ? *o.ranks : one;
  const int rank = ranks.rank();
  const int size = ranks.size();
  sum.rank = rank;
  const std::vector<std::string> paths = sweep_output_paths(o.out_dir);
  const std::string journal_path = rank_file(o.out_dir, "journal", ".jsonl", rank);
  const std::string stream_path = rank_file(o.out_dir, "stream", ".csv", rank);
  std::size_t skipped = 0;
  std::map<std::string, json> journal;
  if (o.resume) {
    for (const std::string& f : journal_files(o.out_dir)) journal.merge(load_journal(f, skipped));
  }
  if (o.progress != nullptr && o.resume) {
    *o.progress << "sweep: resuming from " << (fs::path(o.out_dir) / "journal*.jsonl").string() << " ("
                << journal.size() << " simulated points"
                << (skipped > 0 ? ", " + std::to_string(skipped) + " incomplete lines ignored" : std::string()) << ")\n";
  }
  // A fresh sweep starts with an empty journal: rank 0 also removes the
  // journals of ranks that this run does not have (a larger earlier run).
  if (!o.resume && rank == 0) {
    for (const std::string& f : journal_files(o.out_dir)) {
      if (f != journal_path) {
        const std::string base = fs::path(f).filename().string();
        const int r = std::atoi(base.substr(8).c_str());
        if (r >= size || r <= 0) fs::remove(f, ec);
      }
    }
  }
  LineFile journal_out(journal_path, !o.resume);
  LineFile stream(stream_path, true);
  stream.write(csv_header(s));

  // This rank's points: i mod size = rank.
  std::vector<std::size_t> mine;
  for (std::size_t i = static_cast<std::size_t>(rank); i < n; i += static_cast<std::size_t>(size)) mine.push_back(i);
  const std::size_t n_mine = mine.size();

  std::vector<json> records(n);
  std::vector<char> have(n, 0);
  std::mutex mu;
  std::size_t simulated = 0, done = 0, not_ok = 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_draw = start - std::chrono::seconds(1);
  std::size_t last_line_step = 0;
  std::size_t last_line_done = static_cast<std::size_t>(-1);

  auto progress = [&](bool final_draw) {
    if (o.progress == nullptr) return;
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::size_t remaining = n_mine - done;
    const std::string eta = simulated > 0 && remaining > 0
                                ? ", ETA " + seconds(el / static_cast<double>(simulated) * static_cast<double>(remaining))
                                : std::string();
    const std::string text = std::to_string(done) + "/" + std::to_string(n_mine) + " points" +
                             (size > 1 ? " of rank " + std::to_string(rank) + "/" + std::to_string(size) : std::string()) +
                             ", " + std::to_string(not_ok) +
                             " not ok, " + seconds(el) + eta;
    if (o.progress_bar) {
      const auto now = std::chrono::steady_clock::now();
      if (!final_draw && now - last_draw < std::chrono::milliseconds(100)) return;
      last_draw = now;
      const int width = 30;
      const int fill = n_mine == 0 ? width : static_cast<int>(static_cast<double>(done) / static_cast<double>(n_mine) * width);
      *o.progress << "\r[" << std::string(static_cast<std::size_t>(fill), '#')
                  << std::string(static_cast<std::size_t>(width - fill), '.') << "] " << text << "\x1b[K"
                  << (final_draw ? "\n" : "") << std::flush;
    } else {
      // Plain lines (a log, a pipe): one per 5% and the last.
      const std::size_t step = n_mine == 0 ? 20 : done * 20 / n_mine;
      if (step == last_line_step && (!final_draw || last_line_done == done)) return;
      last_line_step = step;
      last_line_done = done;
      *o.progress << "sweep: " << text << "\n" << std::flush;
    }
  };

  {
    InterruptGuard guard;
    parallel_for(n_mine, o.jobs, &g_interrupted, [&](std::size_t k) {
      const std::size_t i = mine[k];
      const Point p = point_at(s, i);
      const Resolved r = resolve_point(s, p, files, o.limits, o.version);
      json rec;
      bool fresh = false;
      if (!r.spec) {
        rec["status"] = r.status;
        rec["errors"] = r.errors;
        rec["layouts"] = json::array();
      } else if (const auto it = journal.find(r.hash); it != journal.end()) {
        rec = it->second;
      } else {
        rec = simulate_point(*r.spec);
        fresh = true;
      }
      if (!r.hash.empty()) rec["hash"] = r.hash;
      if (r.estimated_events > 0) rec["estimated_events"] = r.estimated_events;
      const std::string journal_line = fresh ? json{{"hash", r.hash}, {"record", rec}}.dump() + "\n" : std::string();
      rec["point"] = i;
      json axes = json::object();
      for (std::size_t a = 0; a < s.axes.size(); ++a) axes[s.axes[a].name] = p.labels[a];
      rec["axes"] = std::move(axes);
      std::lock_guard<std::mutex> lock(mu);
      if (fresh) journal_out.write(journal_line);
      stream.write(csv_rows(s, rec));
      if (rec["status"] != "ok") ++not_ok;
      records[i] = std::move(rec);
      have[i] = 1;
      ++done;
      if (fresh) ++simulated;
      if (!fresh && r.spec) ++sum.resumed;
      progress(false);
      if (fresh && o.interrupt_after > 0 && simulated == o.interrupt_after) std::raise(SIGINT);
    });
    sum.interrupted = g_interrupted.load();
  }
  progress(true);
  // Every rank learns whether any was interrupted, so that all stop (or all
  // gather) together; the counts are over every rank.
  sum.interrupted = ranks.sum(sum.interrupted ? 1 : 0) > 0;
  sum.simulated = ranks.sum(simulated);
  sum.resumed = ranks.sum(sum.resumed);
  sum.done = ranks.sum(done);
  if (size > 1 && !sum.interrupted) {
    std::string mine_text;
    for (const std::size_t i : mine) mine_text += records[i].dump() + "\n";
    const std::vector<std::string> all = ranks.gather(mine_text);
    if (rank != 0) return sum;
    for (int r = 1; r < size; ++r) {
      std::istringstream in(all[static_cast<std::size_t>(r)]);
      std::string line;
      while (std::getline(in, line)) {
        json rec = json::parse(line);
        const std::size_t i = rec["point"].get<std::size_t>();
        records[i] = std::move(rec);
        have[i] = 1;
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!have[i]) continue;
    const json& rec = records[i];
    const std::string st = rec["status"].get<std::string>();
    if (st == "ok") continue;
    if (st == "invalid") ++sum.invalid;
    if (st == "refused") ++sum.refused;
    if (st == "failed" || st == "partial") ++sum.failed;
    std::string labels;
    for (const Axis& a : s.axes) labels += (labels.empty() ? "" : ", ") + a.name + "=" + rec["axes"][a.name].get<std::string>();
    for (const json& e : rec["errors"]) sum.problems.push_back("point " + std::to_string(i) + " (" + labels + "): " + e.get<std::string>());
  }
  if (sum.interrupted) return sum;

  std::string csv = csv_header(s);
  std::string jsonl;
  for (const json& rec : records) {
    csv += csv_rows(s, rec);
    jsonl += rec.dump() + "\n";
  }
  io::StagedFiles out;
  out.add(paths[0], csv);
  out.add(paths[1], jsonl);
  sum.files = out.commit();
  for (int r = 0; r < size; ++r) fs::remove(rank_file(o.out_dir, "stream", ".csv", r), ec);
  return sum;
}

}  // namespace masim::sweep
