// libFuzzer target for sweep files (sweep::parse_sweep, what `masim sweep` and
// `masim check` read): arbitrary bytes as a sweep file at
// "scenarios/sweeps/fuzz.json", so a base it names resolves like a shipped
// sweep's (through io::read_regular_file, which refuses special files).
// Properties: no exception; a sweep iff no diagnostic; a point count past 64
// gets the --max-points diagnostic and no points are built; otherwise every
// point builds (sweep::point_at) with one label per axis and its index, and a
// point whose values could all be set is a scenario document that
// frontend::parse_scenario judges without an exception (valid or with
// diagnostics, never both). Build and run: scripts/fuzz.sh 60 sweep
// (docs/RELIABILITY.md).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/files.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/sweep/sweep_spec.hpp"
#include "tests/robustness/fuzz_check.hpp"

using namespace masim;

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string file = "scenarios/sweeps/fuzz.json";
  io::Diagnostics d;
  const std::optional<nlohmann::json> doc = io::parse_json_text(text, file, d);
  if (!doc) return 0;
  const frontend::FileSource files;
  std::optional<sweep::SweepSpec> s;
  fuzz::no_throw("parse_sweep", [&] { s = sweep::parse_sweep(*doc, file, d, files); });
  fuzz::require(s.has_value() == d.empty(), "parse_sweep: a sweep and diagnostics disagree");
  if (!s) return 0;
  const double n = s->point_count();
  fuzz::require(n >= 0.0, "a negative point count");
  io::Diagnostics limit;
  fuzz::no_throw("check_point_count", [&] { sweep::check_point_count(*s, 64, "--max-points", limit); });
  fuzz::require(limit.empty() == (n <= 64), "the point limit and the point count disagree");
  if (!limit.empty()) return 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    fuzz::no_throw("point_at", [&] {
      const sweep::Point p = sweep::point_at(*s, i);
      fuzz::require(p.index == i && p.labels.size() == s->axes.size(), "a point without its index or labels");
      if (!p.error.empty() || i >= 4) return;   // scenario validation of the first points only (cost)
      io::Diagnostics pd;
      const auto sc = frontend::parse_scenario(p.doc, s->base_file, pd, files);
      fuzz::require(sc.has_value() == pd.empty(), "parse_scenario on a point: a scenario and diagnostics disagree");
    });
  }
  return 0;
}
