// Perfetto / Chrome trace export of a run's timeline (the "timeline" array of
// each layout in results.json, docs/RESULTS.md).
//
// Trace Event Format (Chrome's JSON trace, which ui.perfetto.dev and
// chrome://tracing open): one process per layout (pid = layout index + 1, named
// after the layout), one thread per GPU stream (tid = 2·gpu for compute,
// 2·gpu + 1 for communication), one complete event ("ph": "X") per busy
// interval with ts and dur in microseconds; layer and micro-batch in args.
//
//   nlohmann::json results = ...;                       // results.json
//   write_chrome_trace(results, "out/trace.json");      // open in ui.perfetto.dev
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace masim::report {

// The trace of every layout in `results` that has a timeline. Layouts without
// one get a process with no events (their name still shows).
nlohmann::json chrome_trace(const nlohmann::json& results);

// chrome_trace(results) as the text write_chrome_trace writes (one line).
std::string chrome_trace_text(const nlohmann::json& results);

// Writes chrome_trace(results) to `path` atomically (io::write_file_atomically).
// Throws io::EnvironmentError if it cannot write.
void write_chrome_trace(const nlohmann::json& results, const std::string& path);

}  // namespace masim::report
