#include "sim/frontend/validate.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>

namespace masim::frontend {

namespace {

std::string str(std::int64_t v) { return std::to_string(v); }

class Reporter {
 public:
  Reporter(const SourceMap& where, io::Diagnostics& d) : where_(where), d_(d) {}
  void at(const std::string& key, std::string msg) const {
    const Location l = where_.find(key);
    d_.error(l.file, l.pointer, std::move(msg));
  }
  std::string pointer(const std::string& key) const {
    const Location l = where_.find(key);
    return l.pointer.empty() ? "/" : l.pointer;
  }

 private:
  const SourceMap& where_;
  io::Diagnostics& d_;
};

bool has_moe_layer(const spec::ModelSpec& m) {
  for (bool b : m.moe_layer) if (b) return true;
  return false;
}
bool has_dense_layer(const spec::ModelSpec& m) {
  for (bool b : m.moe_layer) if (!b) return true;
  return false;
}

int topology_gpus(const spec::TopologySpec& t) {
  int n = 0;
  for (const auto& v : t.vertices) n += v.kind == spec::VertexKind::kGpu ? 1 : 0;
  return n;
}

// gpu_count() exactly, in 64 bits: the parser caps every degree at 2^20 and a
// layout multiplies at most three of them, so this cannot overflow (gpu_count()
// saturates at INT_MAX, which would misstate an absurd layout's size).
std::int64_t exact_gpu_count(const spec::LayoutSpec& l) {
  const std::int64_t tp = l.tp, pp = l.pp, ep = l.ep, dp = l.dp;
  switch (l.kind) {
    case spec::LayoutKind::kTensor: return tp * dp;
    case spec::LayoutKind::kPipeline:
      return pp * (l.stage_parallelism == spec::StageParallelism::kNone ? 1 : tp * ep) * dp;
    case spec::LayoutKind::kTensorPipeline: return tp * pp * dp;
    case spec::LayoutKind::kExpert: return ep * dp;
    case spec::LayoutKind::kMaSeparation:
      return static_cast<std::int64_t>(l.ma.attention_gpus.size() + l.ma.expert_gpus.size());
  }
  return 0;
}

// "tp 8 × dp 2" etc.: how gpu_count() is made up, for messages.
std::string gpu_count_terms(const spec::LayoutSpec& l) {
  switch (l.kind) {
    case spec::LayoutKind::kTensor: return "tp " + str(l.tp) + " × dp " + str(l.dp);
    case spec::LayoutKind::kPipeline:
      switch (l.stage_parallelism) {
        case spec::StageParallelism::kNone: return "pp " + str(l.pp) + " × dp " + str(l.dp);
        case spec::StageParallelism::kTensor: return "pp " + str(l.pp) + " × tp " + str(l.tp) + " × dp " + str(l.dp);
        case spec::StageParallelism::kExpert: return "pp " + str(l.pp) + " × ep " + str(l.ep) + " × dp " + str(l.dp);
      }
      break;
    case spec::LayoutKind::kTensorPipeline:
      return "tp " + str(l.tp) + " × pp " + str(l.pp) + " × dp " + str(l.dp);
    case spec::LayoutKind::kExpert: return "ep " + str(l.ep) + " × dp " + str(l.dp);
    case spec::LayoutKind::kMaSeparation:
      return str(static_cast<std::int64_t>(l.ma.attention_gpus.size())) + " attention + " +
             str(static_cast<std::int64_t>(l.ma.expert_gpus.size())) + " expert GPUs";
  }
  return "";
}

std::string replica_terms(const spec::LayoutSpec& l) {
  switch (l.kind) {
    case spec::LayoutKind::kExpert: return "ep " + str(l.ep) + " × dp " + str(l.dp);
    case spec::LayoutKind::kMaSeparation:
      return str(data_parallel_degree(l)) + " attention groups (" +
             str(static_cast<std::int64_t>(l.ma.attention_gpus.size())) + " attention GPUs / (attention_tp " +
             str(l.ma.attention_tp) + " × attention_replicas " + str(l.ma.attention_replicas) + "))";
    default: return "dp " + str(l.dp);
  }
}

// Tensor-parallel degree `tp` (at `key`) against the model's heads and FFN widths.
// `experts_too`: the experts are sharded by the same degree (false for MA
// Separation's attention_tp: its experts live on the expert GPUs).
void check_tp(const Reporter& rep, const spec::ModelSpec& m, int tp, const std::string& key, const std::string& name,
              bool experts_too) {
  if (tp <= 1) return;
  if (m.num_heads % tp != 0) {
    rep.at(key, "expected a divisor of model.num_heads = " + str(m.num_heads) + ", found " + name + " = " + str(tp));
    return;
  }
  if (tp % m.num_kv_heads != 0 && m.num_kv_heads % tp != 0) {
    rep.at(key, "expected " + name + " and model.num_kv_heads = " + str(m.num_kv_heads) +
                    " to divide one another (KV heads are split or replicated), found " + name + " = " + str(tp));
    return;
  }
  struct Width {
    const char* field;
    int value;
    bool used;
  };
  const Width widths[] = {
      {"expert_ffn_size", m.expert_ffn_size, experts_too && has_moe_layer(m)},
      {"shared_expert_ffn_size", m.shared_expert_ffn_size,
       experts_too && has_moe_layer(m) && m.num_shared_experts > 0},
      {"dense_ffn_size", m.dense_ffn_size, has_dense_layer(m)},
  };
  for (const Width& w : widths) {
    if (w.used && w.value % tp != 0) {
      rep.at(key, "expected a divisor of model." + std::string(w.field) + " = " + str(w.value) + ", found " + name +
                      " = " + str(tp));
      return;
    }
  }
}

void check_ep(const Reporter& rep, const spec::ModelSpec& m, int ep, const std::string& key) {
  if (!has_moe_layer(m)) {
    rep.at(key, "expected a model with MoE layers for expert parallelism, found model.num_experts = " +
                    str(m.num_experts));
    return;
  }
  if (m.num_experts % ep != 0) {
    rep.at(key, "expected a divisor of model.num_experts = " + str(m.num_experts) + ", found ep = " + str(ep));
  }
}

// Range, repetition (within `seen`, shared across lists that must be disjoint).
void check_ranks(const Reporter& rep, const std::vector<int>& ranks, const std::string& key, int topo_gpus,
                 std::map<int, std::string>& seen, const std::string& other_group_msg) {
  for (std::size_t j = 0; j < ranks.size(); ++j) {
    const std::string ek = key + "." + std::to_string(j);
    const int g = ranks[j];
    if (topo_gpus > 0 && g >= topo_gpus) {
      rep.at(ek, "expected a GPU rank in [0, " + str(topo_gpus - 1) + "] (the topology has " + str(topo_gpus) +
                     " GPUs), found " + str(g));
      continue;
    }
    auto [it, inserted] = seen.emplace(g, ek);
    if (inserted) continue;
    const bool same_list = it->second.rfind(key + ".", 0) == 0;
    if (same_list || other_group_msg.empty()) {
      rep.at(ek, "GPU " + str(g) + " is listed twice (first at " + rep.pointer(it->second) + ")");
    } else {
      rep.at(ek, "expected a GPU not in " + other_group_msg + ", found GPU " + str(g) + " (also at " +
                     rep.pointer(it->second) + "); the attention and expert groups must be disjoint");
    }
  }
}

}  // namespace

int data_parallel_degree(const spec::LayoutSpec& l) {
  switch (l.kind) {
    // Degrees are up to 2^20 each: products in 64 bits (an absurd ep x dp is
    // reported as exceeding the topology; here it only saturates).
    case spec::LayoutKind::kExpert:
      return static_cast<int>(std::min<std::int64_t>(std::int64_t{l.ep} * l.dp, std::numeric_limits<int>::max()));
    case spec::LayoutKind::kMaSeparation: {
      const std::int64_t per_group = std::int64_t{l.ma.attention_tp} * l.ma.attention_replicas;
      const auto a = static_cast<std::int64_t>(l.ma.attention_gpus.size());
      return per_group > 0 && a % per_group == 0 ? static_cast<int>(a / per_group) : 0;
    }
    default: return l.dp;
  }
}

void validate_scenario(const ScenarioParts& p, const SourceMap& where, io::Diagnostics& diags) {
  const Reporter rep(where, diags);
  const spec::ModelSpec* model = p.model ? &*p.model : nullptr;

  // Hardware against topology and model.
  if (p.hardware && p.topology && !p.topology->gpu_model.empty() &&
      p.hardware->gpu.name != p.topology->gpu_model) {
    rep.at("hardware", "expected a GPU matching topology.gpu_model = \"" + p.topology->gpu_model +
                           "\", found hardware name \"" + p.hardware->gpu.name + "\"");
  }
  if (p.hardware && model && p.hardware->gpu.peak_flops.count(model->dtype) == 0) {
    std::string have;
    for (const auto& [t, rate] : p.hardware->gpu.peak_flops) have += std::string(have.empty() ? "" : ", ") + spec::to_string(t);
    rep.at("model.dtype", std::string("expected a dtype with a peak_flops entry in hardware \"") + p.hardware->gpu.name +
                              "\" (" + have + "), found model dtype \"" + spec::to_string(model->dtype) + "\"");
  }
  if (p.workload && model && p.workload->routing.kind == spec::RoutingKind::kTrace &&
      p.workload->routing.trace.size() != static_cast<std::size_t>(model->num_experts)) {
    rep.at("workload.routing.trace", "expected one token count per expert (model.num_experts = " +
                                         str(model->num_experts) + "), found " +
                                         str(static_cast<std::int64_t>(p.workload->routing.trace.size())));
  }
  if (p.workload && model && !has_moe_layer(*model) && p.workload->routing.capacity_factor) {
    rep.at("workload.routing.capacity_factor", "expected a model with MoE layers, found model.num_experts = 0");
  }

  const int topo_gpus = p.topology ? topology_gpus(*p.topology) : 0;
  std::map<std::string, std::string> names;  // layout name -> key of its first use
  for (std::size_t i = 0; i < p.layouts.size(); ++i) {
    if (!p.layouts[i]) continue;
    const spec::LayoutSpec& l = *p.layouts[i];
    const std::string L = "layouts." + std::to_string(i);
    if (auto [it, inserted] = names.emplace(l.name, L + ".name"); !inserted) {
      rep.at(L + ".name", "expected a unique layout name, found \"" + l.name + "\" again (first at " +
                              rep.pointer(it->second) + ")");
    }
    const std::int64_t count = exact_gpu_count(l);
    if (p.topology && count > topo_gpus) {
      rep.at(L, "expected a layout of at most " + str(topo_gpus) + " GPUs (topology \"" + p.topology->name +
                    "\"), found one of " + str(count) + " GPUs (" + gpu_count_terms(l) + ")");
    }
    const bool ma = l.kind == spec::LayoutKind::kMaSeparation;
    if (!ma && !l.gpus.empty()) {
      if (static_cast<std::int64_t>(l.gpus.size()) != count) {
        rep.at(L + ".gpus", "expected " + str(count) + " GPU ranks (" + gpu_count_terms(l) + "), found " +
                                str(static_cast<std::int64_t>(l.gpus.size())));
      }
      std::map<int, std::string> seen;
      check_ranks(rep, l.gpus, L + ".gpus", p.topology ? topo_gpus : 0, seen, "");
    }
    if (ma) {
      std::map<int, std::string> seen;
      check_ranks(rep, l.ma.attention_gpus, L + ".ma.attention_gpus", p.topology ? topo_gpus : 0, seen, "");
      check_ranks(rep, l.ma.expert_gpus, L + ".ma.expert_gpus", p.topology ? topo_gpus : 0, seen, "attention_gpus");
      const int a = static_cast<int>(l.ma.attention_gpus.size());
      const std::int64_t per_group = std::int64_t{l.ma.attention_tp} * l.ma.attention_replicas;  // up to 2^40
      if (a % per_group != 0) {
        rep.at(L + ".ma.attention_gpus",
               "expected a multiple of attention_tp × attention_replicas = " + str(l.ma.attention_tp) + " × " +
                   str(l.ma.attention_replicas) + " = " + str(per_group) + " GPUs, found " + str(a));
      }
      const int e = static_cast<int>(l.ma.expert_gpus.size());
      if (e % l.ma.expert_tp != 0) {
        rep.at(L + ".ma.expert_gpus",
               "expected a multiple of expert_tp = " + str(l.ma.expert_tp) + " GPUs, found " + str(e));
      } else if (model && has_moe_layer(*model) && e > 0) {
        const int shards = e / l.ma.expert_tp;
        if (model->num_experts % shards != 0) {
          rep.at(L + ".ma.expert_gpus",
                 "expected expert shards (expert GPUs / expert_tp) dividing model.num_experts = " +
                     str(model->num_experts) + ", found " + str(shards) + " shards (" + str(e) +
                     " GPUs / expert_tp " + str(l.ma.expert_tp) + ")");
        }
      }
    }
    if (model) {
      const bool uses_tp = l.kind == spec::LayoutKind::kTensor || l.kind == spec::LayoutKind::kTensorPipeline ||
                           (l.kind == spec::LayoutKind::kPipeline &&
                            l.stage_parallelism == spec::StageParallelism::kTensor);
      const bool uses_ep = l.kind == spec::LayoutKind::kExpert ||
                           (l.kind == spec::LayoutKind::kPipeline &&
                            l.stage_parallelism == spec::StageParallelism::kExpert);
      if (uses_tp) check_tp(rep, *model, l.tp, L + ".tp", "tp", true);
      if (uses_ep) check_ep(rep, *model, l.ep, L + ".ep");
      if ((l.kind == spec::LayoutKind::kPipeline || l.kind == spec::LayoutKind::kTensorPipeline) &&
          l.pp > model->num_layers) {
        rep.at(L + ".pp", "expected at most model.num_layers = " + str(model->num_layers) + ", found pp = " +
                              str(l.pp));
      }
      if (ma) {
        check_tp(rep, *model, l.ma.attention_tp, L + ".ma.attention_tp", "attention_tp", false);
        if (!has_moe_layer(*model)) {
          rep.at(L, "expected a model with MoE layers for MA Separation, found model.num_experts = " +
                        str(model->num_experts));
        } else {
          if (l.ma.expert_tp > 1 && model->expert_ffn_size % l.ma.expert_tp != 0) {
            rep.at(L + ".ma.expert_tp", "expected a divisor of model.expert_ffn_size = " +
                                            str(model->expert_ffn_size) + ", found expert_tp = " +
                                            str(l.ma.expert_tp));
          }
          if (l.ma.hot_expert_replicas > model->num_experts) {
            rep.at(L + ".ma.hot_expert_replicas", "expected at most model.num_experts = " +
                                                      str(model->num_experts) + ", found " +
                                                      str(l.ma.hot_expert_replicas));
          }
        }
      }
    }
    // The batch against the layout: every replica gets an equal share, split
    // into equal micro-batches (docs/INPUTS.md, "batch rule").
    if (p.workload) {
      const int replicas = data_parallel_degree(l);
      if (replicas <= 0) continue;
      int mb = 1;
      std::string mb_key;
      if (l.kind == spec::LayoutKind::kPipeline || l.kind == spec::LayoutKind::kTensorPipeline ||
          l.kind == spec::LayoutKind::kExpert) {
        mb = l.micro_batches;
        mb_key = L + ".micro_batches";
      } else if (ma) {
        mb = l.ma.micro_batches;
        mb_key = L + ".ma.micro_batches";
      }
      const std::int64_t batch = p.workload->batch;
      if (mb > 1 && batch >= replicas && mb > batch / replicas) {
        rep.at(mb_key, "expected at most the sequences per replica = " + str(batch / replicas) + " (workload.batch " +
                           str(batch) + " / " + replica_terms(l) + "), found " + str(mb));
      } else if (batch % (static_cast<std::int64_t>(replicas) * mb) != 0) {
        std::string terms = replica_terms(l);
        if (mb > 1) terms += " × micro_batches " + str(mb);
        rep.at("workload.batch", "expected a multiple of " + str(static_cast<std::int64_t>(replicas) * mb) +
                                     " for layout \"" + l.name + "\" (" + terms + "), found " + str(batch));
      } else if (p.workload->kind == spec::WorkloadKind::kTraining &&
                 (batch / replicas) % p.workload->micro_batch_size != 0) {
        rep.at("workload.micro_batch_size",
               "expected a divisor of the sequences per replica of layout \"" + l.name + "\" = " +
                   str(batch / replicas) + " (workload.batch " + str(batch) + " / " + replica_terms(l) +
                   "), found " + str(p.workload->micro_batch_size));
      }
    }
  }
}

}  // namespace masim::frontend
