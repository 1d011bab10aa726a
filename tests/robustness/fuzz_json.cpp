// libFuzzer target for io::parse_json_text, the reader under every input file:
// arbitrary bytes must give either a document and no diagnostic, or no document
// and diagnostics (each naming the file and saying something); never an
// exception. A document it accepts is the one nlohmann::json parses itself (its
// only extra rules are no duplicate keys and no NUL byte). Build and run:
// scripts/fuzz.sh (docs/RELIABILITY.md).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "tests/robustness/fuzz_check.hpp"

using namespace masim;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  io::Diagnostics d;
  std::optional<nlohmann::json> doc;
  fuzz::no_throw("parse_json_text", [&] { doc = io::parse_json_text(text, "fuzz.json", d); });
  fuzz::require(doc.has_value() == d.empty(), "parse_json_text: a document and diagnostics disagree");
  for (const io::Diagnostic& x : d.items()) {
    fuzz::require(x.file == "fuzz.json" && !x.message.empty(), "parse_json_text: a diagnostic without file or message");
  }
  // Comparing recurses: only for documents of modest size (nesting bounded by it).
  if (doc && size <= 4096) {
    const nlohmann::json plain = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    fuzz::require(!plain.is_discarded() && plain == *doc, "parse_json_text accepted what nlohmann::json reads differently");
  }
  return 0;
}
