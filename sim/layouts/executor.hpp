// Per-GPU task programs and the executor that replays them in the engine.
//
// A Program is a DAG of tasks:
//   compute     a run of ops on one GPU's compute stream, priced op by op by the
//               ComputeCostModel (duration = sum of op costs, the ops run back to
//               back). Each GPU's compute stream is in order, one task at a time,
//               like a CUDA stream: every compute task implicitly depends on the
//               previous compute task of its GPU, in the order they were added.
//   collective  one task spanning several GPUs, started through network::Network
//               once all its dependencies are done. Collectives are not ordered
//               among themselves (NCCL calls on separate communicators/streams):
//               concurrent ones share links through the flow model.
//   marker      zero-time join point (e.g. the end of a decode step).
// Dependencies are counted (a ready count per task); the engine dispatches
// (handler, task id) events, so there is no closure per event. Time comes only
// from the engine (compute durations) and the network (collectives).
//
//   Program p(cost, topo.num_gpus());
//   TaskId a = p.compute(0, ops, Cat::kAttention, {.layer = 0}, {});
//   TaskId r = p.collective(allreduce_req, CommTag::kTpAllReduce, {.layer = 0}, {{a, b}});
//   engine::Engine e;  network::Network net(e, topo, params);
//   Executor x(p, e, net);  x.run();      // p.task(i).start / .end are now set
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/common/units.hpp"
#include "sim/engine/engine.hpp"
#include "sim/layouts/results.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/models/power.hpp"
#include "sim/models/op.hpp"
#include "sim/network/collective.hpp"
#include "sim/network/network.hpp"

namespace masim::layouts {

using TaskId = std::uint32_t;
inline constexpr TaskId kNoTask = std::numeric_limits<TaskId>::max();

// What a compute task belongs to (timeline category).
enum class Cat : std::uint8_t {
  kEmbed,
  kAttention,
  kRouter,
  kExpert,
  kShared,
  kCombine,
  kDense,
  kLmHead,
  kOptimizer,
  kComm,
  kMarker,
};
const char* to_string(Cat c);

enum class TaskKind : std::uint8_t { kCompute, kCollective, kMarker };

// One op as priced for a compute task.
struct PricedOp {
  std::string_view label;
  models::OpKind kind = models::OpKind::kGemm;
  models::CostSource source = models::CostSource::kRoofline;
  bool replicated = false;   // same op on the same data on every TP shard (count once)
  bool backward = false;
  SimTime time;
  double flops = 0.0;
  double tensor_flops = 0.0;
  double bytes = 0.0;
  double activity = 1.0;     // power-model activity in [0, 1] (models::EnergyModel)
  // Rows of routed-expert GEMMs (token-slots), 0 for other ops: for the
  // "each token visits top-k experts" invariant.
  std::int64_t expert_rows = 0;
};

// Where a task sits in the workload (for the timeline and step accounting).
struct TaskTag {
  int layer = -1;
  int micro_batch = 0;
  int step = 0;
  bool recompute = false;    // training: forward recomputation (not model FLOPs)
  int replication = 1;       // GPUs running this same task on the same data
};

struct Task {
  TaskKind kind = TaskKind::kCompute;
  Cat cat = Cat::kMarker;
  int gpu = -1;                       // compute tasks
  std::uint32_t first_op = 0;         // compute: ops_[first_op, first_op + num_ops)
  std::uint32_t num_ops = 0;
  std::uint32_t collective = 0;       // collective: index into collectives()
  SimTime duration;                   // compute: sum of op times
  TaskTag tag;
  std::int32_t waiting = 0;           // dependencies not yet done
  std::uint32_t succ_begin = 0;       // successors: succ_[succ_begin, succ_end)
  std::uint32_t succ_end = 0;
  SimTime start = SimTime::max();
  SimTime end = SimTime::max();
};

struct CollectiveTask {
  network::CollectiveRequest request;
  CommTag tag = CommTag::kTpAllReduce;
  Bytes payload;                      // bytes that cross the network (sum over senders)
  std::vector<int> gpus;              // every participant (senders and receivers), sorted
};

class Program {
 public:
  // `energy` (optional, not owned) gives each op its power-model activity.
  Program(const models::ComputeCostModel& cost, int num_gpus, const models::EnergyModel* energy = nullptr);

  // A compute task on `gpu` running `ops` back to back. Empty `ops` gives a
  // zero-time task (still ordered on the stream). kNoTask entries in deps are ignored.
  TaskId compute(int gpu, std::span<const models::Op> ops, Cat cat, const TaskTag& tag,
                 std::span<const TaskId> deps);
  TaskId compute(int gpu, std::span<const models::Op> ops, Cat cat, const TaskTag& tag,
                 std::initializer_list<TaskId> deps) {
    return compute(gpu, ops, cat, tag, std::span<const TaskId>(deps.begin(), deps.size()));
  }
  // A collective. A request whose payload is zero (nothing crosses the network)
  // becomes a zero-time join without a network call.
  TaskId collective(network::CollectiveRequest req, CommTag tag, const TaskTag& ttag,
                    std::span<const TaskId> deps);
  TaskId collective(network::CollectiveRequest req, CommTag tag, const TaskTag& ttag,
                    std::initializer_list<TaskId> deps) {
    return collective(std::move(req), tag, ttag, std::span<const TaskId>(deps.begin(), deps.size()));
  }
  TaskId marker(const TaskTag& tag, std::span<const TaskId> deps);
  void depend(TaskId before, TaskId after);

  // Freezes the DAG: builds successor lists. Called by Executor.
  void finalize();

  int num_gpus() const { return num_gpus_; }
  std::size_t size() const { return tasks_.size(); }
  const Task& task(TaskId id) const { return tasks_[id]; }
  Task& task(TaskId id) { return tasks_[id]; }
  const std::vector<Task>& tasks() const { return tasks_; }
  const std::vector<PricedOp>& ops() const { return ops_; }
  std::span<const PricedOp> ops_of(const Task& t) const {
    return std::span<const PricedOp>(ops_).subspan(t.first_op, t.num_ops);
  }
  const std::vector<CollectiveTask>& collectives() const { return collectives_; }
  std::span<const TaskId> successors(const Task& t) const {
    return std::span<const TaskId>(succ_).subspan(t.succ_begin, t.succ_end - t.succ_begin);
  }
  const models::ComputeCostModel& cost_model() const { return *cost_; }

 private:
  TaskId add(Task t, std::span<const TaskId> deps);

  const models::ComputeCostModel* cost_;
  const models::EnergyModel* energy_;
  int num_gpus_;
  std::vector<Task> tasks_;
  std::vector<PricedOp> ops_;
  std::vector<CollectiveTask> collectives_;
  std::vector<std::pair<TaskId, TaskId>> edges_;
  std::vector<TaskId> succ_;
  std::vector<TaskId> last_compute_;   // per GPU: the stream's latest task
  bool finalized_ = false;
};

// Replays a Program: starts every ready task, prices compute tasks by their
// duration on the engine clock and collectives through the network; records
// each task's start and end in the Program.
class Executor final : public engine::EventHandler {
 public:
  Executor(Program& program, engine::Engine& engine, network::Network& net);
  // Runs to completion. Asserts (internal bug) if some task never became ready.
  void run();
  void handle(engine::Engine& engine, std::uint64_t payload) override;

 private:
  void start(TaskId id);
  void finish(TaskId id);

  Program& program_;
  engine::Engine& engine_;
  network::Network& net_;
  engine::HandlerId self_ = 0;
  std::vector<TaskId> ready_;     // worklist: tasks finished at this instant
  std::size_t done_ = 0;
};

}  // namespace masim::layouts
