// Shared core of the layout planners (plan_builder.hpp): what every layout
// needs, whatever its family: routing samples per step, the op blocks of a
// layer, emission of compute tasks and collectives (with the communication
// memory they imply), TP reductions, gradient all-reduce and optimizer step,
// and the per-GPU memory footprint.
#include "sim/layouts/plan_builder.hpp"

#include <algorithm>
#include <cmath>

#include "sim/common/rng.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/models/memory.hpp"

namespace masim::layouts::planning {

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

Builder::Builder(const spec::ScenarioSpec& s, const spec::LayoutSpec& layout, int index,
                 const models::ComputeCostModel& cost, int num_gpus, const models::EnergyModel* energy)
    : s_(s),
      m_(s.model),
      w_(s.workload),
      l_(layout),
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

Plan Builder::build() {
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

void Builder::validate_common() {
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

void Builder::setup_routing() {
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

void Builder::sample_step(int step) {
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
std::vector<std::int64_t> Builder::rows_of(int L, std::int64_t t0, std::int64_t t1) const {
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
std::pair<double, double> Builder::model_flops_of_step() const {
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

workload::AttentionShard Builder::attention_shard(int tp, std::int64_t seqs) const {
  workload::AttentionShard a;
  a.tp = tp;
  a.sequences = seqs;
  a.query_tokens = q_;
  a.context = (training_ || prefill_) ? q_ : w_.context_length;
  a.prefill = training_ || prefill_;
  return a;
}

Op Builder::embed_op(std::int64_t tokens, bool rep) const {
  Op o = models::make_memcpy("embedding", Bytes{static_cast<std::int64_t>(static_cast<double>(tokens) * hb_)});
  o.replicated = rep;
  return o;
}

// Final norm and vocab-parallel LM head. Decode and prefill produce logits for
// one token per sequence; training for every token (the loss).
std::vector<Op> Builder::lm_head_ops(std::int64_t seqs, int tp) const {
  if (m_.vocab_size <= 0) return {};
  const std::int64_t tokens = training_ ? seqs * q_ : seqs;
  std::vector<Op> ops;
  Op n = models::make_rmsnorm("final_norm", tokens, m_.hidden_size, m_.dtype);
  n.replicated = tp > 1;
  ops.push_back(n);
  ops.push_back(models::make_gemm("lm_head", tokens, ceil_div(m_.vocab_size, tp), m_.hidden_size, m_.dtype));
  return ops;
}

TaskTag Builder::tag(int layer, int mb, int step, int rep, bool recompute) const {
  TaskTag t;
  t.layer = layer;
  t.micro_batch = mb;
  t.step = step;
  t.replication = rep;
  t.recompute = recompute;
  return t;
}

TaskId Builder::run(int gpu, const std::vector<Op>& ops, Cat cat, const TaskTag& t, std::initializer_list<TaskId> deps) {
  note_activations(gpu, ops, t);
  return plan_.program.compute(gpu, ops, cat, t, deps);
}

Frontier Builder::run_all(const std::vector<int>& g, const std::vector<Op>& ops, Cat cat, const TaskTag& t,
                          const Frontier& in) {
  Frontier out(g.size());
  for (std::size_t r = 0; r < g.size(); ++r) out[r] = run(g[r], ops, cat, t, {in.empty() ? kNoTask : in[r]});
  return out;
}

// Step 0 only: the working set (inference) and the routed token-slots each GPU's
// experts process (training activations).
void Builder::note_activations(int gpu, const std::vector<Op>& ops, const TaskTag& t) {
  if (t.step != 0 || ops.empty()) return;
  const auto gi = static_cast<std::size_t>(gpu);
  plan_.footprint[gi].used = true;
  for (const Op& o : ops) {
    act_max_[gi] = std::max(act_max_[gi], models::activation_bytes(o).as_double());
    if (!o.backward && !t.recompute && o.label == std::string_view("expert_gate_up")) expert_rows_[gi] += o.m;
  }
}

TaskId Builder::collective(network::CollectiveRequest req, CommTag ctag, const TaskTag& t, const Frontier& deps) {
  note_collective(req);
  return plan_.program.collective(std::move(req), ctag, t, std::span<const TaskId>(deps));
}

// Communication memory: NCCL buffers per communicator (ring/tree collectives)
// and per point-to-point peer (models::comm_buffer_bytes), plus the staging
// buffers of token exchanges and pipeline hand-offs (what one call sends and
// receives, which the framework allocates apart from the activations).
void Builder::note_collective(const network::CollectiveRequest& r) {
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

network::CollectiveRequest Builder::req(network::CollectiveKind k, std::vector<int> ranks, double bytes) const {
  network::CollectiveRequest r;
  r.kind = k;
  r.ranks = std::move(ranks);
  r.bytes = Bytes{static_cast<std::int64_t>(std::llround(bytes))};
  return r;
}

// TP reduction after a row-parallel block: all-reduce, or reduce-scatter +
// all-gather with sequence parallelism. Identity for one rank.
Frontier Builder::tp_reduce(const std::vector<int>& g, std::int64_t tokens, const TaskTag& t, const Frontier& in,
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

Frontier Builder::tp_single(const std::vector<int>& g, network::CollectiveKind k, std::int64_t tokens, const TaskTag& t,
                            const Frontier& in) {
  if (g.size() <= 1) return in;
  const TaskId c = collective(req(k, g, static_cast<double>(tokens) * hb_), CommTag::kTpAllReduce, t, in);
  return Frontier(g.size(), c);
}

void Builder::note_last_bwd(int gpu, int L, TaskId id) {
  last_bwd_[static_cast<std::size_t>(gpu)][static_cast<std::size_t>(L)] = id;
}

// All-reduce of one layer's gradients among `peers` (the GPUs holding the same
// parameters), after each peer's last backward of that layer.
TaskId Builder::grad_allreduce(const std::vector<int>& peers, int L, double params, int step) {
  if (peers.size() <= 1 || params <= 0.0) return kNoTask;
  Frontier deps;
  for (int g : peers) deps.push_back(last_bwd_[static_cast<std::size_t>(g)][static_cast<std::size_t>(L)]);
  return collective(req(network::CollectiveKind::kAllReduce, peers, params * dt_), CommTag::kGradSync,
                    tag(L, 0, step, 1), deps);
}

TaskId Builder::optimizer(int g, const Frontier& syncs, int step) {
  const double params = plan_.footprint[static_cast<std::size_t>(g)].param_count;
  // Mixed-precision Adam step: read + write the weights (2·dtype), read the
  // gradients (dtype), read + write the optimizer states (2·optimizer bytes).
  const double traffic = params * (3.0 * dt_ + 2.0 * w_.optimizer_bytes_per_param);
  std::vector<Op> ops{models::make_memcpy("optimizer_step", Bytes{static_cast<std::int64_t>(traffic / 2.0)})};
  Frontier deps = syncs;
  return plan_.program.compute(g, ops, Cat::kOptimizer, tag(-1, 0, step, 1), std::span<const TaskId>(deps));
}

void Builder::finish_footprint() {
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
double Builder::training_activations(const ActInfo& ai, std::int64_t rows_step0) const {
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

}  // namespace masim::layouts::planning
