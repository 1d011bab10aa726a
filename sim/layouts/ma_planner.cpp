// MA Separation (build_ma): attention GPUs (TP groups, optional hot-standby
// replicas) and expert GPUs (expert-TP shards, optional hot-expert copies)
// exchanging tokens through token_exchange.cpp; the layout lists its GPUs in
// ma.attention_gpus and ma.expert_gpus.
#include <algorithm>

#include "sim/layouts/plan_builder.hpp"
#include "sim/models/memory.hpp"

namespace masim::layouts::planning {

// Attention-side parameters of a MoE/dense layer set without routed experts (MA attention GPUs).
void Builder::add_attention_side_params(int g, int atp) {
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
  fp.embedding_param_count += emb;
}

void Builder::build_ma() {
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

void Builder::grad_sync_ma(const Disagg& dg, int step, std::vector<TaskId>& step_final) {
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

}  // namespace masim::layouts::planning
