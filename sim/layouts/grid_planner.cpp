// Grid layouts: TP, PP, TP×PP and EP (build_grid). Ranks follow Megatron-LM's
// "tp-dp-pp" order (planner.hpp); each pipeline stage runs TP-style layers
// (tp_forward_layer / tp_backward_layer) or, with expert stage parallelism,
// the token exchange of token_exchange.cpp with every EP rank as both sides.
// Training uses 1F1B per stage and per-layer data-parallel gradient sync.
#include <algorithm>
#include <sstream>

#include "sim/common/assert.hpp"
#include "sim/layouts/plan_builder.hpp"
#include "sim/models/memory.hpp"

namespace masim::layouts::planning {

namespace {

// An EP stage's work on one wave: a flow per (EP rank, micro-batch), each
// starting after its rank's input, and the sequences of each (rank r owns its
// share of every micro-batch of the wave).
struct EpWave {
  std::vector<std::vector<Flow>> flows;   // [rank][w]
  std::vector<std::vector<Range>> seqs;   // [w][rank]
};

EpWave ep_wave(std::size_t ranks, const std::vector<Range>& mb_seqs, const Frontier& in) {
  EpWave v{std::vector<std::vector<Flow>>(ranks, std::vector<Flow>(mb_seqs.size())),
           std::vector<std::vector<Range>>(mb_seqs.size())};
  for (std::size_t w = 0; w < mb_seqs.size(); ++w) {
    for (std::size_t r = 0; r < ranks; ++r) {
      v.seqs[w].push_back(split(mb_seqs[w], static_cast<std::int64_t>(ranks), static_cast<std::int64_t>(r)));
      v.flows[r][w].front = Frontier{in[r]};
    }
  }
  return v;
}

}  // namespace

TpBlocks Builder::tp_blocks(int L, std::int64_t seqs, int t) const {
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

std::vector<Op> Builder::tp_expert_ops(int L, Range seqs, int t) const {
  return workload::expert_block(m_, L, {t, rows_of(L, seqs.begin * q_, seqs.end * q_)});
}

Frontier Builder::tp_forward_layer(const std::vector<int>& g, int L, Range seqs, const TaskTag& t, Frontier in) {
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

Frontier Builder::tp_backward_layer(const std::vector<int>& g, int L, Range seqs, const TaskTag& t, Frontier in) {
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

void Builder::build_grid() {
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
  // EP with ep not dividing the experts: input validation refuses it for a
  // scenario's layouts (frontend/validate.cpp); a re-plan on the survivors of a
  // failure (sim/faults) places the experts unevenly, ranks taking
  // floor or ceil(E / ep) (place_experts).
  if (G.ep_style && G.inner > m_.num_experts) {
    fail(s_, index_, "ep", "ep = " + std::to_string(G.inner) + " exceeds the model's " +
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
        // Experts on EP rank r: those e with floor(e * ep / E) == r (place_experts).
        double experts_here = static_cast<double>(m_.num_experts);
        if (G.ep_style) {
          int held = 0;
          for (int e = 0; e < m_.num_experts; ++e) {
            held += static_cast<int>(static_cast<std::int64_t>(e) * G.inner / m_.num_experts) == r ? 1 : 0;
          }
          experts_here = held;
        }
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
Frontier Builder::send_recv(const Grid& G, int d, int from, int to, const std::vector<Range>& mb_seqs, const Frontier& src,
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

Frontier Builder::grid_forward(const Grid& G, std::vector<std::vector<Disagg>>& dgs, int d, int s, const std::vector<int>& mbs,
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
  auto [flows, seqs] = ep_wave(dg.att.size(), mb_seqs, in);
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

Frontier Builder::grid_backward(const Grid& G, std::vector<std::vector<Disagg>>& dgs, int d, int s, const std::vector<int>& mbs,
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
  auto [flows, seqs] = ep_wave(dg.att.size(), mb_seqs, in);
  for (std::size_t w = 0; w < mbs.size() && last_stage; ++w) {
    for (std::size_t r = 0; r < dg.att.size(); ++r) {
      dg_start_bwd(dg, static_cast<int>(r), flows[r][w], seqs[w][r], tag(last - 1, mbs[w], step, 1));
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

// Adds the parameters of layers [first, last) as held by a GPU with attention
// TP `atp`, FFN TP `ftp` and `experts` routed experts (expert-equivalents).
void Builder::add_params(int g, std::pair<int, int> layers, int atp, int ftp, double experts, bool embed, bool head) {
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
    fp.embedding_param_count += v;
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

void Builder::grad_sync_grid(const Grid& G, int step, std::vector<TaskId>& step_final) {
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

}  // namespace masim::layouts::planning
