#include "sim/report/paper_sweeps.hpp"

#include <algorithm>

#include "sim/common/assert.hpp"

namespace masim::report {

spec::LayoutSpec make_tp(int tp, int dp, const std::string& name) {
  spec::LayoutSpec l;
  l.name = name;
  l.kind = spec::LayoutKind::kTensor;
  l.tp = tp;
  l.dp = dp;
  return l;
}

spec::LayoutSpec make_pp(int dp, int micro, const std::string& name) {
  spec::LayoutSpec l;
  l.name = name;
  l.kind = spec::LayoutKind::kPipeline;
  l.pp = 2;
  l.dp = dp;
  l.micro_batches = micro;
  l.stage_parallelism = spec::StageParallelism::kNone;
  return l;
}

spec::LayoutSpec make_tp_pp(int tp, int dp, int micro, const std::string& name) {
  spec::LayoutSpec l;
  l.name = name;
  l.kind = spec::LayoutKind::kTensorPipeline;
  l.tp = tp;
  l.pp = 2;
  l.dp = dp;
  l.micro_batches = micro;
  l.stage_parallelism = spec::StageParallelism::kTensor;
  return l;
}

spec::LayoutSpec make_ma(int attention, int experts, int attention_tp, int micro, const std::string& name) {
  spec::LayoutSpec l;
  l.name = name;
  l.kind = spec::LayoutKind::kMaSeparation;
  for (int g = 0; g < attention; ++g) l.ma.attention_gpus.push_back(g);
  for (int g = attention; g < attention + experts; ++g) l.ma.expert_gpus.push_back(g);
  l.ma.attention_tp = attention_tp;
  l.ma.expert_tp = 1;
  l.ma.micro_batches = micro;
  return l;
}

spec::ScenarioSpec only_kinds(spec::ScenarioSpec s, const std::set<std::string>& kinds) {
  std::vector<spec::LayoutSpec> keep;
  for (const spec::LayoutSpec& l : s.layouts) {
    if (kinds.count(spec::to_string(l.kind))) keep.push_back(l);
  }
  s.layouts = keep;
  return s;
}

spec::LayoutSpec* layout_of_kind(spec::ScenarioSpec& s, spec::LayoutKind k) {
  for (spec::LayoutSpec& l : s.layouts) {
    if (l.kind == k) return &l;
  }
  return nullptr;
}

// Layouts of the scaling sweep at N GPUs (the sweep.layout_rule.* choices).
// TODO(issue 17): these rules and sensitivity_variants() below belong in
// scenario / sweep files (the sweep-file format of `masim sweep`, built on
// another branch), so that what the report says and what ran cannot drift.
std::vector<spec::LayoutSpec> scaling_layouts(int n, int experts) {
  std::vector<spec::LayoutSpec> ls;
  const int tp = std::min(8, n);
  ls.push_back(make_tp(tp, n / tp, "TP=8"));
  ls.push_back(make_pp(n / 2, 2, "PP=2"));
  int tp2 = 8;
  while (tp2 > 1 && (2 * tp2 > n || n % (2 * tp2) != 0)) tp2 /= 2;
  ls.push_back(make_tp_pp(tp2, n / (2 * tp2), 2, "TP=8, PP=2"));
  int expert_gpus = n / 2;
  if (experts % expert_gpus != 0 && expert_gpus % experts != 0) expert_gpus = experts;
  const int attention = n - expert_gpus;
  ls.push_back(make_ma(attention, expert_gpus, std::min(2, attention), 2, "MA Separation"));
  return ls;
}

std::vector<SensitivityVariant> sensitivity_variants() {
  using S = spec::ScenarioSpec;
  auto ma = [](S& s) -> spec::MaSpec& {
    spec::LayoutSpec* l = layout_of_kind(s, spec::LayoutKind::kMaSeparation);
    MASIM_ASSERT(l != nullptr, "seed scenario lacks MA Separation");
    return l->ma;
  };
  auto set_width = [](S& s, int hidden, int heads, int ffn) {
    s.model.hidden_size = hidden;
    s.model.num_heads = heads;
    s.model.expert_ffn_size = ffn;
  };
  auto set_experts = [](S& s, int e) {
    s.model.num_experts = e;
    s.model.moe_layer.assign(static_cast<std::size_t>(s.model.num_layers), true);
  };
  return {
      {"as chosen", "seed_study.json unchanged", [](S&) {}},
      {"concurrency 128", "128 sequences (8 per GPU) instead of 384", [](S& s) { s.workload.batch = 128; }},
      {"concurrency 1024", "1024 sequences (64 per GPU)", [](S& s) { s.workload.batch = 1024; }},
      {"uniform routing", "every expert equally popular", [](S& s) { s.workload.routing.kind = spec::RoutingKind::kUniform; }},
      {"Zipf 1.0 routing", "strongly skewed expert popularity", [](S& s) { s.workload.routing.zipf_exponent = 1.0; }},
      {"MA attention TP=1", "8 attention replicas without TP", [ma](S& s) { ma(s).attention_tp = 1; }},
      {"MA attention TP=4", "2 attention replicas of TP=4", [ma](S& s) { ma(s).attention_tp = 4; }},
      {"MA attention TP=8", "1 attention replica of TP=8", [ma](S& s) { ma(s).attention_tp = 8; }},
      {"MA 1 micro-batch", "no ping-pong: attention and expert GPUs take turns", [ma](S& s) { ma(s).micro_batches = 1; }},
      {"MA 4 micro-batches", "deeper ping-pong", [ma](S& s) { ma(s).micro_batches = 4; }},
      {"MA split 12 + 4", "12 attention GPUs (TP=2), 4 expert GPUs (4 experts each)",
       [ma](S& s) {
         spec::MaSpec& m = ma(s);
         m.attention_gpus.clear();
         m.expert_gpus.clear();
         for (int g = 0; g < 12; ++g) m.attention_gpus.push_back(g);
         for (int g = 12; g < 16; ++g) m.expert_gpus.push_back(g);
       }},
      {"TP=8, PP=2 with 4 micro-batches", "baseline pipeline with 4 micro-batches instead of 2",
       [](S& s) {
         if (spec::LayoutSpec* l = layout_of_kind(s, spec::LayoutKind::kTensorPipeline)) l->micro_batches = 4;
       }},
      {"top-1 routing", "each token to 1 expert instead of 2", [](S& s) { s.model.top_k = 1; }},
      {"8 experts", "8 experts (1 per expert GPU) instead of 16", [set_experts](S& s) { set_experts(s, 8); }},
      {"32 experts", "32 experts (4 per expert GPU)", [set_experts](S& s) { set_experts(s, 32); }},
      {"narrower model", "hidden 2048, 16 heads, expert FFN 7168",
       [set_width](S& s) {
         set_width(s, 2048, 16, 7168);
         s.model.num_kv_heads = 4;
       }},
      {"wider model", "hidden 8192, 64 heads, expert FFN 28672", [set_width](S& s) { set_width(s, 8192, 64, 28672); }},
  };
}

}  // namespace masim::report
