// Loading a scenario: the scenario file, the files it references (hardware,
// topology, model or Hugging Face config, each a path relative to the file that
// names it, or an object inlined in place), every parser, the topology graph's
// structural rules (Topology::build, reported in the topology's own file), then
// cross-field validation. Either a complete, valid ScenarioSpec comes back or nothing does
// and `diags` holds every problem found (file, JSON Pointer, expected vs found).
//
//   io::Diagnostics d;
//   auto s = load_scenario("scenarios/paper/seed_study.json", d, FileSource{});
//   if (!s) { std::cerr << d.format(); return 2; }
//
// check_file() is `masim check`: it recognizes the kind of any input file and
// also builds the topology graph (Topology::build's structural checks).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "sim/frontend/estimate.hpp"
#include "sim/frontend/files.hpp"
#include "sim/frontend/source_map.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/spec/spec.hpp"

namespace masim::frontend {

std::optional<spec::ScenarioSpec> load_scenario(const std::string& path, io::Diagnostics& diags,
                                                const FileSource& files = FileSource{});
// `doc` was read from `file` (references resolve against it). `where`, when
// given, receives the location of every value.
std::optional<spec::ScenarioSpec> parse_scenario(const nlohmann::json& doc, const std::string& file,
                                                 io::Diagnostics& diags, const FileSource& files = FileSource{},
                                                 SourceMap* where = nullptr);

enum class FileKind { kScenario, kHardware, kModel, kHfConfig, kTopology, kUnknown };
const char* to_string(FileKind k);
// By its keys: "model_type" -> HF config; "layouts" or "workload" -> scenario;
// "peak_flops" or "hbm_bandwidth" -> hardware; "num_layers" or "hidden_size" ->
// model; "generator", "vertices" or "links" -> topology.
FileKind detect_kind(const nlohmann::json& doc);

struct CheckResult {
  bool ok = false;
  FileKind kind = FileKind::kUnknown;
  std::string summary;  // one line for a valid file: what it is
  // A valid scenario: its work and memory (estimate.hpp); the caller holds it
  // against its limits (check_limits), as `masim check` does.
  std::optional<WorkEstimate> estimate;
  std::vector<std::string> warnings;  // valid, but worth knowing (a derived profile and its measured error)
};
// Parses and validates one input file of any kind; problems go to `diags`.
CheckResult check_file(const std::string& path, io::Diagnostics& diags, const FileSource& files = FileSource{});

}  // namespace masim::frontend
