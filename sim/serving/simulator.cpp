#include "sim/serving/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <numeric>
#include <queue>
#include <tuple>

#include "sim/serving/step_cost.hpp"

namespace masim::serving {

namespace {

int inner_of(const spec::LayoutSpec& l) {
  switch (l.kind) {
    case spec::LayoutKind::kTensor:
    case spec::LayoutKind::kTensorPipeline: return l.tp;
    case spec::LayoutKind::kExpert: return l.ep;
    case spec::LayoutKind::kPipeline:
      return l.stage_parallelism == spec::StageParallelism::kTensor   ? l.tp
             : l.stage_parallelism == spec::StageParallelism::kExpert ? l.ep
                                                                      : 1;
    case spec::LayoutKind::kMaSeparation: return 1;
  }
  return 1;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

struct Live {                   // scheduler state of one request
  std::int64_t need = 0;        // tokens to prefill before decoding (prompt, or prompt + generated after a recompute)
  std::int64_t prefilled = 0;
  std::int64_t blocks = 0;      // KV blocks held on the GPU
  bool first_prefill = true;
};

struct Replica {
  std::deque<int> waiting;      // request indices
  std::vector<int> running;     // admission order
  std::deque<int> swapped;
  std::int64_t free_blocks = 0, total_blocks = 0;
  bool busy = false;
  bool alive = true;            // under faults: serving now
  double speed = 1.0;           // under faults: step times are divided by it
  int gen = 0;                  // a step end of an older generation was lost to a failure
  int effect = -1;              // under faults: its open outage (index into ServingLayout::incidents)
  bool known_down = false;      // under faults: detected, the router skips it
  bool prefill_only = false;    // disaggregated: the prefill pool
  std::int64_t load = 0;        // unfinished requests routed here
  // The step in flight.
  std::vector<int> decode;      // requests decoding one token
  std::vector<std::pair<int, std::int64_t>> chunks;   // requests prefilling, tokens
};

struct Change {                 // system state from `t` on
  double t;
  std::int64_t in_system, running, waiting, used_blocks;
  int serving;                  // replicas serving
};

}  // namespace

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.count = static_cast<std::int64_t>(v.size());
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto q = [&](double f) {
    const double x = f * static_cast<double>(v.size() - 1);
    const auto i = static_cast<std::size_t>(std::floor(x));
    const std::size_t j = std::min(i + 1, v.size() - 1);
    return v[i] + (x - static_cast<double>(i)) * (v[j] - v[i]);
  };
  double sum = 0.0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  p.p50 = q(0.50);
  p.p90 = q(0.90);
  p.p99 = q(0.99);
  p.max = v.back();
  return p;
}

std::vector<spec::LayoutSpec> replica_layouts(const spec::LayoutSpec& l) {
  if (l.kind == spec::LayoutKind::kMaSeparation || l.dp <= 1) return {l};
  std::vector<int> all = l.gpus;
  if (all.empty()) {
    all.resize(static_cast<std::size_t>(l.gpu_count()));
    std::iota(all.begin(), all.end(), 0);
  }
  const int inner = inner_of(l);
  const int pp = l.kind == spec::LayoutKind::kPipeline || l.kind == spec::LayoutKind::kTensorPipeline ? l.pp : 1;
  std::vector<spec::LayoutSpec> out;
  for (int r = 0; r < l.dp; ++r) {
    spec::LayoutSpec x = l;
    x.dp = 1;
    x.gpus.clear();
    for (int st = 0; st < pp; ++st) {
      for (int k = 0; k < inner; ++k) x.gpus.push_back(all[static_cast<std::size_t>(st * (l.dp * inner) + r * inner + k)]);
    }
    out.push_back(x);
  }
  return out;
}

std::unique_ptr<StepCosts> make_step_costs(const spec::ScenarioSpec& s, int layout_index,
                                           const topology::Topology& topo, const models::ComputeCostModel& cost) {
  const spec::ServingSpec& sv = *s.serving;
  const std::vector<spec::LayoutSpec> reps = replica_layouts(s.layouts[static_cast<std::size_t>(layout_index)]);
  const std::int64_t max_context = s.workload.context_length;
  // Every replica has the same shape; its step costs are simulated once, on the first one's GPUs.
  const int k = s.layouts[static_cast<std::size_t>(layout_index)].prefill_replicas;
  const bool pd = k > 0 && static_cast<std::size_t>(k) < reps.size();
  return std::make_unique<StepCosts>(s, reps.front(), topo, cost, sv.max_num_seqs, max_context,
                                     std::max<std::int64_t>(max_context, sv.max_batched_tokens),
                                     pd ? reps.front().gpus.front() : -1,
                                     pd ? reps[static_cast<std::size_t>(k)].gpus.front() : -1);
}

ServingLayout serve(const spec::ScenarioSpec& s, int layout_index, const topology::Topology& topo,
                    const models::ComputeCostModel& cost, const std::vector<Request>& requests,
                    const ServeOptions& opts) {
  const std::unique_ptr<StepCosts> costs = make_step_costs(s, layout_index, topo, cost);
  return serve(s, layout_index, *costs, requests, opts);
}

ServingLayout serve(const spec::ScenarioSpec& s, int layout_index, StepCostModel& costs,
                    const std::vector<Request>& requests, const ServeOptions& opts) {
  const spec::ServingSpec& sv = *s.serving;
  const spec::LayoutSpec& layout = s.layouts[static_cast<std::size_t>(layout_index)];
  ServingLayout out;
  out.name = layout.name;
  const std::vector<spec::LayoutSpec> reps = replica_layouts(layout);
  out.replicas = static_cast<int>(reps.size());
  const std::int64_t max_context = s.workload.context_length;
  const std::size_t sims_before = costs.simulations();
  const std::int64_t bs = sv.block_size;
  out.kv_capacity_tokens = costs.ok() ? costs.kv_capacity_tokens() : 0;
  const std::int64_t blocks = out.kv_capacity_tokens / bs;
  if (!costs.ok()) {
    out.ok = false;
    out.error = costs.error();
  } else if (blocks == 0) {
    out.ok = false;
    out.error = "the weights leave no GPU memory for a KV cache";
  }

  std::vector<Replica> rs(reps.size());
  for (Replica& r : rs) r.free_blocks = r.total_blocks = blocks;
  // Disaggregated: replicas [0, k) prefill, [k, dp) decode.
  const int k_pre = layout.prefill_replicas > 0 && static_cast<std::size_t>(layout.prefill_replicas) < rs.size()
                        ? layout.prefill_replicas
                        : 0;
  out.prefill_replicas = k_pre;
  for (int i = 0; i < k_pre; ++i) rs[static_cast<std::size_t>(i)].prefill_only = true;
  const std::size_t n = requests.size();
  out.requests.resize(n);
  std::vector<Live> live(n);
  std::vector<Change> changes;
  std::vector<std::pair<double, std::int64_t>> token_marks;   // (step end, tokens)
  std::int64_t in_system = 0, running = 0, waiting = 0, used = 0;
  int serving_replicas = static_cast<int>(rs.size());
  auto mark = [&](double t) {
    if (!changes.empty() && changes.back().t == t) {
      changes.back() = {t, in_system, running, waiting, used, serving_replicas};
    } else {
      changes.push_back({t, in_system, running, waiting, used, serving_replicas});
    }
  };
  for (std::size_t i = 0; i < n; ++i) {
    RequestResult& q = out.requests[i];
    q.id = requests[i].id;
    q.arrival_s = requests[i].arrival_s;
    q.prompt = requests[i].prompt;
    q.output = requests[i].output;
  }

  // Event queue: (time, kind, index, generation): kind 0 a step end (replica;
  // of a generation the replica has left behind: lost to a failure), 1 a KV
  // transfer's end (request), 2 a replica state (index into opts.faults), 3 a
  // replica's failure detected (of the outage of that generation);
  // arrivals are consumed in order.
  using Ev = std::tuple<double, int, int, int>;
  std::priority_queue<Ev, std::vector<Ev>, std::greater<>> ends;
  std::int64_t decode_steps = 0, decode_batch_sum = 0;
  double decode_ctx_sum = 0.0;
  std::int64_t prefill_steps = 0, prefill_pieces_sum = 0, prefill_tokens_sum = 0;
  std::size_t rr_next = 0;

  // A replica of [from, to) by the router's policy, skipping replicas that do
  // not serve (when none does, any: the request queues there).
  auto route = [&](int from, int to) {
    const bool any = std::any_of(rs.begin() + from, rs.begin() + to, [](const Replica& x) { return !x.known_down; });
    auto ok = [&](int k) { return !any || !rs[static_cast<std::size_t>(k)].known_down; };
    int ri = -1;
    if (sv.router == spec::RouterPolicy::kRoundRobin) {
      for (int tries = 0; tries < to - from && ri < 0; ++tries) {
        const int k = from + static_cast<int>(rr_next++ % static_cast<std::size_t>(to - from));
        if (ok(k)) ri = k;
      }
    } else {
      for (int k = from; k < to; ++k) {
        if (ok(k) && (ri < 0 || rs[static_cast<std::size_t>(k)].load < rs[static_cast<std::size_t>(ri)].load)) ri = k;
      }
    }
    return ri < 0 ? from : ri;
  };
  std::size_t rr_decode = 0;
  std::vector<int> transfer_from(n, -1);
  auto tokens_held = [&](int i) { return out.requests[static_cast<std::size_t>(i)].prompt + out.requests[static_cast<std::size_t>(i)].generated; };

  auto release = [&](Replica& r, int i) {
    r.free_blocks += live[static_cast<std::size_t>(i)].blocks;
    used -= live[static_cast<std::size_t>(i)].blocks;
    live[static_cast<std::size_t>(i)].blocks = 0;
  };

  // Preempts the most recently admitted running request; returns it.
  auto preempt = [&](Replica& r, double& swap_cost) {
    const int v = r.running.back();
    r.running.pop_back();
    RequestResult& q = out.requests[static_cast<std::size_t>(v)];
    Live& L = live[static_cast<std::size_t>(v)];
    ++q.preemptions;
    ++out.preemptions;
    --running;
    ++waiting;
    if (sv.preemption == spec::PreemptionMode::kSwap && L.prefilled == L.need) {
      swap_cost += costs.swap_s_per_token() * static_cast<double>(tokens_held(v));
      release(r, v);
      r.swapped.push_back(v);
    } else {
      release(r, v);
      L.need = tokens_held(v);
      L.prefilled = 0;
      r.waiting.push_front(v);
    }
    return v;
  };

  auto start_step = [&](int ri, double t) {
    Replica& r = rs[static_cast<std::size_t>(ri)];
    if (r.busy || !r.alive) return;
    r.decode.clear();
    r.chunks.clear();
    double swap_cost = 0.0;
    std::int64_t budget = sv.max_batched_tokens;
    auto admit_waiting = [&](bool chunked) {
      while (!r.waiting.empty() && static_cast<std::int64_t>(r.running.size()) < sv.max_num_seqs) {
        const int i = r.waiting.front();
        Live& L = live[static_cast<std::size_t>(i)];
        std::int64_t take = L.need - L.prefilled;   // 0: its KV cache came from a prefill replica
        if (chunked && take > 0) {
          take = std::min(take, budget);
          if (take <= 0) break;
        } else if (take > budget && !r.chunks.empty()) {
          break;
        }
        const std::int64_t need_blocks = ceil_div(L.prefilled + take, bs) - L.blocks;
        if (need_blocks > r.free_blocks) break;
        r.free_blocks -= need_blocks;
        L.blocks += need_blocks;
        used += need_blocks;
        r.waiting.pop_front();
        --waiting;
        ++running;
        r.running.push_back(i);
        RequestResult& q = out.requests[static_cast<std::size_t>(i)];
        if (q.first_scheduled_s < 0) q.first_scheduled_s = t;
        if (take > 0) r.chunks.emplace_back(i, take);
        budget -= take;
      }
    };
    // Decode: every running request that has finished its prefill, with a KV
    // slot for its newest token (preempting from the back when none is free).
    auto plan_decode = [&]() {
      for (std::size_t k = 0; k < r.running.size();) {
        const int i = r.running[k];
        Live& L = live[static_cast<std::size_t>(i)];
        if (L.prefilled < L.need) {
          ++k;
          continue;
        }
        const std::int64_t need_blocks = ceil_div(tokens_held(i), bs) - L.blocks;
        bool self = false;
        while (need_blocks > r.free_blocks) {
          if (preempt(r, swap_cost) == i) {
            self = true;
            break;
          }
        }
        if (self) break;
        if (need_blocks > 0) {
          r.free_blocks -= need_blocks;
          L.blocks += need_blocks;
          used += need_blocks;
        }
        ++k;
      }
      for (int i : r.running) {
        const Live& L = live[static_cast<std::size_t>(i)];
        if (L.prefilled == L.need) r.decode.push_back(i);
      }
    };
    auto swap_in = [&]() {
      while (!r.swapped.empty() && static_cast<std::int64_t>(r.running.size()) < sv.max_num_seqs) {
        const int i = r.swapped.front();
        const std::int64_t need_blocks = ceil_div(tokens_held(i), bs);
        if (need_blocks > r.free_blocks) break;
        r.swapped.pop_front();
        Live& L = live[static_cast<std::size_t>(i)];
        L.blocks = need_blocks;
        r.free_blocks -= need_blocks;
        used += need_blocks;
        swap_cost += costs.swap_s_per_token() * static_cast<double>(tokens_held(i));
        r.running.push_back(i);
        --waiting;
        ++running;
      }
    };
    if (!sv.chunked_prefill) {
      if (r.swapped.empty()) admit_waiting(false);
      if (r.chunks.empty()) {
        const std::size_t before = r.running.size();
        plan_decode();
        if (r.running.size() == before) swap_in();
        r.decode.clear();
        for (int i : r.running) r.decode.push_back(i);
      }
    } else {
      plan_decode();
      budget -= static_cast<std::int64_t>(r.decode.size());
      // Partly prefilled requests continue, in admission order.
      for (std::size_t k = 0; k < r.running.size() && budget > 0; ++k) {
        const int i = r.running[k];
        Live& L = live[static_cast<std::size_t>(i)];
        if (L.prefilled >= L.need) continue;
        const std::int64_t take = std::min(L.need - L.prefilled, budget);
        const std::int64_t need_blocks = ceil_div(L.prefilled + take, bs) - L.blocks;
        // No room for the chunk: later admissions make way (as for a decode).
        while (need_blocks > r.free_blocks && r.running.size() > k + 1) preempt(r, swap_cost);
        if (need_blocks > r.free_blocks) break;
        r.free_blocks -= need_blocks;
        L.blocks += need_blocks;
        used += need_blocks;
        r.chunks.emplace_back(i, take);
        budget -= take;
      }
      r.decode.clear();   // a chunk may have preempted a planned decode
      for (int i : r.running) {
        const Live& L = live[static_cast<std::size_t>(i)];
        if (L.prefilled == L.need) r.decode.push_back(i);
      }
      if (r.swapped.empty()) {
        admit_waiting(true);
      } else {
        swap_in();
      }
    }
    if (r.decode.empty() && r.chunks.empty()) {
      if (swap_cost > 0.0) out.swap_s += swap_cost;
      return;
    }
    double dt = swap_cost;
    out.swap_s += swap_cost;
    double ctx = 0.0, len = 0.0;
    const auto batch = static_cast<std::int64_t>(r.decode.size());
    const auto pieces = static_cast<std::int64_t>(r.chunks.size());
    if (!r.decode.empty()) {
      for (int i : r.decode) ctx += static_cast<double>(tokens_held(i));
      ctx /= static_cast<double>(r.decode.size());
      ++decode_steps;
      decode_batch_sum += batch;
      decode_ctx_sum += ctx;
    }
    if (!r.chunks.empty()) {
      std::int64_t tok = 0;
      for (const auto& c : r.chunks) tok += c.second;
      len = static_cast<double>(tok) / static_cast<double>(pieces);
      ++prefill_steps;
      prefill_pieces_sum += pieces;
      prefill_tokens_sum += tok;
    }
    double compute = 0.0;
    if (batch > 0 && pieces > 0) {
      // One forward pass over both (StepCosts: the token-count part once).
      const double two = costs.decode_s(batch, ctx) + costs.prefill_s(pieces, len);
      compute = costs.mixed_s(batch, ctx, pieces, len);
      ++out.mixed_steps;
      out.mixed_two_pass_s += two;
      out.mixed_one_pass_s += compute;
    } else if (batch > 0) {
      compute = costs.decode_s(batch, ctx);
    } else {
      compute = costs.prefill_s(pieces, len);
    }
    dt += compute / r.speed;
    ++out.steps;
    r.busy = true;
    ends.emplace(t + dt, 0, ri, r.gen);
    mark(t);
  };

  auto finish_step = [&](int ri, double t) {
    Replica& r = rs[static_cast<std::size_t>(ri)];
    r.busy = false;
    std::int64_t produced = 0;
    auto emit = [&](int i) {
      RequestResult& q = out.requests[static_cast<std::size_t>(i)];
      ++q.generated;
      ++produced;
      if (q.first_token_s < 0) q.first_token_s = t;
      if (r.prefill_only && q.generated < q.output) {
        // Disaggregated: the KV cache leaves for a decode replica; the blocks stay until it is copied.
        r.running.erase(std::find(r.running.begin(), r.running.end(), i));
        --running;
        const double dt = costs.kv_transfer_s(tokens_held(i));
        out.kv_transfer_s += dt;
        ++out.kv_transfers;
        transfer_from[static_cast<std::size_t>(i)] = ri;
        ends.emplace(t + dt, 1, i, 0);
        return;
      }
      if (q.generated >= q.output) {
        q.finish_s = t;
        q.status = RequestStatus::kCompleted;
        release(r, i);
        r.running.erase(std::find(r.running.begin(), r.running.end(), i));
        --running;
        --in_system;
        --r.load;
      }
    };
    for (const auto& [i, take] : r.chunks) {
      Live& L = live[static_cast<std::size_t>(i)];
      L.prefilled += take;
      if (L.prefilled == L.need) {
        if (!L.first_prefill) out.recomputed_tokens += L.need;
        L.first_prefill = false;
        emit(i);
      }
    }
    for (int i : r.decode) emit(i);
    out.output_tokens += produced;
    token_marks.emplace_back(t, produced);
    mark(t);
  };

  auto transferred = [&](int i, double t) {
    const int from = transfer_from[static_cast<std::size_t>(i)];
    Replica& src = rs[static_cast<std::size_t>(from)];
    release(src, i);
    --src.load;
    int ri = k_pre;
    if (sv.router == spec::RouterPolicy::kRoundRobin) {
      const std::size_t m = rs.size() - static_cast<std::size_t>(k_pre);
      ri = k_pre + static_cast<int>(rr_decode++ % m);
      // Under faults: the next decode replica that serves, if any does.
      for (std::size_t tries = 1; tries < m && rs[static_cast<std::size_t>(ri)].known_down; ++tries) {
        ri = k_pre + static_cast<int>(rr_decode++ % m);
      }
    } else {
      ri = route(k_pre, static_cast<int>(rs.size()));
    }
    Replica& dst = rs[static_cast<std::size_t>(ri)];
    ++dst.load;
    out.requests[static_cast<std::size_t>(i)].replica = ri;
    Live& L = live[static_cast<std::size_t>(i)];
    L.need = L.prefilled = tokens_held(i);   // its KV cache is here: nothing to prefill
    L.first_prefill = false;
    dst.waiting.push_back(i);
    ++waiting;
    mark(t);
    start_step(from, t);
    start_step(ri, t);
  };

  // Under faults: the pool a replica belongs to (disaggregated: prefill or decode).
  auto pool_of = [&](int ri) {
    if (k_pre == 0) return std::make_pair(0, static_cast<int>(rs.size()));
    return ri < k_pre ? std::make_pair(0, k_pre) : std::make_pair(k_pre, static_cast<int>(rs.size()));
  };
  auto move_to = [&](int i, int from, int to, bool front) {
    --rs[static_cast<std::size_t>(from)].load;
    ++rs[static_cast<std::size_t>(to)].load;
    out.requests[static_cast<std::size_t>(i)].replica = to;
    auto& q = rs[static_cast<std::size_t>(to)].waiting;
    if (front) {
      q.push_front(i);
    } else {
      q.push_back(i);
    }
  };
  auto go_down = [&](int ri, const ReplicaState& st, double t) {
    Replica& r = rs[static_cast<std::size_t>(ri)];
    r.alive = false;
    --serving_replicas;
    IncidentEffect e;
    e.at_s = t;
    e.replica = ri;
    if (st.incident >= 0 && static_cast<std::size_t>(st.incident) < opts.faults->incidents.size()) {
      const FaultIncident& fi = opts.faults->incidents[static_cast<std::size_t>(st.incident)];
      e.fault = fi.fault;
      e.domain = fi.domain;
      e.outcome = fi.outcome;
    }
    e.affected = static_cast<std::int64_t>(r.running.size() + r.waiting.size() + r.swapped.size());
    if (r.busy) {   // the step in flight is lost
      e.tokens_lost_in_flight += static_cast<std::int64_t>(r.decode.size());
      for (const auto& c : r.chunks) e.tokens_lost_in_flight += c.second;
      r.busy = false;
      ++r.gen;
      r.decode.clear();
      r.chunks.clear();
    }
    // KV caches lost: the newest admissions first.
    const auto lose = std::min<std::int64_t>(
        static_cast<std::int64_t>(r.running.size()),
        static_cast<std::int64_t>(std::ceil(st.kv_lost_fraction * static_cast<double>(r.running.size()) - 1e-9)));
    for (std::int64_t j = 0; j < lose; ++j) {
      const int i = r.running.back();
      r.running.pop_back();
      release(r, i);
      --running;
      Live& L = live[static_cast<std::size_t>(i)];
      RequestResult& q = out.requests[static_cast<std::size_t>(i)];
      e.tokens_recomputed += L.prefilled;
      if (L.prefilled > 0) L.first_prefill = false;
      L.need = tokens_held(i);
      L.prefilled = 0;
      if (opts.reject_on_failure) {
        q.status = RequestStatus::kRejected;
        q.reason = "KV cache lost when replica " + std::to_string(ri) + " stopped (" +
                   (e.fault.empty() ? std::string("a fault") : e.fault) + ") at " + std::to_string(t) +
                   " s; ServeOptions reject_on_failure";
        q.finish_s = t;
        --in_system;
        --r.load;
        ++e.rejected;
        continue;
      }
      ++waiting;
      ++e.reprefilled;
      r.waiting.push_front(i);
    }
    e.stalled = static_cast<std::int64_t>(r.running.size() + r.swapped.size());
    r.effect = static_cast<int>(out.incidents.size());
    out.incidents.push_back(e);
    ends.emplace(std::max(t, st.detected_s), 3, ri, r.gen);
  };
  // The failure of replica `ri` is detected: its queue moves to the survivors.
  auto detected = [&](int ri, double t) {
    Replica& r = rs[static_cast<std::size_t>(ri)];
    if (r.alive) return;
    r.known_down = true;
    const auto [p0, p1] = pool_of(ri);
    bool survivors = false;
    for (int k = p0; k < p1; ++k) survivors = survivors || !rs[static_cast<std::size_t>(k)].known_down;
    if (!survivors) return;
    IncidentEffect& e = out.incidents[static_cast<std::size_t>(r.effect)];
    while (!r.waiting.empty()) {
      const int i = r.waiting.front();
      r.waiting.pop_front();
      move_to(i, ri, route(p0, p1), false);
      ++e.rerouted;
    }
    for (int k = p0; k < p1; ++k) start_step(k, t);
  };
  auto apply_state = [&](int k, double t) {
    const ReplicaState& st = opts.faults->states[static_cast<std::size_t>(k)];
    if (st.replica < 0 || static_cast<std::size_t>(st.replica) >= rs.size()) return;
    Replica& r = rs[static_cast<std::size_t>(st.replica)];
    r.speed = st.speed > 0.0 ? st.speed : 1.0;
    if (!st.serving && r.alive) {
      go_down(st.replica, st, t);
    } else if (st.serving && !r.alive) {
      r.alive = true;
      r.known_down = false;
      ++r.gen;   // its pending detection, if any, is moot
      ++serving_replicas;
      if (r.effect >= 0) out.incidents[static_cast<std::size_t>(r.effect)].end_s = t;
      r.effect = -1;
      start_step(st.replica, t);
    }
    mark(t);
  };

  auto arrive = [&](std::size_t i, double t) {
    RequestResult& q = out.requests[i];
    ++out.arrived;
    const std::int64_t total = q.prompt + q.output;
    if (!out.ok) {
      q.status = RequestStatus::kRejected;
      q.reason = out.error;
    } else if (total > max_context) {
      q.status = RequestStatus::kRejected;
      q.reason = "prompt + output = " + std::to_string(total) + " tokens exceeds the context limit of " +
                 std::to_string(max_context) + " (workload.context_length)";
    } else if (ceil_div(total, bs) > blocks) {
      q.status = RequestStatus::kRejected;
      q.reason = "needs " + std::to_string(ceil_div(total, bs)) + " KV blocks; a replica's KV cache holds " +
                 std::to_string(blocks);
    }
    if (q.status == RequestStatus::kRejected) {
      q.finish_s = t;
      return;
    }
    const int ri = route(0, k_pre > 0 ? k_pre : static_cast<int>(rs.size()));
    Replica& r = rs[static_cast<std::size_t>(ri)];
    q.replica = ri;
    ++r.load;
    ++in_system;
    ++waiting;
    Live& L = live[i];
    L.need = q.prompt;
    r.waiting.push_back(static_cast<int>(i));
    mark(t);
    start_step(ri, t);
  };

  if (opts.faults != nullptr) {
    for (std::size_t k = 0; k < opts.faults->states.size(); ++k) {
      ends.emplace(opts.faults->states[k].at_s, 2, static_cast<int>(k), 0);
    }
  }
  mark(0.0);
  std::size_t next = 0;
  double now = 0.0;
  while (next < n || !ends.empty()) {
    const double ta = next < n ? requests[next].arrival_s : std::numeric_limits<double>::infinity();
    const double te = ends.empty() ? std::numeric_limits<double>::infinity() : std::get<0>(ends.top());
    now = std::min(ta, te);
    if (now > opts.max_time_s) break;
    if (te <= ta) {
      const auto [t_end, kind, idx, gen] = ends.top();
      ends.pop();
      if (kind == 0) {
        if (gen != rs[static_cast<std::size_t>(idx)].gen) continue;   // lost to a failure
        finish_step(idx, t_end);
        start_step(idx, t_end);
      } else if (kind == 1) {
        transferred(idx, t_end);
      } else if (kind == 2) {
        apply_state(idx, t_end);
      } else if (gen == rs[static_cast<std::size_t>(idx)].gen) {
        detected(idx, t_end);
        mark(t_end);
      }
    } else {
      arrive(next++, ta);
    }
  }
  const bool stopped = now > opts.max_time_s;
  out.end_s = stopped ? opts.max_time_s : 0.0;
  bool unfinished = false;
  for (const RequestResult& q : out.requests) {
    if (!stopped && q.finish_s > out.end_s) out.end_s = q.finish_s;
    unfinished = unfinished || (q.status == RequestStatus::kInFlight);
  }
  if (!stopped && n > 0) out.end_s = std::max(out.end_s, requests.back().arrival_s);
  // Requests left on a replica that never serves again (under faults): the run
  // ends at the last event, with them in flight.
  if (!stopped && unfinished) out.end_s = std::max(out.end_s, now);
  mark(out.end_s);

  // Accounting.
  std::vector<double> ttft, tpot, e2e, queue;
  double time_in_system = 0.0;
  std::int64_t accepted = 0, good = 0, entered_late = 0;
  for (const RequestResult& q : out.requests) {
    if (q.status == RequestStatus::kRejected) {
      ++out.rejected;
      // Rejected after admission (its KV cache lost to a failure): it was in
      // the system until then, for Little's law.
      if (q.finish_s > q.arrival_s) {
        ++entered_late;
        time_in_system += q.finish_s - q.arrival_s;
      }
      continue;
    }
    if (q.arrival_s > out.end_s) continue;   // never arrived within the run
    ++accepted;
    if (q.status == RequestStatus::kCompleted) {
      ++out.completed;
      ttft.push_back(q.ttft_s());
      e2e.push_back(q.e2e_s());
      queue.push_back(q.queue_s());
      if (q.tpot_s() >= 0) tpot.push_back(q.tpot_s());
      time_in_system += q.e2e_s();
      if (q.ttft_s() <= sv.slo_ttft_s && q.tpot_s() <= sv.slo_tpot_s) ++good;
    } else {
      ++out.in_flight;
      time_in_system += out.end_s - q.arrival_s;
    }
  }
  out.arrived = out.rejected + accepted;
  if (opts.faults != nullptr) {
    // Requests whose lifetime overlaps an outage of any replica of the layout.
    std::vector<double> ttft_in, ttft_out, tpot_in, tpot_out;
    for (const RequestResult& q : out.requests) {
      if (q.status != RequestStatus::kCompleted) continue;
      bool during = false;
      for (const IncidentEffect& e : out.incidents) {
        const double end = e.end_s >= 0 ? e.end_s : std::numeric_limits<double>::infinity();
        during = during || (q.arrival_s < end && q.finish_s > e.at_s);
      }
      (during ? ttft_in : ttft_out).push_back(q.ttft_s());
      if (q.tpot_s() >= 0) (during ? tpot_in : tpot_out).push_back(q.tpot_s());
      ++(during ? out.requests_during : out.requests_outside);
    }
    out.ttft_during = percentiles(ttft_in);
    out.ttft_outside = percentiles(ttft_out);
    out.tpot_during = percentiles(tpot_in);
    out.tpot_outside = percentiles(tpot_out);
  }
  out.ttft = percentiles(ttft);
  out.tpot = percentiles(tpot);
  out.e2e = percentiles(e2e);
  out.queue = percentiles(queue);
  if (out.end_s > 0) {
    out.throughput_requests_per_s = static_cast<double>(out.completed) / out.end_s;
    out.throughput_tokens_per_s = static_cast<double>(out.output_tokens) / out.end_s;
    out.goodput_requests_per_s = static_cast<double>(good) / out.end_s;
  }
  out.goodput_fraction = out.arrived > 0 ? static_cast<double>(good) / static_cast<double>(out.arrived) : 0.0;
  // Little's law over [0, end].
  double integral = 0.0, peak_kv = 0.0;
  for (std::size_t k = 0; k + 1 < changes.size(); ++k) {
    integral += static_cast<double>(changes[k].in_system) * (changes[k + 1].t - changes[k].t);
  }
  if (out.end_s > 0) {
    out.little_L = integral / out.end_s;
    const std::int64_t entered = accepted + entered_late;
    out.little_lambda = static_cast<double>(entered) / out.end_s;
    out.little_W = entered > 0 ? time_in_system / static_cast<double>(entered) : 0.0;
  }
  const double all_blocks = static_cast<double>(blocks) * static_cast<double>(rs.size());
  for (const Change& c : changes) {
    if (all_blocks > 0) peak_kv = std::max(peak_kv, static_cast<double>(c.used_blocks) / all_blocks);
  }
  out.peak_kv_occupancy = peak_kv;
  out.mean_batch = decode_steps > 0 ? static_cast<double>(decode_batch_sum) / static_cast<double>(decode_steps) : 0.0;
  if (n > 1 && requests.back().arrival_s > 0) {
    out.offered_rate_per_s = static_cast<double>(n - 1) / requests.back().arrival_s;
  }
  // Series: time-weighted means per bin.
  const int bins = out.end_s > 0 ? std::max(1, opts.series_bins) : 0;
  out.series.resize(static_cast<std::size_t>(bins));
  for (int b = 0; b < bins; ++b) {
    out.series[static_cast<std::size_t>(b)].t0_s = out.end_s * b / bins;
    out.series[static_cast<std::size_t>(b)].t1_s = out.end_s * (b + 1) / bins;
  }
  if (bins > 0) {
    const double w = out.end_s / bins;
    for (std::size_t k = 0; k + 1 < changes.size(); ++k) {
      double a = changes[k].t;
      const double e = changes[k + 1].t;
      while (a < e) {
        const int b = std::min(bins - 1, static_cast<int>(a / w));
        const double stop = std::min(e, out.series[static_cast<std::size_t>(b)].t1_s);
        const double d = std::max(0.0, stop - a);
        SeriesPoint& p = out.series[static_cast<std::size_t>(b)];
        p.running += static_cast<double>(changes[k].running) * d / w;
        p.waiting += static_cast<double>(changes[k].waiting) * d / w;
        if (a <= p.t0_s) p.replicas_serving = changes[k].serving;
        if (all_blocks > 0) p.kv_occupancy += static_cast<double>(changes[k].used_blocks) / all_blocks * d / w;
        if (stop <= a) break;
        a = stop;
      }
    }
    for (const auto& [t, tok] : token_marks) {
      const int b = std::min(bins - 1, static_cast<int>(t / w));
      out.series[static_cast<std::size_t>(b)].output_tokens_per_s += static_cast<double>(tok) / w;
    }
    for (const RequestResult& q : out.requests) {
      if (q.status != RequestStatus::kCompleted || q.ttft_s() > sv.slo_ttft_s || q.tpot_s() > sv.slo_tpot_s) continue;
      const int b = std::min(bins - 1, static_cast<int>(q.finish_s / w));
      out.series[static_cast<std::size_t>(b)].goodput_requests_per_s += 1.0 / w;
    }
  }
  // Capacity at the mean request and a full batch.
  if (out.ok && n > 0) {
    double mp = 0.0, mo = 0.0;
    for (const Request& q : requests) {
      mp += static_cast<double>(q.prompt);
      mo += static_cast<double>(q.output);
    }
    mp /= static_cast<double>(n);
    mo /= static_cast<double>(n);
    const double per_seq = std::max(1.0, mp + mo / 2.0);
    const auto full = static_cast<std::int64_t>(
        std::max(1.0, std::min(static_cast<double>(sv.max_num_seqs), static_cast<double>(blocks * bs) / per_seq)));
    const double pre = costs.prefill_s(1, mp);
    const double dec = std::max(0.0, mo - 1.0) * costs.decode_s(full, mp + mo / 2.0) / static_cast<double>(full);
    if (k_pre > 0) {
      // Two pools in series: the slower one bounds the rate.
      const double a = pre > 0 ? k_pre / pre : std::numeric_limits<double>::infinity();
      const double b = dec > 0 ? static_cast<double>(rs.size() - static_cast<std::size_t>(k_pre)) / dec
                               : std::numeric_limits<double>::infinity();
      out.capacity_rate_per_s = std::isinf(std::min(a, b)) ? 0.0 : std::min(a, b);
    } else if (pre + dec > 0) {
      out.capacity_rate_per_s = static_cast<double>(rs.size()) / (pre + dec);
    }
    out.overloaded = out.offered_rate_per_s > out.capacity_rate_per_s || out.in_flight > 0;
  }
  // The bucketing error at this run's mean composition and between grid points.
  if (opts.check_costs && out.ok) {
    if (decode_steps > 0) {
      const auto b = std::max<std::int64_t>(1, std::llround(out.mean_batch));
      const auto c = std::max<std::int64_t>(1, std::llround(decode_ctx_sum / static_cast<double>(decode_steps)));
      out.cost_checks.push_back({"decode", b, c, costs.decode_s(b, static_cast<double>(c)), costs.decode_exact_s(b, c)});
      // Between grid points: an odd batch above 16 (every batch to 16 is a grid point), a length off the grid.
      const std::int64_t b2 = std::min<std::int64_t>(sv.max_num_seqs, b > 16 ? (b | 1) : 18);
      const std::int64_t c2 = std::max<std::int64_t>(20, (c * 3 / 4) | 1);
      out.cost_checks.push_back({"decode", b2, c2, costs.decode_s(b2, static_cast<double>(c2)), costs.decode_exact_s(b2, c2)});
    }
    if (prefill_steps > 0) {
      const auto p = std::max<std::int64_t>(1, std::llround(static_cast<double>(prefill_pieces_sum) / static_cast<double>(prefill_steps)));
      const auto l = std::max<std::int64_t>(1, prefill_tokens_sum / std::max<std::int64_t>(1, prefill_pieces_sum));
      out.cost_checks.push_back({"prefill", p, l, costs.prefill_s(p, static_cast<double>(l)), costs.prefill_exact_s(p, l)});
    }
    // The one-pass decomposition (combine_s) where the planner prices the
    // combined step itself: a decode batch as the mixture of its two halves,
    // a prefill of two or more prompts likewise (grid points, so that only
    // the decomposition's error shows, besides tokens_s's interpolation).
    if (out.mixed_steps > 0 && decode_steps > 0 && prefill_steps > 0) {
      auto halves = [&](const std::string& phase, bool decode, std::int64_t whole, std::int64_t len) {
        const std::int64_t a = whole / 2, b = whole - a;
        auto at = [&](std::int64_t k) { return decode ? costs.decode_exact_s(k, len) : costs.prefill_exact_s(k, len); };
        const double per = decode ? 1.0 : static_cast<double>(len);
        out.mixed_checks.push_back({phase, whole, len,
                                   costs.combine_s(at(a), static_cast<double>(a) * per, at(b), static_cast<double>(b) * per),
                                   at(whole)});
      };
      // Each half at least the smallest batch the planner prices itself.
      const auto b = std::max<std::int64_t>(2 * costs.min_batch(true), std::llround(out.mean_batch));
      const auto c = std::max<std::int64_t>(16, std::llround(decode_ctx_sum / static_cast<double>(decode_steps)));
      halves("mixed_decode", true, b, c);
      const auto p = std::max<std::int64_t>(2 * costs.min_batch(false),
                                            std::llround(static_cast<double>(prefill_pieces_sum) / static_cast<double>(prefill_steps)));
      const auto l = std::max<std::int64_t>(16, prefill_tokens_sum / std::max<std::int64_t>(1, prefill_pieces_sum));
      halves("mixed_prefill", false, p, l);
    }
  }
  out.simulations = costs.simulations() - sims_before;
  return out;
}

}  // namespace masim::serving
