// libFuzzer target for the topology parser and builder (what `masim collective
// --topology` and every scenario's "topology" run): arbitrary bytes through
// io::parse_json_text, topology::parse_topology and Topology::build. Never an
// exception; a built topology only when no diagnostic was recorded; and the
// round-trip property (fuzz_roundtrip.hpp): a valid topology's explicit echo
// (frontend::topology_json, what results.json holds) parses back to the same
// topology. Build and run: scripts/fuzz.sh (docs/RELIABILITY.md).
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

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  io::Diagnostics d;
  const std::optional<nlohmann::json> doc = io::parse_json_text(text, "fuzz.json", d);
  if (!doc) return 0;
  fuzz::no_throw("topology", [&] {
    const auto spec = topology::parse_topology(*doc, "fuzz.json", "", d);
    fuzz::require(spec.has_value() == d.empty(), "parse_topology: a spec and diagnostics disagree");
    if (!spec) return;
    const auto topo = topology::Topology::build(*spec, "fuzz.json", d);
    fuzz::require(topo.has_value() == d.empty(), "Topology::build: a topology and diagnostics disagree");
    if (topo) fuzz::require(topo->num_gpus() >= 1, "Topology::build: a topology without GPUs");
  });
  fuzz::round_trip(
      "topology", text,
      [](const nlohmann::json& j, io::Diagnostics& diags) { return topology::parse_topology(j, "fuzz.json", "", diags); },
      [](const spec::TopologySpec& t) { return frontend::topology_json(t); });
  return 0;
}
