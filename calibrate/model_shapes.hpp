// Off-grid shapes from real models' decode steps: the second holdout of a
// calibration run. Random shapes in a table's box (run.cpp's holdout) stress the
// fit everywhere; these are the shapes masim actually prices. For each model and
// draw, a batch (8..256) and a context (512..4096) are drawn log-uniformly, one
// decoder layer's ops are built as masim builds them (sim/workload/layer_ops.hpp,
// one GPU, routing sampled uniformly by the scenario's router), and each op is
// mapped to its profile table and coordinates (sim/profile/op_map.hpp).
//
//   io::Diagnostics d;
//   auto models = load_models({"calibrate/validation/qwen3-30b-a3b.json"}, d);
//   std::vector<ModelShape> s = model_shapes(models, /*draws=*/8, /*seed=*/4);
//   s[0].table == "rmsnorm", s[0].source == "qwen3-30b-a3b b=37 c=1811 input_norm"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/io/diagnostics.hpp"
#include "sim/spec/spec.hpp"

namespace masim::calibrate {

struct NamedModel {
  std::string name;         // the scenario file's stem
  spec::ModelSpec model;
  spec::RoutingSpec routing;
};

struct ModelShape {
  std::string table;
  std::vector<double> x;    // the table's axis order
  std::string source;       // "<model> b=<batch> c=<context> <op>"
};

// Loads the scenarios' models (problems go to `diags`; failed files are skipped).
std::vector<NamedModel> load_models(const std::vector<std::string>& scenario_files, io::Diagnostics& diags);

// One layer's priced ops per draw (a MoE layer, and a dense layer where the model
// has one), deduplicated by (table, x) in draw order. Deterministic in `seed`.
std::vector<ModelShape> model_shapes(const std::vector<NamedModel>& models, int draws, std::uint64_t seed);

// The shape as the benches run it: every coordinate a whole number >= 1 (a
// grouped GEMM's mean rows per group, 2.31, runs as 2 rows).
std::vector<double> measured_shape(std::vector<double> x);

// Is `x` a point of `grid` (every axis value on its list)?
bool on_grid(const std::vector<std::vector<double>>& grid, const std::vector<double>& x);

// The holdout of one table: the shapes of `table` among `all`, as the benches
// run them (measured_shape), without grid points of `grid` and without repeats,
// in draw order.
std::vector<ModelShape> off_grid_shapes(const std::vector<ModelShape>& all, const std::string& table,
                                        const std::vector<std::vector<double>>& grid);

// The validation scenarios shipped in calibrate/validation (paths relative to the
// repository root).
std::vector<std::string> default_model_scenarios();

}  // namespace masim::calibrate
