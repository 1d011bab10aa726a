// libFuzzer target for the calibration-profile parser (profile::parse_profile,
// what a scenario's "profile" and `masim collective --against` read) with the
// round-trip property (fuzz_roundtrip.hpp): a valid profile's text
// (profile::to_json_text, what masim-calibrate writes) parses back to the same
// profile. Build and run: scripts/fuzz.sh 60 profile (docs/RELIABILITY.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/profile/profile.hpp"
#include "tests/robustness/fuzz_roundtrip.hpp"

using namespace masim;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::round_trip(
      "profile", text,
      [](const nlohmann::json& j, io::Diagnostics& d) { return profile::parse_profile(j, "fuzz.json", d); },
      [](const profile::Profile& p) { return nlohmann::json::parse(profile::to_json_text(p)); });
  return 0;
}
