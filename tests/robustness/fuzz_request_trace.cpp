// libFuzzer target for the request-trace CSV reader (frontend::parse_request_trace,
// masim's arrival_s,prompt_tokens,output_tokens and the Azure traces'
// TIMESTAMP,ContextTokens,GeneratedTokens). Properties, for any bytes: no
// exception; requests iff no diagnostic; every diagnostic names the file and a
// line; an accepted trace is in arrival order from 0 with finite times and
// tokens in [1, 2^24] (the reader's cap); and it round-trips: written back as masim's own CSV
// (times with 17 significant digits) it parses to the same requests. Build and
// run: scripts/fuzz.sh 60 request_trace (docs/RELIABILITY.md).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/frontend/parse.hpp"
#include "sim/io/diagnostics.hpp"
#include "tests/robustness/fuzz_check.hpp"

using namespace masim;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

namespace {

std::string as_csv(const std::vector<spec::TraceRequest>& rs) {
  std::string out = "arrival_s,prompt_tokens,output_tokens\n";
  char buf[96];
  for (const spec::TraceRequest& q : rs) {
    std::snprintf(buf, sizeof buf, "%.17g,%lld,%lld\n", q.arrival_s, static_cast<long long>(q.prompt_tokens),
                  static_cast<long long>(q.output_tokens));
    out += buf;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  io::Diagnostics d;
  std::vector<spec::TraceRequest> rs;
  fuzz::no_throw("parse_request_trace", [&] { rs = frontend::parse_request_trace(text, "trace.csv", d); });
  fuzz::require(rs.empty() != d.empty(), "parse_request_trace: requests and diagnostics disagree");
  if (!d.empty()) {
    fuzz::require(d.format().find("trace.csv:") != std::string::npos, "a trace diagnostic without its file");
    return 0;
  }
  double last = 0.0;
  for (const spec::TraceRequest& q : rs) {
    fuzz::require(std::isfinite(q.arrival_s) && q.arrival_s >= last, "arrivals not finite and in order");
    fuzz::require(q.prompt_tokens >= 1 && q.output_tokens >= 1, "a request with no tokens");
    fuzz::require(q.prompt_tokens <= (std::int64_t{1} << 24) && q.output_tokens <= (std::int64_t{1} << 24),
                  "a request past the token cap");
    last = q.arrival_s;
  }
  fuzz::require(rs.front().arrival_s == 0.0, "arrivals not relative to the first request");
  io::Diagnostics d2;
  std::vector<spec::TraceRequest> again;
  fuzz::no_throw("parse_request_trace (round trip)",
                 [&] { again = frontend::parse_request_trace(as_csv(rs), "again.csv", d2); });
  if (!d2.empty() || again.size() != rs.size()) {
    std::fprintf(stderr, "fuzz: an accepted trace written back does not parse:\n%s\n", d2.format().c_str());
    std::abort();
  }
  for (std::size_t i = 0; i < rs.size(); ++i) {
    // Relative times are re-based on a first arrival of 0, so they come back exactly.
    fuzz::require(again[i].arrival_s == rs[i].arrival_s && again[i].prompt_tokens == rs[i].prompt_tokens &&
                      again[i].output_tokens == rs[i].output_tokens,
                  "a trace changed in a round trip");
  }
  return 0;
}
