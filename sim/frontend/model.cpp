// masim-native model file parser and the model's own cross-field rules. See parse.hpp.
#include <nlohmann/json.hpp>

#include "sim/frontend/parse.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::frontend {

using io::Required;
using nlohmann::json;

namespace {

constexpr std::int64_t kMaxDim = std::int64_t{1} << 24;
constexpr std::int64_t kMaxLayers = 100000;
constexpr std::int64_t kMaxHeads = 1 << 16;
constexpr std::int64_t kMaxExperts = 1 << 20;

void error_at(const SourceMap& where, io::Diagnostics& d, const std::string& key, std::string msg) {
  const Location l = where.find(key);
  d.error(l.file, l.pointer, std::move(msg));
}

std::optional<spec::MlaSpec> parse_mla(io::JsonReader& r) {
  spec::MlaSpec s;
  const auto q = r.integer("q_lora_rank", Required::kNo, 0, kMaxDim);
  const auto kv = r.integer("kv_lora_rank", Required::kYes, 1, kMaxDim);
  const auto nope = r.integer("qk_nope_head_dim", Required::kYes, 1, kMaxHeads);
  const auto rope = r.integer("qk_rope_head_dim", Required::kYes, 0, kMaxHeads);
  const auto v = r.integer("v_head_dim", Required::kYes, 1, kMaxHeads);
  r.finish();
  if (!kv || !nope || !rope || !v) return std::nullopt;
  s.q_lora_rank = static_cast<int>(q.value_or(0));
  s.kv_lora_rank = static_cast<int>(*kv);
  s.qk_nope_head_dim = static_cast<int>(*nope);
  s.qk_rope_head_dim = static_cast<int>(*rope);
  s.v_head_dim = static_cast<int>(*v);
  return s;
}

}  // namespace

void check_model(const spec::ModelSpec& m, const SourceMap& where, io::Diagnostics& d) {
  switch (m.attention) {
    case spec::AttentionKind::kMHA:
      if (m.num_kv_heads != m.num_heads) {
        error_at(where, d, "model.num_kv_heads",
                 "expected num_heads = " + std::to_string(m.num_heads) +
                     " for attention \"mha\", found " + std::to_string(m.num_kv_heads) +
                     " (use attention \"gqa\" for grouped KV heads)");
      }
      break;
    case spec::AttentionKind::kGQA:
      if (m.num_kv_heads > m.num_heads || m.num_heads % m.num_kv_heads != 0) {
        error_at(where, d, "model.num_kv_heads",
                 "expected a divisor of num_heads = " + std::to_string(m.num_heads) +
                     " for attention \"gqa\", found " + std::to_string(m.num_kv_heads));
      }
      break;
    case spec::AttentionKind::kMLA:
      break;
  }
  bool any_moe = false;
  for (bool b : m.moe_layer) any_moe = any_moe || b;
  if (any_moe && m.num_experts > 0 && m.top_k > m.num_experts) {
    error_at(where, d, "model.top_k",
             "expected at most num_experts = " + std::to_string(m.num_experts) + ", found " +
                 std::to_string(m.top_k));
  }
}

std::optional<spec::ModelSpec> parse_model(const json& node, const ParseContext& ctx,
                                           SchemaRule schema, const std::string& default_name) {
  const std::size_t before = ctx.diags.size();
  io::JsonReader r(node, ctx.file, ctx.pointer, ctx.diags);
  if (!r.valid()) return std::nullopt;
  ctx.where.record_tree("model", node, ctx.file, ctx.pointer);
  check_schema(r, schema);

  spec::ModelSpec m;
  m.name = r.string_or("name", default_name);
  m.source = r.string_or("source", ctx.pointer.empty() ? ctx.file : ctx.file + "#" + ctx.pointer);
  const auto layers = r.integer("num_layers", Required::kYes, 1, kMaxLayers);
  const auto hidden = r.integer("hidden_size", Required::kYes, 1, kMaxDim);
  const auto heads = r.integer("num_heads", Required::kYes, 1, kMaxHeads);
  const auto kv = r.integer("num_kv_heads", Required::kNo, 1, kMaxHeads);
  const auto head_dim = r.integer("head_dim", Required::kNo, 1, kMaxHeads);
  const auto attn = r.choice("attention", Required::kNo, {"mha", "gqa", "mla"});
  std::optional<spec::MlaSpec> mla;
  const bool has_mla = r.has("mla");
  if (auto mo = r.object("mla", Required::kNo); mo && mo->valid()) mla = parse_mla(*mo);

  if (attn) {
    m.attention = *attn == "mha" ? spec::AttentionKind::kMHA
                  : *attn == "gqa" ? spec::AttentionKind::kGQA
                                   : spec::AttentionKind::kMLA;
  } else if (has_mla) {
    m.attention = spec::AttentionKind::kMLA;
  } else {
    m.attention = (kv && heads && *kv != *heads) ? spec::AttentionKind::kGQA : spec::AttentionKind::kMHA;
  }
  if (m.attention == spec::AttentionKind::kMLA && !has_mla) {
    r.error("mla", "missing required key \"mla\" (attention is \"mla\")");
  }
  if (m.attention != spec::AttentionKind::kMLA && has_mla) {
    r.error("mla", std::string("applies only to attention \"mla\"; attention is \"") +
                       spec::to_string(m.attention) + "\"");
  }
  if (mla && m.attention == spec::AttentionKind::kMLA) m.mla = mla;

  if (layers) m.num_layers = static_cast<int>(*layers);
  if (hidden) m.hidden_size = static_cast<int>(*hidden);
  if (heads) m.num_heads = static_cast<int>(*heads);
  m.num_kv_heads = static_cast<int>(kv.value_or(m.num_heads));
  if (head_dim) {
    m.head_dim = static_cast<int>(*head_dim);
  } else if (m.mla) {
    m.head_dim = m.mla->qk_nope_head_dim + m.mla->qk_rope_head_dim;
  } else if (hidden && heads && !r.has("head_dim")) {
    if (*hidden % *heads == 0) {
      m.head_dim = static_cast<int>(*hidden / *heads);
    } else {
      r.error("head_dim", "missing required key \"head_dim\" (hidden_size = " + std::to_string(*hidden) +
                              " is not a multiple of num_heads = " + std::to_string(*heads) + ")");
    }
  }

  const auto experts = r.integer("num_experts", Required::kYes, 0, kMaxExperts);
  const bool moe = experts && *experts > 0;
  const auto top_k = r.integer("top_k", moe ? Required::kYes : Required::kNo, 1, kMaxExperts);
  const auto expert_ffn = r.integer("expert_ffn_size", moe ? Required::kYes : Required::kNo, 1, kMaxDim);
  const auto shared = r.integer("num_shared_experts", Required::kNo, 0, 1024);
  const auto shared_ffn = r.integer("shared_expert_ffn_size", Required::kNo, 1, kMaxDim);
  const auto dense_ffn = r.integer("dense_ffn_size", Required::kNo, 1, kMaxDim);
  m.num_experts = static_cast<int>(experts.value_or(0));
  m.top_k = static_cast<int>(top_k.value_or(0));
  m.expert_ffn_size = static_cast<int>(expert_ffn.value_or(0));
  m.num_shared_experts = static_cast<int>(shared.value_or(0));
  m.shared_expert_ffn_size = m.num_shared_experts > 0
                                 ? static_cast<int>(shared_ffn.value_or(m.expert_ffn_size))
                                 : static_cast<int>(shared_ffn.value_or(0));
  if (m.num_shared_experts > 0 && m.shared_expert_ffn_size == 0 && !r.has("shared_expert_ffn_size")) {
    r.error("shared_expert_ffn_size", "missing required key \"shared_expert_ffn_size\" (num_shared_experts is " +
                                          std::to_string(m.num_shared_experts) + ")");
  }
  m.dense_ffn_size = static_cast<int>(dense_ffn.value_or(0));

  // Which layers are MoE: an explicit list, or DeepSeek's rule (layer i is MoE
  // when i >= first_dense_layers and i % moe_layer_frequency == 0).
  const json* list = r.array("moe_layer", Required::kNo);
  const bool has_rule = r.has("first_dense_layers") || r.has("moe_layer_frequency");
  const auto first_dense = r.integer("first_dense_layers", Required::kNo, 0, kMaxLayers);
  const auto freq = r.integer("moe_layer_frequency", Required::kNo, 1, kMaxLayers);
  if (r.has("moe_layer") && has_rule) {
    r.error("moe_layer", "give either \"moe_layer\" or \"first_dense_layers\"/\"moe_layer_frequency\", not both");
  } else if (list != nullptr) {
    bool ok = true;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& e = (*list)[i];
      if (!e.is_boolean()) {
        ctx.diags.error(ctx.file, io::pointer_join(r.pointer_of("moe_layer"), i),
                        "expected true or false, found " + io::describe(e));
        ok = false;
        continue;
      }
      m.moe_layer.push_back(e.get<bool>());
    }
    if (ok && layers && list->size() != static_cast<std::size_t>(*layers)) {
      r.error("moe_layer", "expected " + std::to_string(*layers) + " entries (num_layers), found " +
                               std::to_string(list->size()));
    }
    for (std::size_t i = 0; ok && i < m.moe_layer.size(); ++i) {
      if (m.moe_layer[i] && !moe && experts) {
        ctx.diags.error(ctx.file, io::pointer_join(r.pointer_of("moe_layer"), i),
                        "layer " + std::to_string(i) + " is MoE but num_experts is 0");
        break;
      }
    }
  } else if (layers) {
    if (first_dense && *first_dense > *layers) {
      r.error("first_dense_layers", "expected at most num_layers = " + std::to_string(*layers) +
                                        ", found " + std::to_string(*first_dense));
    }
    const std::int64_t fd = first_dense.value_or(0);
    const std::int64_t f = freq.value_or(1);
    for (std::int64_t i = 0; i < *layers; ++i) m.moe_layer.push_back(moe && i >= fd && i % f == 0);
  }
  for (std::size_t i = 0; i < m.moe_layer.size(); ++i) {
    if (!m.moe_layer[i] && !dense_ffn && !r.has("dense_ffn_size")) {
      r.error("dense_ffn_size", "missing required key \"dense_ffn_size\" (layer " + std::to_string(i) +
                                    " has a dense FFN)");
      break;
    }
  }

  const auto vocab = r.integer("vocab_size", Required::kYes, 1, kMaxDim);
  m.vocab_size = static_cast<int>(vocab.value_or(0));
  m.tie_embeddings = r.boolean_or("tie_embeddings", false);
  const auto dt = r.choice_or("dtype", "bf16", {"fp32", "tf32", "bf16", "fp16", "fp8"});
  m.dtype = dtype_from_string(dt).value_or(spec::DType::kBF16);
  r.finish();
  if (ctx.diags.size() != before) return std::nullopt;
  check_model(m, ctx.where, ctx.diags);
  if (ctx.diags.size() != before) return std::nullopt;
  return m;
}

}  // namespace masim::frontend
