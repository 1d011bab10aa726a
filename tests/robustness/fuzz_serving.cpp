// libFuzzer target for a scenario's "serving" object (frontend::parse_serving),
// with the round-trip property (fuzz_roundtrip.hpp). A trace it names is looked
// up next to "scenario.json": the embedded "traces/t.csv" below (any other name is
// not found, or read from disk through io::read_regular_file, which refuses
// special files). A valid block's requests are then drawn
// (serving::make_requests, up to 20,000 of them): one per requested arrival or
// trace line, ids in order, arrivals finite and non-decreasing, lengths within
// the block's bounds. Build and run: scripts/fuzz.sh 60 serving
// (docs/RELIABILITY.md).
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/frontend/echo.hpp"
#include "sim/frontend/files.hpp"
#include "sim/frontend/parse.hpp"
#include "sim/frontend/source_map.hpp"
#include "sim/serving/traffic.hpp"
#include "tests/robustness/fuzz_roundtrip.hpp"

using namespace masim;

namespace {

constexpr std::array<frontend::EmbeddedFile, 1> kFiles{{
    {"traces/t.csv",
     "arrival_s,prompt_tokens,output_tokens\n0,1543,133\n0.027,1327,62\n0.027,12,1\n0.5,4000,900\n"},
}};

bool within(const spec::LengthDist& l, std::int64_t n) {
  if (l.kind == spec::LengthKind::kFixed) return n == l.value;
  return n >= l.min && n <= l.max;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const frontend::FileSource files{std::span<const frontend::EmbeddedFile>(kFiles)};
  const auto s = fuzz::round_trip(
      "serving", text,
      [&](const nlohmann::json& j, io::Diagnostics& d) {
        frontend::SourceMap where;
        const frontend::ParseContext ctx{"scenario.json", "/serving", d, where};
        return frontend::parse_serving(j, ctx, files);
      },
      [](const spec::ServingSpec& x) { return frontend::serving_json(x); });
  if (!s) return 0;
  const bool trace = !s->trace.empty();
  const std::int64_t expected = trace ? static_cast<std::int64_t>(s->trace.size()) : s->requests;
  if (expected > 20'000) return 0;
  fuzz::no_throw("make_requests", [&] {
    const std::vector<serving::Request> rs = serving::make_requests(*s);
    fuzz::require(static_cast<std::int64_t>(rs.size()) == expected, "make_requests: not one request per arrival");
    double last = 0.0;
    for (std::size_t i = 0; i < rs.size(); ++i) {
      const serving::Request& q = rs[i];
      fuzz::require(q.id == static_cast<std::int64_t>(i), "make_requests: ids out of order");
      fuzz::require(std::isfinite(q.arrival_s) && q.arrival_s >= last, "make_requests: arrivals not in order");
      fuzz::require(q.prompt >= 1 && q.output >= 1, "make_requests: a request with no tokens");
      if (!trace) {
        fuzz::require(within(s->prompt, q.prompt) && within(s->output, q.output),
                      "make_requests: a length outside its bounds");
      }
      last = q.arrival_s;
    }
  });
  return 0;
}
