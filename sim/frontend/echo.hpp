// The fully resolved inputs of a scenario as JSON, for results.json ("scenario").
//
// Everything is inline (no file references) and every default is written out,
// so the echo says exactly what was simulated. Quantities are unit strings in
// the input format ("2039 GB/s", "312 TFLOP/s", "80 GB", "4 us", "400 W"), each
// chosen so that it parses back to the identical value: the echo is itself a
// valid scenario, and parse_scenario(resolved_json(s)) echoes byte-identically.
// Object keys are sorted (nlohmann::json's std::map), so the output is
// deterministic. The topology is written in its explicit form (vertices and
// links), whatever form the input used.
//
//   nlohmann::json j = resolved_json(scenario);
//   j["hardware"]["hbm_bandwidth"];   // "2039 GB/s"
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "sim/common/units.hpp"
#include "sim/io/quantity.hpp"
#include "sim/spec/spec.hpp"

namespace masim::frontend {

nlohmann::json resolved_json(const spec::ScenarioSpec& s);

nlohmann::json hardware_json(const spec::HardwareSpec& h);
nlohmann::json topology_json(const spec::TopologySpec& t);
nlohmann::json model_json(const spec::ModelSpec& m);
nlohmann::json workload_json(const spec::WorkloadSpec& w);
nlohmann::json layout_json(const spec::LayoutSpec& l);
nlohmann::json timeline_json(const spec::TimelineSpec& t);
nlohmann::json serving_json(const spec::ServingSpec& s);

// `value` (in the dimension's base unit) with the largest unit that keeps it
// readable and exact: format_quantity(6e11, kBandwidth) == "600 GB/s", and
// parse_quantity(result) gives back exactly `value`.
std::string format_quantity(double value, io::Dimension dim);
// As above for a time; parsing the result gives back exactly `t` in picoseconds.
std::string format_time(SimTime t);

}  // namespace masim::frontend
