// Layout planners. Each function says what schedule it builds; docs/METRICS.md
// ("Layouts") lists the same choices for users.
//
// Common to all layouts:
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
#include "sim/layouts/planner.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <sstream>

#include "sim/common/assert.hpp"
#include "sim/common/rng.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/models/memory.hpp"
#include "sim/models/model_params.hpp"
#include "sim/workload/layer_ops.hpp"

namespace masim::layouts {

namespace {

using models::Op;
using Frontier = std::vector<TaskId>;

struct Range {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
};

// Part i of n balanced contiguous parts of r (the first r.size() mod n parts one larger).
Range split(Range r, std::int64_t n, std::int64_t i) {
  const std::int64_t q = r.size() / n;
  const std::int64_t rem = r.size() % n;
  const std::int64_t b = r.begin + i * q + std::min(i, rem);
  return {b, b + q + (i < rem ? 1 : 0)};
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::vector<Op> mark_replicated(std::vector<Op> ops, bool rep) {
  if (rep) {
    for (Op& o : ops) o.replicated = true;
  }
  return ops;
}

void append(std::vector<Op>& to, const std::vector<Op>& from) { to.insert(to.end(), from.begin(), from.end()); }

std::vector<Op> backward_ops(const std::vector<Op>& fwd) {
  std::vector<Op> out;
  for (auto it = fwd.rbegin(); it != fwd.rend(); ++it) append(out, workload::backward_of(*it));
  return out;
}

[[noreturn]] void fail(const spec::ScenarioSpec& s, int index, const std::string& key, const std::string& msg) {
  io::Diagnostics d;
  std::string ptr = io::pointer_join("/layouts", static_cast<std::size_t>(index));
  if (!key.empty()) ptr = io::pointer_join(ptr, key);
  d.error(s.file, ptr, msg);
  throw io::InputError(std::move(d));
}

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

class Builder {
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

 public:
  Builder(const spec::ScenarioSpec& s, int index, const models::ComputeCostModel& cost, int num_gpus,
          const models::EnergyModel* energy)
      : s_(s),
        m_(s.model),
        w_(s.workload),
        l_(s.layouts[static_cast<std::size_t>(index)]),
        index_(index),
        num_gpus_(num_gpus),
        plan_(cost, num_gpus, energy),
        params_(models::count_params(s.model)) {
    training_ = w_.kind == spec::WorkloadKind::kTraining;
    prefill_ = w_.kind == spec::WorkloadKind::kPrefill;
    q_ = (training_ || prefill_) ? w_.context_length : 1;
    dt_ = spec::dtype_bytes(m_.dtype);
    hb_ = static_cast<double>(m_.hidden_size) * dt_;
    plan_.footprint.assign(static_cast<std::size_t>(num_gpus), GpuFootprint{});
    act_.assign(static_cast<std::size_t>(num_gpus), ActInfo{});
    act_max_.assign(static_cast<std::size_t>(num_gpus), 0.0);
    expert_rows_.assign(static_cast<std::size_t>(num_gpus), 0);
    peers_.assign(static_cast<std::size_t>(num_gpus), {});
    communicators_.assign(static_cast<std::size_t>(num_gpus), {});
    layer_params_.assign(static_cast<std::size_t>(num_gpus),
                         std::vector<double>(static_cast<std::size_t>(m_.num_layers) + 2, 0.0));
    expert_params_.assign(static_cast<std::size_t>(num_gpus),
                          std::vector<double>(static_cast<std::size_t>(m_.num_layers) + 2, 0.0));
    last_bwd_.assign(static_cast<std::size_t>(num_gpus),
                     std::vector<TaskId>(static_cast<std::size_t>(m_.num_layers) + 2, kNoTask));
    setup_routing();
  }

  Plan build() {
    validate_common();
    switch (l_.kind) {
      case spec::LayoutKind::kTensor:
      case spec::LayoutKind::kPipeline:
      case spec::LayoutKind::kTensorPipeline:
      case spec::LayoutKind::kExpert:
        build_grid();
        break;
      case spec::LayoutKind::kMaSeparation:
        build_ma();
        break;
    }
    finish_footprint();
    return std::move(plan_);
  }

 private:
  // ------------------------------------------------------------------ setup
  void validate_common() {
    if (m_.num_layers <= 0) fail(s_, index_, "", "the model has no layers");
    if (w_.batch <= 0) fail(s_, index_, "", "workload.batch must be positive");
    const int n = l_.gpu_count();
    if (l_.kind != spec::LayoutKind::kMaSeparation) {
      if (!l_.gpus.empty() && static_cast<int>(l_.gpus.size()) != n) {
        fail(s_, index_, "gpus",
             "lists " + std::to_string(l_.gpus.size()) + " GPUs, the layout needs " + std::to_string(n));
      }
      if (l_.gpus.empty() && n > num_gpus_) {
        fail(s_, index_, "", "needs " + std::to_string(n) + " GPUs, the topology has " + std::to_string(num_gpus_));
      }
    }
  }

  void setup_routing() {
    moe_.assign(static_cast<std::size_t>(m_.num_layers), false);
    for (int L = 0; L < m_.num_layers; ++L) moe_[static_cast<std::size_t>(L)] = models::is_moe_layer(m_, L);
    routers_.reserve(static_cast<std::size_t>(m_.num_layers));
    popularity_.assign(static_cast<std::size_t>(m_.num_layers), {});
    const Rng root(s_.seed);
    for (int L = 0; L < m_.num_layers; ++L) {
      if (!moe_[static_cast<std::size_t>(L)]) {
        routers_.emplace_back();
        continue;
      }
      routers_.emplace_back(workload::ExpertRouter(w_.routing, m_.num_experts, m_.top_k,
                                                   root.fork(0x6c61796572ULL + static_cast<std::uint64_t>(L))));
      popularity_[static_cast<std::size_t>(L)] = routers_.back()->draw_popularity();
    }
    samples_.assign(static_cast<std::size_t>(m_.num_layers), {});
  }

  void sample_step(int step) {
    const std::int64_t tokens = std::int64_t{w_.batch} * q_;
    for (int L = 0; L < m_.num_layers; ++L) {
      const auto li = static_cast<std::size_t>(L);
      if (!moe_[li]) continue;
      samples_[li] = routers_[li]->sample_with(popularity_[li], tokens);
      workload::RoutingSample copy = samples_[li];
      copy.assignment.clear();
      copy.assignment.shrink_to_fit();
      plan_.routing.push_back(std::move(copy));
    }
    const auto [all, tensor] = model_flops_of_step();
    plan_.model_flops.push_back(all);
    plan_.model_tensor_flops.push_back(tensor);
    plan_.tokens.push_back(static_cast<double>(training_ || prefill_ ? std::int64_t{w_.batch} * q_ : w_.batch));
    (void)step;
  }

  // Routed token-slots per expert for tokens [t0, t1) of layer L's current sample.
  std::vector<std::int64_t> rows_of(int L, std::int64_t t0, std::int64_t t1) const {
    const auto& smp = samples_[static_cast<std::size_t>(L)];
    std::vector<std::int64_t> rows(static_cast<std::size_t>(m_.num_experts), 0);
    const int k = m_.top_k;
    for (std::int64_t i = t0 * k; i < t1 * k; ++i) {
      const std::int32_t e = smp.assignment[static_cast<std::size_t>(i)];
      if (e >= 0) ++rows[static_cast<std::size_t>(e)];
    }
    return rows;
  }

  // FLOPs of one unsharded copy of this step's work: all, and the tensor-core
  // part (without the CUDA-core softmax/norm/activation FLOPs: the MFU numerator).
  std::pair<double, double> model_flops_of_step() const {
    const std::int64_t seqs = w_.batch;
    const std::int64_t tokens = seqs * q_;
    double f = 0.0, tf = 0.0;
    auto add1 = [&](const Op& o) {
      f += o.flops.count();
      tf += std::max(0.0, o.flops.count() - o.vector_flops.count());
    };
    auto add = [&](const std::vector<Op>& ops) {
      for (const Op& o : ops) add1(o);
      if (training_) {
        for (const Op& o : backward_ops(ops)) add1(o);
      }
    };
    for (int L = 0; L < m_.num_layers; ++L) {
      add(workload::attention_block(m_, L, attention_shard(1, seqs)));
      if (moe_[static_cast<std::size_t>(L)]) {
        add(workload::router_block(m_, L, tokens));
        add(workload::expert_block(m_, L, {1, rows_of(L, 0, tokens)}));
        add(workload::shared_expert_block(m_, L, tokens, 1));
        add(workload::combine_block(m_, L, tokens));
      } else {
        add(workload::dense_ffn_block(m_, L, tokens, 1));
      }
    }
    add(lm_head_ops(seqs, 1));
    return {f, tf};
  }

  workload::AttentionShard attention_shard(int tp, std::int64_t seqs) const {
    workload::AttentionShard a;
    a.tp = tp;
    a.sequences = seqs;
    a.query_tokens = q_;
    a.context = (training_ || prefill_) ? q_ : w_.context_length;
    a.prefill = training_ || prefill_;
    return a;
  }

  Op embed_op(std::int64_t tokens, bool rep) const {
    Op o = models::make_memcpy("embedding", Bytes{static_cast<std::int64_t>(static_cast<double>(tokens) * hb_)});
    o.replicated = rep;
    return o;
  }

  // Final norm and vocab-parallel LM head. Decode and prefill produce logits for
  // one token per sequence; training for every token (the loss).
  std::vector<Op> lm_head_ops(std::int64_t seqs, int tp) const {
    if (m_.vocab_size <= 0) return {};
    const std::int64_t tokens = training_ ? seqs * q_ : seqs;
    std::vector<Op> ops;
    Op n = models::make_rmsnorm("final_norm", tokens, m_.hidden_size, m_.dtype);
    n.replicated = tp > 1;
    ops.push_back(n);
    ops.push_back(models::make_gemm("lm_head", tokens, ceil_div(m_.vocab_size, tp), m_.hidden_size, m_.dtype));
    return ops;
  }

  // ------------------------------------------------------------------ emission helpers
  TaskTag tag(int layer, int mb, int step, int rep, bool recompute = false) const {
    TaskTag t;
    t.layer = layer;
    t.micro_batch = mb;
    t.step = step;
    t.replication = rep;
    t.recompute = recompute;
    return t;
  }

  TaskId run(int gpu, const std::vector<Op>& ops, Cat cat, const TaskTag& t, std::initializer_list<TaskId> deps) {
    note_activations(gpu, ops, t);
    return plan_.program.compute(gpu, ops, cat, t, deps);
  }

  Frontier run_all(const std::vector<int>& g, const std::vector<Op>& ops, Cat cat, const TaskTag& t,
                   const Frontier& in) {
    Frontier out(g.size());
    for (std::size_t r = 0; r < g.size(); ++r) out[r] = run(g[r], ops, cat, t, {in.empty() ? kNoTask : in[r]});
    return out;
  }

  // Step 0 only: the working set (inference) and the routed token-slots each GPU's
  // experts process (training activations).
  void note_activations(int gpu, const std::vector<Op>& ops, const TaskTag& t) {
    if (t.step != 0 || ops.empty()) return;
    const auto gi = static_cast<std::size_t>(gpu);
    plan_.footprint[gi].used = true;
    for (const Op& o : ops) {
      act_max_[gi] = std::max(act_max_[gi], models::activation_bytes(o).as_double());
      if (!o.backward && !t.recompute && o.label == std::string_view("expert_gate_up")) expert_rows_[gi] += o.m;
    }
  }

  TaskId collective(network::CollectiveRequest req, CommTag ctag, const TaskTag& t, const Frontier& deps) {
    note_collective(req);
    return plan_.program.collective(std::move(req), ctag, t, std::span<const TaskId>(deps));
  }

  // Communication memory: NCCL buffers per communicator (ring/tree collectives)
  // and per point-to-point peer (models::comm_buffer_bytes), plus the staging
  // buffers of token exchanges and pipeline hand-offs (what one call sends and
  // receives, which the framework allocates apart from the activations).
  void note_collective(const network::CollectiveRequest& r) {
    using network::CollectiveKind;
    auto stage = [&](int g, double b) {
      auto& fp = plan_.footprint[static_cast<std::size_t>(g)];
      fp.comm_staging_bytes = std::max(fp.comm_staging_bytes, b);
    };
    auto peer = [&](int a, int b) {
      if (a == b) return;
      peers_[static_cast<std::size_t>(a)].push_back(b);
      peers_[static_cast<std::size_t>(b)].push_back(a);
    };
    if (r.kind == CollectiveKind::kManyToMany) {
      const std::size_t nd = r.dst_ranks.size();
      std::vector<double> sent(r.ranks.size(), 0.0), recv(nd, 0.0);
      for (std::size_t i = 0; i < r.ranks.size(); ++i) {
        for (std::size_t j = 0; j < nd; ++j) {
          const double b = r.matrix[i * nd + j].as_double();
          if (b <= 0.0 || r.ranks[i] == r.dst_ranks[j]) continue;
          sent[i] += b;
          recv[j] += b;
          peer(r.ranks[i], r.dst_ranks[j]);
        }
      }
      std::vector<double> both(static_cast<std::size_t>(num_gpus_), 0.0);
      for (std::size_t i = 0; i < r.ranks.size(); ++i) both[static_cast<std::size_t>(r.ranks[i])] += sent[i];
      for (std::size_t j = 0; j < nd; ++j) both[static_cast<std::size_t>(r.dst_ranks[j])] += recv[j];
      for (int g : r.ranks) stage(g, both[static_cast<std::size_t>(g)]);
      for (int g : r.dst_ranks) stage(g, both[static_cast<std::size_t>(g)]);
      return;
    }
    if (r.kind == CollectiveKind::kSendRecv) {
      peer(r.ranks[0], r.ranks[1]);
      stage(r.ranks[0], r.bytes.as_double());
      stage(r.ranks[1], r.bytes.as_double());
      return;
    }
    std::vector<int> set = r.ranks;
    std::sort(set.begin(), set.end());
    for (int g : r.ranks) communicators_[static_cast<std::size_t>(g)].push_back(set);
  }

  network::CollectiveRequest req(network::CollectiveKind k, std::vector<int> ranks, double bytes) const {
    network::CollectiveRequest r;
    r.kind = k;
    r.ranks = std::move(ranks);
    r.bytes = Bytes{static_cast<std::int64_t>(std::llround(bytes))};
    return r;
  }

  // TP reduction after a row-parallel block: all-reduce, or reduce-scatter +
  // all-gather with sequence parallelism. Identity for one rank.
  Frontier tp_reduce(const std::vector<int>& g, std::int64_t tokens, const TaskTag& t, const Frontier& in,
                     bool sequence_parallel) {
    if (g.size() <= 1) return in;
    const double bytes = static_cast<double>(tokens) * hb_;
    if (sequence_parallel) {
      const TaskId rs = collective(req(network::CollectiveKind::kReduceScatter, g, bytes), CommTag::kTpAllReduce, t, in);
      const TaskId ag = collective(req(network::CollectiveKind::kAllGather, g, bytes), CommTag::kTpAllReduce, t, {rs});
      return Frontier(g.size(), ag);
    }
    const TaskId ar = collective(req(network::CollectiveKind::kAllReduce, g, bytes), CommTag::kTpAllReduce, t, in);
    return Frontier(g.size(), ar);
  }

  Frontier tp_single(const std::vector<int>& g, network::CollectiveKind k, std::int64_t tokens, const TaskTag& t,
                     const Frontier& in) {
    if (g.size() <= 1) return in;
    const TaskId c = collective(req(k, g, static_cast<double>(tokens) * hb_), CommTag::kTpAllReduce, t, in);
    return Frontier(g.size(), c);
  }

  // ------------------------------------------------------------------ TP-style layer (one group)
  struct TpBlocks {
    std::vector<Op> att;
    std::vector<Op> router, expert, shared, combine, dense;
  };

  TpBlocks tp_blocks(int L, std::int64_t seqs, int t) const {
    const std::int64_t tokens = seqs * q_;
    TpBlocks b;
    b.att = workload::attention_block(m_, L, attention_shard(t, seqs));
    if (L == 0) b.att.insert(b.att.begin(), embed_op(tokens, t > 1));
    if (moe_[static_cast<std::size_t>(L)]) {
      b.router = mark_replicated(workload::router_block(m_, L, tokens), t > 1);
      b.shared = workload::shared_expert_block(m_, L, tokens, t);
      b.combine = mark_replicated(workload::combine_block(m_, L, tokens), t > 1);
    } else {
      b.dense = workload::dense_ffn_block(m_, L, tokens, t);
    }
    return b;
  }

  std::vector<Op> tp_expert_ops(int L, Range seqs, int t) const {
    return workload::expert_block(m_, L, {t, rows_of(L, seqs.begin * q_, seqs.end * q_)});
  }

  Frontier tp_forward_layer(const std::vector<int>& g, int L, Range seqs, const TaskTag& t, Frontier in) {
    const int tp = static_cast<int>(g.size());
    const std::int64_t tokens = seqs.size() * q_;
    TpBlocks b = tp_blocks(L, seqs.size(), tp);
    Frontier f = run_all(g, b.att, Cat::kAttention, t, in);
    f = tp_reduce(g, tokens, t, f, l_.sequence_parallel);
    if (moe_[static_cast<std::size_t>(L)]) {
      f = run_all(g, b.router, Cat::kRouter, t, f);
      if (!b.shared.empty()) f = run_all(g, b.shared, Cat::kShared, t, f);
      f = run_all(g, tp_expert_ops(L, seqs, tp), Cat::kExpert, t, f);
      f = run_all(g, b.combine, Cat::kCombine, t, f);
    } else {
      f = run_all(g, b.dense, Cat::kDense, t, f);
    }
    return tp_reduce(g, tokens, t, f, l_.sequence_parallel);
  }

  Frontier tp_backward_layer(const std::vector<int>& g, int L, Range seqs, const TaskTag& t, Frontier in) {
    const int tp = static_cast<int>(g.size());
    const std::int64_t tokens = seqs.size() * q_;
    TpBlocks b = tp_blocks(L, seqs.size(), tp);
    std::vector<Op> ffn;
    if (moe_[static_cast<std::size_t>(L)]) {
      append(ffn, b.router);
      append(ffn, b.shared);
      append(ffn, tp_expert_ops(L, seqs, tp));
      append(ffn, b.combine);
    } else {
      ffn = b.dense;
    }
    TaskTag rt = t;
    rt.recompute = true;
    Frontier f = in;
    if (w_.recompute) f = run_all(g, ffn, moe_[static_cast<std::size_t>(L)] ? Cat::kExpert : Cat::kDense, rt, f);
    f = run_all(g, backward_ops(ffn), moe_[static_cast<std::size_t>(L)] ? Cat::kExpert : Cat::kDense, t, f);
    f = tp_reduce(g, tokens, t, f, l_.sequence_parallel);
    if (w_.recompute) f = run_all(g, b.att, Cat::kAttention, rt, f);
    f = run_all(g, backward_ops(b.att), Cat::kAttention, t, f);
    for (std::size_t r = 0; r < g.size(); ++r) note_last_bwd(g[r], L, f[r]);
    // Layer 0's input gradient only feeds the vocab-parallel embedding's
    // gradient, which each rank computes for its own shard: nothing to reduce.
    if (L == 0) return f;
    return tp_reduce(g, tokens, t, f, l_.sequence_parallel);
  }

  void note_last_bwd(int gpu, int L, TaskId id) {
    last_bwd_[static_cast<std::size_t>(gpu)][static_cast<std::size_t>(L)] = id;
  }

  // ------------------------------------------------------------------ disaggregated (EP / MA) layer
  // Expert placement of one layer: expert e's home shard is e·S/E (contiguous
  // blocks); the `hot` most popular experts (by the layer's popularity) get one
  // extra copy each on the shard with the least expected load at that point
  // (greedy, hottest first), and their tokens alternate between the copies.
  void place_experts(Disagg& d, int hot) const {
    const int S = static_cast<int>(d.shards.size());
    const int E = m_.num_experts;
    d.copies.assign(static_cast<std::size_t>(m_.num_layers), {});
    d.held.assign(static_cast<std::size_t>(m_.num_layers), {});
    for (int L = 0; L < m_.num_layers; ++L) {
      const auto li = static_cast<std::size_t>(L);
      if (!moe_[li]) continue;
      auto& copies = d.copies[li];
      auto& held = d.held[li];
      copies.assign(static_cast<std::size_t>(E), {});
      held.assign(static_cast<std::size_t>(S), {});
      std::vector<double> load(static_cast<std::size_t>(S), 0.0);
      const auto& p = popularity_[li];
      for (int e = 0; e < E; ++e) {
        const int sh = static_cast<int>(static_cast<std::int64_t>(e) * S / E);
        copies[static_cast<std::size_t>(e)].push_back(sh);
        held[static_cast<std::size_t>(sh)].push_back(e);
        load[static_cast<std::size_t>(sh)] += p[static_cast<std::size_t>(e)];
      }
      if (hot <= 0 || S < 2) continue;
      std::vector<int> order(static_cast<std::size_t>(E));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)];
      });
      for (int i = 0; i < std::min(hot, E); ++i) {
        const int e = order[static_cast<std::size_t>(i)];
        const int home = copies[static_cast<std::size_t>(e)][0];
        int best = -1;
        for (int sh = 0; sh < S; ++sh) {
          if (sh == home) continue;
          if (best < 0 || load[static_cast<std::size_t>(sh)] < load[static_cast<std::size_t>(best)]) best = sh;
        }
        const double half = p[static_cast<std::size_t>(e)] / 2.0;
        load[static_cast<std::size_t>(home)] -= half;
        load[static_cast<std::size_t>(best)] += half;
        copies[static_cast<std::size_t>(e)].push_back(best);
        held[static_cast<std::size_t>(best)].push_back(e);
      }
    }
  }

  void finalize_disagg(Disagg& d) const {
    d.senders.clear();
    d.receivers.clear();
    for (const auto& g : d.att) d.senders.insert(d.senders.end(), g.begin(), g.end());
    for (const auto& g : d.shards) d.receivers.insert(d.receivers.end(), g.begin(), g.end());
  }

  CommTag dispatch_tag(const Disagg& d) const { return d.ma ? CommTag::kMaDispatch : CommTag::kEpAllToAll; }
  CommTag combine_tag(const Disagg& d) const { return d.ma ? CommTag::kMaCombine : CommTag::kEpAllToAll; }

  // Token slice (global token indices) of attention rank j of group gi for sequences `seqs`.
  Range slice(const Disagg& d, Range seqs, int j) const {
    return split({seqs.begin * q_, seqs.end * q_}, d.atp, j);
  }

  struct Exchange {
    std::vector<Bytes> matrix;                       // senders × receivers
    std::vector<std::vector<std::int64_t>> rows;     // [shard] -> rows per held copy
  };

  // Which GPUs each token of `groups` goes to for layer L: one copy of the hidden
  // state per distinct destination shard (a token whose two experts sit on one
  // shard is sent once, as DeepEP does), to every expert-TP rank of that shard.
  Exchange exchange(const Disagg& d, int L, const std::vector<Range>& group_seqs) const {
    const auto li = static_cast<std::size_t>(L);
    const auto& smp = samples_[li];
    const auto& copies = d.copies[li];
    const auto& held = d.held[li];
    const std::size_t nr = d.receivers.size();
    Exchange x;
    x.matrix.assign(d.senders.size() * nr, Bytes{0});
    x.rows.resize(d.shards.size());
    for (std::size_t sh = 0; sh < d.shards.size(); ++sh) x.rows[sh].assign(held[sh].size(), 0);
    std::vector<std::int64_t> turn(static_cast<std::size_t>(m_.num_experts), 0);
    const int k = m_.top_k;
    std::vector<int> dst;
    dst.reserve(static_cast<std::size_t>(k));
    const auto hb = static_cast<std::int64_t>(hb_);
    for (std::size_t gi = 0; gi < d.att.size(); ++gi) {
      for (int j = 0; j < d.atp; ++j) {
        const std::size_t sender = gi * static_cast<std::size_t>(d.atp) + static_cast<std::size_t>(j);
        const Range tk = slice(d, group_seqs[gi], j);
        for (std::int64_t t = tk.begin; t < tk.end; ++t) {
          dst.clear();
          for (int kk = 0; kk < k; ++kk) {
            const std::int32_t e = smp.assignment[static_cast<std::size_t>(t * k + kk)];
            if (e < 0) continue;
            const auto& cps = copies[static_cast<std::size_t>(e)];
            const int sh = cps.size() == 1 ? cps[0]
                                           : cps[static_cast<std::size_t>(turn[static_cast<std::size_t>(e)]++ %
                                                                          static_cast<std::int64_t>(cps.size()))];
            const auto& h = held[static_cast<std::size_t>(sh)];
            // Position of this copy of e on shard sh.
            for (std::size_t pos = 0; pos < h.size(); ++pos) {
              if (h[pos] == e) {
                ++x.rows[static_cast<std::size_t>(sh)][pos];
                break;
              }
            }
            if (std::find(dst.begin(), dst.end(), sh) == dst.end()) dst.push_back(sh);
          }
          for (int sh : dst) {
            for (int xr = 0; xr < d.etp; ++xr) {
              const std::size_t col = static_cast<std::size_t>(sh) * static_cast<std::size_t>(d.etp) +
                                      static_cast<std::size_t>(xr);
              x.matrix[sender * nr + col] += Bytes{hb};
            }
          }
        }
      }
    }
    return x;
  }

  std::vector<Bytes> transpose(const std::vector<Bytes>& m, std::size_t rows, std::size_t cols) const {
    std::vector<Bytes> t(m.size());
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < cols; ++j) t[j * rows + i] = m[i * cols + j];
    }
    return t;
  }

  network::CollectiveRequest m2m(const std::vector<int>& from, const std::vector<int>& to, std::vector<Bytes> mat) const {
    network::CollectiveRequest r;
    r.kind = network::CollectiveKind::kManyToMany;
    r.ranks = from;
    r.dst_ranks = to;
    r.matrix = std::move(mat);
    std::int64_t mx = 0;
    for (const Bytes& b : r.matrix) mx = std::max(mx, b.count());
    r.bytes = Bytes{mx};
    return r;
  }

  // Attention-side ops of a MoE layer on one rank's token slice after the
  // attention reduce-scatter: router (norm, gate, top-k, permute) and shared experts.
  std::vector<Op> dg_router_ops(int L, std::int64_t slice_tokens) const {
    return workload::router_block(m_, L, slice_tokens);
  }

  // Forward: the pending combine of the previous MoE layer (unpermute + weighted
  // sum + residual on each rank's slice, then all-gather of the slices).
  void dg_flush_fwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t) {
    if (fl.pending == kNoTask) return;
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    const int L = fl.pending_layer;
    TaskTag tt = t;
    tt.layer = L;
    tt.replication = d.atp;
    Frontier f(g.size());
    for (int j = 0; j < d.atp; ++j) {
      const std::int64_t st = slice(d, seqs, j).size();
      f[static_cast<std::size_t>(j)] =
          run(g[static_cast<std::size_t>(j)], workload::combine_block(m_, L, st), Cat::kCombine, tt, {fl.pending});
    }
    fl.front = tp_single(g, network::CollectiveKind::kAllGather, seqs.size() * q_, tt, f);
    fl.pending = kNoTask;
    fl.pending_layer = -1;
  }

  // Forward attention part of layer L for attention group gi: [dense layers are
  // handled whole here, TP-style inside the group].
  void dg_attention_fwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0) {
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    TaskTag t = t0;
    t.replication = d.atp;
    const std::int64_t tokens = seqs.size() * q_;
    std::vector<Op> att = workload::attention_block(m_, L, attention_shard(d.atp, seqs.size()));
    if (L == 0) att.insert(att.begin(), embed_op(tokens, d.atp > 1));
    Frontier f = run_all(g, att, Cat::kAttention, t, fl.front);
    if (!moe_[static_cast<std::size_t>(L)]) {
      f = tp_single(g, network::CollectiveKind::kAllReduce, tokens, t, f);
      f = run_all(g, workload::dense_ffn_block(m_, L, tokens, d.atp), Cat::kDense, t, f);
      fl.front = tp_single(g, network::CollectiveKind::kAllReduce, tokens, t, f);
      return;
    }
    f = tp_single(g, network::CollectiveKind::kReduceScatter, tokens, t, f);
    for (int j = 0; j < d.atp; ++j) {
      const std::int64_t st = slice(d, seqs, j).size();
      std::vector<Op> ops = dg_router_ops(L, st);
      const auto ji = static_cast<std::size_t>(j);
      f[ji] = run(g[ji], ops, Cat::kRouter, t, {f[ji]});
      std::vector<Op> sh = workload::shared_expert_block(m_, L, st, 1);
      if (!sh.empty()) f[ji] = run(g[ji], sh, Cat::kShared, t, {f[ji]});
    }
    fl.front = f;
  }

  // Dispatch of micro-batch `mb` of layer L: one many-to-many from every active
  // attention rank to every expert GPU. Returns the exchange (for the experts).
  TaskId dg_dispatch(const Disagg& d, const std::vector<Flow*>& flows, const Exchange& x, const TaskTag& t) {
    Frontier deps;
    for (const Flow* fl : flows) deps.insert(deps.end(), fl->front.begin(), fl->front.end());
    return collective(m2m(d.senders, d.receivers, x.matrix), dispatch_tag(d), t, deps);
  }

  Frontier dg_experts(const Disagg& d, int L, const Exchange& x, TaskId after, const TaskTag& t, bool backward,
                      bool recompute) {
    Frontier out;
    for (std::size_t sh = 0; sh < d.shards.size(); ++sh) {
      std::vector<Op> ops = workload::expert_block(m_, L, {d.etp, x.rows[sh]});
      TaskTag rt = t;
      rt.recompute = true;
      for (int g : d.shards[sh]) {
        TaskId last = after;
        if (backward) {
          if (recompute) last = run(g, ops, Cat::kExpert, rt, {last});
          last = run(g, backward_ops(ops), Cat::kExpert, t, {last});
          note_last_bwd(g, L, last);
        } else {
          last = run(g, ops, Cat::kExpert, t, {last});
        }
        out.push_back(last);
      }
    }
    return out;
  }

  // Forward of layer L for a wave of micro-batches: attention parts of every
  // micro-batch first, then expert parts (ping-pong order on shared GPUs).
  void dg_forward_layer(Disagg& d, int L, const std::vector<int>& wave_mbs,
                        const std::vector<std::vector<Range>>& seqs, std::vector<std::vector<Flow>>& flows,
                        int step) {
    const auto li = static_cast<std::size_t>(L);
    std::vector<TaskId> disp(wave_mbs.size(), kNoTask);
    std::vector<Exchange> xs(wave_mbs.size());
    for (std::size_t w = 0; w < wave_mbs.size(); ++w) {
      const int mb = wave_mbs[w];
      const TaskTag t = tag(L, mb, step, d.atp);
      std::vector<Flow*> fls;
      for (std::size_t gi = 0; gi < d.att.size(); ++gi) {
        Flow& fl = flows[gi][w];
        dg_flush_fwd(d, static_cast<int>(gi), fl, seqs[w][gi], t);
        dg_attention_fwd(d, static_cast<int>(gi), L, fl, seqs[w][gi], t);
        fls.push_back(&fl);
      }
      if (!moe_[li]) continue;
      xs[w] = exchange(d, L, seqs[w]);
      disp[w] = dg_dispatch(d, fls, xs[w], tag(L, mb, step, 1));
    }
    if (!moe_[li]) return;
    for (std::size_t w = 0; w < wave_mbs.size(); ++w) {
      const TaskTag t = tag(L, wave_mbs[w], step, 1);
      Frontier ex = dg_experts(d, L, xs[w], disp[w], t, false, false);
      const TaskId comb = collective(
          m2m(d.receivers, d.senders, transpose(xs[w].matrix, d.senders.size(), d.receivers.size())),
          combine_tag(d), t, ex);
      for (std::size_t gi = 0; gi < d.att.size(); ++gi) {
        flows[gi][w].pending = comb;
        flows[gi][w].pending_layer = L;
      }
    }
  }

  // End of the forward pass on the attention side: last combine, then (if this
  // holds the last layer) final norm + LM head.
  Frontier dg_finish_fwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t, bool lm_head) {
    dg_flush_fwd(d, gi, fl, seqs, t);
    if (!lm_head) return fl.front;
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    TaskTag tt = t;
    tt.layer = m_.num_layers;
    tt.replication = d.atp;
    fl.front = run_all(g, lm_head_ops(seqs.size(), d.atp), Cat::kLmHead, tt, fl.front);
    return fl.front;
  }

  // Backward of layer L for a wave (reverse of dg_forward_layer). Each flow's
  // front holds the output gradient of layer L, as slices when the layer is MoE
  // (after dg_bwd_input_reduce) or full tokens for a dense layer.
  void dg_backward_layer(Disagg& d, int L, const std::vector<int>& wave_mbs,
                         const std::vector<std::vector<Range>>& seqs, std::vector<std::vector<Flow>>& flows,
                         int step) {
    const auto li = static_cast<std::size_t>(L);
    const bool moe = moe_[li];
    std::vector<TaskId> sendg(wave_mbs.size(), kNoTask);
    std::vector<Exchange> xs(wave_mbs.size());
    for (std::size_t w = 0; w < wave_mbs.size(); ++w) {
      const int mb = wave_mbs[w];
      const TaskTag t = tag(L, mb, step, d.atp);
      Frontier deps;
      for (std::size_t gi = 0; gi < d.att.size(); ++gi) {
        Flow& fl = flows[gi][w];
        dg_flush_bwd(d, static_cast<int>(gi), fl, seqs[w][gi], t);
        const auto& g = d.att[gi];
        if (!moe) {
          dg_dense_bwd(d, static_cast<int>(gi), L, fl, seqs[w][gi], t);
          continue;
        }
        // Combine backward and shared-expert backward on each slice, then the
        // output gradients go back to the experts.
        for (int j = 0; j < d.atp; ++j) {
          const auto ji = static_cast<std::size_t>(j);
          const std::int64_t st = slice(d, seqs[w][gi], j).size();
          std::vector<Op> fwd = workload::combine_block(m_, L, st);
          std::vector<Op> sh = workload::shared_expert_block(m_, L, st, 1);
          append(fwd, sh);
          if (w_.recompute) {
            TaskTag rt = t;
            rt.recompute = true;
            std::vector<Op> re = workload::router_block(m_, L, st);
            append(re, fwd);
            fl.front[ji] = run(g[ji], re, Cat::kRouter, rt, {fl.front[ji]});
          }
          fl.front[ji] = run(g[ji], backward_ops(fwd), Cat::kCombine, t, {fl.front[ji]});
        }
        deps.insert(deps.end(), fl.front.begin(), fl.front.end());
      }
      if (!moe) continue;
      xs[w] = exchange(d, L, seqs[w]);
      // Output gradients travel attention -> experts (same bytes as the dispatch).
      sendg[w] = collective(m2m(d.senders, d.receivers, xs[w].matrix), dispatch_tag(d), tag(L, mb, step, 1), deps);
    }
    if (!moe) return;
    for (std::size_t w = 0; w < wave_mbs.size(); ++w) {
      const TaskTag t = tag(L, wave_mbs[w], step, 1);
      Frontier ex = dg_experts(d, L, xs[w], sendg[w], t, true, w_.recompute);
      const TaskId back = collective(
          m2m(d.receivers, d.senders, transpose(xs[w].matrix, d.senders.size(), d.receivers.size())),
          combine_tag(d), t, ex);
      for (std::size_t gi = 0; gi < d.att.size(); ++gi) {
        flows[gi][w].pending = back;
        flows[gi][w].pending_layer = L;
      }
    }
  }

  // Backward: after the expert gradients are back, router backward on each
  // slice, all-gather (mirror of the forward reduce-scatter), attention backward,
  // then the input-gradient reduction (see dg_bwd_input_reduce).
  void dg_flush_bwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t) {
    if (fl.pending == kNoTask) return;
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    const int L = fl.pending_layer;
    TaskTag tt = t;
    tt.layer = L;
    tt.replication = d.atp;
    Frontier f(g.size());
    for (int j = 0; j < d.atp; ++j) {
      const auto ji = static_cast<std::size_t>(j);
      const std::int64_t st = slice(d, seqs, j).size();
      f[ji] = run(g[ji], backward_ops(workload::router_block(m_, L, st)), Cat::kRouter, tt, {fl.pending, fl.front[ji]});
    }
    f = tp_single(g, network::CollectiveKind::kAllGather, seqs.size() * q_, tt, f);
    fl.front = f;
    dg_attention_bwd(d, gi, L, fl, seqs, tt);
    fl.pending = kNoTask;
    fl.pending_layer = -1;
  }

  void dg_attention_bwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0) {
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    TaskTag t = t0;
    t.replication = d.atp;
    std::vector<Op> att = workload::attention_block(m_, L, attention_shard(d.atp, seqs.size()));
    if (L == 0) att.insert(att.begin(), embed_op(seqs.size() * q_, d.atp > 1));
    Frontier f = fl.front;
    if (w_.recompute) {
      TaskTag rt = t;
      rt.recompute = true;
      f = run_all(g, att, Cat::kAttention, rt, f);
    }
    f = run_all(g, backward_ops(att), Cat::kAttention, t, f);
    for (std::size_t r = 0; r < g.size(); ++r) note_last_bwd(g[r], L, f[r]);
    fl.front = dg_bwd_input_reduce(d, gi, L, seqs, t, f);
  }

  // Input gradient of layer L's attention block: reduce-scatter when layer L-1 is
  // MoE (its combine produced slices; mirror of the forward all-gather), else
  // all-reduce (mirror of a forward all-reduce input); none for layer 0.
  Frontier dg_bwd_input_reduce(const Disagg& d, int gi, int L, Range seqs, const TaskTag& t, const Frontier& f) {
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    if (L == 0) return f;   // the embedding gradient needs no reduction (see tp_backward_layer)
    const bool prev_moe = moe_[static_cast<std::size_t>(L - 1)];
    return tp_single(g, prev_moe ? network::CollectiveKind::kReduceScatter : network::CollectiveKind::kAllReduce,
                     seqs.size() * q_, t, f);
  }

  void dg_dense_bwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0) {
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    TaskTag t = t0;
    t.replication = d.atp;
    const std::int64_t tokens = seqs.size() * q_;
    std::vector<Op> ffn = workload::dense_ffn_block(m_, L, tokens, d.atp);
    Frontier f = fl.front;
    if (w_.recompute) {
      TaskTag rt = t;
      rt.recompute = true;
      f = run_all(g, ffn, Cat::kDense, rt, f);
    }
    f = run_all(g, backward_ops(ffn), Cat::kDense, t, f);
    f = tp_single(g, network::CollectiveKind::kAllReduce, tokens, t, f);
    fl.front = f;
    dg_attention_bwd(d, gi, L, fl, seqs, t);
  }

  // Start of the backward pass on the attention side: LM head backward, then the
  // reduction that gives the last layer its output gradient (reduce-scatter to
  // slices if it is MoE, else all-reduce).
  void dg_start_bwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t) {
    const auto& g = d.att[static_cast<std::size_t>(gi)];
    TaskTag tt = t;
    tt.layer = m_.num_layers;
    tt.replication = d.atp;
    Frontier f = run_all(g, backward_ops(lm_head_ops(seqs.size(), d.atp)), Cat::kLmHead, tt, fl.front);
    for (std::size_t r = 0; r < g.size(); ++r) note_last_bwd(g[r], m_.num_layers, f[r]);
    const bool last_moe = moe_[static_cast<std::size_t>(m_.num_layers - 1)];
    fl.front = tp_single(g, last_moe ? network::CollectiveKind::kReduceScatter : network::CollectiveKind::kAllReduce,
                         seqs.size() * q_, tt, f);
  }

  // ------------------------------------------------------------------ grid layouts (TP, PP, TP×PP, EP)
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

  void build_grid() {
    Grid G;
    G.dp = std::max(1, l_.dp);
    switch (l_.kind) {
      case spec::LayoutKind::kTensor:
        G.inner = l_.tp;
        break;
      case spec::LayoutKind::kPipeline:
        G.pp = l_.pp;
        if (l_.stage_parallelism == spec::StageParallelism::kTensor) G.inner = l_.tp;
        if (l_.stage_parallelism == spec::StageParallelism::kExpert) {
          G.inner = l_.ep;
          G.ep_style = true;
        }
        break;
      case spec::LayoutKind::kTensorPipeline:
        G.inner = l_.tp;
        G.pp = l_.pp;
        break;
      case spec::LayoutKind::kExpert:
        G.inner = l_.ep;
        G.ep_style = true;
        if (l_.tp > 1) fail(s_, index_, "tp", "tensor parallelism inside an EP layout is not supported; use tp = 1");
        break;
      case spec::LayoutKind::kMaSeparation:
        MASIM_ASSERT(false, "unreachable");
    }
    if (G.inner < 1 || G.pp < 1) fail(s_, index_, "", "parallel degrees must be >= 1");
    if (G.pp > m_.num_layers) {
      fail(s_, index_, "pp", "pp = " + std::to_string(G.pp) + " exceeds the model's " +
                                 std::to_string(m_.num_layers) + " layers");
    }
    const int n = G.dp * G.pp * G.inner;
    if (l_.gpus.empty()) {
      if (n > num_gpus_) fail(s_, index_, "", "needs " + std::to_string(n) + " GPUs, the topology has " + std::to_string(num_gpus_));
      for (int i = 0; i < n; ++i) G.gpus.push_back(i);
    } else {
      G.gpus = l_.gpus;
      std::vector<int> sorted = G.gpus;
      std::sort(sorted.begin(), sorted.end());
      for (std::size_t i = 0; i < sorted.size(); ++i) {
        if (sorted[i] < 0 || sorted[i] >= num_gpus_) {
          fail(s_, index_, "gpus", "GPU " + std::to_string(sorted[i]) + " is not in the topology (" +
                                       std::to_string(num_gpus_) + " GPUs)");
        }
        if (i > 0 && sorted[i] == sorted[i - 1]) fail(s_, index_, "gpus", "GPU " + std::to_string(sorted[i]) + " is listed twice");
      }
    }
    if (G.ep_style && m_.num_experts % G.inner != 0) {
      fail(s_, index_, "ep", "ep = " + std::to_string(G.inner) + " does not divide the model's " +
                                 std::to_string(m_.num_experts) + " experts");
    }
    if (static_cast<std::int64_t>(w_.batch) < std::int64_t{G.dp} * (G.ep_style ? G.inner : 1)) {
      fail(s_, index_, "", "workload.batch = " + std::to_string(w_.batch) + " is smaller than the " +
                               std::to_string(G.dp * (G.ep_style ? G.inner : 1)) + " data-parallel ranks");
    }
    plan_.gpus = G.gpus;
    // Layer split.
    {
      const int L = m_.num_layers;
      int first = 0;
      std::ostringstream split_text;
      for (int s = 0; s < G.pp; ++s) {
        const int cnt = L / G.pp + (s < L % G.pp ? 1 : 0);
        G.stage_layers.emplace_back(first, first + cnt);
        split_text << (s ? "," : "") << cnt;
        first += cnt;
      }
      plan_.layer_split = split_text.str();
    }
    // Micro-batches per replica.
    const std::int64_t seqs_per_replica = ceil_div(w_.batch, G.dp);
    int M = 1;
    int wave = 1;
    if (training_) {
      const std::int64_t per_mb = std::int64_t{std::max(1, w_.micro_batch_size)} * (G.ep_style ? G.inner : 1);
      M = static_cast<int>(std::max<std::int64_t>(1, ceil_div(seqs_per_replica, per_mb)));
      wave = (G.ep_style && G.pp == 1) ? std::max(1, l_.micro_batches) : 1;
    } else if (G.pp > 1) {
      M = std::max(1, l_.micro_batches);
    } else if (G.ep_style) {
      M = std::max(1, l_.micro_batches);
      wave = M;
    }
    // No micro-batch without a sequence: at most one per sequence (per EP rank).
    const std::int64_t max_mbs = std::max<std::int64_t>(1, seqs_per_replica / (G.ep_style ? G.inner : 1));
    M = static_cast<int>(std::min<std::int64_t>(M, max_mbs));
    wave = std::min(wave, M);
    const int waves = static_cast<int>(ceil_div(M, wave));

    Parallelism& par = plan_.parallelism;
    par.tp = G.ep_style ? 1 : G.inner;
    par.pp = G.pp;
    par.ep = G.ep_style ? G.inner : 1;
    par.dp = G.dp;
    par.micro_batches = M;
    par.stage_parallelism = G.ep_style ? spec::StageParallelism::kExpert
                                       : (G.inner > 1 ? spec::StageParallelism::kTensor : spec::StageParallelism::kNone);
    plan_.router_location = G.ep_style ? "every EP rank, on its own tokens, before the dispatch"
                                       : (G.inner > 1 ? "every TP rank (replicated), on all tokens of its group"
                                                      : "the GPU holding the layer");

    // Disaggregated (EP) descriptions per (replica, stage).
    std::vector<std::vector<Disagg>> dgs(static_cast<std::size_t>(G.dp));
    if (G.ep_style) {
      for (int d = 0; d < G.dp; ++d) {
        for (int s = 0; s < G.pp; ++s) {
          Disagg dg;
          for (int r = 0; r < G.inner; ++r) {
            dg.att.push_back({G.gpu(d, s, r)});
            dg.shards.push_back({G.gpu(d, s, r)});
          }
          place_experts(dg, 0);
          finalize_disagg(dg);
          dgs[static_cast<std::size_t>(d)].push_back(std::move(dg));
        }
      }
    }

    // Footprint: parameters held, KV cache.
    for (int d = 0; d < G.dp; ++d) {
      const Range rep = split({0, w_.batch}, G.dp, d);
      for (int s = 0; s < G.pp; ++s) {
        for (int r = 0; r < G.inner; ++r) {
          const int g = G.gpu(d, s, r);
          const int tp = G.ep_style ? 1 : G.inner;
          const double experts_here = G.ep_style ? static_cast<double>(m_.num_experts) / G.inner
                                                 : static_cast<double>(m_.num_experts);
          add_params(g, G.stage_layers[static_cast<std::size_t>(s)], tp, tp, experts_here, s == 0, s == G.pp - 1);
          auto& fp = plan_.footprint[static_cast<std::size_t>(g)];
          fp.used = true;
          fp.kv_sequences = G.ep_style ? split(rep, G.inner, r).size() : rep.size();
          fp.kv_layers = G.stage_layers[static_cast<std::size_t>(s)].second - G.stage_layers[static_cast<std::size_t>(s)].first;
          fp.kv_heads = models::kv_heads_per_shard(m_, tp);
          // In-flight micro-batches: 1F1B keeps min(pp - s, M) on stage s; the
          // EP ping-pong keeps a whole wave.
          ActInfo& ai = act_[static_cast<std::size_t>(g)];
          ai.first_layer = G.stage_layers[static_cast<std::size_t>(s)].first;
          ai.layers = fp.kv_layers;
          ai.tokens = ceil_div(seqs_per_replica, std::int64_t{M} * (G.ep_style ? G.inner : 1)) * q_;
          ai.tp = tp;
          ai.etp = tp;
          ai.sequence_parallel = l_.sequence_parallel && !G.ep_style;
          ai.attention_side = true;
          ai.expert_side = true;
          ai.micro_batches = M;
          ai.inflight = training_ ? std::min(G.pp - s, waves) * wave : (G.ep_style ? wave : 1);
        }
      }
    }

    // Units per stage.
    std::vector<std::vector<Unit>> order(static_cast<std::size_t>(G.pp));
    for (int s = 0; s < G.pp; ++s) {
      auto& o = order[static_cast<std::size_t>(s)];
      if (!training_) {
        for (int w = 0; w < waves; ++w) o.push_back({true, w});
        continue;
      }
      const int warm = std::min(G.pp - s - 1, waves);
      for (int i = 0; i < warm; ++i) o.push_back({true, i});
      for (int i = 0; i < waves - warm; ++i) {
        o.push_back({true, warm + i});
        o.push_back({false, i});
      }
      for (int i = waves - warm; i < waves; ++i) o.push_back({false, i});
    }

    // prev_end[d][w]: per-rank tasks the next step's first stage waits for.
    std::vector<std::vector<Frontier>> prev_end(static_cast<std::size_t>(G.dp),
                                                std::vector<Frontier>(static_cast<std::size_t>(waves)));
    std::vector<TaskId> prev_step_done;
    for (int step = 0; step < std::max(1, w_.iterations); ++step) {
      sample_step(step);
      std::vector<TaskId> step_final;
      for (int d = 0; d < G.dp; ++d) {
        const Range rep = split({0, w_.batch}, G.dp, d);
        // Forward/backward outputs per (stage, wave): per-rank frontier.
        std::vector<std::vector<Frontier>> fwd_out(static_cast<std::size_t>(G.pp),
                                                   std::vector<Frontier>(static_cast<std::size_t>(waves)));
        std::vector<std::vector<Frontier>> bwd_out = fwd_out;
        std::vector<std::vector<char>> fwd_done(static_cast<std::size_t>(G.pp),
                                                std::vector<char>(static_cast<std::size_t>(waves), 0));
        std::vector<std::vector<char>> bwd_done = fwd_done;
        std::vector<std::size_t> next(static_cast<std::size_t>(G.pp), 0);
        bool progress = true;
        while (progress) {
          progress = false;
          for (int s = 0; s < G.pp; ++s) {
            auto& o = order[static_cast<std::size_t>(s)];
            while (next[static_cast<std::size_t>(s)] < o.size()) {
              const Unit u = o[next[static_cast<std::size_t>(s)]];
              const auto wi = static_cast<std::size_t>(u.wave);
              const auto si = static_cast<std::size_t>(s);
              if (u.fwd && s > 0 && !fwd_done[si - 1][wi]) break;
              if (!u.fwd && s < G.pp - 1 && !bwd_done[si + 1][wi]) break;
              std::vector<int> mbs;
              for (int mb = u.wave * wave; mb < std::min(M, (u.wave + 1) * wave); ++mb) mbs.push_back(mb);
              std::vector<Range> mb_seqs;
              for (int mb : mbs) mb_seqs.push_back(split(rep, M, mb));
              if (u.fwd) {
                Frontier in;
                if (s == 0) {
                  in = prev_end[static_cast<std::size_t>(d)][wi];
                } else {
                  in = send_recv(G, d, s - 1, s, mb_seqs, fwd_out[si - 1][wi], tag(-1, mbs.front(), step, 1),
                                 G.ep_style);
                }
                fwd_out[si][wi] = grid_forward(G, dgs, d, s, mbs, mb_seqs, in, step);
                fwd_done[si][wi] = 1;
                if (s == G.pp - 1 && !training_) {
                  // Next step of these sequences waits for every rank's LM head.
                  Frontier all = fwd_out[si][wi];
                  prev_end[static_cast<std::size_t>(d)][wi] = all;
                  step_final.insert(step_final.end(), all.begin(), all.end());
                }
              } else {
                Frontier in;
                if (s == G.pp - 1) {
                  in = fwd_out[si][wi];
                } else {
                  in = send_recv(G, d, s + 1, s, mb_seqs, bwd_out[si + 1][wi], tag(-1, mbs.front(), step, 1),
                                 G.ep_style);
                }
                bwd_out[si][wi] = grid_backward(G, dgs, d, s, mbs, mb_seqs, in, step);
                bwd_done[si][wi] = 1;
              }
              ++next[si];
              progress = true;
            }
          }
        }
        for (int s = 0; s < G.pp; ++s) {
          MASIM_ASSERT(next[static_cast<std::size_t>(s)] == order[static_cast<std::size_t>(s)].size(),
                       "pipeline schedule did not drain");
        }
      }
      if (training_) {
        grad_sync_grid(G, step, step_final);
      }
      // The next step of each group waits for all ranks of its group: prev_end
      // entries are broadcast to every rank by the Frontier deps below.
      for (auto& per_d : prev_end) {
        for (Frontier& f : per_d) {
          if (f.empty()) continue;
          const TaskId m = plan_.program.marker(tag(-1, 0, step, 1), std::span<const TaskId>(f));
          f.assign(f.size(), m);
        }
      }
      if (training_) {
        // Every GPU's next forward follows its optimizer step on its own stream.
        for (auto& per_d : prev_end) per_d.assign(per_d.size(), Frontier{});
      }
      if (!prev_step_done.empty()) step_final.push_back(prev_step_done.back());
      const TaskId done = plan_.program.marker(tag(-1, 0, step, 1), std::span<const TaskId>(step_final));
      plan_.step_done.push_back(done);
      prev_step_done.push_back(done);
    }
    plan_.steps = static_cast<int>(plan_.step_done.size());
    for (int g : G.gpus) {
      plan_.footprint[static_cast<std::size_t>(g)].used = true;
    }
  }

  // Pipeline hand-off of one wave between stages (forward or backward).
  Frontier send_recv(const Grid& G, int d, int from, int to, const std::vector<Range>& mb_seqs, const Frontier& src,
                     const TaskTag& t, bool ep_style) {
    Frontier out(static_cast<std::size_t>(G.inner), kNoTask);
    std::int64_t seqs = 0;
    for (const Range& r : mb_seqs) seqs += r.size();
    for (int r = 0; r < G.inner; ++r) {
      // TP stages: every rank holds the full hidden state and sends it to its
      // peer (no scatter/gather optimization). EP stages: each rank sends its
      // own sequences.
      std::int64_t rs = seqs;
      if (ep_style) {
        rs = 0;
        for (const Range& mr : mb_seqs) rs += split(mr, G.inner, r).size();
      }
      network::CollectiveRequest rq = req(network::CollectiveKind::kSendRecv, {G.gpu(d, from, r), G.gpu(d, to, r)},
                                          static_cast<double>(rs * q_) * hb_);
      out[static_cast<std::size_t>(r)] = collective(std::move(rq), CommTag::kPpSendRecv, t, {src[static_cast<std::size_t>(r)]});
    }
    return out;
  }

  Frontier grid_forward(const Grid& G, std::vector<std::vector<Disagg>>& dgs, int d, int s, const std::vector<int>& mbs,
                        const std::vector<Range>& mb_seqs, Frontier in, int step) {
    const auto [first, last] = G.stage_layers[static_cast<std::size_t>(s)];
    const bool last_stage = s == G.pp - 1;
    if (in.empty()) in.assign(static_cast<std::size_t>(G.inner), kNoTask);
    if (!G.ep_style) {
      MASIM_ASSERT(mbs.size() == 1, "TP-style stages run one micro-batch per unit");
      const std::vector<int> g = G.group(d, s);
      Frontier f = in;
      for (int L = first; L < last; ++L) f = tp_forward_layer(g, L, mb_seqs[0], tag(L, mbs[0], step, G.inner), f);
      if (last_stage) f = run_all(g, lm_head_ops(mb_seqs[0].size(), G.inner), Cat::kLmHead,
                                  tag(m_.num_layers, mbs[0], step, G.inner), f);
      return f;
    }
    Disagg& dg = dgs[static_cast<std::size_t>(d)][static_cast<std::size_t>(s)];
    // Flows: one per EP rank (its own attention group) and micro-batch.
    std::vector<std::vector<Flow>> flows(dg.att.size(), std::vector<Flow>(mbs.size()));
    std::vector<std::vector<Range>> seqs(mbs.size());
    for (std::size_t w = 0; w < mbs.size(); ++w) {
      for (std::size_t r = 0; r < dg.att.size(); ++r) {
        seqs[w].push_back(split(mb_seqs[w], static_cast<std::int64_t>(dg.att.size()), static_cast<std::int64_t>(r)));
        flows[r][w].front = Frontier{in[r]};
      }
    }
    for (int L = first; L < last; ++L) dg_forward_layer(dg, L, mbs, seqs, flows, step);
    Frontier out(dg.att.size(), kNoTask);
    std::vector<TaskId> ends;
    for (std::size_t w = 0; w < mbs.size(); ++w) {
      for (std::size_t r = 0; r < dg.att.size(); ++r) {
        Frontier f = dg_finish_fwd(dg, static_cast<int>(r), flows[r][w], seqs[w][r],
                                   tag(last - 1, mbs[w], step, 1), last_stage);
        ends.push_back(f[0]);
      }
    }
    // The wave's output per rank: its last task (ranks own their sequences).
    for (std::size_t r = 0; r < dg.att.size(); ++r) out[r] = ends[(mbs.size() - 1) * dg.att.size() + r];
    if (mbs.size() > 1) {
      // Make each rank's output wait for all its micro-batches.
      for (std::size_t r = 0; r < dg.att.size(); ++r) {
        std::vector<TaskId> mine;
        for (std::size_t w = 0; w < mbs.size(); ++w) mine.push_back(ends[w * dg.att.size() + r]);
        out[r] = plan_.program.marker(tag(-1, mbs.front(), step, 1), std::span<const TaskId>(mine));
      }
    }
    return out;
  }

  Frontier grid_backward(const Grid& G, std::vector<std::vector<Disagg>>& dgs, int d, int s, const std::vector<int>& mbs,
                         const std::vector<Range>& mb_seqs, Frontier in, int step) {
    const auto [first, last] = G.stage_layers[static_cast<std::size_t>(s)];
    const bool last_stage = s == G.pp - 1;
    if (!G.ep_style) {
      const std::vector<int> g = G.group(d, s);
      Frontier f = in;
      if (last_stage) {
        const TaskTag t = tag(m_.num_layers, mbs[0], step, G.inner);
        f = run_all(g, backward_ops(lm_head_ops(mb_seqs[0].size(), G.inner)), Cat::kLmHead, t, f);
        for (std::size_t r = 0; r < g.size(); ++r) note_last_bwd(g[r], m_.num_layers, f[r]);
        f = tp_reduce(g, mb_seqs[0].size() * q_, t, f, l_.sequence_parallel);
      }
      for (int L = last - 1; L >= first; --L) f = tp_backward_layer(g, L, mb_seqs[0], tag(L, mbs[0], step, G.inner), f);
      return f;
    }
    Disagg& dg = dgs[static_cast<std::size_t>(d)][static_cast<std::size_t>(s)];
    std::vector<std::vector<Flow>> flows(dg.att.size(), std::vector<Flow>(mbs.size()));
    std::vector<std::vector<Range>> seqs(mbs.size());
    for (std::size_t w = 0; w < mbs.size(); ++w) {
      for (std::size_t r = 0; r < dg.att.size(); ++r) {
        seqs[w].push_back(split(mb_seqs[w], static_cast<std::int64_t>(dg.att.size()), static_cast<std::int64_t>(r)));
        flows[r][w].front = Frontier{in[r]};
        if (last_stage) dg_start_bwd(dg, static_cast<int>(r), flows[r][w], seqs[w][r], tag(last - 1, mbs[w], step, 1));
      }
    }
    for (int L = last - 1; L >= first; --L) dg_backward_layer(dg, L, mbs, seqs, flows, step);
    Frontier out(dg.att.size(), kNoTask);
    for (std::size_t r = 0; r < dg.att.size(); ++r) {
      std::vector<TaskId> mine;
      for (std::size_t w = 0; w < mbs.size(); ++w) {
        Flow& fl = flows[r][w];
        dg_flush_bwd(dg, static_cast<int>(r), fl, seqs[w][r], tag(first, mbs[w], step, 1));
        mine.push_back(fl.front[0]);
      }
      out[r] = mine.size() == 1 ? mine[0] : plan_.program.marker(tag(-1, mbs.front(), step, 1), std::span<const TaskId>(mine));
    }
    return out;
  }

  // ------------------------------------------------------------------ parameters held
  // Adds the parameters of layers [first, last) as held by a GPU with attention
  // TP `atp`, FFN TP `ftp` and `experts` routed experts (expert-equivalents).
  void add_params(int g, std::pair<int, int> layers, int atp, int ftp, double experts, bool embed, bool head) {
    auto& fp = plan_.footprint[static_cast<std::size_t>(g)];
    auto& lp = layer_params_[static_cast<std::size_t>(g)];
    auto& ep = expert_params_[static_cast<std::size_t>(g)];
    for (int L = layers.first; L < layers.second; ++L) {
      const auto& P = params_.layers[static_cast<std::size_t>(L)];
      double n = static_cast<double>(models::attention_params_per_shard(m_, atp)) + static_cast<double>(P.norms);
      double e = 0.0;
      if (P.moe) {
        n += static_cast<double>(P.router) + static_cast<double>(P.shared_experts) / ftp;
        e = experts * static_cast<double>(P.routed_expert) / ftp;
      } else {
        n += static_cast<double>(P.dense_ffn) / ftp;
      }
      lp[static_cast<std::size_t>(L)] += n + e;
      ep[static_cast<std::size_t>(L)] += e;
      fp.param_count += n + e;
      fp.expert_param_count += e;
    }
    if (embed) {
      const double v = static_cast<double>(params_.embedding) / atp;
      lp[0] += v;
      fp.param_count += v;
    }
    if (head) {
      double v = static_cast<double>(params_.lm_head) / atp + static_cast<double>(params_.final_norm);
      // Tied embeddings on a last stage that is not the first: a copy of the
      // embedding serves as LM head (Megatron-LM keeps one there).
      if (m_.tie_embeddings && !embed) v += static_cast<double>(params_.embedding) / atp;
      lp[static_cast<std::size_t>(m_.num_layers)] += v;
      fp.param_count += v;
    }
  }

  // Attention-side parameters of a MoE/dense layer set without routed experts (MA attention GPUs).
  void add_attention_side_params(int g, int atp) {
    auto& fp = plan_.footprint[static_cast<std::size_t>(g)];
    auto& lp = layer_params_[static_cast<std::size_t>(g)];
    for (int L = 0; L < m_.num_layers; ++L) {
      const auto& P = params_.layers[static_cast<std::size_t>(L)];
      double n = static_cast<double>(models::attention_params_per_shard(m_, atp)) + static_cast<double>(P.norms);
      if (P.moe) {
        n += static_cast<double>(P.router) + static_cast<double>(P.shared_experts);   // shared experts: full copy, tp = 1 on slices
      } else {
        n += static_cast<double>(P.dense_ffn) / atp;
      }
      lp[static_cast<std::size_t>(L)] += n;
      fp.param_count += n;
    }
    const double emb = static_cast<double>(params_.embedding) / atp;
    const double head = static_cast<double>(params_.lm_head) / atp + static_cast<double>(params_.final_norm);
    lp[0] += emb;
    lp[static_cast<std::size_t>(m_.num_layers)] += head;
    fp.param_count += emb + head;
  }

  // ------------------------------------------------------------------ gradient sync + optimizer
  // All-reduce of one layer's gradients among `peers` (the GPUs holding the same
  // parameters), after each peer's last backward of that layer.
  TaskId grad_allreduce(const std::vector<int>& peers, int L, double params, int step) {
    if (peers.size() <= 1 || params <= 0.0) return kNoTask;
    Frontier deps;
    for (int g : peers) deps.push_back(last_bwd_[static_cast<std::size_t>(g)][static_cast<std::size_t>(L)]);
    return collective(req(network::CollectiveKind::kAllReduce, peers, params * dt_), CommTag::kGradSync,
                      tag(L, 0, step, 1), deps);
  }

  TaskId optimizer(int g, const Frontier& syncs, int step) {
    const double params = plan_.footprint[static_cast<std::size_t>(g)].param_count;
    // Mixed-precision Adam step: read + write the weights (2·dtype), read the
    // gradients (dtype), read + write the optimizer states (2·optimizer bytes).
    const double traffic = params * (3.0 * dt_ + 2.0 * w_.optimizer_bytes_per_param);
    std::vector<Op> ops{models::make_memcpy("optimizer_step", Bytes{static_cast<std::int64_t>(traffic / 2.0)})};
    Frontier deps = syncs;
    return plan_.program.compute(g, ops, Cat::kOptimizer, tag(-1, 0, step, 1), std::span<const TaskId>(deps));
  }

  void grad_sync_grid(const Grid& G, int step, std::vector<TaskId>& step_final) {
    std::vector<Frontier> syncs(static_cast<std::size_t>(num_gpus_));
    for (int s = 0; s < G.pp; ++s) {
      for (int r = 0; r < G.inner; ++r) {
        for (int L = 0; L <= m_.num_layers; ++L) {
          const int g0 = G.gpu(0, s, r);
          const double all = layer_params_[static_cast<std::size_t>(g0)][static_cast<std::size_t>(L)];
          const double experts = expert_params_[static_cast<std::size_t>(g0)][static_cast<std::size_t>(L)];
          if (all <= 0.0) continue;
          if (!G.ep_style) {
            std::vector<int> peers;
            for (int d = 0; d < G.dp; ++d) peers.push_back(G.gpu(d, s, r));
            const TaskId t = grad_allreduce(peers, L, all, step);
            for (int g : peers) syncs[static_cast<std::size_t>(g)].push_back(t);
          } else {
            // Dense parameters are replicated on every EP rank of every replica;
            // expert shards only across replicas.
            if (r == 0) {
              std::vector<int> peers;
              for (int d = 0; d < G.dp; ++d) {
                for (int rr = 0; rr < G.inner; ++rr) peers.push_back(G.gpu(d, s, rr));
              }
              const TaskId t = grad_allreduce(peers, L, all - experts, step);
              for (int g : peers) syncs[static_cast<std::size_t>(g)].push_back(t);
            }
            std::vector<int> peers;
            for (int d = 0; d < G.dp; ++d) peers.push_back(G.gpu(d, s, r));
            const TaskId t = grad_allreduce(peers, L, experts, step);
            for (int g : peers) syncs[static_cast<std::size_t>(g)].push_back(t);
          }
        }
      }
    }
    for (int g : G.gpus) step_final.push_back(optimizer(g, syncs[static_cast<std::size_t>(g)], step));
  }

  // ------------------------------------------------------------------ MA Separation
  void build_ma() {
    const spec::MaSpec& ma = l_.ma;
    const int A = static_cast<int>(ma.attention_gpus.size());
    const int X = static_cast<int>(ma.expert_gpus.size());
    const int atp = std::max(1, ma.attention_tp);
    const int rep = std::max(1, ma.attention_replicas);
    const int etp = std::max(1, ma.expert_tp);
    if (A == 0) fail(s_, index_, "ma/attention_gpus", "needs at least one attention GPU");
    if (X == 0) fail(s_, index_, "ma/expert_gpus", "needs at least one expert GPU");
    if (A % (atp * rep) != 0) {
      fail(s_, index_, "ma/attention_tp", "attention_tp · attention_replicas = " + std::to_string(atp * rep) +
                                             " does not divide the " + std::to_string(A) + " attention GPUs");
    }
    if (X % etp != 0) {
      fail(s_, index_, "ma/expert_tp", "expert_tp = " + std::to_string(etp) + " does not divide the " +
                                          std::to_string(X) + " expert GPUs");
    }
    const int S = X / etp;
    if (m_.num_experts > 0 && m_.num_experts < S) {
      fail(s_, index_, "ma/expert_gpus", std::to_string(S) + " expert shards for " + std::to_string(m_.num_experts) +
                                            " experts: some shard would hold none");
    }
    for (int g : ma.attention_gpus) {
      if (g < 0 || g >= num_gpus_) fail(s_, index_, "ma/attention_gpus", "GPU " + std::to_string(g) + " is not in the topology");
    }
    for (int g : ma.expert_gpus) {
      if (g < 0 || g >= num_gpus_) fail(s_, index_, "ma/expert_gpus", "GPU " + std::to_string(g) + " is not in the topology");
    }
    const int D = A / (atp * rep);
    if (w_.batch < D) {
      fail(s_, index_, "ma", "workload.batch = " + std::to_string(w_.batch) + " is smaller than the " +
                                 std::to_string(D) + " attention data-parallel groups");
    }
    Disagg dg;
    dg.ma = true;
    dg.atp = atp;
    dg.etp = etp;
    // Attention groups: consecutive runs of atp GPUs in the given order; the
    // first D groups work, group D·r + d is replica r of group d (standby).
    for (int gi = 0; gi < A / atp; ++gi) {
      std::vector<int> g(ma.attention_gpus.begin() + gi * atp, ma.attention_gpus.begin() + (gi + 1) * atp);
      (gi < D ? dg.att : dg.standby).push_back(std::move(g));
    }
    for (int sh = 0; sh < S; ++sh) {
      dg.shards.emplace_back(ma.expert_gpus.begin() + sh * etp, ma.expert_gpus.begin() + (sh + 1) * etp);
    }
    place_experts(dg, ma.hot_expert_replicas);
    finalize_disagg(dg);
    plan_.gpus = ma.attention_gpus;
    plan_.gpus.insert(plan_.gpus.end(), ma.expert_gpus.begin(), ma.expert_gpus.end());

    Parallelism& par = plan_.parallelism;
    par.tp = atp;
    par.pp = 1;
    par.ep = S;
    par.dp = D;
    par.attention_gpus = A;
    par.expert_gpus = X;
    par.attention_dp = D;
    par.attention_replicas = rep;
    par.expert_tp = etp;
    par.hot_expert_replicas = ma.hot_expert_replicas;
    plan_.router_location = "attention GPUs, on each TP rank's token slice after the attention reduce-scatter";

    // Micro-batches: decode/prefill split each group's sequences into m; training
    // uses micro_batch_size sequences per group and waves of m (ping-pong depth).
    const int m = std::max(1, ma.micro_batches);
    const std::int64_t per_group = ceil_div(w_.batch, D);
    int M = m;
    int wave = m;
    if (training_) {
      M = static_cast<int>(std::max<std::int64_t>(1, ceil_div(per_group, std::max(1, w_.micro_batch_size))));
      wave = std::min(m, M);
    }
    M = static_cast<int>(std::min<std::int64_t>(M, std::max<std::int64_t>(1, w_.batch / D)));
    wave = std::min(wave, M);
    const int waves = static_cast<int>(ceil_div(M, wave));
    par.micro_batches = training_ ? M : m;

    // Footprint.
    for (std::size_t gi = 0; gi < dg.att.size() + dg.standby.size(); ++gi) {
      const bool standby = gi >= dg.att.size();
      const auto& g = standby ? dg.standby[gi - dg.att.size()] : dg.att[gi];
      const int active = static_cast<int>(standby ? (gi - dg.att.size()) % dg.att.size() : gi);
      const Range seqs = split({0, w_.batch}, D, active);
      for (int gpu : g) {
        add_attention_side_params(gpu, atp);
        auto& fp = plan_.footprint[static_cast<std::size_t>(gpu)];
        fp.used = true;
        fp.standby = standby;
        fp.kv_sequences = seqs.size();
        fp.kv_layers = m_.num_layers;
        fp.kv_heads = models::kv_heads_per_shard(m_, atp);
        if (standby) continue;
        ActInfo& ai = act_[static_cast<std::size_t>(gpu)];
        ai.layers = m_.num_layers;
        ai.tokens = ceil_div(per_group, M) * q_;
        ai.tp = atp;
        ai.sequence_parallel = true;   // router, shared experts and combine run on token slices
        ai.attention_side = true;
        ai.micro_batches = M;
        ai.inflight = wave;
      }
    }
    for (std::size_t sh = 0; sh < dg.shards.size(); ++sh) {
      for (int gpu : dg.shards[sh]) {
        auto& fp = plan_.footprint[static_cast<std::size_t>(gpu)];
        auto& lp = layer_params_[static_cast<std::size_t>(gpu)];
        auto& ep = expert_params_[static_cast<std::size_t>(gpu)];
        fp.used = true;
        for (int L = 0; L < m_.num_layers; ++L) {
          const auto li = static_cast<std::size_t>(L);
          if (!moe_[li]) continue;
          const double e = static_cast<double>(dg.held[li][sh].size()) *
                           static_cast<double>(params_.layers[li].routed_expert) / etp;
          lp[li] += e;
          ep[li] += e;
          fp.param_count += e;
          fp.expert_param_count += e;
        }
        ActInfo& ai = act_[static_cast<std::size_t>(gpu)];
        ai.layers = m_.num_layers;
        ai.tokens = ceil_div(per_group, M) * q_;
        ai.etp = etp;
        ai.expert_side = true;
        ai.micro_batches = M;
        ai.inflight = wave;
      }
    }

    std::vector<Frontier> prev_end(static_cast<std::size_t>(M));   // per mb: all groups' LM head tasks
    for (int step = 0; step < std::max(1, w_.iterations); ++step) {
      sample_step(step);
      std::vector<TaskId> step_final;
      for (int wv = 0; wv < waves; ++wv) {
        std::vector<int> mbs;
        for (int mb = wv * wave; mb < std::min(M, (wv + 1) * wave); ++mb) mbs.push_back(mb);
        // seqs[w][gi]: sequences of group gi in micro-batch mbs[w].
        std::vector<std::vector<Range>> seqs(mbs.size());
        std::vector<std::vector<Flow>> flows(dg.att.size(), std::vector<Flow>(mbs.size()));
        for (std::size_t w = 0; w < mbs.size(); ++w) {
          for (std::size_t gi = 0; gi < dg.att.size(); ++gi) {
            const Range grp = split({0, w_.batch}, D, static_cast<std::int64_t>(gi));
            seqs[w].push_back(split(grp, M, mbs[w]));
            const Frontier& pe = prev_end[static_cast<std::size_t>(mbs[w])];
            flows[gi][w].front.assign(static_cast<std::size_t>(atp), pe.empty() ? kNoTask : pe[0]);
          }
        }
        for (int L = 0; L < m_.num_layers; ++L) dg_forward_layer(dg, L, mbs, seqs, flows, step);
        std::vector<std::vector<TaskId>> ends(mbs.size());
        for (std::size_t w = 0; w < mbs.size(); ++w) {
          for (std::size_t gi = 0; gi < dg.att.size(); ++gi) {
            Frontier f = dg_finish_fwd(dg, static_cast<int>(gi), flows[gi][w], seqs[w][gi],
                                       tag(m_.num_layers - 1, mbs[w], step, 1), true);
            ends[w].insert(ends[w].end(), f.begin(), f.end());
          }
        }
        if (!training_) {
          for (std::size_t w = 0; w < mbs.size(); ++w) {
            // The next step's micro-batch waits for every rank's LM head of
            // every group (one join: the groups' samplers synchronize per step).
            const TaskId j = plan_.program.marker(tag(-1, mbs[w], step, 1), std::span<const TaskId>(ends[w]));
            prev_end[static_cast<std::size_t>(mbs[w])] = Frontier{j};
            step_final.push_back(j);
          }
          continue;
        }
        for (std::size_t w = 0; w < mbs.size(); ++w) {
          for (std::size_t gi = 0; gi < dg.att.size(); ++gi) {
            dg_start_bwd(dg, static_cast<int>(gi), flows[gi][w], seqs[w][gi], tag(m_.num_layers - 1, mbs[w], step, 1));
          }
        }
        for (int L = m_.num_layers - 1; L >= 0; --L) dg_backward_layer(dg, L, mbs, seqs, flows, step);
        for (std::size_t w = 0; w < mbs.size(); ++w) {
          for (std::size_t gi = 0; gi < dg.att.size(); ++gi) {
            dg_flush_bwd(dg, static_cast<int>(gi), flows[gi][w], seqs[w][gi], tag(0, mbs[w], step, 1));
          }
        }
      }
      if (training_) grad_sync_ma(dg, step, step_final);
      if (!plan_.step_done.empty()) step_final.push_back(plan_.step_done.back());
      plan_.step_done.push_back(plan_.program.marker(tag(-1, 0, step, 1), std::span<const TaskId>(step_final)));
    }
    plan_.steps = static_cast<int>(plan_.step_done.size());
  }

  void grad_sync_ma(const Disagg& dg, int step, std::vector<TaskId>& step_final) {
    std::vector<Frontier> syncs(static_cast<std::size_t>(num_gpus_));
    // Attention side: rank j of every active group holds the same shard.
    for (int j = 0; j < dg.atp; ++j) {
      std::vector<int> peers;
      for (const auto& g : dg.att) peers.push_back(g[static_cast<std::size_t>(j)]);
      for (int L = 0; L <= m_.num_layers; ++L) {
        const double p = layer_params_[static_cast<std::size_t>(peers[0])][static_cast<std::size_t>(L)];
        const TaskId t = grad_allreduce(peers, L, p, step);
        for (int g : peers) syncs[static_cast<std::size_t>(g)].push_back(t);
      }
    }
    // Expert side: the copies of a replicated hot expert reduce their gradients.
    for (int L = 0; L < m_.num_layers; ++L) {
      const auto li = static_cast<std::size_t>(L);
      if (!moe_[li]) continue;
      for (int e = 0; e < m_.num_experts; ++e) {
        const auto& cps = dg.copies[li][static_cast<std::size_t>(e)];
        if (cps.size() < 2) continue;
        for (int x = 0; x < dg.etp; ++x) {
          std::vector<int> peers;
          for (int sh : cps) peers.push_back(dg.shards[static_cast<std::size_t>(sh)][static_cast<std::size_t>(x)]);
          const TaskId t = grad_allreduce(peers, L, static_cast<double>(params_.layers[li].routed_expert) / dg.etp, step);
          for (int g : peers) syncs[static_cast<std::size_t>(g)].push_back(t);
        }
      }
    }
    std::vector<TaskId> opt(static_cast<std::size_t>(num_gpus_), kNoTask);
    for (const auto* groups : {&dg.att, &dg.shards}) {
      for (const auto& g : *groups) {
        for (int gpu : g) {
          opt[static_cast<std::size_t>(gpu)] = optimizer(gpu, syncs[static_cast<std::size_t>(gpu)], step);
          step_final.push_back(opt[static_cast<std::size_t>(gpu)]);
        }
      }
    }
    // Hot-standby attention replicas receive the updated weights from their
    // active rank after its optimizer step.
    for (std::size_t si = 0; si < dg.standby.size(); ++si) {
      const auto& sg = dg.standby[si];
      const auto& ag = dg.att[si % dg.att.size()];
      for (std::size_t j = 0; j < sg.size(); ++j) {
        const double p = plan_.footprint[static_cast<std::size_t>(ag[j])].param_count;
        network::CollectiveRequest r = req(network::CollectiveKind::kBroadcast, {ag[j], sg[j]}, p * dt_);
        r.root = 0;
        step_final.push_back(collective(std::move(r), CommTag::kParamBroadcast, tag(-1, 0, step, 1),
                                        Frontier{opt[static_cast<std::size_t>(ag[j])]}));
      }
    }
  }

  // ------------------------------------------------------------------ footprint
  void finish_footprint() {
    for (std::size_t g = 0; g < static_cast<std::size_t>(num_gpus_); ++g) {
      auto& p = peers_[g];
      std::sort(p.begin(), p.end());
      p.erase(std::unique(p.begin(), p.end()), p.end());
      auto& fp = plan_.footprint[g];
      fp.comm_peers = static_cast<int>(p.size());
      auto& c = communicators_[g];
      std::sort(c.begin(), c.end());
      c.erase(std::unique(c.begin(), c.end()), c.end());
      fp.communicators = static_cast<int>(c.size());
      fp.kv_context = training_ ? 0 : (prefill_ ? q_ : w_.context_length);
      if (training_) fp.kv_sequences = 0;
      const ActInfo& ai = act_[g];
      if (!training_) {
        // Inference: the largest op working set, per micro-batch in flight.
        fp.activation_bytes = act_max_[g] * ai.inflight;
      } else if (ai.layers > 0 && (ai.attention_side || ai.expert_side)) {
        fp.activation_bytes = training_activations(ai, expert_rows_[g]) * ai.inflight;
      }
    }
  }

  // Training activations of one micro-batch on one GPU (models::
  // training_layer_activations, Korthikanti et al. 2022 adapted): the
  // attention-side terms where attention runs, the per-token-slot expert terms
  // for the slots this GPU's experts process.
  double training_activations(const ActInfo& ai, std::int64_t rows_step0) const {
    int moe_layers = 0;
    for (int L = ai.first_layer; L < ai.first_layer + ai.layers; ++L) moe_layers += moe_[static_cast<std::size_t>(L)] ? 1 : 0;
    const std::int64_t slots =
        moe_layers > 0 ? rows_step0 / (std::int64_t{moe_layers} * std::max(1, ai.micro_batches)) : 0;
    double sum = 0.0, inputs = 0.0, largest = 0.0;
    for (int L = ai.first_layer; L < ai.first_layer + ai.layers; ++L) {
      const auto a = models::training_layer_activations(m_, L, ai.tokens, ai.tp, ai.sequence_parallel, ai.etp);
      const bool moe = moe_[static_cast<std::size_t>(L)];
      double full = 0.0, input = 0.0;
      if (ai.attention_side) {
        full += (a.attention + a.ffn_common + a.shared_experts).as_double();
        input += a.layer_input.as_double();
      }
      if (ai.expert_side && moe) {
        full += a.per_routed_slot.as_double() * static_cast<double>(slots);
        if (!ai.attention_side) input += static_cast<double>(slots) * hb_;   // the received tokens
      }
      sum += full;
      inputs += input;
      largest = std::max(largest, full);
    }
    return w_.recompute ? inputs + largest : sum;
  }

  const spec::ScenarioSpec& s_;
  const spec::ModelSpec& m_;
  const spec::WorkloadSpec& w_;
  const spec::LayoutSpec& l_;
  int index_;
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

}  // namespace

Plan build_plan(const spec::ScenarioSpec& s, int index, const models::ComputeCostModel& cost, int num_gpus,
                const models::EnergyModel* energy) {
  MASIM_ASSERT(index >= 0 && index < static_cast<int>(s.layouts.size()), "layout index out of range");
  Builder b(s, index, cost, num_gpus, energy);
  return b.build();
}

}  // namespace masim::layouts
