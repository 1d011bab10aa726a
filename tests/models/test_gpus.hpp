// GPU and model specs shared by the models tests (datasheet numbers, cited).
#pragma once

#include "sim/spec/spec.hpp"

namespace masim::test {

// NVIDIA A100 Tensor Core GPU datasheet (2021), SXM4 80GB column: BF16 dense
// tensor 312 TFLOP/s, FP32 (non-tensor) 19.5 TFLOP/s, HBM2e 2,039 GB/s, 80 GB,
// max TDP 400 W. Idle power 50 W is a round test value, not a measurement.
inline spec::GpuSpec a100() {
  spec::GpuSpec g;
  g.name = "NVIDIA A100-SXM4-80GB";
  g.peak_flops[spec::DType::kBF16] = FlopRate::tflops(312);
  g.peak_flops[spec::DType::kFP16] = FlopRate::tflops(312);
  g.peak_flops[spec::DType::kTF32] = FlopRate::tflops(156);
  g.vector_fp32_flops = FlopRate::tflops(19.5);
  g.hbm_bandwidth = Bandwidth::gb_per_s(2039);
  g.hbm_capacity = Bytes::gb(80);
  g.tdp_w = 400;
  g.idle_w = 50;
  g.kernel_launch_overhead = SimTime::us(4);
  g.matmul_efficiency = 0.75;
  g.memory_efficiency = 0.85;
  return g;
}

// Mixtral-8x7B (mistralai/Mixtral-8x7B-v0.1 config.json).
inline spec::ModelSpec mixtral_8x7b() {
  spec::ModelSpec m;
  m.name = "Mixtral-8x7B";
  m.num_layers = 32;
  m.hidden_size = 4096;
  m.num_heads = 32;
  m.num_kv_heads = 8;
  m.head_dim = 128;
  m.attention = spec::AttentionKind::kGQA;
  m.num_experts = 8;
  m.top_k = 2;
  m.expert_ffn_size = 14336;
  m.moe_layer.assign(32, true);
  m.vocab_size = 32000;
  return m;
}

// DeepSeek-V3 (deepseek-ai/DeepSeek-V3 config.json): 61 layers, the first 3 dense.
inline spec::ModelSpec deepseek_v3() {
  spec::ModelSpec m;
  m.name = "DeepSeek-V3";
  m.num_layers = 61;
  m.hidden_size = 7168;
  m.num_heads = 128;
  m.num_kv_heads = 128;
  m.head_dim = 192;
  m.attention = spec::AttentionKind::kMLA;
  m.mla = spec::MlaSpec{.q_lora_rank = 1536, .kv_lora_rank = 512, .qk_nope_head_dim = 128,
                        .qk_rope_head_dim = 64, .v_head_dim = 128};
  m.num_experts = 256;
  m.top_k = 8;
  m.expert_ffn_size = 2048;
  m.num_shared_experts = 1;
  m.shared_expert_ffn_size = 2048;
  m.dense_ffn_size = 18432;
  m.moe_layer.assign(61, true);
  for (int l = 0; l < 3; ++l) m.moe_layer[static_cast<std::size_t>(l)] = false;
  m.vocab_size = 129280;
  return m;
}

// Qwen3-30B-A3B (Qwen/Qwen3-30B-A3B config.json).
inline spec::ModelSpec qwen3_30b_a3b() {
  spec::ModelSpec m;
  m.name = "Qwen3-30B-A3B";
  m.num_layers = 48;
  m.hidden_size = 2048;
  m.num_heads = 32;
  m.num_kv_heads = 4;
  m.head_dim = 128;
  m.attention = spec::AttentionKind::kGQA;
  m.num_experts = 128;
  m.top_k = 8;
  m.expert_ffn_size = 768;
  m.moe_layer.assign(48, true);
  m.vocab_size = 151936;
  return m;
}

}  // namespace masim::test
