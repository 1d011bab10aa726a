#include "sim/report/trace.hpp"

#include <map>

#include "sim/io/file_io.hpp"

namespace masim::report {

using nlohmann::json;

json chrome_trace(const json& results) {
  json events = json::array();
  const json empty = json::array();
  const json& layouts = results.contains("layouts") ? results["layouts"] : empty;
  for (std::size_t li = 0; li < layouts.size(); ++li) {
    const json& l = layouts[li];
    const int pid = static_cast<int>(li) + 1;
    events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", 0}, {"name", "process_name"},
                      {"args", {{"name", l.value("name", "layout " + std::to_string(li))}}}});
    events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", 0}, {"name", "process_sort_index"},
                      {"args", {{"sort_index", pid}}}});
    if (!l.contains("timeline") || !l["timeline"].is_array()) continue;
    // Thread names, once per (gpu, stream), in tid order (std::map: deterministic).
    std::map<int, std::string> threads;
    for (const json& e : l["timeline"]) {
      const int gpu = e.value("gpu", 0);
      const bool comm = e.value("stream", "compute") == "comm";
      const int tid = 2 * gpu + (comm ? 1 : 0);
      threads.emplace(tid, "GPU " + std::to_string(gpu) + (comm ? " comm" : " compute"));
    }
    for (const auto& [tid, name] : threads) {
      events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", tid}, {"name", "thread_name"},
                        {"args", {{"name", name}}}});
      events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", tid}, {"name", "thread_sort_index"},
                        {"args", {{"sort_index", tid}}}});
    }
    for (const json& e : l["timeline"]) {
      const int gpu = e.value("gpu", 0);
      const bool comm = e.value("stream", "compute") == "comm";
      json args = {{"layer", e.value("layer", -1)}, {"micro_batch", e.value("micro_batch", 0)}};
      events.push_back({{"ph", "X"},
                        {"pid", pid},
                        {"tid", 2 * gpu + (comm ? 1 : 0)},
                        {"name", e.value("name", "?")},
                        {"cat", e.value("cat", "")},
                        {"ts", e.value("start_us", 0.0)},
                        {"dur", e.value("dur_us", 0.0)},
                        {"args", args}});
    }
  }
  json trace;
  trace["traceEvents"] = events;
  trace["displayTimeUnit"] = "ns";
  trace["otherData"] = {{"generator", "masim " + results.value("masim_version", std::string("?"))},
                        {"scenario", results.value("scenario_name", std::string("?"))}};
  return trace;
}

std::string chrome_trace_text(const json& results) { return chrome_trace(results).dump() + '\n'; }

void write_chrome_trace(const json& results, const std::string& path) {
  io::write_file_atomically(path, chrome_trace_text(results));
}

}  // namespace masim::report
