// The paper report's "Robustness and fault tolerance" section (sim/report/
// paper_robustness.cpp): the study's fault-tolerance claims (reference.json,
// faults.*) beside the run timeline of scenarios/paper/faults.json.
//
//   add_robustness_section(doc, reference, runner(load("scenarios/paper/faults.json")));
#pragma once

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"
#include "sim/report/reference.hpp"

namespace masim::report {

// `results`: a results.json of faults.json with its "run_timeline"; without
// one the section says it was not simulated.
void add_robustness_section(Document& d, const Reference& ref, const nlohmann::json& results);

}  // namespace masim::report
