// Hugging Face config.json import for MoE models. See parse.hpp.
//
// Field mapping (transformers' configuration_*.py names on the left):
//   all        hidden_size, num_hidden_layers, num_attention_heads,
//              num_key_value_heads (default: num_attention_heads), vocab_size,
//              tie_word_embeddings (default false), torch_dtype / dtype (default bf16)
//   mixtral    num_local_experts, num_experts_per_tok, intermediate_size (per expert);
//              every layer is MoE; head_dim optional (default hidden/heads)
//   qwen2_moe  num_experts, num_experts_per_tok, moe_intermediate_size (per expert),
//              shared_expert_intermediate_size (one shared expert), intermediate_size
//              (dense layers), decoder_sparse_step and mlp_only_layers: layer i is MoE
//              when (i+1) % decoder_sparse_step == 0 and i is not in mlp_only_layers
//   qwen3_moe  as qwen2_moe without the shared expert; head_dim required
//   deepseek_v2/v3  n_routed_experts, n_shared_experts (each moe_intermediate_size wide),
//              num_experts_per_tok, intermediate_size (dense layers), first_k_dense_replace,
//              moe_layer_freq: layer i is MoE when i >= first_k_dense_replace and
//              i % moe_layer_freq == 0; MLA: q_lora_rank (null = direct query projection),
//              kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
//              head_dim = qk_nope_head_dim + qk_rope_head_dim
// Keys not listed are ignored (HF configs carry many that do not change the cost).

#include <nlohmann/json.hpp>

#include "sim/frontend/parse.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::frontend {

using io::Required;
using nlohmann::json;

namespace {

constexpr std::int64_t kMaxDim = std::int64_t{1} << 24;

class HfReader {
 public:
  HfReader(io::JsonReader& r, const ParseContext& ctx, std::string model_type)
      : r_(r), ctx_(ctx), model_type_(std::move(model_type)) {}

  // Reads HF key `hf` into spec field `field`; records its location for later rules.
  std::optional<std::int64_t> integer(const std::string& hf, const std::string& field, bool required,
                                      std::int64_t min, std::int64_t max) {
    if (!r_.has(hf)) {
      r_.raw(hf);
      if (required) missing(hf);
      return std::nullopt;
    }
    ctx_.where.set("model." + field, Location{ctx_.file, r_.pointer_of(hf)});
    return r_.integer(hf, Required::kNo, min, max);
  }
  void missing(const std::string& hf) {
    r_.error(hf, "missing required key \"" + hf + "\" (model_type \"" + model_type_ + "\" needs it)");
  }
  io::JsonReader& reader() { return r_; }

 private:
  io::JsonReader& r_;
  const ParseContext& ctx_;
  std::string model_type_;
};

std::string default_model_name(const std::string& stem) {
  const std::string suffix = ".config";
  if (stem.size() > suffix.size() && stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return stem.substr(0, stem.size() - suffix.size());
  }
  return stem;
}

}  // namespace

bool is_hf_config(const json& node) { return node.is_object() && node.contains("model_type"); }

std::optional<spec::ModelSpec> import_hf_config(const json& node, const ParseContext& ctx,
                                                const std::string& default_name) {
  const std::size_t before = ctx.diags.size();
  io::JsonReader r(node, ctx.file, ctx.pointer, ctx.diags);
  if (!r.valid()) return std::nullopt;
  ctx.where.set("model", Location{ctx.file, ctx.pointer});
  const auto type = r.choice("model_type", Required::kYes,
                             {"mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3"});
  if (!type) return std::nullopt;
  HfReader h(r, ctx, *type);
  const bool mixtral = *type == "mixtral";
  const bool qwen = *type == "qwen2_moe" || *type == "qwen3_moe";
  const bool deepseek = *type == "deepseek_v2" || *type == "deepseek_v3";

  spec::ModelSpec m;
  m.name = default_model_name(default_name);
  m.source = ctx.pointer.empty() ? ctx.file : ctx.file + "#" + ctx.pointer;
  const auto hidden = h.integer("hidden_size", "hidden_size", true, 1, kMaxDim);
  const auto layers = h.integer("num_hidden_layers", "num_layers", true, 1, 100000);
  const auto heads = h.integer("num_attention_heads", "num_heads", true, 1, 1 << 16);
  const auto kv = h.integer("num_key_value_heads", "num_kv_heads", false, 1, 1 << 16);
  const auto vocab = h.integer("vocab_size", "vocab_size", true, 1, kMaxDim);
  const auto ffn = h.integer("intermediate_size", mixtral ? "expert_ffn_size" : "dense_ffn_size", true, 1, kMaxDim);
  const auto experts = h.integer(mixtral ? "num_local_experts" : deepseek ? "n_routed_experts" : "num_experts",
                                 "num_experts", true, 1, 1 << 20);
  const auto top_k = h.integer("num_experts_per_tok", "top_k", true, 1, 1 << 20);
  std::optional<std::int64_t> moe_ffn;
  if (!mixtral) moe_ffn = h.integer("moe_intermediate_size", "expert_ffn_size", true, 1, kMaxDim);
  std::optional<std::int64_t> head_dim;
  if (!deepseek) head_dim = h.integer("head_dim", "head_dim", *type == "qwen3_moe", 1, 1 << 16);

  m.hidden_size = static_cast<int>(hidden.value_or(0));
  m.num_layers = static_cast<int>(layers.value_or(0));
  m.num_heads = static_cast<int>(heads.value_or(0));
  m.num_kv_heads = static_cast<int>(kv.value_or(m.num_heads));
  m.vocab_size = static_cast<int>(vocab.value_or(0));
  m.num_experts = static_cast<int>(experts.value_or(0));
  m.top_k = static_cast<int>(top_k.value_or(0));
  if (mixtral) {
    m.expert_ffn_size = static_cast<int>(ffn.value_or(0));
  } else {
    m.expert_ffn_size = static_cast<int>(moe_ffn.value_or(0));
    m.dense_ffn_size = static_cast<int>(ffn.value_or(0));
  }
  m.attention = m.num_kv_heads == m.num_heads ? spec::AttentionKind::kMHA : spec::AttentionKind::kGQA;
  if (head_dim) {
    m.head_dim = static_cast<int>(*head_dim);
  } else if (!deepseek && hidden && heads) {
    if (*hidden % *heads != 0) {
      h.missing("head_dim");
    } else {
      m.head_dim = static_cast<int>(*hidden / *heads);
    }
  }

  // Which layers are MoE, and shared experts.
  if (mixtral) {
    m.moe_layer.assign(static_cast<std::size_t>(m.num_layers), true);
  } else if (qwen) {
    const auto step = h.integer("decoder_sparse_step", "moe_layer_frequency", false, 1, 100000);
    std::vector<bool> dense(static_cast<std::size_t>(m.num_layers), false);
    if (const json* only = r.array("mlp_only_layers", Required::kNo)) {
      for (std::size_t i = 0; i < only->size(); ++i) {
        const json& e = (*only)[i];
        if (!e.is_number_integer() || e.get<std::int64_t>() < 0 || e.get<std::int64_t>() >= m.num_layers) {
          ctx.diags.error(ctx.file, io::pointer_join(r.pointer_of("mlp_only_layers"), i),
                          "expected a layer index in [0, " + std::to_string(m.num_layers - 1) + "], found " +
                              io::describe(e));
          continue;
        }
        dense[static_cast<std::size_t>(e.get<std::int64_t>())] = true;
      }
    }
    const std::int64_t s = step.value_or(1);
    for (int i = 0; i < m.num_layers; ++i) {
      m.moe_layer.push_back(!dense[static_cast<std::size_t>(i)] && (i + 1) % s == 0);
    }
    if (*type == "qwen2_moe") {
      const auto shared = h.integer("shared_expert_intermediate_size", "shared_expert_ffn_size", true, 0, kMaxDim);
      if (shared && *shared > 0) {
        m.num_shared_experts = 1;
        m.shared_expert_ffn_size = static_cast<int>(*shared);
      }
    }
  } else {
    const auto first = h.integer("first_k_dense_replace", "first_dense_layers", true, 0, 100000);
    const auto freq = h.integer("moe_layer_freq", "moe_layer_frequency", true, 1, 100000);
    const auto shared = h.integer("n_shared_experts", "num_shared_experts", true, 0, 1024);
    // Past the last layer it would silently make the model dense; masim's own
    // model format refuses a model with no MoE layer, and so does this import.
    if (first && layers && *first >= *layers) {
      r.error("first_k_dense_replace", "expected fewer dense layers than num_hidden_layers = " +
                                           std::to_string(*layers) + " (else no layer is MoE), found " +
                                           std::to_string(*first));
    }
    for (int i = 0; i < m.num_layers; ++i) {
      m.moe_layer.push_back(i >= first.value_or(0) && i % freq.value_or(1) == 0);
    }
    if (shared && *shared > 0) {
      m.num_shared_experts = static_cast<int>(*shared);
      m.shared_expert_ffn_size = m.expert_ffn_size;
    }
    // Multi-head latent attention. q_lora_rank is null where queries are projected directly.
    spec::MlaSpec mla;
    if (!r.has("q_lora_rank")) {
      h.missing("q_lora_rank");
    } else if (const json* q = r.raw("q_lora_rank"); !q->is_null()) {
      mla.q_lora_rank = static_cast<int>(h.integer("q_lora_rank", "mla.q_lora_rank", true, 1, kMaxDim).value_or(0));
    }
    mla.kv_lora_rank = static_cast<int>(h.integer("kv_lora_rank", "mla.kv_lora_rank", true, 1, kMaxDim).value_or(0));
    mla.qk_nope_head_dim =
        static_cast<int>(h.integer("qk_nope_head_dim", "mla.qk_nope_head_dim", true, 1, 1 << 16).value_or(0));
    mla.qk_rope_head_dim =
        static_cast<int>(h.integer("qk_rope_head_dim", "mla.qk_rope_head_dim", true, 0, 1 << 16).value_or(0));
    mla.v_head_dim = static_cast<int>(h.integer("v_head_dim", "mla.v_head_dim", true, 1, 1 << 16).value_or(0));
    m.attention = spec::AttentionKind::kMLA;
    m.mla = mla;
    m.head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
  }

  m.tie_embeddings = r.boolean_or("tie_word_embeddings", false);
  // Weight dtype: "torch_dtype" (transformers < 4.56) or "dtype".
  const std::string dtype_key = r.has("dtype") ? "dtype" : "torch_dtype";
  if (auto dt = r.string(dtype_key, Required::kNo)) {
    if (*dt == "bfloat16") m.dtype = spec::DType::kBF16;
    else if (*dt == "float16") m.dtype = spec::DType::kFP16;
    else if (*dt == "float32") m.dtype = spec::DType::kFP32;
    else if (dt->rfind("float8", 0) == 0) m.dtype = spec::DType::kFP8;
    else r.error(dtype_key, "unknown value \"" + *dt + "\" (expected one of: \"bfloat16\" \"float16\" \"float32\" \"float8_e4m3fn\")");
    ctx.where.set("model.dtype", Location{ctx.file, r.pointer_of(dtype_key)});
  }
  // No finish(): keys masim does not use are expected in HF configs.
  if (ctx.diags.size() != before) return std::nullopt;
  check_model(m, ctx.where, ctx.diags);
  if (ctx.diags.size() != before) return std::nullopt;
  return m;
}

}  // namespace masim::frontend
