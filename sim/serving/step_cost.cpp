#include "sim/serving/step_cost.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/io/diagnostics.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/network/network.hpp"

namespace masim::serving {

namespace {

constexpr int kRoutingSamples = 2;   // routing samples per grid point (decode steps averaged)

// Batch grid: every batch up to 16 (small batches are where the number of
// experts a step touches, and the split into micro-batches, change fastest),
// then four evenly spaced points per octave (16, 20, 24, 28, 32, 40, ...), then `max`.
std::vector<std::int64_t> batch_grid(std::int64_t max) {
  std::vector<std::int64_t> v;
  for (std::int64_t x = 1; x < max && x <= 16; ++x) v.push_back(x);
  for (std::int64_t octave = 16; octave < max; octave *= 2) {
    for (int k = 1; k <= 4; ++k) {
      const std::int64_t x = octave + octave * k / 4;
      if (x < max) v.push_back(x);
    }
  }
  v.push_back(std::max<std::int64_t>(1, max));
  return v;
}

// Length grid: two points per octave from 16 (16, 24, 32, 48, ...), then `max`.
std::vector<std::int64_t> length_grid(std::int64_t max) {
  std::vector<std::int64_t> v;
  for (std::int64_t octave = 16; octave < max; octave *= 2) {
    v.push_back(octave);
    if (octave + octave / 2 < max) v.push_back(octave + octave / 2);
  }
  v.push_back(std::max<std::int64_t>(16, max));
  return v;
}

// Index i with v[i] <= x <= v[i + 1] (clamped to the ends).
std::size_t bracket(const std::vector<std::int64_t>& v, double x) {
  std::size_t i = 0;
  while (i + 2 < v.size() && static_cast<double>(v[i + 1]) < x) ++i;
  return i;
}

}  // namespace

StepCosts::StepCosts(const spec::ScenarioSpec& s, const spec::LayoutSpec& replica, const topology::Topology& topo,
                     const models::ComputeCostModel& cost, std::int64_t max_batch, std::int64_t max_context,
                     std::int64_t max_prefill_tokens, int kv_src_gpu, int kv_dst_gpu)
    : s_(s), layout_(replica), topo_(topo), cost_(cost) {
  batches_ = batch_grid(max_batch);
  contexts_ = length_grid(max_context);
  prompts_ = batch_grid(max_batch);
  lengths_ = length_grid(max_prefill_tokens);
  tokens_ = batch_grid(max_batch + max_prefill_tokens);
  // Memory: the plan at the largest batch and context.
  spec::ScenarioSpec one = s_;
  one.layouts = {layout_};
  one.workload.kind = spec::WorkloadKind::kDecode;
  one.workload.batch = static_cast<int>(max_batch);
  one.workload.context_length = static_cast<int>(max_context);
  one.workload.iterations = 1;
  one.timeline.reset();
  one.serving.reset();
  layouts::SimOptions opts;
  opts.record_timeline = false;
  opts.enforce_memory = false;
  try {
    ++simulations_;
    const layouts::ScenarioResult res = layouts::simulate(one, topo_, cost_, opts);
    const layouts::LayoutResult& lr = res.layouts.at(0);
    double tokens = std::numeric_limits<double>::infinity();
    double per_token_max = 0.0;
    const double all = static_cast<double>(max_batch) * static_cast<double>(max_context);
    for (const layouts::GpuMemory& m : lr.memory) {
      const double kv = m.breakdown.kv_cache.as_double();
      if (kv <= 0.0) continue;
      const double per_token = kv / all;
      const double other = m.breakdown.total().as_double() - kv;
      tokens = std::min(tokens, std::max(0.0, m.capacity.as_double() - other) / per_token);
      per_token_max = std::max(per_token_max, per_token);
    }
    if (std::isinf(tokens)) tokens = 0.0;
    kv_tokens_ = static_cast<std::int64_t>(std::floor(tokens * s_.serving->kv_memory_fraction));
    swap_s_per_token_ = per_token_max / s_.serving->swap_bandwidth.bytes_per_s();
    kv_bytes_per_token_ = per_token_max;
  } catch (const io::InputError& e) {
    ok_ = false;
    error_ = e.diagnostics().empty() ? std::string(e.what()) : e.diagnostics().items().front().message;
  }
  if (kv_src_gpu >= 0 && kv_dst_gpu >= 0 && kv_src_gpu != kv_dst_gpu) {
    auto seconds = [&](std::int64_t bytes) {
      const network::NamedCollectiveResult r =
          network::run_named_collective(topo_, "send_recv", Bytes(bytes), {kv_src_gpu, kv_dst_gpu});
      return r.result ? r.result->time.seconds() : 0.0;
    };
    const double small = 1 << 20, large = 64.0 * (1 << 20);
    const double t0 = seconds(1 << 20), t1 = seconds(64 << 20);
    transfer_b_ = std::max(0.0, (t1 - t0) / (large - small));
    transfer_a_ = std::max(0.0, t0 - transfer_b_ * small);
  }
}

double StepCosts::run(bool decode, std::int64_t n, std::int64_t len) {
  ++simulations_;
  spec::ScenarioSpec one = s_;
  one.layouts = {layout_};
  one.workload.kind = decode ? spec::WorkloadKind::kDecode : spec::WorkloadKind::kPrefill;
  one.workload.batch = static_cast<int>(n);
  one.workload.context_length = static_cast<int>(len);
  one.workload.iterations = kRoutingSamples;
  one.timeline.reset();
  one.serving.reset();
  layouts::SimOptions opts;
  opts.record_timeline = false;
  opts.enforce_memory = false;
  try {
    const layouts::ScenarioResult res = layouts::simulate(one, topo_, cost_, opts);
    return res.layouts.at(0).metrics.iteration_ms * 1e-3;
  } catch (const io::InputError&) {
    return -1.0;
  }
}

double StepCosts::point(bool decode, std::int64_t n, std::int64_t len) {
  auto& table = decode ? decode_ : prefill_;
  std::int64_t& minb = min_batch_[decode ? 0 : 1];
  if (minb == 0) {
    // The smallest batch the planner accepts (at the shortest length).
    for (std::int64_t b = 1; b <= (std::int64_t{1} << 20); b *= 2) {
      const double t = run(decode, b, 16);
      if (t >= 0.0) {
        minb = b;
        table[{b, 16}] = t;
        break;
      }
    }
    if (minb == 0) {
      ok_ = false;
      error_ = "the planner refuses every batch size for this replica";
      minb = 1;
    }
  }
  const std::int64_t b = std::max(n, minb);
  auto it = table.find({b, len});
  if (it == table.end()) {
    double t = run(decode, b, len);
    if (t < 0.0) t = 0.0;
    it = table.emplace(std::make_pair(b, len), t).first;
  }
  return it->second;
}

double StepCosts::interpolate(bool decode, const std::vector<std::int64_t>& ns, const std::vector<std::int64_t>& ls,
                              double n, double len) {
  n = std::clamp(n, static_cast<double>(ns.front()), static_cast<double>(ns.back()));
  len = std::clamp(len, static_cast<double>(ls.front()), static_cast<double>(ls.back()));
  const std::size_t i = ns.size() == 1 ? 0 : bracket(ns, n);
  const std::size_t j = ls.size() == 1 ? 0 : bracket(ls, len);
  const std::int64_t n0 = ns[i], n1 = ns[std::min(i + 1, ns.size() - 1)];
  const std::int64_t l0 = ls[j], l1 = ls[std::min(j + 1, ls.size() - 1)];
  const double fn = n1 > n0 ? (n - static_cast<double>(n0)) / static_cast<double>(n1 - n0) : 0.0;
  const double fl = l1 > l0 ? (len - static_cast<double>(l0)) / static_cast<double>(l1 - l0) : 0.0;
  const double a = point(decode, n0, l0), b = point(decode, n1, l0);
  const double c = point(decode, n0, l1), d = point(decode, n1, l1);
  return (1 - fn) * (1 - fl) * a + fn * (1 - fl) * b + (1 - fn) * fl * c + fn * fl * d;
}

double StepCosts::decode_s(std::int64_t batch, double mean_context) {
  if (batch <= 0) return 0.0;
  return interpolate(true, batches_, contexts_, static_cast<double>(batch), mean_context);
}

double StepCosts::prefill_s(std::int64_t prompts, double mean_length) {
  if (prompts <= 0) return 0.0;
  return interpolate(false, prompts_, lengths_, static_cast<double>(prompts), mean_length);
}

double StepCosts::tokens_s(double tokens) {
  if (tokens <= 0.0) return 0.0;
  const double x = std::clamp(tokens, static_cast<double>(tokens_.front()), static_cast<double>(tokens_.back()));
  const std::size_t i = tokens_.size() == 1 ? 0 : bracket(tokens_, x);
  const std::int64_t a = tokens_[i], b = tokens_[std::min(i + 1, tokens_.size() - 1)];
  const double f = b > a ? (x - static_cast<double>(a)) / static_cast<double>(b - a) : 0.0;
  return (1 - f) * point(true, a, 16) + f * point(true, b, 16);
}

double StepCosts::combine_s(double a_s, double a_tokens, double b_s, double b_tokens) {
  if (a_tokens <= 0.0 || b_tokens <= 0.0) return a_s + b_s;
  const double m = a_s + b_s - tokens_s(a_tokens) - tokens_s(b_tokens) + tokens_s(a_tokens + b_tokens);
  return std::clamp(m, std::max(a_s, b_s), a_s + b_s);
}

std::int64_t StepCosts::min_batch(bool decode) {
  if (min_batch_[decode ? 0 : 1] == 0) point(decode, 1, 16);
  return min_batch_[decode ? 0 : 1];
}

double StepCosts::mixed_s(std::int64_t batch, double mean_context, std::int64_t prompts, double mean_length) {
  const double d = decode_s(batch, mean_context);
  const double p = prefill_s(prompts, mean_length);
  if (batch <= 0 || prompts <= 0) return d + p;
  const auto b = static_cast<double>(std::max(batch, min_batch(true)));
  const auto n = static_cast<double>(std::max(prompts, min_batch(false)));
  return combine_s(d, b, p, n * mean_length);
}

double StepCosts::decode_exact_s(std::int64_t batch, std::int64_t context) { return point(true, batch, context); }
double StepCosts::prefill_exact_s(std::int64_t prompts, std::int64_t length) { return point(false, prompts, length); }

}  // namespace masim::serving
