// Layout planners: turn (model, workload, layout) into a task Program, one per
// layout, for the executor to replay. Exposed for tests, which inspect plans.
//
// Rank order of grid layouts (TP, PP, TP×PP, EP) is Megatron-LM's default
// "tp-dp-pp" (initialize_model_parallel): the inner group (TP or EP ranks) varies
// fastest, then the data-parallel replica, then the pipeline stage:
//   gpu(d, s, r) = gpus[s · (dp · inner) + d · inner + r].
// With TP=8, PP=2 on two 8-GPU nodes, stage 0 is node 0 and stage 1 is node 1.
//
// Pipeline layer split: L layers over p stages, the first (L mod p) stages take
// ceil(L/p) layers, the others floor(L/p) (the last stage also runs the final
// norm and LM head, so it never gets the extra layer unless every stage does).
//
// Every choice each planner makes is stated in docs/METRICS.md ("Layouts").
//
//   Plan plan = build_plan(scenario, /*layout=*/0, roofline, topo.num_gpus());
//   Executor(plan.program, engine, net).run();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/layouts/executor.hpp"
#include "sim/layouts/results.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/spec/spec.hpp"
#include "sim/workload/routing.hpp"

namespace masim::layouts {

// What one GPU holds and keeps in flight, for the memory model.
struct GpuFootprint {
  double param_count = 0.0;        // parameters held (fractions for TP shards)
  double expert_param_count = 0.0; // of which routed experts (for EP/MA gradient sync)
  double embedding_param_count = 0.0;  // of which the input-embedding table (a step reads only a few rows)
  std::int64_t kv_sequences = 0;   // sequences whose KV cache it holds
  int kv_layers = 0;               // layers whose KV cache it holds
  int kv_heads = 0;                // KV heads held per layer (after TP sharding)
  std::int64_t kv_context = 0;     // tokens cached per sequence
  double activation_bytes = 0.0;   // inference: live intermediates; training: stored for backward
  double comm_staging_bytes = 0.0; // largest send + receive staging of one token exchange / hand-off
  int comm_peers = 0;              // distinct point-to-point peers (token exchange, send/recv)
  int communicators = 0;           // distinct rank sets of its ring/tree collectives
  bool standby = false;            // MA hot-standby attention replica (holds state, no work)
  bool used = false;               // part of this layout
};

struct Plan {
  Program program;
  std::vector<int> gpus;                      // global ranks of the layout, in layout order
  std::vector<TaskId> step_done;              // per step: a marker after every final task
  std::vector<double> model_flops;            // per step: FLOPs of one unsharded copy of the work
  std::vector<double> model_tensor_flops;     // per step: the tensor-core part of model_flops (MFU numerator)
  std::vector<double> tokens;                 // per step: tokens produced/processed (see METRICS.md)
  std::vector<GpuFootprint> footprint;        // indexed by global rank
  std::vector<workload::RoutingSample> routing;  // per (step, MoE layer), assignments cleared
  Parallelism parallelism;
  std::string router_location;
  std::string layer_split;
  int steps = 0;

  Plan(const models::ComputeCostModel& cost, int num_gpus, const models::EnergyModel* energy)
      : program(cost, num_gpus, energy) {}
};

// Builds the plan of layout `index` of `s`. Throws io::InputError (pointer
// /layouts/<index>) for a layout the planner cannot realize on `num_gpus` GPUs.
// `energy` (optional, must outlive the plan) prices each op's power activity.
Plan build_plan(const spec::ScenarioSpec& s, int index, const models::ComputeCostModel& cost,
                int num_gpus, const models::EnergyModel* energy = nullptr);

// Plans `layout` (in place of s.layouts[index]) with the model, workload and
// seed of `s`: "plan this layout on these GPUs". Its `gpus` (grid layouts) or
// ma.attention_gpus / ma.expert_gpus (MA Separation) name the GPUs to use, for
// instance the survivors of a failure. `index` only names /layouts/<index> in
// diagnostics. The overload above is this one with s.layouts[index].
//
//   spec::LayoutSpec survivors = scenario.layouts[0];
//   survivors.gpus = {8, 9, 10, 11, 12, 13, 14, 15};
//   Plan plan = build_plan(scenario, survivors, /*index=*/0, roofline, topo.num_gpus());
Plan build_plan(const spec::ScenarioSpec& s, const spec::LayoutSpec& layout, int index,
                const models::ComputeCostModel& cost, int num_gpus, const models::EnergyModel* energy = nullptr);

}  // namespace masim::layouts
