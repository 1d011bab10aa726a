// libFuzzer target for the hardware parser (frontend::parse_hardware) with the
// round-trip property (fuzz_roundtrip.hpp): a valid GPU's echo parses back to
// the same GPU. Build and run: scripts/fuzz.sh 60 hardware (docs/RELIABILITY.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/frontend/echo.hpp"
#include "sim/frontend/parse.hpp"
#include "sim/frontend/source_map.hpp"
#include "tests/robustness/fuzz_roundtrip.hpp"

using namespace masim;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::round_trip(
      "hardware", text,
      [](const nlohmann::json& j, io::Diagnostics& d) {
        frontend::SourceMap where;
        const frontend::ParseContext ctx{"fuzz.json", "", d, where};
        return frontend::parse_hardware(j, ctx, frontend::SchemaRule::kOptional, "fuzz");
      },
      [](const spec::HardwareSpec& h) { return frontend::hardware_json(h); });
  return 0;
}
