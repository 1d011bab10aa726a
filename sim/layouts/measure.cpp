#include "sim/layouts/measure.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/common/assert.hpp"
#include "sim/models/memory.hpp"
#include "sim/models/power.hpp"
#include "sim/workload/routing.hpp"

namespace masim::layouts {
namespace {

using Interval = std::pair<std::int64_t, std::int64_t>;   // [start, end) in ps

std::int64_t overlap(std::int64_t a0, std::int64_t a1, std::int64_t b0, std::int64_t b1) {
  return std::max<std::int64_t>(0, std::min(a1, b1) - std::max(a0, b0));
}

// Sorted, disjoint union of intervals, clipped to [w0, w1).
std::vector<Interval> merge_clip(std::vector<Interval> v, std::int64_t w0, std::int64_t w1) {
  std::sort(v.begin(), v.end());
  std::vector<Interval> out;
  for (auto [a, b] : v) {
    a = std::max(a, w0);
    b = std::min(b, w1);
    if (b <= a) continue;
    if (!out.empty() && a <= out.back().second) {
      out.back().second = std::max(out.back().second, b);
    } else {
      out.emplace_back(a, b);
    }
  }
  return out;
}

std::int64_t length(const std::vector<Interval>& v) {
  std::int64_t s = 0;
  for (const auto& [a, b] : v) s += b - a;
  return s;
}

// Length of `comm` not covered by `busy` (both sorted and disjoint).
std::int64_t uncovered(const std::vector<Interval>& comm, const std::vector<Interval>& busy) {
  std::int64_t total = 0;
  std::size_t j = 0;
  for (const auto& [a, b] : comm) {
    std::int64_t covered = 0;
    while (j < busy.size() && busy[j].second <= a) ++j;
    for (std::size_t k = j; k < busy.size() && busy[k].first < b; ++k) covered += overlap(a, b, busy[k].first, busy[k].second);
    total += (b - a) - covered;
  }
  return total;
}

}  // namespace

MemoryReport memory_of(const Plan& plan, const spec::ScenarioSpec& s) {
  const spec::ModelSpec& m = s.model;
  const spec::WorkloadSpec& w = s.workload;
  const spec::GpuSpec& gpu = s.hardware.gpu;
  const bool training = w.kind == spec::WorkloadKind::kTraining;
  const double dt = spec::dtype_bytes(m.dtype);
  MemoryReport r;
  double useful = 0.0, used = 0.0;
  double scale = std::numeric_limits<double>::infinity();
  bool blocked = false;
  for (int g : plan.gpus) {
    const GpuFootprint& fp = plan.footprint[static_cast<std::size_t>(g)];
    GpuMemory gm;
    gm.gpu = g;
    gm.capacity = gpu.hbm_capacity;
    gm.embedding = Bytes{static_cast<std::int64_t>(std::llround(fp.embedding_param_count * dt))};
    models::MemoryBreakdown& b = gm.breakdown;
    b.parameters = Bytes{static_cast<std::int64_t>(std::llround(fp.param_count * dt))};
    if (fp.kv_sequences > 0 && fp.kv_layers > 0) {
      b.kv_cache = models::kv_cache_bytes(m, fp.kv_layers, fp.kv_heads, fp.kv_sequences, fp.kv_context);
    }
    b.activations = Bytes{static_cast<std::int64_t>(std::llround(fp.activation_bytes))};
    if (training) {
      b.gradients = b.parameters;
      b.optimizer_states =
          Bytes{static_cast<std::int64_t>(std::llround(fp.param_count * w.optimizer_bytes_per_param))};
    }
    const Bytes nccl = (fp.communicators > 0 || fp.comm_peers > 0)
                           ? models::comm_buffer_bytes(fp.communicators, fp.comm_peers)
                           : Bytes{0};
    const Bytes staging{static_cast<std::int64_t>(std::llround(fp.comm_staging_bytes))};
    b.comm_buffers = nccl + staging;
    b.reserve = models::runtime_reserve(gpu);
    const Bytes total = b.total();
    if (total > gm.capacity) r.shortfalls.push_back(models::shortfall_message(g, b, gm.capacity));
    useful += (b.parameters + b.kv_cache + b.gradients + b.optimizer_states).as_double();
    used += total.as_double();
    // Batch-dependent part (linear in the batch, or in the micro-batch size for
    // training): KV cache, activations, staging buffers.
    const double var = (b.kv_cache + b.activations + staging).as_double();
    const double fixed = total.as_double() - var;
    if (fixed > gm.capacity.as_double()) blocked = true;
    if (var > 0.0) scale = std::min(scale, (gm.capacity.as_double() - fixed) / var);
    r.gpus.push_back(gm);
  }
  r.memory_efficiency = used > 0.0 ? useful / used : 0.0;
  const double base = training ? std::max(1, w.micro_batch_size) : w.batch;
  if (blocked) {
    r.max_batch_that_fits = 0;
  } else if (std::isinf(scale)) {
    r.max_batch_that_fits = -1;
  } else {
    r.max_batch_that_fits = static_cast<std::int64_t>(std::floor(std::max(0.0, scale) * base + 1e-9));
  }
  return r;
}

LayoutResult measure(const Plan& plan, const spec::ScenarioSpec& s, int index, const MemoryReport& mem,
                     bool record_timeline, std::uint64_t events, const models::PowerFit* power) {
  const spec::LayoutSpec& l = s.layouts[static_cast<std::size_t>(index)];
  const spec::GpuSpec& gpu = s.hardware.gpu;
  const Program& prog = plan.program;
  LayoutResult r;
  r.name = l.name;
  r.kind = l.kind;
  r.gpus = static_cast<int>(plan.gpus.size());
  r.gpu_ranks = plan.gpus;
  r.parallelism = plan.parallelism;
  r.router_location = plan.router_location;
  r.layer_split = plan.layer_split;
  r.memory = mem.gpus;
  r.max_batch_that_fits = mem.max_batch_that_fits;
  r.events = static_cast<std::int64_t>(events);

  // Window.
  MASIM_ASSERT(plan.steps >= 1 && static_cast<int>(plan.step_done.size()) == plan.steps, "plan without steps");
  auto step_end = [&](int st) { return prog.task(plan.step_done[static_cast<std::size_t>(st)]).end.count_ps(); };
  const int last = plan.steps - 1;
  const int first_measured = plan.steps >= 2 ? 1 : 0;
  const std::int64_t w0 = plan.steps >= 2 ? step_end(0) : 0;
  const std::int64_t w1 = step_end(last);
  const int iters = plan.steps >= 2 ? plan.steps - 1 : 1;
  const double window_s = static_cast<double>(w1 - w0) * 1e-12;
  MASIM_ASSERT(w1 > w0, "empty measurement window");
  double tokens = 0.0, model_flops = 0.0, model_tensor_flops = 0.0;
  for (int st = first_measured; st <= last; ++st) {
    tokens += plan.tokens[static_cast<std::size_t>(st)];
    model_flops += plan.model_flops[static_cast<std::size_t>(st)];
    model_tensor_flops += plan.model_tensor_flops[static_cast<std::size_t>(st)];
  }

  // Per-GPU accumulation.
  const int n = static_cast<int>(plan.gpus.size());
  std::vector<int> pos(static_cast<std::size_t>(prog.num_gpus()), -1);
  for (int i = 0; i < n; ++i) pos[static_cast<std::size_t>(plan.gpus[static_cast<std::size_t>(i)])] = i;
  std::vector<std::vector<Interval>> busy(static_cast<std::size_t>(n));
  std::vector<double> hbm_bytes(static_cast<std::size_t>(n), 0.0), active_s(static_cast<std::size_t>(n), 0.0);
  std::vector<double> expert_rows(static_cast<std::size_t>(n), 0.0);
  std::vector<std::vector<std::vector<Interval>>> comm(
      static_cast<std::size_t>(n), std::vector<std::vector<Interval>>(kNumCommTags));
  std::array<double, kNumCommTags> tag_bytes{}, tag_calls{};
  for (const Task& t : prog.tasks()) {
    const std::int64_t a = t.start.count_ps(), b = t.end.count_ps();
    if (t.kind == TaskKind::kCompute) {
      for (const PricedOp& op : prog.ops_of(t)) {
        if (op.source == models::CostSource::kProfile) {
          ++r.cost_profile;
        } else {
          ++r.cost_roofline;
        }
      }
      const int p = pos[static_cast<std::size_t>(t.gpu)];
      if (p < 0 || b <= a) continue;
      const auto pi = static_cast<std::size_t>(p);
      if (t.tag.step >= first_measured && !t.tag.recompute) {
        for (const PricedOp& op : prog.ops_of(t)) expert_rows[pi] += static_cast<double>(op.expert_rows);
      }
      if (overlap(a, b, w0, w1) == 0) continue;
      busy[pi].emplace_back(a, b);
      std::int64_t o0 = a;
      for (const PricedOp& op : prog.ops_of(t)) {
        const std::int64_t o1 = o0 + op.time.count_ps();
        const std::int64_t ov = overlap(o0, o1, w0, w1);
        if (ov > 0 && o1 > o0) {
          const double frac = static_cast<double>(ov) / static_cast<double>(o1 - o0);
          hbm_bytes[pi] += op.bytes * frac;
          active_s[pi] += static_cast<double>(ov) * 1e-12 * op.activity;
        }
        o0 = o1;
      }
    } else if (t.kind == TaskKind::kCollective) {
      const CollectiveTask& c = prog.collectives()[t.collective];
      const auto ti = static_cast<std::size_t>(c.tag);
      if (t.tag.step >= first_measured && c.payload.count() > 0) {
        tag_bytes[ti] += c.payload.as_double();
        tag_calls[ti] += 1.0;
      }
      if (b <= a) continue;
      for (int g : c.gpus) {
        const int p = pos[static_cast<std::size_t>(g)];
        if (p >= 0) comm[static_cast<std::size_t>(p)][ti].emplace_back(a, b);
      }
    }
  }

  // Utilization, communication shares and exposure.
  const models::EnergyModel energy(gpu, power ? std::optional<models::PowerFit>(*power) : std::nullopt);
  double util_sum = 0.0, util_comm_sum = 0.0, energy_j = 0.0, bytes_total = 0.0;
  std::array<double, kNumCommTags> share{}, exposed{};
  double share_total = 0.0, exposed_total = 0.0;
  const double wlen = static_cast<double>(w1 - w0);
  for (int p = 0; p < n; ++p) {
    const auto pi = static_cast<std::size_t>(p);
    const std::vector<Interval> cb = merge_clip(busy[pi], w0, w1);
    const double u = static_cast<double>(length(cb)) / wlen;
    MASIM_ASSERT(u <= 1.0 + 1e-12, "GPU utilization above 1 (overlapping compute tasks)");
    r.metrics.gpu_util.push_back(u);
    util_sum += u;
    bytes_total += hbm_bytes[pi];
    models::GpuEnergy ge;
    ge.busy_s = static_cast<double>(length(cb)) * 1e-12;
    ge.active_s = active_s[pi];
    energy_j += energy.energy_j(SimTime::ps(w1 - w0), ge);
    std::vector<Interval> all;
    for (int tg = 0; tg < kNumCommTags; ++tg) {
      const auto tgi = static_cast<std::size_t>(tg);
      const std::vector<Interval> ci = merge_clip(comm[pi][tgi], w0, w1);
      share[tgi] += static_cast<double>(length(ci)) / wlen;
      exposed[tgi] += static_cast<double>(uncovered(ci, cb));
      all.insert(all.end(), ci.begin(), ci.end());
    }
    const std::vector<Interval> ca = merge_clip(all, w0, w1);
    share_total += static_cast<double>(length(ca)) / wlen;
    exposed_total += static_cast<double>(uncovered(ca, cb));
    all.insert(all.end(), cb.begin(), cb.end());
    util_comm_sum += static_cast<double>(length(merge_clip(std::move(all), w0, w1))) / wlen;
  }
  const double nd = static_cast<double>(n);
  for (int tg = 0; tg < kNumCommTags; ++tg) {
    const auto tgi = static_cast<std::size_t>(tg);
    CommStats& c = r.communication[tgi];
    c.share = share[tgi] / nd;
    c.exposed_ms = exposed[tgi] / nd / iters * 1e-9;
    c.bytes = static_cast<std::int64_t>(std::llround(tag_bytes[tgi] / iters));
    c.calls = static_cast<std::int64_t>(std::llround(tag_calls[tgi] / iters));
    r.communication_total.bytes += c.bytes;
    r.communication_total.calls += c.calls;
  }
  r.communication_total.share = share_total / nd;
  r.communication_total.exposed_ms = exposed_total / nd / iters * 1e-9;

  LayoutMetrics& m = r.metrics;
  m.iteration_ms = wlen / iters * 1e-9;
  m.tokens_per_s = tokens / window_s;
  m.tokens_per_s_per_gpu = m.tokens_per_s / nd;
  if (s.workload.kind == spec::WorkloadKind::kDecode) m.tpot_ms = m.iteration_ms;
  if (s.workload.kind == spec::WorkloadKind::kPrefill) m.ttft_ms = m.iteration_ms;
  m.gpu_util_mean = util_sum / nd;
  m.gpu_util_with_comm_mean = util_comm_sum / nd;
  const auto peak_it = gpu.peak_flops.find(s.model.dtype);
  const double peak = peak_it != gpu.peak_flops.end() ? peak_it->second.per_s() : 0.0;
  m.mfu = peak > 0.0 ? model_tensor_flops / (window_s * peak * nd) : 0.0;
  m.hbm_bw_util = bytes_total / (window_s * gpu.hbm_bandwidth.bytes_per_s() * nd);
  m.avg_power_w = energy_j / window_s / nd;
  m.energy_per_token_mj = tokens > 0.0 ? energy_j / tokens * 1e3 : 0.0;
  m.memory_efficiency = mem.memory_efficiency;
  m.model_flops_per_token = tokens > 0.0 ? model_flops / tokens : 0.0;

  const workload::ExpertStats es = workload::expert_stats(plan.routing, s.model.num_experts);
  r.experts.share_std = es.share_std;
  r.experts.share_min = es.share_min;
  r.experts.share_max = es.share_max;
  r.experts.aux_loss = es.aux_loss;
  r.experts.dropped = es.dropped;
  r.experts.routed = es.routed;
  {
    double sum = 0.0, mx = 0.0;
    int holders = 0;
    for (double v : expert_rows) {
      if (v <= 0.0) continue;
      sum += v;
      mx = std::max(mx, v);
      ++holders;
    }
    r.experts.gpu_load_max_over_mean = holders > 0 ? mx / (sum / holders) : 0.0;
  }

  if (record_timeline) {
    // The last step's tasks, times relative to its first task's start. A
    // training step has hundreds of micro-batches: keep the first
    // kTimelineMicroBatches of them (the pattern repeats) and the step-level
    // tasks (gradient reductions, optimizer, broadcasts).
    constexpr int kTimelineMicroBatches = 4;
    const bool training = s.workload.kind == spec::WorkloadKind::kTraining;
    auto keep = [&](const Task& t) {
      if (t.tag.step != last || t.kind == TaskKind::kMarker || !(t.end > t.start)) return false;
      if (!training) return true;
      if (t.kind == TaskKind::kCompute && t.cat == Cat::kOptimizer) return true;
      if (t.kind == TaskKind::kCollective) {
        const CommTag tg = prog.collectives()[t.collective].tag;
        if (tg == CommTag::kGradSync || tg == CommTag::kParamBroadcast) return true;
      }
      return t.tag.micro_batch < kTimelineMicroBatches;
    };
    std::int64_t ref = std::numeric_limits<std::int64_t>::max();
    for (const Task& t : prog.tasks()) {
      if (keep(t)) ref = std::min(ref, t.start.count_ps());
    }
    for (const Task& t : prog.tasks()) {
      if (!keep(t)) continue;
      if (t.kind == TaskKind::kCompute) {
        std::int64_t o0 = t.start.count_ps();
        for (const PricedOp& op : prog.ops_of(t)) {
          TimelineEntry e;
          e.gpu = t.gpu;
          e.stream = Stream::kCompute;
          e.name = std::string(op.label);
          if (op.backward) e.name += "_bwd";
          e.cat = to_string(t.cat);
          e.layer = t.tag.layer;
          e.micro_batch = t.tag.micro_batch;
          e.start_us = static_cast<double>(o0 - ref) * 1e-6;
          e.dur_us = static_cast<double>(op.time.count_ps()) * 1e-6;
          o0 += op.time.count_ps();
          r.timeline.push_back(std::move(e));
        }
      } else {
        const CollectiveTask& c = prog.collectives()[t.collective];
        for (int g : c.gpus) {
          TimelineEntry e;
          e.gpu = g;
          e.stream = Stream::kComm;
          e.name = to_string(c.tag);
          e.cat = "comm";
          e.layer = t.tag.layer;
          e.micro_batch = t.tag.micro_batch;
          e.start_us = static_cast<double>(t.start.count_ps() - ref) * 1e-6;
          e.dur_us = static_cast<double>((t.end - t.start).count_ps()) * 1e-6;
          r.timeline.push_back(std::move(e));
        }
      }
    }
  }
  return r;
}

}  // namespace masim::layouts
