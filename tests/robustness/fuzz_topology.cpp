// libFuzzer target for the topology parser and builder (what `masim collective
// --topology` and every scenario's "topology" run): arbitrary bytes through
// io::parse_json_text, topology::parse_topology and Topology::build. Never an
// exception; a built topology only when no diagnostic was recorded; and the
// round-trip property (fuzz_roundtrip.hpp): a valid topology's explicit echo
// (frontend::topology_json, what results.json holds) parses back to the same
// topology. Topologies past kMaxFuzzVertices vertices (generated ones of more
// than about 1,000 GPUs) are parsed but neither built nor round-tripped: their
// code paths are the small ones' at a larger count, and building 4,000 GPUs takes
// 30 s under ASan, which libFuzzer reports as a hang; the shipped large
// topologies are built by tests/topology and tests/bench instead. Build and run:
// scripts/fuzz.sh (docs/RELIABILITY.md).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/topology/topology.hpp"
#include "sim/frontend/echo.hpp"
#include "tests/robustness/fuzz_check.hpp"
#include "tests/robustness/fuzz_roundtrip.hpp"

using namespace masim;

namespace {
constexpr std::size_t kMaxFuzzVertices = 2'000;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  io::Diagnostics d;
  const std::optional<nlohmann::json> doc = io::parse_json_text(text, "fuzz.json", d);
  if (!doc) return 0;
  bool big = false;
  fuzz::no_throw("topology", [&] {
    const auto spec = topology::parse_topology(*doc, "fuzz.json", "", d);
    fuzz::require(spec.has_value() == d.empty(), "parse_topology: a spec and diagnostics disagree");
    if (!spec) return;
    if (spec->vertices.size() > kMaxFuzzVertices) {
      big = true;
      return;
    }
    const auto topo = topology::Topology::build(*spec, "fuzz.json", d);
    fuzz::require(topo.has_value() == d.empty(), "Topology::build: a topology and diagnostics disagree");
    if (topo) fuzz::require(topo->num_gpus() >= 1, "Topology::build: a topology without GPUs");
  });
  if (big) return 0;
  fuzz::round_trip(
      "topology", text,
      [](const nlohmann::json& j, io::Diagnostics& diags) { return topology::parse_topology(j, "fuzz.json", "", diags); },
      [](const spec::TopologySpec& t) { return frontend::topology_json(t); });
  return 0;
}
