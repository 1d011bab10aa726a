// libFuzzer target for the model parsers: masim-native (frontend::parse_model)
// and Hugging Face config.json (frontend::import_hf_config, chosen by
// "model_type"), with the round-trip property (fuzz_roundtrip.hpp): a valid
// model's native echo parses back to the same model. Build and run:
// scripts/fuzz.sh 60 model (docs/RELIABILITY.md).
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
      "model", text,
      [](const nlohmann::json& j, io::Diagnostics& d) {
        frontend::SourceMap where;
        const frontend::ParseContext ctx{"fuzz.json", "", d, where};
        return frontend::is_hf_config(j) ? frontend::import_hf_config(j, ctx, "fuzz")
                                         : frontend::parse_model(j, ctx, frontend::SchemaRule::kOptional, "fuzz");
      },
      [](const spec::ModelSpec& m) { return frontend::model_json(m); });
  return 0;
}
