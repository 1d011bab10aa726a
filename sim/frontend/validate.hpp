// Cross-field validation of a scenario: rules that relate values of different
// objects or files (a layout against the model, the topology and the workload).
// Every rule that can be judged from the parts that parsed is checked, and every
// problem is reported at the place the user wrote the value, with what was
// expected and what was found. The rules are listed in docs/INPUTS.md; each has
// a file in tests/bad_inputs/.
//
//   ScenarioParts p{...};
//   validate_scenario(p, where, diags);   // appends to diags
#pragma once

#include <optional>
#include <vector>

#include "sim/frontend/source_map.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/spec/spec.hpp"

namespace masim::frontend {

// The pieces of a scenario; a part that did not parse is nullopt and the rules
// that need it are skipped (its own problems were already reported).
struct ScenarioParts {
  std::optional<spec::HardwareSpec> hardware;
  std::optional<spec::TopologySpec> topology;
  std::optional<spec::ModelSpec> model;
  std::optional<spec::WorkloadSpec> workload;
  std::vector<std::optional<spec::LayoutSpec>> layouts;
};

void validate_scenario(const ScenarioParts& p, const SourceMap& where, io::Diagnostics& diags);

// Sequences of the global batch that one replica of `l` serves: the
// data-parallel degree the batch must divide (tp, pp, tp_pp: dp; ep: ep·dp;
// ma_separation: attention groups = attention GPUs / (attention_tp · replicas);
// 0 when that does not divide, a problem reported on its own).
int data_parallel_degree(const spec::LayoutSpec& l);

}  // namespace masim::frontend
