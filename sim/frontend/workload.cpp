// Workload and layout parsers. See parse.hpp; keys in docs/INPUTS.md.

#include <cmath>

#include <nlohmann/json.hpp>

#include "sim/frontend/parse.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::frontend {

using io::Required;
using nlohmann::json;

namespace {

constexpr std::int64_t kMaxCount = std::int64_t{1} << 30;

// A key that is meaningful only for other kinds: one clear message instead of
// "unknown key", and the value is not read.
bool reject_if_present(io::JsonReader& r, const std::string& key, const std::string& message) {
  if (!r.has(key)) return false;
  r.allow(key);
  r.error(key, message);
  return true;
}

std::vector<int> read_ranks(io::JsonReader& r, const std::string& key, Required req, io::Diagnostics& d) {
  std::vector<int> out;
  const json* a = r.array(key, req);
  if (a == nullptr) return out;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const json& e = (*a)[i];
    if (!e.is_number_integer() || e.get<std::int64_t>() < 0 || e.get<std::int64_t>() > (1 << 24)) {
      d.error(r.file(), io::pointer_join(r.pointer_of(key), i),
              "expected a GPU rank (an integer >= 0), found " + io::describe(e));
      continue;
    }
    out.push_back(static_cast<int>(e.get<std::int64_t>()));
  }
  if (a->empty()) r.error(key, "expected at least one GPU rank, found an empty array");
  return out;
}

}  // namespace

std::optional<spec::WorkloadSpec> parse_workload(const json& node, const ParseContext& ctx) {
  const std::size_t before = ctx.diags.size();
  io::JsonReader r(node, ctx.file, ctx.pointer, ctx.diags);
  if (!r.valid()) return std::nullopt;
  ctx.where.record_tree("workload", node, ctx.file, ctx.pointer);
  spec::WorkloadSpec w;
  const auto kind = r.choice("kind", Required::kYes, {"decode", "prefill", "training", "serving"});
  // "serving": request-level serving (the "serving" object inside the workload,
  // parsed by the scenario, which can read its trace file). The steady-state
  // table beside it is a decode step; its batch defaults to the scheduler's
  // max_num_seqs (parse_scenario fills it in).
  const bool serving = kind && *kind == "serving";
  if (kind) {
    w.kind = *kind == "decode" || serving ? spec::WorkloadKind::kDecode
             : *kind == "prefill"         ? spec::WorkloadKind::kPrefill
                                          : spec::WorkloadKind::kTraining;
  }
  if (serving) {
    w.batch = static_cast<int>(r.integer("batch", Required::kNo, 1, kMaxCount).value_or(0));
    if (!r.has("serving")) {
      r.error("serving", "missing required key \"serving\" (workload kind \"serving\" takes its arrivals, "
                         "lengths and scheduler there; docs/INPUTS.md)");
    }
    r.allow("serving");
  } else {
    w.batch = static_cast<int>(r.integer("batch", Required::kYes, 1, kMaxCount).value_or(w.batch));
    if (kind) {
      reject_if_present(r, "serving",
                        "applies only to workload kind \"serving\"; this workload is \"" + *kind +
                            "\" (a top-level \"serving\" block beside a decode workload also serves)");
    }
  }
  w.context_length =
      static_cast<int>(r.integer("context_length", Required::kYes, 1, kMaxCount).value_or(w.context_length));
  // At most 10,000: the seed study takes about 3 ms per iteration and layout on one core,
  // so the cap keeps a run within minutes; more samples do not move a mean that has converged.
  w.iterations = static_cast<int>(r.integer_or("iterations", w.iterations, 1, 10'000));
  const bool training = kind && w.kind == spec::WorkloadKind::kTraining;
  if (kind && !training) {
    const std::string msg = "applies only to workload kind \"training\"; this workload is \"" + *kind + "\"";
    reject_if_present(r, "micro_batch_size", msg);
    reject_if_present(r, "recompute", msg);
    reject_if_present(r, "optimizer_bytes_per_param", msg);
  } else {
    w.micro_batch_size = static_cast<int>(r.integer_or("micro_batch_size", w.micro_batch_size, 1, kMaxCount));
    w.recompute = r.boolean_or("recompute", w.recompute);
    w.optimizer_bytes_per_param =
        static_cast<int>(r.integer_or("optimizer_bytes_per_param", w.optimizer_bytes_per_param, 0, 64));
  }
  if (auto ro = r.object("routing", Required::kNo); ro && ro->valid()) {
    spec::RoutingSpec& rs = w.routing;
    const auto rk = ro->choice("kind", Required::kYes, {"uniform", "zipf", "dirichlet", "trace"});
    if (rk) {
      rs.kind = *rk == "uniform" ? spec::RoutingKind::kUniform
                : *rk == "zipf" ? spec::RoutingKind::kZipf
                : *rk == "dirichlet" ? spec::RoutingKind::kDirichlet
                                     : spec::RoutingKind::kTrace;
      auto only = [&](const std::string& key, const std::string& k) {
        if (*rk == k) return false;
        return reject_if_present(*ro, key, "applies only to routing kind \"" + k + "\"; this routing is \"" + *rk + "\"");
      };
      if (!only("zipf_exponent", "zipf")) rs.zipf_exponent = ro->number_or("zipf_exponent", rs.zipf_exponent, 0.0, 100.0);
      if (!only("dirichlet_alpha", "dirichlet")) {
        rs.dirichlet_alpha = ro->number_or("dirichlet_alpha", rs.dirichlet_alpha, 1e-6, 1e6);
      }
      if (!only("trace", "trace")) {
        if (const json* t = ro->array("trace", *rk == "trace" ? Required::kYes : Required::kNo)) {
          double sum = 0.0;
          for (std::size_t i = 0; i < t->size(); ++i) {
            const json& e = (*t)[i];
            if (!e.is_number() || e.get<double>() < 0.0) {
              ctx.diags.error(ctx.file, io::pointer_join(ro->pointer_of("trace"), i),
                              "expected a token count (a number >= 0), found " + io::describe(e));
              continue;
            }
            rs.trace.push_back(e.get<double>());
            sum += e.get<double>();
          }
          // Each count is finite (JSON has no infinity), but their sum may not be:
          // popularity is count / sum, so an infinite sum would make every share zero.
          if (!std::isfinite(sum)) {
            ro->error("trace", "expected per-expert token counts whose sum is finite, found counts that sum past "
                               "the largest double (1.8e308); scale them down, only their ratios matter");
          } else if (sum <= 0.0 && rs.trace.size() == t->size()) {
            ro->error("trace", "expected per-expert token counts with a positive sum, found none");
          }
        }
      }
    }
    if (auto cf = ro->number("capacity_factor", Required::kNo, 0.01, 1000.0)) rs.capacity_factor = *cf;
    ro->finish();
  }
  r.finish();
  if (ctx.diags.size() != before) return std::nullopt;
  return w;
}

std::optional<spec::LayoutSpec> parse_layout(const json& node, const ParseContext& ctx, std::size_t index) {
  const std::size_t before = ctx.diags.size();
  io::JsonReader r(node, ctx.file, ctx.pointer, ctx.diags);
  if (!r.valid()) return std::nullopt;
  ctx.where.record_tree("layouts." + std::to_string(index), node, ctx.file, ctx.pointer);
  spec::LayoutSpec l;
  l.name = r.string("name", Required::kYes).value_or("");
  if (r.has("name") && l.name.empty() && node.at("name").is_string()) {
    r.error("name", "expected a non-empty name, found \"\"");
  }
  const auto kind = r.choice("kind", Required::kYes, {"tp", "pp", "tp_pp", "ep", "ma_separation"});
  if (!kind) {
    // Without a kind nothing else can be judged; accept the other keys silently.
    for (const char* k : {"tp", "pp", "ep", "dp", "micro_batches", "stage_parallelism", "sequence_parallel", "gpus", "ma",
                          "disaggregation"}) {
      r.allow(k);
    }
    r.finish();
    return std::nullopt;
  }
  l.kind = *kind == "tp" ? spec::LayoutKind::kTensor
           : *kind == "pp" ? spec::LayoutKind::kPipeline
           : *kind == "tp_pp" ? spec::LayoutKind::kTensorPipeline
           : *kind == "ep" ? spec::LayoutKind::kExpert
                           : spec::LayoutKind::kMaSeparation;

  // Which keys each kind uses (pp: tp/ep only with that stage parallelism).
  std::string stage = "none";
  if (l.kind == spec::LayoutKind::kPipeline) {
    stage = r.choice_or("stage_parallelism", "none", {"none", "tp", "ep"});
    l.stage_parallelism = stage == "tp" ? spec::StageParallelism::kTensor
                          : stage == "ep" ? spec::StageParallelism::kExpert
                                          : spec::StageParallelism::kNone;
  }
  const bool is_tp = l.kind == spec::LayoutKind::kTensor;
  const bool is_pp = l.kind == spec::LayoutKind::kPipeline;
  const bool is_tp_pp = l.kind == spec::LayoutKind::kTensorPipeline;
  const bool is_ep = l.kind == spec::LayoutKind::kExpert;
  const bool is_ma = l.kind == spec::LayoutKind::kMaSeparation;
  struct KeyUse {
    const char* key;
    bool used;
    std::vector<std::string> kinds;  // for the message
  };
  const std::vector<KeyUse> uses = {
      {"tp", is_tp || is_tp_pp || (is_pp && stage == "tp"), {"tp", "tp_pp", "pp with stage_parallelism \"tp\""}},
      {"pp", is_pp || is_tp_pp, {"pp", "tp_pp"}},
      {"ep", is_ep || (is_pp && stage == "ep"), {"ep", "pp with stage_parallelism \"ep\""}},
      {"dp", !is_ma, {"tp", "pp", "tp_pp", "ep"}},
      {"micro_batches", is_pp || is_tp_pp || is_ep, {"pp", "tp_pp", "ep"}},
      {"stage_parallelism", is_pp, {"pp"}},
      {"sequence_parallel", is_tp || is_tp_pp || (is_pp && stage == "tp"),
       {"tp", "tp_pp", "pp with stage_parallelism \"tp\""}},
      {"gpus", !is_ma, {"tp", "pp", "tp_pp", "ep"}},
      {"ma", is_ma, {"ma_separation"}},
      {"disaggregation", !is_ma, {"tp", "pp", "tp_pp", "ep"}},
  };
  const std::string this_kind = is_pp ? "\"pp\" with stage_parallelism \"" + stage + "\"" : "\"" + *kind + "\"";
  for (const KeyUse& u : uses) {
    if (u.used) continue;
    std::string kinds;
    for (std::size_t i = 0; i < u.kinds.size(); ++i) kinds += (i ? ", " : "") + u.kinds[i];
    reject_if_present(r, u.key, "does not apply to a layout of kind " + this_kind + " (used by: " + kinds + ")");
  }
  auto degree = [&](const char* key, bool required) {
    return static_cast<int>(r.integer(key, required ? Required::kYes : Required::kNo, 1, 1 << 20).value_or(1));
  };
  if (is_tp || is_tp_pp) l.tp = degree("tp", true);
  if (is_pp && stage == "tp") l.tp = degree("tp", true);
  if (is_pp || is_tp_pp) l.pp = degree("pp", true);
  if (is_ep) l.ep = degree("ep", true);
  if (is_pp && stage == "ep") l.ep = degree("ep", true);
  if (!is_ma) l.dp = degree("dp", false);
  if (is_pp || is_tp_pp || is_ep) l.micro_batches = degree("micro_batches", false);
  if (is_tp || is_tp_pp || (is_pp && stage == "tp")) l.sequence_parallel = r.boolean_or("sequence_parallel", false);
  if (!is_ma && r.has("gpus")) l.gpus = read_ranks(r, "gpus", Required::kNo, ctx.diags);
  if (!is_ma) {
    if (auto dg = r.object("disaggregation", Required::kNo); dg && dg->valid()) {
      const auto k = dg->integer("prefill_replicas", Required::kYes, 1, 1 << 20);
      if (k && *k >= l.dp) {
        dg->error("prefill_replicas", "expected fewer prefill replicas than the layout's dp = " + std::to_string(l.dp) +
                                          " (the rest decode), found " + std::to_string(*k));
      }
      l.prefill_replicas = static_cast<int>(k.value_or(0));
      dg->finish();
    }
  }
  if (is_ma) {
    if (auto m = r.object("ma", Required::kYes); m && m->valid()) {
      spec::MaSpec& ma = l.ma;
      ma.attention_gpus = read_ranks(*m, "attention_gpus", Required::kYes, ctx.diags);
      ma.expert_gpus = read_ranks(*m, "expert_gpus", Required::kYes, ctx.diags);
      ma.attention_tp = static_cast<int>(m->integer_or("attention_tp", ma.attention_tp, 1, 1 << 20));
      ma.attention_replicas = static_cast<int>(m->integer_or("attention_replicas", ma.attention_replicas, 1, 1 << 20));
      ma.expert_tp = static_cast<int>(m->integer_or("expert_tp", ma.expert_tp, 1, 1 << 20));
      ma.hot_expert_replicas = static_cast<int>(m->integer_or("hot_expert_replicas", ma.hot_expert_replicas, 0, 1 << 20));
      ma.micro_batches = static_cast<int>(m->integer_or("micro_batches", ma.micro_batches, 1, 1 << 20));
      m->finish();
    }
  }
  r.finish();
  if (ctx.diags.size() != before) return std::nullopt;
  return l;
}

}  // namespace masim::frontend
