// The round-trip property shared by the parser fuzz targets (fuzz_model,
// fuzz_hardware, fuzz_workload, fuzz_profile, fuzz_topology): an input the
// parser accepts has a resolved echo (what results.json writes) that parses
// back, without a diagnostic, to a spec whose echo is identical. Any input:
// no exception, and a spec iff no diagnostic.
//
//   fuzz::round_trip("model", text,
//       [](const nlohmann::json& j, io::Diagnostics& d) { return parse(j, d); },
//       [](const spec::ModelSpec& m) { return frontend::model_json(m); });
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "tests/robustness/fuzz_check.hpp"

namespace masim::fuzz {

// Parses `text` as JSON and then with `parse`; returns the spec when valid.
// `parse(json, diags)` -> std::optional<Spec>; `echo(spec)` -> nlohmann::json.
template <class Parse, class Echo>
auto round_trip(const char* what, const std::string& text, Parse parse, Echo echo)
    -> decltype(parse(std::declval<const nlohmann::json&>(), std::declval<io::Diagnostics&>())) {
  io::Diagnostics d;
  const std::optional<nlohmann::json> doc = io::parse_json_text(text, "fuzz.json", d);
  if (!doc) return std::nullopt;
  decltype(parse(*doc, d)) spec;
  no_throw(what, [&] { spec = parse(*doc, d); });
  require(spec.has_value() == d.empty(), "a spec and diagnostics disagree");
  if (!spec) return spec;
  nlohmann::json first;
  no_throw("echo", [&] { first = echo(*spec); });
  // Through text, as results.json is read back.
  io::Diagnostics d2;
  const std::optional<nlohmann::json> again = io::parse_json_text(first.dump(), "echo.json", d2);
  require(again.has_value(), "the echo is not valid JSON");
  decltype(parse(*again, d2)) spec2;
  no_throw(what, [&] { spec2 = parse(*again, d2); });
  if (!spec2 || !d2.empty()) {
    std::fprintf(stderr, "fuzz: the echo of a valid %s does not parse back:\n%s\necho: %s\n", what,
                 d2.format().c_str(), first.dump().c_str());
    std::abort();
  }
  const nlohmann::json second = echo(*spec2);
  if (second != first) {
    std::fprintf(stderr, "fuzz: the %s's echo changed in a round trip:\nfirst:  %s\nsecond: %s\n", what,
                 first.dump().c_str(), second.dump().c_str());
    std::abort();
  }
  return spec;
}

}  // namespace masim::fuzz
