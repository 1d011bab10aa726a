// Token exchange between an attention side and an expert side (Disagg, see
// plan_builder.hpp), shared by the EP stages of grid layouts (every EP rank is
// both sides) and MA Separation (two GPU groups): expert placement, the
// dispatch/combine many-to-many matrices, and the forward and backward of one
// layer for a wave of micro-batches (attention parts first, then expert parts:
// the ping-pong order on shared GPUs).
#include <algorithm>
#include <numeric>

#include "sim/layouts/plan_builder.hpp"

namespace masim::layouts::planning {

// Expert placement of one layer: expert e's home shard is e·S/E (contiguous
// blocks); the `hot` most popular experts (by the layer's popularity) get one
// extra copy each on the shard with the least expected load at that point
// (greedy, hottest first), and their tokens alternate between the copies.
void Builder::place_experts(Disagg& d, int hot) const {
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

void Builder::finalize_disagg(Disagg& d) const {
  d.senders.clear();
  d.receivers.clear();
  for (const auto& g : d.att) d.senders.insert(d.senders.end(), g.begin(), g.end());
  for (const auto& g : d.shards) d.receivers.insert(d.receivers.end(), g.begin(), g.end());
}

// Token slice (global token indices) of attention rank j of group gi for sequences `seqs`.
Range Builder::slice(const Disagg& d, Range seqs, int j) const {
  return split({seqs.begin * q_, seqs.end * q_}, d.atp, j);
}

// Which GPUs each token of `groups` goes to for layer L: one copy of the hidden
// state per distinct destination shard (a token whose two experts sit on one
// shard is sent once, as DeepEP does), to every expert-TP rank of that shard.
Exchange Builder::exchange(const Disagg& d, int L, const std::vector<Range>& group_seqs) const {
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

std::vector<Bytes> Builder::transpose(const std::vector<Bytes>& m, std::size_t rows, std::size_t cols) const {
  std::vector<Bytes> t(m.size());
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) t[j * rows + i] = m[i * cols + j];
  }
  return t;
}

network::CollectiveRequest Builder::m2m(const std::vector<int>& from, const std::vector<int>& to,
                                        std::vector<Bytes> mat) const {
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
std::vector<Op> Builder::dg_router_ops(int L, std::int64_t slice_tokens) const {
  return workload::router_block(m_, L, slice_tokens);
}

// Forward: the pending combine of the previous MoE layer (unpermute + weighted
// sum + residual on each rank's slice, then all-gather of the slices).
void Builder::dg_flush_fwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t) {
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
void Builder::dg_attention_fwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0) {
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
TaskId Builder::dg_dispatch(const Disagg& d, const std::vector<Flow*>& flows, const Exchange& x, const TaskTag& t) {
  Frontier deps;
  for (const Flow* fl : flows) deps.insert(deps.end(), fl->front.begin(), fl->front.end());
  return collective(m2m(d.senders, d.receivers, x.matrix), dispatch_tag(d), t, deps);
}

Frontier Builder::dg_experts(const Disagg& d, int L, const Exchange& x, TaskId after, const TaskTag& t, bool backward,
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
void Builder::dg_forward_layer(Disagg& d, int L, const std::vector<int>& wave_mbs,
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
Frontier Builder::dg_finish_fwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t, bool lm_head) {
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
void Builder::dg_backward_layer(Disagg& d, int L, const std::vector<int>& wave_mbs,
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
void Builder::dg_flush_bwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t) {
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

void Builder::dg_attention_bwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0) {
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
Frontier Builder::dg_bwd_input_reduce(const Disagg& d, int gi, int L, Range seqs, const TaskTag& t, const Frontier& f) {
  const auto& g = d.att[static_cast<std::size_t>(gi)];
  if (L == 0) return f;   // the embedding gradient needs no reduction (see tp_backward_layer)
  const bool prev_moe = moe_[static_cast<std::size_t>(L - 1)];
  return tp_single(g, prev_moe ? network::CollectiveKind::kReduceScatter : network::CollectiveKind::kAllReduce,
                   seqs.size() * q_, t, f);
}

void Builder::dg_dense_bwd(const Disagg& d, int gi, int L, Flow& fl, Range seqs, const TaskTag& t0) {
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
void Builder::dg_start_bwd(const Disagg& d, int gi, Flow& fl, Range seqs, const TaskTag& t) {
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

}  // namespace masim::layouts::planning
