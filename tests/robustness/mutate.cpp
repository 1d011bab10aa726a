#include "tests/robustness/mutate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>

#include "sim/io/quantity.hpp"

namespace masim::robustness {

using nlohmann::json;
using Ptr = nlohmann::json::json_pointer;

const char* to_string(DocKind k) {
  switch (k) {
    case DocKind::kScenario: return "scenario";
    case DocKind::kHardware: return "hardware";
    case DocKind::kModel: return "model";
    case DocKind::kHfConfig: return "hf_config";
    case DocKind::kTopology: return "topology";
  }
  return "?";
}

const char* to_string(Op op) {
  switch (op) {
    case Op::kDeleteKey: return "delete";
    case Op::kRenameKey: return "rename";
    case Op::kChangeType: return "change_type";
    case Op::kNumber: return "number";
    case Op::kUnit: return "unit";
    case Op::kEmptyArray: return "empty_array";
    case Op::kExtendArray: return "extend_array";
    case Op::kDuplicateRank: return "duplicate_rank";
    case Op::kDanglingPath: return "dangling_path";
    case Op::kHugePair: return "huge_pair";
    case Op::kAddKey: return "add_key";
    case Op::kTruncate: return "truncate";
    case Op::kCompound: return "compound";
  }
  return "?";
}

const std::vector<std::string>& known_keys() {
  // Every key of every input kind (docs/INPUTS.md), HF config keys masim reads,
  // and the topology generator's keys.
  static const std::vector<std::string> keys = {
      // scenario
      "schema", "name", "description", "seed", "hardware", "topology", "model", "workload", "layouts", "profile",
      "choices", "key", "value", "reason",
      // workload, routing
      "kind", "batch", "context_length", "iterations", "micro_batch_size", "recompute", "optimizer_bytes_per_param",
      "routing", "zipf_exponent", "dirichlet_alpha", "trace", "capacity_factor",
      // layouts
      "tp", "pp", "ep", "dp", "micro_batches", "stage_parallelism", "sequence_parallel", "gpus", "ma",
      "attention_gpus", "expert_gpus", "attention_tp", "attention_replicas", "expert_tp", "hot_expert_replicas",
      // hardware
      "id", "peak_flops", "fp32", "tf32", "bf16", "fp16", "fp8", "vector_fp32_flops", "hbm_bandwidth",
      "hbm_capacity", "tdp", "idle_power", "kernel_launch_overhead", "matmul_efficiency", "memory_efficiency",
      "sources",
      // model
      "source", "num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "attention", "mla",
      "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "num_experts", "top_k",
      "expert_ffn_size", "num_shared_experts", "shared_expert_ffn_size", "dense_ffn_size", "moe_layer",
      "first_dense_layers", "moe_layer_frequency", "vocab_size", "tie_embeddings", "dtype",
      // Hugging Face
      "model_type", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
      "num_local_experts", "num_experts_per_tok", "moe_intermediate_size", "shared_expert_intermediate_size",
      "decoder_sparse_step", "mlp_only_layers", "n_routed_experts", "n_shared_experts", "first_k_dense_replace",
      "moe_layer_freq", "tie_word_embeddings", "torch_dtype",
      // topology
      "gpu_model", "vertices", "links", "node", "local_index", "a", "b", "bandwidth", "latency", "generator",
      "nodes", "gpus_per_node", "nvlink_per_gpu", "nvlink_latency", "nics_per_node", "nic_bandwidth",
      "nic_latency", "pcie_bandwidth", "pcie_latency", "switch_latency", "oversubscription", "leaf_radix"};
  return keys;
}

namespace {

bool is_doc_key(const std::string& k) { return k.rfind('_', 0) == 0 || k.rfind("$comment", 0) == 0; }

bool in(const std::string& s, std::initializer_list<const char*> set) {
  return std::any_of(set.begin(), set.end(), [&](const char* x) { return s == x; });
}

std::string pick(Rng& rng, const std::vector<std::string>& v) { return v[rng.below(v.size())]; }

// Member `key` of `o` when it is a string / an integer, else `def` (never throws:
// a compound mutation may have changed its type).
std::string str_or(const json& o, const char* key, const std::string& def) {
  if (!o.is_object()) return def;
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : def;
}
std::int64_t int_or(const json& o, const char* key, std::int64_t def) {
  if (!o.is_object()) return def;
  const auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<std::int64_t>() : def;
}

std::string ptr_string(const Ptr& p) { return p.empty() ? "/" : p.to_string(); }

// The number and unit of a quantity string ("300 GB/s" -> {"300", "GB/s"}), and
// its dimension; ok == false when `s` is not a quantity of any dimension.
struct QuantityParts {
  bool ok = false;
  std::string number;
  std::string unit;
  io::Dimension dim = io::Dimension::kTime;
};

constexpr io::Dimension kDims[] = {io::Dimension::kTime,     io::Dimension::kBytes, io::Dimension::kBandwidth,
                                   io::Dimension::kFlopRate, io::Dimension::kPower, io::Dimension::kFrequency};

QuantityParts split_quantity(const std::string& s) {
  QuantityParts q;
  const auto sp = s.find(' ');
  if (sp == std::string::npos || sp == 0) return q;
  q.number = s.substr(0, sp);
  q.unit = s.substr(sp + 1);
  for (io::Dimension d : kDims) {
    if (io::parse_quantity(s, d).ok) {
      q.ok = true;
      q.dim = d;
      return q;
    }
  }
  return q;
}

// Units of every dimension, for wrong-unit mutations.
const std::vector<std::string>& all_units() {
  static const std::vector<std::string> u = {"ps", "ns", "us", "ms", "s", "B", "KB", "MB", "GB", "TB", "KiB",
                                             "GiB", "B/s", "GB/s", "Gb/s", "GiB/s", "FLOP/s", "TFLOP/s", "TFLOPS",
                                             "mW", "W", "kW", "Hz", "GHz"};
  return u;
}

// A near-typo of `key`: one edit (swap, drop, double or replace a character).
std::string typo(const std::string& key, Rng& rng) {
  std::string t = key;
  const std::size_t n = key.size();
  switch (rng.below(4)) {
    case 0:
      if (n >= 2) {
        const std::size_t i = rng.below(n - 1);
        std::swap(t[i], t[i + 1]);
        break;
      }
      [[fallthrough]];
    case 1:
      if (n >= 3) {
        t.erase(rng.below(n), 1);
        break;
      }
      [[fallthrough]];
    case 2: {
      const std::size_t i = rng.below(n);
      t.insert(i, 1, key[i]);
      break;
    }
    default: {
      const std::size_t i = rng.below(n);
      t[i] = static_cast<char>('a' + rng.below(26));
      break;
    }
  }
  return t;
}

json other_type(const json& v, Rng& rng) {
  std::vector<json> options;
  switch (v.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: options = {json(v.dump()), json(true), json(nullptr), json::array(), json::object()}; break;
    case json::value_t::string: options = {json(7), json(false), json(nullptr), json::array({v}), json::object()}; break;
    case json::value_t::boolean: options = {json(v.get<bool>() ? "true" : "false"), json(1), json(nullptr)}; break;
    case json::value_t::array: options = {json::object(), json("x"), json(0), json(nullptr)}; break;
    case json::value_t::object: options = {json::array(), json("x"), json(0), json(nullptr)}; break;
    default: options = {json("x"), json::array(), json::object()}; break;  // null: DeepSeek's q_lora_rank
  }
  return options[rng.below(options.size())];
}

}  // namespace

Mutator::Mutator(DocKind kind, std::string text) : kind_(kind), text_(std::move(text)) {
  doc_ = json::parse(text_);
  std::vector<std::string> tokens;
  collect(doc_, Ptr(), tokens, false, false);
}

void Mutator::collect(const json& v, const Ptr& ptr, std::vector<std::string>& tokens, bool in_object,
                      bool doc_key) {
  if (!ptr.empty()) sites_.push_back(Site{ptr, tokens, in_object, doc_key});
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      tokens.push_back(it.key());
      collect(it.value(), ptr / it.key(), tokens, true, doc_key || is_doc_key(it.key()));
      tokens.pop_back();
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      tokens.push_back(std::to_string(i));
      collect(v[i], ptr / i, tokens, false, doc_key);
      tokens.pop_back();
    }
  }
}

std::string Mutator::hf_type() const {
  return doc_.contains("model_type") && doc_["model_type"].is_string() ? doc_["model_type"].get<std::string>() : "";
}

bool Mutator::checked(const Site& s) const {
  if (s.doc_key) return false;
  if (kind_ != DocKind::kHfConfig) return true;  // every key of a masim file is checked
  // A Hugging Face config: only the keys masim reads (hf_import.cpp) are checked.
  const std::string& k = s.tokens.front();
  const std::string t = hf_type();
  const bool mixtral = t == "mixtral", qwen = t == "qwen2_moe" || t == "qwen3_moe";
  const bool deepseek = t == "deepseek_v2" || t == "deepseek_v3";
  if (in(k, {"model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
             "vocab_size", "intermediate_size", "num_experts_per_tok", "tie_word_embeddings"})) {
    return true;
  }
  if (k == "dtype") return true;
  if (k == "torch_dtype") return !doc_.contains("dtype");
  if (mixtral) return in(k, {"num_local_experts", "head_dim"});
  if (qwen) {
    return in(k, {"num_experts", "moe_intermediate_size", "head_dim", "decoder_sparse_step", "mlp_only_layers"}) ||
           (t == "qwen2_moe" && k == "shared_expert_intermediate_size");
  }
  if (deepseek) {
    return in(k, {"n_routed_experts", "moe_intermediate_size", "first_k_dense_replace", "moe_layer_freq",
                  "n_shared_experts", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                  "v_head_dim"});
  }
  return false;
}

bool Mutator::required(const Site& s, const json& doc) const {
  if (!s.in_object || s.doc_key) return false;
  const auto& t = s.tokens;
  const std::string& k = t.back();
  switch (kind_) {
    case DocKind::kScenario: {
      if (t.size() == 1) return in(k, {"schema", "name", "hardware", "topology", "model", "workload", "layouts"});
      if (t.size() == 2 && t[0] == "workload") return in(k, {"kind", "batch", "context_length"});
      if (t.size() == 3 && t[0] == "workload" && t[1] == "routing") {
        return k == "kind" || (k == "trace" && str_or(doc["workload"]["routing"], "kind", "") == "trace");
      }
      if (t.size() == 3 && t[0] == "layouts" && doc["layouts"].is_array()) {
        const json& l = doc["layouts"][std::stoul(t[1])];
        const std::string lk = str_or(l, "kind", "");
        const std::string stage = str_or(l, "stage_parallelism", "none");
        if (in(k, {"name", "kind"})) return true;
        if (k == "tp") return lk == "tp" || lk == "tp_pp" || (lk == "pp" && stage == "tp");
        if (k == "pp") return lk == "pp" || lk == "tp_pp";
        if (k == "ep") return lk == "ep" || (lk == "pp" && stage == "ep");
        if (k == "ma") return lk == "ma_separation";
        // Without it, the stage's "tp"/"ep"/"sequence_parallel" no longer apply.
        if (k == "stage_parallelism") {
          return stage != "none" && (l.contains("tp") || l.contains("ep") || l.contains("sequence_parallel"));
        }
        return false;
      }
      if (t.size() == 4 && t[0] == "layouts" && t[2] == "ma") return in(k, {"attention_gpus", "expert_gpus"});
      if (t.size() == 3 && t[0] == "choices") return in(k, {"key", "value", "reason"});
      return false;
    }
    case DocKind::kHardware: {
      if (t.size() == 1) {
        return in(k, {"schema", "name", "peak_flops", "vector_fp32_flops", "hbm_bandwidth", "hbm_capacity", "tdp",
                      "idle_power"});
      }
      if (t.size() == 2 && t[0] == "peak_flops") {
        int entries = 0;
        for (auto it = doc["peak_flops"].begin(); it != doc["peak_flops"].end(); ++it) entries += !is_doc_key(it.key());
        return entries == 1;
      }
      return false;
    }
    case DocKind::kModel: {
      if (t.size() == 1) {
        if (in(k, {"schema", "num_layers", "hidden_size", "num_heads", "num_experts", "vocab_size"})) return true;
        if (in(k, {"top_k", "expert_ffn_size"})) return int_or(doc, "num_experts", 0) > 0;
        if (k == "mla") return str_or(doc, "attention", "") == "mla";
        return false;
      }
      if (t.size() == 2 && t[0] == "mla") return in(k, {"kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"});
      return false;
    }
    case DocKind::kHfConfig: {
      if (t.size() != 1) return false;
      const std::string type = hf_type();
      if (in(k, {"model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                 "intermediate_size", "num_experts_per_tok"})) {
        return true;
      }
      if (type == "mixtral") return k == "num_local_experts";
      if (type == "qwen2_moe") return in(k, {"num_experts", "moe_intermediate_size", "shared_expert_intermediate_size"});
      if (type == "qwen3_moe") return in(k, {"num_experts", "moe_intermediate_size", "head_dim"});
      return in(k, {"n_routed_experts", "moe_intermediate_size", "first_k_dense_replace", "moe_layer_freq",
                    "n_shared_experts", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                    "v_head_dim"});
    }
    case DocKind::kTopology: {
      if (t.size() == 1) return in(k, {"schema", "name", "generator", "vertices", "links"});
      if (t.size() == 2 && t[0] == "generator") return in(k, {"kind", "nodes"});
      if (t.size() == 3 && t[0] == "vertices") return in(k, {"id", "kind"});
      if (t.size() == 3 && t[0] == "links") return in(k, {"a", "b", "bandwidth", "latency"});
      return false;
    }
  }
  return false;
}

Mutation Mutator::random(Rng& rng) const {
  for (int attempt = 0; attempt < 64; ++attempt) {
    const Op op = static_cast<Op>(rng.below(kNumOps));
    Mutation m = apply(op, rng);
    if (m.applied) return m;
  }
  return apply(Op::kTruncate, rng);  // applies to every document
}

Mutation Mutator::apply(Op op, Rng& rng) const {
  if (op != Op::kCompound) return apply_to(op, rng, doc_);
  // Two or three ops in a row, each on the previous result; the outcome is not predicted.
  Mutation out;
  out.op = Op::kCompound;
  std::string text = text_;
  const int n = 2 + static_cast<int>(rng.below(2));
  for (int i = 0; i < n; ++i) {
    const Mutator step(kind_, text);
    Mutation m;
    for (int attempt = 0; attempt < 16 && !m.applied; ++attempt) {
      const Op inner = static_cast<Op>(rng.below(kNumOps - 2));  // neither truncation nor compound
      m = step.apply_to(inner, rng, step.doc_);
    }
    if (!m.applied) break;
    text = m.text;
    out.what += (out.what.empty() ? "" : "; ") + m.what;
    out.applied = true;
  }
  out.text = text;
  out.expect = Expect::kUnknown;
  return out;
}

Mutation Mutator::apply_to(Op op, Rng& rng, const json& doc) const {
  Mutation m;
  m.op = op;
  auto sites_where = [&](auto pred) {
    std::vector<const Site*> out;
    for (const Site& s : sites_) {
      if (pred(s)) out.push_back(&s);
    }
    return out;
  };
  auto choose = [&](const std::vector<const Site*>& v) -> const Site* {
    return v.empty() ? nullptr : v[rng.below(v.size())];
  };
  auto finish = [&](const Site& s, json d, std::string what, Expect e) {
    m.applied = true;
    m.text = d.dump(2);
    m.what = std::move(what);
    m.expect = e;
    m.top_key = s.tokens.front();
    return m;
  };
  auto quantity_site = [&](const Site& s) {
    const json& v = doc[s.ptr];
    if (!v.is_string() || !s.in_object) return false;
    if (in(s.tokens.back(), {"description", "name", "value", "reason", "key", "id", "a", "b", "source"})) return false;
    if (std::find(s.tokens.begin(), s.tokens.end(), "choices") != s.tokens.end()) return false;
    if (std::find(s.tokens.begin(), s.tokens.end(), "sources") != s.tokens.end()) return false;
    return split_quantity(v.get<std::string>()).ok;
  };

  switch (op) {
    case Op::kDeleteKey: {
      const Site* s = choose(sites_where([](const Site& x) { return x.in_object; }));
      if (!s) return m;
      json d = doc;
      d[s->ptr.parent_pointer()].erase(s->tokens.back());
      const bool bad = checked(*s) && required(*s, doc);
      return finish(*s, std::move(d), "delete " + ptr_string(s->ptr), bad ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kRenameKey: {
      const Site* s = choose(sites_where([](const Site& x) { return x.in_object; }));
      if (!s) return m;
      const std::string& key = s->tokens.back();
      const json& parent = doc[s->ptr.parent_pointer()];
      std::string t;
      for (int attempt = 0; attempt < 32; ++attempt) {
        t = typo(key, rng);
        const auto& known = known_keys();
        if (t != key && !t.empty() && !parent.contains(t) && !is_doc_key(t) &&
            std::find(known.begin(), known.end(), t) == known.end()) {
          break;
        }
        t.clear();
      }
      if (t.empty()) return m;
      json d = doc;
      json& p = d[s->ptr.parent_pointer()];
      p[t] = p[key];
      p.erase(key);
      // A masim file rejects the unknown key; an HF config ignores it, so only a
      // required key going missing is certain to be reported.
      const bool bad = !s->doc_key && (kind_ != DocKind::kHfConfig || required(*s, doc));
      return finish(*s, std::move(d), "rename " + ptr_string(s->ptr) + " -> \"" + t + "\"",
                    bad ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kChangeType: {
      const Site* s = choose(sites_where([](const Site&) { return true; }));
      if (!s) return m;
      json d = doc;
      const json nv = other_type(doc[s->ptr], rng);
      d[s->ptr] = nv;
      // DeepSeek's q_lora_rank may be null (queries projected directly).
      const bool null_ok = kind_ == DocKind::kHfConfig && s->tokens.back() == "q_lora_rank" && nv.is_null();
      const bool bad = checked(*s) && !null_ok;
      return finish(*s, std::move(d), "type " + ptr_string(s->ptr) + " = " + nv.dump(),
                    bad ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kNumber: {
      const Site* s = choose(sites_where([&](const Site& x) { return doc[x.ptr].is_number() || quantity_site(x); }));
      if (!s) return m;
      json d = doc;
      bool bad = false;
      std::string what;
      if (doc[s->ptr].is_number()) {
        // Certainly rejected where checked: 1e308 (out of every range, not an
        // integer) and NaN-like strings (not numbers). The rest may be in range.
        static const std::vector<json> sure = {json(1e308), json("NaN"), json("Infinity"), json("-inf"),
                                               json("1e999")};
        static const std::vector<json> maybe = {
            json(0),  json(-1), json(-1000000), json(1048576), json(2147483648LL), json(9007199254740993LL),
            json(std::numeric_limits<std::int64_t>::max()), json(std::numeric_limits<std::uint64_t>::max()),
            json(std::numeric_limits<std::int64_t>::min()), json(0.5), json(1e-300), json(-0.0)};
        const bool pick_sure = rng.below(3) == 0;
        const json nv = pick_sure ? sure[rng.below(sure.size())] : maybe[rng.below(maybe.size())];
        d[s->ptr] = nv;
        bad = pick_sure && checked(*s);
        what = "number " + ptr_string(s->ptr) + " = " + nv.dump();
      } else {
        const QuantityParts q = split_quantity(doc[s->ptr].get<std::string>());
        static const std::vector<std::string> sure = {"nan", "inf", "-inf", "1e999", "0x10", "", "1e308"};
        static const std::vector<std::string> maybe = {"0", "-1", "-0", "1e-300", "1e30"};
        const bool pick_sure = rng.below(2) == 0;
        const std::string num = pick_sure ? pick(rng, sure) : pick(rng, maybe);
        const std::string nv = num + " " + q.unit;
        d[s->ptr] = nv;
        // Every quantity has a finite upper bound (docs/INPUTS.md), so 1e308 of any unit is out of range.
        bad = pick_sure && checked(*s);
        what = "number " + ptr_string(s->ptr) + " = \"" + nv + "\"";
      }
      return finish(*s, std::move(d), what, bad ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kUnit: {
      const Site* s = choose(sites_where(quantity_site));
      if (!s) return m;
      const QuantityParts q = split_quantity(doc[s->ptr].get<std::string>());
      std::string nv;
      switch (rng.below(3)) {
        case 0: nv = q.number; break;  // no unit
        case 1: {
          std::string lower = q.unit;
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          nv = q.number + " " + lower;
          break;
        }
        default: nv = q.number + " " + pick(rng, all_units()); break;
      }
      if (io::parse_quantity(nv, q.dim).ok) nv = q.number + " parsecs";  // still valid: use a unit of nothing
      json d = doc;
      d[s->ptr] = nv;
      return finish(*s, std::move(d), "unit " + ptr_string(s->ptr) + " = \"" + nv + "\"",
                    checked(*s) ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kEmptyArray: {
      const Site* s = choose(sites_where([&](const Site& x) { return doc[x.ptr].is_array() && !doc[x.ptr].empty(); }));
      if (!s) return m;
      json d = doc;
      d[s->ptr] = json::array();
      const std::string& k = s->tokens.back();
      const bool bad = checked(*s) && s->in_object &&
                       in(k, {"layouts", "attention_gpus", "expert_gpus", "gpus", "vertices", "links", "moe_layer", "trace"});
      return finish(*s, std::move(d), "empty " + ptr_string(s->ptr), bad ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kExtendArray: {
      const Site* s = choose(sites_where([&](const Site& x) { return doc[x.ptr].is_array() && !doc[x.ptr].empty(); }));
      if (!s) return m;
      json d = doc;
      const json& a = doc[s->ptr];
      const std::size_t i = rng.below(a.size());
      d[s->ptr].push_back(a[i]);
      const std::string& k = s->tokens.back();
      const bool bad = checked(*s) && s->in_object &&
                       in(k, {"layouts", "attention_gpus", "expert_gpus", "gpus", "vertices", "moe_layer"});
      return finish(*s, std::move(d), "extend " + ptr_string(s->ptr) + " with a copy of element " + std::to_string(i),
                    bad ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kDuplicateRank: {
      const Site* s = choose(sites_where([&](const Site& x) {
        return x.in_object && in(x.tokens.back(), {"gpus", "attention_gpus", "expert_gpus"}) &&
               doc[x.ptr].is_array() && doc[x.ptr].size() >= 2;
      }));
      if (!s) return m;
      json d = doc;
      const json& a = doc[s->ptr];
      const json& parent = doc[s->ptr.parent_pointer()];
      std::string what;
      if (s->tokens.back() == "expert_gpus" && parent.contains("attention_gpus") && parent["attention_gpus"].is_array() &&
          !parent["attention_gpus"].empty() && rng.below(2) == 0) {
        const json& att = parent["attention_gpus"];
        const std::size_t i = rng.below(att.size());
        const std::size_t j = rng.below(a.size());
        d[s->ptr][j] = att[i];
        what = "rank " + ptr_string(s->ptr / j) + " = attention GPU " + att[i].dump();
      } else {
        const std::size_t i = rng.below(a.size());
        std::size_t j = rng.below(a.size() - 1);
        if (j >= i) ++j;
        d[s->ptr][j] = a[i];
        what = "rank " + ptr_string(s->ptr / j) + " = " + a[i].dump() + " (as at index " + std::to_string(i) + ")";
      }
      return finish(*s, std::move(d), what, checked(*s) ? Expect::kInvalid : Expect::kUnknown);
    }
    case Op::kDanglingPath: {
      if (kind_ != DocKind::kScenario) return m;
      std::vector<const Site*> refs = sites_where([&](const Site& x) {
        return x.tokens.size() == 1 && in(x.tokens[0], {"hardware", "topology", "model", "profile"}) &&
               doc[x.ptr].is_string();
      });
      json d = doc;
      if (refs.empty() || rng.below(4) == 0) {
        if (doc.contains("profile")) return m;
        d["profile"] = "../profiles/no-such-profile.json";
        m.applied = true;
        m.text = d.dump(2);
        m.what = "add /profile = \"../profiles/no-such-profile.json\"";
        m.expect = Expect::kInvalid;
        m.top_key = "profile";
        return m;
      }
      const Site* s = refs[rng.below(refs.size())];
      std::string p = doc[s->ptr].get<std::string>();
      const auto slash = p.rfind('/');
      const std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
      const std::string nv = "../no-such-dir/" + name;
      d[s->ptr] = nv;
      return finish(*s, std::move(d), "path " + ptr_string(s->ptr) + " = \"" + nv + "\"", Expect::kInvalid);
    }
    case Op::kHugePair: {
      const Site* s = choose(sites_where([&](const Site& x) {
        const json& v = doc[x.ptr];
        if (!v.is_object()) return false;
        int ints = 0;
        for (auto it = v.begin(); it != v.end(); ++it) ints += it.value().is_number_integer() ? 1 : 0;
        return ints >= 2;
      }));
      if (!s) return m;
      const json& v = doc[s->ptr];
      std::vector<std::string> keys;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.value().is_number_integer()) keys.push_back(it.key());
      }
      const std::size_t i = rng.below(keys.size());
      std::size_t j = rng.below(keys.size() - 1);
      if (j >= i) ++j;
      json d = doc;
      d[s->ptr][keys[i]] = 1 << 20;
      d[s->ptr][keys[j]] = 1 << 20;
      return finish(*s, std::move(d),
                    "huge " + ptr_string(s->ptr / keys[i]) + " and " + ptr_string(s->ptr / keys[j]) + " = 1048576",
                    Expect::kUnknown);
    }
    case Op::kAddKey: {
      // The optional keys of each kind of object (docs/INPUTS.md), by where the object is.
      auto optional_keys = [&](const std::vector<std::string>& t) -> std::vector<std::string> {
        const std::size_t n = t.size();
        switch (kind_) {
          case DocKind::kScenario:
            if (n == 0) return {"seed", "description", "choices"};
            if (n == 1 && t[0] == "workload") {
              return {"iterations", "micro_batch_size", "recompute", "optimizer_bytes_per_param", "routing"};
            }
            if (n == 2 && t[0] == "workload" && t[1] == "routing") {
              return {"zipf_exponent", "dirichlet_alpha", "trace", "capacity_factor"};
            }
            if (n == 2 && t[0] == "layouts") {
              return {"tp", "pp", "ep", "dp", "micro_batches", "stage_parallelism", "sequence_parallel", "gpus"};
            }
            if (n == 3 && t[0] == "layouts" && t[2] == "ma") {
              return {"attention_tp", "attention_replicas", "expert_tp", "hot_expert_replicas", "micro_batches"};
            }
            return {};
          case DocKind::kHardware:
            if (n == 0) return {"id", "kernel_launch_overhead", "matmul_efficiency", "memory_efficiency", "sources"};
            if (n == 1 && t[0] == "peak_flops") return {"fp32", "tf32", "bf16", "fp16", "fp8"};
            return {};
          case DocKind::kModel:
            if (n == 0) {
              return {"num_kv_heads", "head_dim", "attention", "mla", "num_shared_experts", "shared_expert_ffn_size",
                      "dense_ffn_size", "moe_layer", "first_dense_layers", "moe_layer_frequency", "tie_embeddings",
                      "dtype", "name", "source"};
            }
            return {};
          case DocKind::kHfConfig:
            if (n == 0) {
              return {"num_key_value_heads", "head_dim", "tie_word_embeddings", "torch_dtype", "dtype",
                      "decoder_sparse_step", "mlp_only_layers", "q_lora_rank"};
            }
            return {};
          case DocKind::kTopology:
            if (n == 0) return {"description", "gpu_model", "sources"};
            if (n == 1 && t[0] == "generator") {
              return {"gpus_per_node", "nvlink_per_gpu", "nvlink_latency", "nics_per_node", "nic_bandwidth",
                      "nic_latency", "pcie_bandwidth", "pcie_latency", "switch_latency", "oversubscription",
                      "leaf_radix"};
            }
            if (n == 2 && t[0] == "vertices") return {"node", "local_index"};
            if (n == 2 && t[0] == "links") return {"kind"};
            return {};
        }
        return {};
      };
      struct Slot {
        Ptr object;
        std::vector<std::string> tokens;
        std::string key;
      };
      std::vector<Slot> slots;
      auto consider = [&](const Ptr& p, const std::vector<std::string>& t) {
        const json& o = doc[p];
        if (!o.is_object()) return;
        for (const std::string& k : optional_keys(t)) {
          if (!o.contains(k)) slots.push_back(Slot{p, t, k});
        }
      };
      consider(Ptr(), {});
      for (const Site& x : sites_) {
        if (!x.doc_key) consider(x.ptr, x.tokens);
      }
      if (slots.empty()) return m;
      const Slot& slot = slots[rng.below(slots.size())];
      static const std::vector<json> values = {
          json(1 << 20), json(4096), json(2), json(1), json(0), json(-1), json(1e308), json(0.5), json("x"),
          json(true), json::array(), json::object(), json("1 GB/s"), json("1 us"), json(nullptr)};
      const json nv = values[rng.below(values.size())];
      json d = doc;
      d[slot.object][slot.key] = nv;
      m.applied = true;
      m.text = d.dump(2);
      m.what = "add " + ptr_string(slot.object / slot.key) + " = " + nv.dump();
      m.expect = Expect::kUnknown;
      m.top_key = slot.tokens.empty() ? slot.key : slot.tokens.front();
      return m;
    }
    case Op::kTruncate: {
      // Any strict prefix of one JSON object is incomplete: the closing brace is gone.
      const std::size_t last = text_.find_last_of('}');
      if (last == std::string::npos) return m;
      const std::size_t cut = rng.below(last);
      m.applied = true;
      m.text = text_.substr(0, cut);
      m.what = "truncate at byte " + std::to_string(cut) + " of " + std::to_string(text_.size());
      m.expect = Expect::kInvalid;
      return m;
    }
    case Op::kCompound: return m;  // handled by apply()
  }
  return m;
}

}  // namespace masim::robustness
