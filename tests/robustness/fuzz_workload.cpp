// libFuzzer target for a scenario's "workload" object (frontend::parse_workload),
// routing and its recorded trace above all, with the round-trip property
// (fuzz_roundtrip.hpp); a valid workload's routing is then sampled
// (workload::ExpertRouter over as many experts as the trace has counts, or 8):
// any trace the parser accepts must route without an internal error (issue 20:
// counts whose sum overflowed to infinity aborted the router). Build and run:
// scripts/fuzz.sh 60 workload (docs/RELIABILITY.md).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/common/rng.hpp"
#include "sim/frontend/echo.hpp"
#include "sim/frontend/parse.hpp"
#include "sim/frontend/source_map.hpp"
#include "sim/workload/routing.hpp"
#include "tests/robustness/fuzz_roundtrip.hpp"

using namespace masim;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto w = fuzz::round_trip(
      "workload", text,
      [](const nlohmann::json& j, io::Diagnostics& d) {
        frontend::SourceMap where;
        const frontend::ParseContext ctx{"fuzz.json", "/workload", d, where};
        return frontend::parse_workload(j, ctx);
      },
      [](const spec::WorkloadSpec& x) { return frontend::workload_json(x); });
  if (!w) return 0;
  const spec::RoutingSpec& r = w->routing;
  const int experts = r.trace.empty() ? 8 : static_cast<int>(std::min<std::size_t>(r.trace.size(), 1 << 16));
  if (!r.trace.empty() && r.trace.size() != static_cast<std::size_t>(experts)) return 0;
  fuzz::no_throw("router", [&] {
    workload::ExpertRouter router(r, experts, std::min(2, experts), Rng(1));
    const workload::RoutingSample s = router.sample(64);
    std::int64_t routed = s.dropped;
    for (std::int64_t n : s.tokens_per_expert) routed += n;
    fuzz::require(routed <= 64 * std::min(2, experts), "router: more token-slots than tokens x k");
  });
  return 0;
}
