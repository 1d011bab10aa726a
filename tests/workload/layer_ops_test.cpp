#include <doctest/doctest.h>

#include <numeric>

#include "sim/models/model_params.hpp"
#include "sim/workload/layer_ops.hpp"
#include "tests/models/test_gpus.hpp"

namespace masim::workload {
namespace {

using models::Op;

// Useful FLOPs of one shard's ops summed over `tp` identical shards: sharded ops
// count tp times, replicated ones (norms, residuals, MLA latent projections) once.
double useful_flops(const std::vector<Op>& ops, int tp) {
  double f = 0.0;
  for (const Op& o : ops) f += o.replicated ? o.flops.count() : tp * o.flops.count();
  return f;
}

const Op& find(const std::vector<Op>& ops, std::string_view label) {
  for (const Op& o : ops) {
    if (o.label == label) return o;
  }
  FAIL("no op " << label);
  return ops.front();
}

TEST_CASE("every layer's FLOPs per token are the same whatever the TP degree") {
  for (const spec::ModelSpec& m : {test::mixtral_8x7b(), test::deepseek_v3()}) {
    const bool mla = m.attention == spec::AttentionKind::kMLA;
    const int dense_layer = mla ? 0 : -1;  // DeepSeek-V3's layer 0 is dense
    for (bool prefill : {false, true}) {
      const AttentionShard base{.tp = 1, .sequences = 4, .query_tokens = prefill ? 64 : 1,
                                .context = prefill ? 64 : 300, .prefill = prefill};
      const double ref_attn = useful_flops(attention_block(m, 3, base), 1);
      // tp <= kv_heads (8 for Mixtral; MLA has no KV heads to replicate).
      for (int tp : {2, 4, 8}) {
        AttentionShard s = base;
        s.tp = tp;
        CAPTURE(tp);
        CHECK(useful_flops(attention_block(m, 3, s), tp) == doctest::Approx(ref_attn).epsilon(1e-12));
      }
    }
    const std::int64_t tokens = 32;
    // Experts: 32 tokens, top-k slots spread over the first experts.
    ExpertShard e1{.tp = 1, .tokens_per_expert = std::vector<std::int64_t>(8, tokens * m.top_k / 8)};
    const double ref_exp = useful_flops(expert_block(m, 3, e1), 1);
    const double ref_shared = useful_flops(shared_expert_block(m, 3, tokens, 1), 1);
    for (int tp : {2, 4, 8}) {
      ExpertShard e = e1;
      e.tp = tp;
      CHECK(useful_flops(expert_block(m, 3, e), tp) == doctest::Approx(ref_exp).epsilon(1e-12));
      CHECK(useful_flops(shared_expert_block(m, 3, tokens, tp), tp) ==
            doctest::Approx(ref_shared).epsilon(1e-12));
      if (dense_layer >= 0) {
        CHECK(useful_flops(dense_ffn_block(m, dense_layer, tokens, tp), tp) ==
              doctest::Approx(useful_flops(dense_ffn_block(m, dense_layer, tokens, 1), 1)).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("GEMM FLOPs of a layer equal 2 x its parameters per token") {
  // The op graph and the parameter count must agree: for T tokens, the
  // projections do 2·T·attention_params, the experts 2·T·k·(3·h·F), the router
  // 2·T·h·E (the biases-free models here).
  const spec::ModelSpec m = test::mixtral_8x7b();
  const std::int64_t T = 16;
  auto attn = attention_block(m, 0, {.tp = 1, .sequences = T, .query_tokens = 1, .context = 128});
  const double proj = find(attn, "qkv_proj").flops.count() + find(attn, "o_proj").flops.count();
  CHECK(proj == 2.0 * T * static_cast<double>(models::attention_params(m)));
  auto exp = expert_block(m, 0, {.tp = 1, .tokens_per_expert = {T, T, 0, 0, 0, 0, 0, 0}});
  const double ffn = exp[0].flops.count() + exp[2].flops.count();
  CHECK(ffn == 2.0 * T * m.top_k * 3.0 * m.hidden_size * m.expert_ffn_size);
  auto router = router_block(m, 0, T);
  CHECK(find(router, "router").flops.count() == 2.0 * T * m.hidden_size * m.num_experts);
  // MLA: decode (absorbed) does different GEMMs but prefill's projections do
  // 2·T·params exactly (q_a, q_b, kv_a, kv_b, o).
  const spec::ModelSpec ds = test::deepseek_v3();
  auto pre = attention_block(ds, 5, {.tp = 1, .sequences = 1, .query_tokens = T, .context = T, .prefill = true});
  double gemm = 0.0;
  for (const Op& o : pre) {
    if (o.kind == models::OpKind::kGemm) gemm += o.flops.count();
  }
  const spec::MlaSpec& a = *ds.mla;
  // attention_params also holds the two latent norm weights (q_lora + kv_lora).
  CHECK(gemm == 2.0 * T * static_cast<double>(models::attention_params(ds) - a.q_lora_rank - a.kv_lora_rank));
}

TEST_CASE("GQA shard shapes and KV-head replication") {
  const spec::ModelSpec m = test::mixtral_8x7b();
  // tp = 8: 32/8 = 4 query heads, 8/8 = 1 KV head; qkv n = (4 + 2)·128 = 768.
  auto ops = attention_block(m, 0, {.tp = 8, .sequences = 4, .query_tokens = 1, .context = 100});
  REQUIRE(ops.size() == 5);
  CHECK(ops[0].kind == models::OpKind::kRmsNorm);
  CHECK(ops[0].replicated);
  const Op& qkv = find(ops, "qkv_proj");
  CHECK(qkv.m == 4);
  CHECK(qkv.n == 768);
  CHECK(qkv.k == 4096);
  CHECK_FALSE(qkv.replicated);
  const Op& at = find(ops, "attention");
  CHECK(at.kind == models::OpKind::kAttentionDecode);
  CHECK(at.heads == 4);
  CHECK(at.kv_heads == 1);
  CHECK(at.context == 100);
  CHECK(find(ops, "o_proj").k == 4 * 128);
  // tp = 16 > 8 KV heads: 2 query heads and one replicated KV head per shard, so
  // qkv n = (2 + 2)·128 = 512 and the KV projection work grows 2x over 16 shards.
  auto rep = attention_block(m, 0, {.tp = 16, .sequences = 4, .query_tokens = 1, .context = 100});
  CHECK(find(rep, "qkv_proj").n == 512);
  CHECK(find(rep, "attention").kv_heads == 1);
  CHECK(useful_flops(rep, 16) > useful_flops(attention_block(m, 0, {.sequences = 4, .context = 100}), 1));
}

TEST_CASE("MLA decode uses the absorbed form over the compressed cache") {
  const spec::ModelSpec m = test::deepseek_v3();
  auto ops = attention_block(m, 10, {.tp = 8, .sequences = 2, .query_tokens = 1, .context = 1000});
  const Op& at = find(ops, "attention");
  // Cache row = kv_lora 512 + rope 64 = 576 values per token, shared by K and V.
  CHECK(at.shared_kv);
  CHECK(at.head_dim == 576);
  CHECK(at.v_head_dim == 512);
  CHECK(at.heads == 16);
  // bytes = 2 seq · 2 B · (16·576 + 1000·576 + 16·512 + 576) = 4·(9216 + 576000 + 8192 + 576).
  CHECK(at.bytes.count() == 4 * (9216 + 576000 + 8192 + 576));
  // W_UK and W_UV applied per head: 16 groups of 2 rows.
  CHECK(find(ops, "q_absorb").groups == 16);
  CHECK(find(ops, "q_absorb").n == 512);
  CHECK(find(ops, "q_absorb").k == 128);
  CHECK(find(ops, "v_absorb").n == 128);
  CHECK(find(ops, "qkv_a_proj").replicated);
  CHECK(find(ops, "qkv_a_proj").n == 1536 + 512 + 64);
  CHECK(find(ops, "o_proj").k == 16 * 128);
  // Prefill decompresses: kv_b to 16·(128 + 128), attention heads = kv heads = 16.
  auto pre = attention_block(m, 10, {.tp = 8, .sequences = 1, .query_tokens = 128, .context = 128, .prefill = true});
  CHECK(find(pre, "kv_b_proj").n == 16 * 256);
  CHECK(find(pre, "attention").kv_heads == 16);
  CHECK(find(pre, "attention").head_dim == 192);
}

TEST_CASE("MoE segments: router, experts, shared experts, combine") {
  const spec::ModelSpec ds = test::deepseek_v3();
  auto r = router_block(ds, 5, 10);
  REQUIRE(r.size() == 4);
  CHECK(r[2].kind == models::OpKind::kRouterTopK);
  CHECK(r[2].width == 256);
  CHECK(r[3].kind == models::OpKind::kPermute);
  CHECK(r[3].top_k == 8);
  // expert tp = 2: width 2048/2 = 1024; gate/up n = 2048.
  auto e = expert_block(ds, 5, {.tp = 2, .tokens_per_expert = {3, 0, 5}});
  REQUIRE(e.size() == 3);
  CHECK(e[0].n == 2048);
  CHECK(e[0].m == 8);
  CHECK(e[1].tokens == 8);
  CHECK(e[1].width == 1024);
  CHECK(e[2].k == 1024);
  // Shared expert: one of width 2048; combine adds three operands.
  CHECK(shared_expert_block(ds, 5, 10, 1).size() == 3);
  CHECK(shared_expert_block(ds, 0, 10, 1).empty());  // dense layer
  CHECK(combine_block(ds, 5, 10)[1].operands == 3);
  CHECK(combine_block(test::mixtral_8x7b(), 5, 10)[1].operands == 2);
  CHECK(shared_expert_block(test::mixtral_8x7b(), 5, 10, 1).empty());
  auto d = dense_ffn_block(ds, 0, 10, 4);
  CHECK(d.size() == 5);
  CHECK(d[1].n == 2 * 18432 / 4);
  CHECK(hidden_bytes_per_token(ds).count() == 7168 * 2);
}

TEST_CASE("backward passes") {
  using spec::DType;
  // GEMM: dgrad [m,k] = [m,n]·[n,k] and wgrad [k,n] = [k,m]·[m,n], each 2·m·n·k.
  auto b = backward_of(models::make_gemm("g", 8, 16, 32, DType::kBF16));
  REQUIRE(b.size() == 2);
  CHECK(b[0].m == 8);
  CHECK(b[0].n == 32);
  CHECK(b[0].k == 16);
  CHECK(b[1].m == 32);
  CHECK(b[1].n == 16);
  CHECK(b[1].k == 8);
  CHECK(b[0].flops.count() == 2.0 * 8 * 16 * 32);
  CHECK(b[1].backward);
  CHECK(b[0].label == "g");
  // Attention: 2.5x tensor FLOPs, 2x softmax, 2x bytes.
  Op f = models::make_prefill_attention("a", 1, 64, 4, 4, 32, 32, DType::kBF16);
  auto ab = backward_of(f);
  REQUIRE(ab.size() == 1);
  const double tensor = f.flops.count() - f.vector_flops.count();
  CHECK(ab[0].flops.count() == doctest::Approx(2.5 * tensor + 2.0 * f.vector_flops.count()));
  CHECK(ab[0].bytes.count() == 2 * f.bytes.count());
  auto gb = backward_of(models::make_grouped_gemm("e", {2, 3}, 10, 20, DType::kBF16));
  REQUIRE(gb.size() == 2);
  CHECK(gb[0].n == 20);
  CHECK(gb[0].k == 10);
  CHECK(gb[1].flops.count() == 2.0 * 5 * 10 * 20);
  CHECK(backward_of(models::make_rmsnorm("n", 4, 8, DType::kBF16)).size() == 1);
}

TEST_CASE("forward FLOPs per token follow 2 x active parameters plus attention") {
  const spec::ModelSpec m = test::mixtral_8x7b();
  const models::ModelParams p = models::count_params(m);
  // Decode against 2048 cached tokens: every active weight but the embedding table
  // does one multiply-add (2·(12.88e9 - 0.131e9)); attention adds per layer and
  // head 2048·(2·(128 + 128)) tensor + 2048·5 softmax FLOPs. The rest (norms,
  // SwiGLU, residuals, router softmax) is < 0.1%.
  const double expected = 2.0 * static_cast<double>(p.active_per_token() - p.embedding) +
                          32.0 * 32 * 2048 * (2.0 * 256 + 5);
  const double f = forward_flops_per_token(m, 2048).count();
  CHECK(f == doctest::Approx(expected).epsilon(1e-3));
  CHECK(f > expected);
  // Prefill of 2048: causal attention sees (2048 + 1)/2 keys on average per token.
  const double pre = forward_flops_per_token(m, 2048, true).count();
  const double expected_pre = 2.0 * static_cast<double>(p.active_per_token() - p.embedding) +
                              32.0 * 32 * (2049.0 / 2) * (2.0 * 256 + 5);
  CHECK(pre == doctest::Approx(expected_pre).epsilon(1e-3));
  // LM head: vocab-parallel over tp.
  auto head = lm_head_block(m, 4, 8);
  CHECK(head[1].n == 4000);
  CHECK(head[0].replicated);
  CHECK(embedding_block(m, 4)[0].flops.count() == 0.0);
}

spec::ModelSpec tiny() {
  spec::ModelSpec m;
  m.num_layers = 2;
  m.hidden_size = 8;
  m.num_heads = 2;
  m.num_kv_heads = 1;
  m.head_dim = 4;
  m.num_experts = 4;
  m.top_k = 2;
  m.expert_ffn_size = 6;
  m.num_shared_experts = 1;
  m.shared_expert_ffn_size = 5;
  m.dense_ffn_size = 10;
  m.moe_layer = {false, true};
  m.vocab_size = 16;
  return m;
}

TEST_CASE("inference activation working set by hand") {
  const spec::ModelSpec m = tiny();
  // Decode, 4 sequences, tp 1, 8 expert slots. Largest op: the experts' gate/up
  // grouped GEMM, rows 8: A 8·8 + C 8·12 = 160 elements = 320 B (the permute is
  // 224 B, the unpermute and 3-operand residual 256 B, the dense SwiGLU 240 B).
  // Plus the residual stream 4·8·2 = 64 B.
  const AttentionShard a{.tp = 1, .sequences = 4, .query_tokens = 1, .context = 50};
  CHECK(inference_activation_bytes(m, a, 8, 1).count() == 384);
  // An MA attention GPU (no MoE segment): the peak is the unpermute-free set:
  // dense SwiGLU 3·4·10·2 = 240 B, + 64.
  CHECK(inference_activation_bytes(m, a, -1, 1).count() == 304);
  // An MA expert GPU (no attention): 320 + 8 slots · 16 B = 448.
  CHECK(inference_activation_bytes(m, {.sequences = 0}, 8, 1).count() == 448);
}

}  // namespace
}  // namespace masim::workload
