#include "sim/layouts/executor.hpp"

#include <algorithm>
#include <cmath>

#include "sim/common/assert.hpp"

namespace masim::layouts {

const char* to_string(Cat c) {
  switch (c) {
    case Cat::kEmbed: return "embed";
    case Cat::kAttention: return "attention";
    case Cat::kRouter: return "router";
    case Cat::kExpert: return "expert";
    case Cat::kShared: return "shared_expert";
    case Cat::kCombine: return "combine";
    case Cat::kDense: return "dense_ffn";
    case Cat::kLmHead: return "lm_head";
    case Cat::kOptimizer: return "optimizer";
    case Cat::kComm: return "comm";
    case Cat::kMarker: return "marker";
  }
  return "?";
}

namespace {

// Bytes that cross links in one call, summed over senders, for the lower-bound
// algorithms whose factors nccl-tests' doc/PERFORMANCE.md gives: every rank sends
// busbw_factor · S (all-reduce 2(n-1)/n · S, all-gather / reduce-scatter /
// all-to-all (n-1)/n · S); a broadcast or reduce moves S over n-1 hops; a
// send/recv moves S; a many-to-many moves its off-diagonal matrix entries.
Bytes network_payload(const network::CollectiveRequest& r) {
  using network::CollectiveKind;
  const auto n = static_cast<std::int64_t>(r.ranks.size());
  switch (r.kind) {
    case CollectiveKind::kAllReduce:
      return n > 1 ? Bytes{2 * (n - 1) * r.bytes.count()} : Bytes{0};
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll:
    case CollectiveKind::kBroadcast:
    case CollectiveKind::kReduce:
      return n > 1 ? Bytes{(n - 1) * r.bytes.count()} : Bytes{0};
    case CollectiveKind::kSendRecv:
      return (n == 2 && r.ranks[0] != r.ranks[1]) ? r.bytes : Bytes{0};
    case CollectiveKind::kManyToMany: {
      std::int64_t total = 0;
      const std::size_t nd = r.dst_ranks.size();
      for (std::size_t i = 0; i < r.ranks.size(); ++i) {
        for (std::size_t j = 0; j < nd; ++j) {
          if (r.ranks[i] != r.dst_ranks[j]) total += r.matrix[i * nd + j].count();
        }
      }
      return Bytes{total};
    }
  }
  return Bytes{0};
}

}  // namespace

Program::Program(const models::ComputeCostModel& cost, int num_gpus, const models::EnergyModel* energy)
    : cost_(&cost), energy_(energy), num_gpus_(num_gpus), last_compute_(static_cast<std::size_t>(num_gpus), kNoTask) {}

TaskId Program::add(Task t, std::span<const TaskId> deps) {
  MASIM_ASSERT(!finalized_, "program modified after finalize");
  const auto id = static_cast<TaskId>(tasks_.size());
  MASIM_ASSERT(id != kNoTask, "too many tasks");
  tasks_.push_back(t);
  for (TaskId d : deps) {
    if (d != kNoTask) depend(d, id);
  }
  return id;
}

TaskId Program::compute(int gpu, std::span<const models::Op> ops, Cat cat, const TaskTag& tag,
                        std::span<const TaskId> deps) {
  MASIM_ASSERT(gpu >= 0 && gpu < num_gpus_, "compute task on a GPU outside the topology");
  Task t;
  t.kind = TaskKind::kCompute;
  t.cat = cat;
  t.gpu = gpu;
  t.tag = tag;
  t.first_op = static_cast<std::uint32_t>(ops_.size());
  t.num_ops = static_cast<std::uint32_t>(ops.size());
  SimTime total = SimTime::zero();
  for (const models::Op& op : ops) {
    const models::OpCost c = cost_->cost(op);
    PricedOp p;
    p.label = op.label;
    p.kind = op.kind;
    p.source = c.source;
    p.replicated = op.replicated;
    p.backward = op.backward;
    p.time = c.time;
    p.flops = op.flops.count();
    p.tensor_flops = std::max(0.0, op.flops.count() - op.vector_flops.count());
    p.bytes = op.bytes.as_double();
    p.activity = energy_ != nullptr ? energy_->activity(op, c.time) : 1.0;
    if (op.kind == models::OpKind::kGroupedGemm && !op.backward && op.label == std::string_view("expert_gate_up")) {
      p.expert_rows = op.m;   // token-slots over the experts here (see make_grouped_gemm)
    }
    ops_.push_back(p);
    total += c.time;
  }
  t.duration = total;
  const TaskId id = add(t, deps);
  auto& last = last_compute_[static_cast<std::size_t>(gpu)];
  if (last != kNoTask) depend(last, id);
  last = id;
  return id;
}

TaskId Program::collective(network::CollectiveRequest req, CommTag tag, const TaskTag& ttag,
                           std::span<const TaskId> deps) {
  CollectiveTask c;
  c.tag = tag;
  c.payload = network_payload(req);
  c.gpus = req.ranks;
  c.gpus.insert(c.gpus.end(), req.dst_ranks.begin(), req.dst_ranks.end());
  std::sort(c.gpus.begin(), c.gpus.end());
  c.gpus.erase(std::unique(c.gpus.begin(), c.gpus.end()), c.gpus.end());
  for (int g : c.gpus) MASIM_ASSERT(g >= 0 && g < num_gpus_, "collective on a GPU outside the topology");
  req.tag = to_string(tag);
  c.request = std::move(req);
  Task t;
  t.kind = TaskKind::kCollective;
  t.cat = Cat::kComm;
  t.tag = ttag;
  t.collective = static_cast<std::uint32_t>(collectives_.size());
  collectives_.push_back(std::move(c));
  return add(t, deps);
}

TaskId Program::marker(const TaskTag& tag, std::span<const TaskId> deps) {
  Task t;
  t.kind = TaskKind::kMarker;
  t.cat = Cat::kMarker;
  t.tag = tag;
  return add(t, deps);
}

void Program::depend(TaskId before, TaskId after) {
  MASIM_ASSERT(before < tasks_.size() && after < tasks_.size() && before != after, "bad dependency");
  edges_.emplace_back(before, after);
  ++tasks_[after].waiting;
}

void Program::finalize() {
  if (finalized_) return;
  finalized_ = true;
  // Counting sort of the edges by their source keeps insertion order within a
  // source, so successors start in a deterministic order.
  std::vector<std::uint32_t> count(tasks_.size() + 1, 0);
  for (const auto& e : edges_) ++count[e.first + 1];
  for (std::size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
  succ_.assign(edges_.size(), kNoTask);
  std::vector<std::uint32_t> fill(count.begin(), count.end() - 1);
  for (const auto& e : edges_) succ_[fill[e.first]++] = e.second;
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    tasks_[i].succ_begin = count[i];
    tasks_[i].succ_end = count[i + 1];
  }
  edges_.clear();
  edges_.shrink_to_fit();
}

Executor::Executor(Program& program, engine::Engine& engine, network::Network& net)
    : program_(program), engine_(engine), net_(net) {
  self_ = engine_.add_handler(this);
}

void Executor::run() {
  program_.finalize();
  for (TaskId id = 0; id < program_.size(); ++id) {
    if (program_.task(id).waiting == 0) start(id);
  }
  // Tasks that finished instantly at time zero may have readied others.
  while (!ready_.empty()) {
    const TaskId id = ready_.back();
    ready_.pop_back();
    finish(id);
  }
  engine_.run();
  MASIM_ASSERT(done_ == program_.size(), "task program deadlocked (a dependency cycle)");
}

void Executor::start(TaskId id) {
  Task& t = program_.task(id);
  t.start = engine_.now();
  switch (t.kind) {
    case TaskKind::kCompute:
      if (t.duration > SimTime::zero()) {
        engine_.schedule_after(t.duration, self_, id, engine::Priority::kCompletion);
        return;
      }
      break;
    case TaskKind::kCollective: {
      const CollectiveTask& c = program_.collectives()[t.collective];
      if (c.payload.count() > 0) {
        net_.start(c.request, self_, id);
        return;
      }
      break;
    }
    case TaskKind::kMarker:
      break;
  }
  ready_.push_back(id);   // zero-time: finishes now
}

void Executor::finish(TaskId id) {
  Task& t = program_.task(id);
  t.end = engine_.now();
  ++done_;
  for (TaskId s : program_.successors(t)) {
    Task& st = program_.task(s);
    MASIM_ASSERT(st.waiting > 0, "dependency count underflow");
    if (--st.waiting == 0) start(s);
  }
}

void Executor::handle(engine::Engine&, std::uint64_t payload) {
  finish(static_cast<TaskId>(payload));
  while (!ready_.empty()) {
    const TaskId id = ready_.back();
    ready_.pop_back();
    finish(id);
  }
}

}  // namespace masim::layouts
