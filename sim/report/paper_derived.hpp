// The paper report's "Kernel costs from the derived A100 profile" section
// (sim/report/paper_derived.cpp): the seed study's scenario priced by
// calibrate/profiles/a100-sxm4-80gb.derived.json (what every scenario of
// scenarios/paper/ names) beside the same scenario on the roofline, every
// headline number (TPOT, tokens/s) with the interval of the derivation's error
// measured on an H100 (calibrate/results/h100/derivation-error.json, carried by
// the profile and written by `masim run` as results.json's metrics_band and
// verdict_band), and whether the MA-vs-baseline verdict survives that band.
//
//   add_derived_profile_section(doc, seed_results_on_the_profile, runner(seed_spec_on_the_roofline));
#pragma once

#include <nlohmann/json.hpp>

#include "sim/report/document.hpp"

namespace masim::report {

// `derived`: results.json of the seed study priced by the derived profile (with
// cost_band); `roofline`: the same scenario on the roofline. `report_on_profile`:
// the report's own runs are the derived ones (the default), else the roofline ones.
void add_derived_profile_section(Document& d, const nlohmann::json& derived, const nlohmann::json& roofline,
                                 bool report_on_profile = true);

// One line for the headline: the verdict on the derived profile and whether it
// survives the band; empty when `derived` has no verdict_band.
std::string derived_profile_headline(const nlohmann::json& derived);

}  // namespace masim::report
