#include <doctest/doctest.h>

#include "sim/models/memory.hpp"
#include "sim/models/power.hpp"
#include "tests/models/test_gpus.hpp"

namespace masim::models {
namespace {

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

TEST_CASE("KV cache bytes, GQA with replication and MLA") {
  const spec::ModelSpec mix = test::mixtral_8x7b();
  CHECK(kv_heads_per_shard(mix, 1) == 8);
  CHECK(kv_heads_per_shard(mix, 2) == 4);
  CHECK(kv_heads_per_shard(mix, 16) == 1);  // replicated beyond 8
  // Per token and layer, full model: 2·8·128·2 B = 4096 B; 32 layers -> 128 KiB per token.
  CHECK(kv_bytes_per_token_layer(mix, 8).count() == 4096);
  // 384 sequences × 2048 tokens × 128 KiB = 96 GiB.
  CHECK(kv_cache_bytes(mix, 32, 8, 384, 2048).gib() == doctest::Approx(96.0));
  // MLA: (512 + 64)·2 B = 1152 B per token and layer, whatever the shard.
  const spec::ModelSpec ds = test::deepseek_v3();
  CHECK(kv_heads_per_shard(ds, 8) == 1);
  CHECK(kv_bytes_per_token_layer(ds, 1).count() == 1152);
  CHECK(kv_cache_bytes(ds, 61, 1, 1, 1).count() == 61 * 1152);
  spec::ModelSpec mha = mix;
  mha.attention = spec::AttentionKind::kMHA;
  CHECK(kv_heads_per_shard(mha, 4) == 8);  // 32 heads / 4
}

TEST_CASE("reserve, shortfall, states and buffers") {
  // 1 GiB + 5% of 80 GB = 1,073,741,824 + 4,000,000,000.
  CHECK(runtime_reserve(test::a100()).count() == 1073741824LL + 4000000000LL);
  MemoryBreakdown b;
  b.parameters = Bytes::gib(60);
  b.kv_cache = Bytes::gib(31.2);
  const std::string msg = shortfall_message(3, b, Bytes::gib(80));
  CHECK(msg.rfind("GPU 3 needs 91.2 GiB, has 80.0 GiB (short 11.2 GiB)", 0) == 0);
  CHECK(msg.find("KV cache 31.2") != std::string::npos);
  CHECK(parameter_bytes(1000, spec::DType::kBF16).count() == 2000);
  CHECK(gradient_bytes(1000, spec::DType::kFP32).count() == 4000);
  // Adam: 12 B/param; ZeRO-1 over 8 replicas: 1500.
  CHECK(optimizer_state_bytes(1000, 12).count() == 12000);
  CHECK(optimizer_state_bytes(1000, 12, 8).count() == 1500);
  // 2 communicators × 16 channels + 3 peers × 2 channels = 38 buffers of 4 MiB.
  CHECK(comm_buffer_bytes(2, 3) == Bytes::mib(4) * 38);
}

TEST_CASE("activation working set of ops") {
  using spec::DType;
  // GEMM 2×3×4: A 8 + C 6 elements, bf16 = 28 B.
  CHECK(activation_bytes(make_gemm("g", 2, 3, 4, DType::kBF16)).count() == 28);
  // Decode attention batch 2, heads 4, d = dv = 8: q + o = 2·4·16·2 B = 256, no cache.
  CHECK(activation_bytes(make_decode_attention("a", 2, 1000, 4, 2, 8, 8, DType::kBF16)).count() == 256);
  CHECK(peak_activation_bytes({make_gemm("g", 2, 3, 4, DType::kBF16), make_swiglu("s", 2, 4, DType::kBF16)}) ==
        Bytes{48});
}

TEST_CASE("training activations of a small model by hand (Korthikanti-style, adapted)") {
  const spec::ModelSpec m = tiny();
  // n = 3 tokens, tp = 1, bf16. Layer input 3·8·2 = 48.
  // Attention: norm in/out 2·24·2 = 96; Q, K, V, O = 3·(2·2 + 2·1)·4·2 = 144; lse 3·2·4 = 24.
  LayerActivations moe = training_layer_activations(m, 1, 3, 1, false);
  CHECK(moe.layer_input.count() == 48);
  CHECK(moe.attention.count() == 264);
  // MoE: norm in/out 96 + router probs 3·4·4 = 48; shared 3·3·5·2 = 90; per slot (2·8 + 3·6)·2 = 68.
  CHECK(moe.ffn_common.count() == 144);
  CHECK(moe.shared_experts.count() == 90);
  CHECK(moe.per_routed_slot.count() == 68);
  CHECK(moe.stored(6).count() == 264 + 144 + 90 + 6 * 68);
  // Dense layer: 96 + 3·3·10·2 = 276.
  LayerActivations dense = training_layer_activations(m, 0, 3, 1, false);
  CHECK(dense.ffn_common.count() == 276);
  CHECK(dense.stored(0).count() == 540);
  // Both layers: 540 + 906 = 1446; full recomputation: inputs 96 + largest 906 = 1002.
  CHECK(training_activation_bytes(m, 0, 2, 3, 1, false, false, 6).count() == 1446);
  CHECK(training_activation_bytes(m, 0, 2, 3, 1, false, true, 6).count() == 1002);
  // TP 2 with sequence parallelism: nh = 12; attention 2·12·2 + 3·(2 + 2)·4·2 + 3·1·4 = 156.
  LayerActivations sp = training_layer_activations(m, 1, 3, 2, true);
  CHECK(sp.layer_input.count() == 24);
  CHECK(sp.attention.count() == 156);
}

TEST_CASE("largest batch that fits") {
  auto need = [](std::int64_t n) { return Bytes{10 * n + 5}; };
  CHECK(largest_fitting(need, Bytes{100}, 1000) == 9);   // 95 <= 100 < 105
  CHECK(largest_fitting(need, Bytes{100}, 4) == 4);
  CHECK(largest_fitting(need, Bytes{4}, 1000) == -1);
}

TEST_CASE("energy: idle plus activity-weighted busy time") {
  const spec::GpuSpec g = test::a100();  // idle 50 W, TDP 400 W
  EnergyModel pm(g);
  GpuEnergy e;
  e.add(SimTime::ms(500), 1.0);
  // 50 W · 1 s + 350 W · 0.5 s = 225 J.
  CHECK(pm.energy_j(SimTime::seconds(1), e) == doctest::Approx(225.0));
  CHECK(pm.average_power_w(SimTime::seconds(1), e) == doctest::Approx(225.0));
  e.add(SimTime::ms(500), 0.5);  // + 350 · 0.25
  CHECK(pm.energy_j(SimTime::seconds(1), e) == doctest::Approx(312.5));
  // A compute-bound GEMM at exactly its roofline time (without launch) runs at
  // activity 1; twice as slow, 0.5; with the 4 us launch, ideal/(ideal + 4 us).
  Op big = make_gemm("g", 8192, 4096, 4096, spec::DType::kBF16);
  const SimTime ideal = SimTime::seconds(big.flops.count() / 234e12);
  CHECK(pm.activity(big, ideal) == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(pm.activity(big, ideal * 2) == doctest::Approx(0.5).epsilon(1e-6));
  RooflineCostModel roof(g);
  CHECK(pm.activity(big, roof.cost(big).time) ==
        doctest::Approx(ideal.seconds() / (ideal.seconds() + 4e-6)).epsilon(1e-6));
}

}  // namespace
}  // namespace masim::models
