// Shared core of the layout planners (private to sim/layouts): the Builder
// that turns one layout into a Plan. Its member functions live in four files,
// one per concern, so that each layout family reads on its own:
//   plan_builder.cpp    setup, routing samples, op blocks, task and collective
//                       emission, gradient sync, memory footprint (all layouts)
//   token_exchange.cpp  an attention side and an expert side exchanging tokens
//                       (Disagg): the EP stages of grid layouts and MA Separation
//   grid_planner.cpp    TP, PP, TP×PP and EP (build_grid)
//   ma_planner.cpp      MA Separation (build_ma)
// Only planner.cpp (build_plan) and those files include this header.
//
//   planning::Builder b(scenario, scenario.layouts[0], /*index=*/0, cost, num_gpus, energy);
//   Plan plan = b.build();
//
// Common to all layouts (docs/METRICS.md, "Layouts", lists the same choices for users):
//  * Tokens: decode runs 1 token per sequence per step against a KV cache of
//    context_length (held constant: a steady-state step); prefill runs the whole
//    prompt (context_length tokens per sequence) once per step; training runs
//    context_length tokens per sequence forward and backward per step.
//  * Routing: each MoE layer keeps one expert popularity for the whole run (drawn
//    once per layer from the routing spec: a layer's hot experts stay hot, as in
//    a trained model) and samples every token's top-k experts per step from it.
//    Every layout of a scenario sees the same samples (streams seeded by the
//    scenario seed and the layer index only). Token i of a step is token
//    (i mod q) of sequence i / q, q the tokens per sequence.
//  * Sequences split into contiguous balanced ranges (the first size mod n parts
//    one larger): over data-parallel replicas, then micro-batches, then attention
//    groups, then TP ranks (for token slices).
//  * Every compute task is a run of ops priced by the ComputeCostModel; every
//    transfer is a collective through network::Network. Collectives carry the
//    full tensor size as nccl-tests' "size" (all-reduce, reduce-scatter,
//    all-gather of tokens × hidden × dtype bytes).
//  * The embedding gather runs where layer 0's attention runs, the final norm and
//    LM head where the last layer's output ends up; the LM head is vocab-sharded
//    over the TP ranks (Megatron-LM's vocab-parallel head). The tiny logit
//    reductions (argmax / cross-entropy partials) are not simulated; each rank's
//    next step waits for every rank's LM head.
//  * Training: backward via workload::backward_of in reverse op order; per
//    micro-batch Megatron-style 1F1B order on each pipeline stage; gradients
//    all-reduced per layer across data-parallel peers as soon as the layer's last
//    backward finishes (overlapping the backward of earlier layers); optimizer
//    step as one memory-bound pass per GPU after its last gradient reduction.
//    With recompute, each block's input is kept and the block's forward ops are
//    re-run locally just before its backward (no communication is repeated).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/layouts/planner.hpp"
#include "sim/models/model_params.hpp"
#include "sim/workload/layer_ops.hpp"

namespace masim::layouts::planning {

using models::Op;
using Frontier = std::vector<TaskId>;

struct Range {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
};

// Part i of n balanced contiguous parts of r (the first r.size() mod n parts one larger).
inline Range split(Range r, std::int64_t n, std::int64_t i) {
  const std::int64_t q = r.size() / n;
  const std::int64_t rem = r.size() % n;
  const std::int64_t b = r.begin + i * q + std::min(i, rem);
  return {b, b + q + (i < rem ? 1 : 0)};
}

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::vector<Op> mark_replicated(std::vector<Op> ops, bool rep);
void append(std::vector<Op>& to, const std::vector<Op>& from);
// Backward of a forward op sequence: workload::backward_of in reverse op order.
std::vector<Op> backward_ops(const std::vector<Op>& fwd);
// Throws io::InputError for layout `index` (pointer /layouts/<index>[/key]).
[[noreturn]] void fail(const spec::ScenarioSpec& s, int index, const std::string& key, const std::string& msg);

// An attention side and an expert side exchanging tokens (EP: the same GPUs;
// MA Separation: two groups).
struct Disagg {
  std::vector<std::vector<int>> att;      // active attention groups, atp GPUs each
  std::vector<std::vector<int>> standby;  // hot-standby replica groups (memory only)
  std::vector<std::vector<int>> shards;   // expert shards, etp GPUs each
  int atp = 1;
  int etp = 1;
  std::vector<int> senders;               // att flattened: index d·atp + j
  std::vector<int> receivers;             // shards flattened: index sh·etp + x
  // [layer][expert] -> shards holding a copy; [layer][shard] -> experts held (one per copy)
  std::vector<std::vector<std::vector<int>>> copies;
  std::vector<std::vector<std::vector<int>>> held;
  bool ma = false;                        // tags ma_dispatch/ma_combine vs ep_alltoall
};

// Per (attention group, micro-batch) progress through the layers.
struct Flow {
  Frontier front;                         // per attention rank
  TaskId pending = kNoTask;               // combine (forward) or expert-grad return (backward)
  int pending_layer = -1;
};

// A unit of pipeline work: forward or backward of one wave of micro-batches.
struct Unit {
  bool fwd = true;
  int wave = 0;
};

// Per GPU, for activation memory: what it runs per micro-batch.
struct ActInfo {
  int first_layer = 0;
  int layers = 0;
  std::int64_t tokens = 0;     // attention-side tokens per micro-batch
  int tp = 1;
  int etp = 1;
  bool sequence_parallel = false;
  bool attention_side = false;
  bool expert_side = false;
  int micro_batches = 1;       // per step
  int inflight = 1;            // micro-batches whose activations are live at once
};

struct TpBlocks {
  std::vector<Op> att;
  std::vector<Op> router, expert, shared, combine, dense;
};

struct Exchange {
  std::vector<Bytes> matrix;                       // senders × receivers
  std::vector<std::vector<std::int64_t>> rows;     // [shard] -> rows per held copy
};

struct Grid {
  int dp = 1, pp = 1, inner = 1;
  bool ep_style = false;
  std::vector<int> gpus;
  std::vector<std::pair<int, int>> stage_layers;   // [first, last)
  int gpu(int d, int s, int r) const {
    return gpus[static_cast<std::size_t>(s * (dp * inner) + d * inner + r)];
  }
  std::vector<int> group(int d, int s) const {
    std::vector<int> g;
    for (int r = 0; r < inner; ++r) g.push_back(gpu(d, s, r));
    return g;
  }
};

class Builder {
 public:
  // Plans `layout` (the caller's: it must outlive the Builder; nothing reads
  // s.layouts[index]). `index` only names /layouts/<index> in diagnostics.
  Builder(const spec::ScenarioSpec& s, const spec::LayoutSpec& layout, int index, const models::ComputeCostModel& cost,
          int num_gpus, const models::EnergyModel* energy);

  // Validates the layout, builds its family's schedule and the memory footprint.
  Plan build();

 private:
  // ------------------------------------------------------------------ core (plan_builder.cpp)
  void validate_common();
  void setup_routing();
  void sample_step(int step);
  std::vector<std::int64_t> rows_of(int L, std::int64_t t0, std::int64_t t1) const;
  std::pair<double, double> model_flops_of_step() const;
  workload::AttentionShard attention_shard(int tp, std::int64_t seqs) const;
  Op embed_op(std::int64_t tokens, bool rep) const;
  std::vector<Op> lm_head_ops(std::int64_t seqs, int tp) const;
  TaskTag tag(int layer, int mb, int step, int rep, bool recompute = false) const;
  TaskId run(int gpu, const std::vector<Op>& ops, Cat cat, const TaskTag& t, std::initializer_list<TaskId> deps);
  Frontier run_all(const std::vector<int>& g, const std::vector<Op>& ops, Cat cat, const TaskTag& t,
                   const Frontier& in);
  void note_activations(int gpu, const std::vector<Op>& ops, const TaskTag& t);
  TaskId collective(network::CollectiveRequest req, CommTag ctag, const TaskTag& t, const Frontier& deps);
  void note_collective(const network::CollectiveRequest& r);
  network::CollectiveRequest req(network::CollectiveKind k, std::vector<int> ranks, double bytes) const;
  Frontier tp_reduce(const std::vector<int>& g, std::int64_t tokens, const TaskTag& t, const Frontier& in,
                     bool sequence_parallel);
  Frontier tp_single(const std::vector<int>& g, network::CollectiveKind k, std::int64_t tokens, const TaskTag& t,
                     const Frontier& in);
  void note_last_bwd(int gpu, int L, TaskId id);
  TaskId grad_allreduce(const std::vector<int>& peers, int L, double params, int step);
  TaskId optimizer(int g, const Frontier& syncs, int step);
  void finish_footprint();
  double training_activations(const ActInfo& ai, std::int64_t rows_step0) const;

  // ------------------------------------------------------------------ token exchange (token_exchange.cpp)
  void place_experts(Disagg& d, int hot) const;
  void finalize_disagg(Disagg& d) const;
  Range slice(const Disagg& d, Range seqs, int j) const;
  Exchange exchange(const Disagg& d, int L, const std::vector<Range>& group_seqs) const;
  std::vector<Bytes> transpose(const std::vector<Bytes>& m, std::size_t rows, std::size_t cols) const;
  network::CollectiveRequest m2m(const std::vector<int>& from, const std::vector<int>& to, std::vector<Bytes> mat) const;
  std::vector<Op> dg_router_ops(int L, std::int64_t slice_tokens) const;
  void dg_flush_fwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t);
  void dg_attention_fwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0);
  TaskId dg_dispatch(const Disagg& d, const std::vector<Flow*>& flows, const Exchange& x, const TaskTag& t);
  Frontier dg_experts(const Disagg& d, int L, const Exchange& x, TaskId after, const TaskTag& t, bool backward,
                      bool recompute);
  void dg_forward_layer(Disagg& d, int L, const std::vector<int>& wave_mbs,
                        const std::vector<std::vector<Range>>& seqs, std::vector<std::vector<Flow>>& flows,
                        int step);
  Frontier dg_finish_fwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t, bool lm_head);
  void dg_backward_layer(Disagg& d, int L, const std::vector<int>& wave_mbs,
                         const std::vector<std::vector<Range>>& seqs, std::vector<std::vector<Flow>>& flows,
                         int step);
  void dg_flush_bwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t);
  void dg_attention_bwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0);
  Frontier dg_bwd_input_reduce(const Disagg& d, int gi, int L, Range seqs, const TaskTag& t, const Frontier& f);
  void dg_dense_bwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0);
  void dg_start_bwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t);
  CommTag dispatch_tag(const Disagg& d) const { return d.ma ? CommTag::kMaDispatch : CommTag::kEpAllToAll; }
  CommTag combine_tag(const Disagg& d) const { return d.ma ? CommTag::kMaCombine : CommTag::kEpAllToAll; }

  // ------------------------------------------------------------------ grid layouts (grid_planner.cpp)
  TpBlocks tp_blocks(int L, std::int64_t seqs, int t) const;
  std::vector<Op> tp_expert_ops(int L, Range seqs, int t) const;
  Frontier tp_forward_layer(const std::vector<int>& g, int L, Range seqs, const TaskTag& t, Frontier in);
  Frontier tp_backward_layer(const std::vector<int>& g, int L, Range seqs, const TaskTag& t, Frontier in);
  void build_grid();
  Frontier send_recv(const Grid& G, int d, int from, int to, const std::vector<Range>& mb_seqs, const Frontier& src,
                     const TaskTag& t, bool ep_style);
  Frontier grid_forward(const Grid& G, std::vector<std::vector<Disagg>>& dgs, int d, int s, const std::vector<int>& mbs,
                        const std::vector<Range>& mb_seqs, Frontier in, int step);
  Frontier grid_backward(const Grid& G, std::vector<std::vector<Disagg>>& dgs, int d, int s, const std::vector<int>& mbs,
                         const std::vector<Range>& mb_seqs, Frontier in, int step);
  void add_params(int g, std::pair<int, int> layers, int atp, int ftp, double experts, bool embed, bool head);
  void grad_sync_grid(const Grid& G, int step, std::vector<TaskId>& step_final);

  // ------------------------------------------------------------------ MA Separation (ma_planner.cpp)
  void add_attention_side_params(int g, int atp);
  void build_ma();
  void grad_sync_ma(const Disagg& dg, int step, std::vector<TaskId>& step_final);

  const spec::ScenarioSpec& s_;
  const spec::ModelSpec& m_;
  const spec::WorkloadSpec& w_;
  const spec::LayoutSpec& l_;   // the layout planned (build_plan's `layout`)
  int index_;                    // diagnostics only: /layouts/<index_>
  int num_gpus_;
  Plan plan_;
  models::ModelParams params_;
  bool training_ = false;
  bool prefill_ = false;
  std::int64_t q_ = 1;
  int dt_ = 2;
  double hb_ = 0.0;
  std::vector<bool> moe_;
  std::vector<std::optional<workload::ExpertRouter>> routers_;
  std::vector<std::vector<double>> popularity_;
  std::vector<workload::RoutingSample> samples_;
  std::vector<ActInfo> act_;
  std::vector<double> act_max_;
  std::vector<std::int64_t> expert_rows_;
  std::vector<std::vector<int>> peers_;
  std::vector<std::vector<std::vector<int>>> communicators_;   // per GPU: rank sets of its collectives
  std::vector<std::vector<double>> layer_params_;    // [gpu][layer or num_layers for the head]
  std::vector<std::vector<double>> expert_params_;
  std::vector<std::vector<TaskId>> last_bwd_;        // [gpu][layer]
};

}  // namespace masim::layouts::planning
