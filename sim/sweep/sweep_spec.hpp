// A sweep file: a base scenario and axes whose cartesian product are the
// points to simulate (docs/INPUTS.md, "Sweeps"). Parsing is strict like the
// scenario's: unknown keys name the nearest valid key, every problem is
// reported at once with file and JSON Pointer.
//
// An axis sets one or more values of the base scenario's JSON document, named
// by JSON Pointer (RFC 6901), optionally relative to one layout picked by name:
//
//   {"name": "context", "pointer": "/workload/context_length", "values": [512, 1024]}
//   {"name": "attn_tp", "layout": "MA Separation", "pointer": "/ma/attention_tp", "values": [1, 2, 4]}
//   {"name": "split", "zip": [{"layout": "MA Separation", "pointer": "/ma/attention_gpus", "values": [[0,1],[0,1,2]]},
//                             {"layout": "MA Separation", "pointer": "/ma/expert_gpus", "values": [[2,3],[3]]}],
//    "labels": ["2:2", "3:1"]}
//   {"name": "gpus", "variants": [{"label": "8", "set": {"/workload/batch": 192, "/layouts": [...]}}, ...]}
//   {"name": "variant", "variants": [{"label": "as chosen"},
//                                    {"label": "MA TP=4", "description": "2 attention replicas of TP=4",
//                                     "layout_set": {"MA Separation": {"/ma/attention_tp": 4}}},
//                                    {"label": "8 experts", "set": {"/model/num_experts": 8}}]}
//
// A pointer below a file reference of the base ("/model/num_experts" where the
// base's "model" is a path) inlines that file into the base first, so a sweep
// can vary a model, hardware or topology value without copying the file. A
// sweep's optional "layouts" (names) keeps only those layouts of the base.
//
// A point is one choice per axis; points are numbered with the last axis
// varying fastest. point_at() builds a point's scenario document (the base
// with the point's values set in axis order); frontend::parse_scenario then
// validates it like any scenario.
//
//   io::Diagnostics d;
//   auto s = load_sweep("scenarios/sweeps/seed_sequence_length.json", d, {});
//   Point p = point_at(*s, 3);    // p.doc: a scenario document; p.labels: one per axis
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/frontend/files.hpp"
#include "sim/io/diagnostics.hpp"

namespace masim::sweep {

// One value written into the base scenario.
struct Assignment {
  std::string pointer;   // absolute, in the base scenario's document
  nlohmann::json value;
  std::string source;    // JSON Pointer of this value in the sweep file (for messages)
};

struct AxisValue {
  std::string label;     // the CSV cell: the value itself, or a variant's label
  std::string description;  // a variant's "description" ("" otherwise)
  std::vector<Assignment> sets;  // empty for a variant that keeps the base as it is
};

struct Axis {
  std::string name;
  std::string reason;    // why these values (optional "reason"; reports show it)
  std::string source;    // JSON Pointer of the axis in the sweep file
  std::vector<AxisValue> values;
};

struct SweepSpec {
  std::string file;         // the sweep file
  std::string name;
  std::string description;
  // The base scenario: its document, the file its references resolve against
  // (the base file, or the sweep file when the base is inline) and, inline, the
  // pointer of the base inside the sweep file ("/base").
  nlohmann::json base;
  std::string base_file;
  std::string base_pointer;
  std::vector<std::string> notes;  // what the sweep leaves out ("serving blocks are not run")
  std::vector<Axis> axes;
  // Product of the axes' sizes; a double because a hostile file may exceed 2^64.
  double point_count() const;
};

struct Point {
  std::size_t index = 0;
  std::vector<std::string> labels;        // one per axis
  std::vector<std::string> descriptions;  // one per axis: the variant's "description", or empty
  std::vector<const Assignment*> sets;    // in the order applied
  nlohmann::json doc;                     // the point's scenario document
  std::string error;                      // non-empty: a value could not be set (the pointer's parent is missing)
};

// The columns every row of points.csv has besides one per axis (in order:
// "point", the axes, then these); an axis may not take one of these names.
const std::vector<std::string>& fixed_columns();
// Of those, the metrics of a layout row (point_runner.hpp's layout_row keys).
const std::vector<std::string>& metric_columns();

// True for a document that is a sweep (it has "axes").
bool is_sweep(const nlohmann::json& doc);

std::optional<SweepSpec> parse_sweep(const nlohmann::json& doc, const std::string& file, io::Diagnostics& diags,
                                     const frontend::FileSource& files);
std::optional<SweepSpec> load_sweep(const std::string& path, io::Diagnostics& diags,
                                    const frontend::FileSource& files);

// The default of `masim sweep --max-points`.
inline constexpr double kDefaultMaxPoints = 10000;
// A diagnostic at FILE:/axes when the sweep has more points than `max_points`:
// the count, the axes' sizes and the option that raises the limit.
void check_point_count(const SweepSpec& s, double max_points, const std::string& option, io::Diagnostics& diags);

// Point `index` (< point_count()): mixed radix, the last axis fastest.
Point point_at(const SweepSpec& s, std::size_t index);

// "context=512, tp=4" for messages.
std::string describe(const SweepSpec& s, const Point& p);

}  // namespace masim::sweep
