// The scenario variants the paper report derives in code from the scenarios of
// scenarios/paper/ (sim/report/paper_sweeps.cpp): the scaling sweep's layouts
// at N GPUs (the `sweep.layout_rule.*` choices of scalability.json) and the
// sensitivity variants of seed_study.json, plus small layout builders.
// TODO(issue 17): these rules belong in scenario / sweep files (the sweep-file
// format of `masim sweep`, built on another branch), so that what the report
// says and what ran cannot drift.
//
//   for (const SensitivityVariant& v : sensitivity_variants()) { auto s = pair; v.apply(s); run(s); }
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "sim/spec/spec.hpp"

namespace masim::report {

struct SensitivityVariant {
  std::string name;
  std::string what;
  std::function<void(spec::ScenarioSpec&)> apply;
};

spec::LayoutSpec make_tp(int tp, int dp, const std::string& name);
spec::LayoutSpec make_pp(int dp, int micro, const std::string& name);
spec::LayoutSpec make_tp_pp(int tp, int dp, int micro, const std::string& name);
spec::LayoutSpec make_ma(int attention, int experts, int attention_tp, int micro, const std::string& name);
// Keeps only the layouts of the given kinds (in the scenario's order).
spec::ScenarioSpec only_kinds(spec::ScenarioSpec s, const std::set<std::string>& kinds);
spec::LayoutSpec* layout_of_kind(spec::ScenarioSpec& s, spec::LayoutKind k);

// Layouts of the scaling sweep at N GPUs (the sweep.layout_rule.* choices).
std::vector<spec::LayoutSpec> scaling_layouts(int n, int experts);
// The rows of the sensitivity table: one changed choice of seed_study.json each.
std::vector<SensitivityVariant> sensitivity_variants();

}  // namespace masim::report
