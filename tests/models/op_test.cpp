#include <doctest/doctest.h>

#include "sim/models/op.hpp"

namespace masim::models {
namespace {
using spec::DType;

TEST_CASE("GEMM FLOPs and bytes") {
  // 2·m·n·k = 2·2·3·4 = 48; bytes = 2·(m·k + k·n + m·n) = 2·(8 + 12 + 6) = 52.
  Op o = make_gemm("g", 2, 3, 4, DType::kBF16);
  CHECK(o.kind == OpKind::kGemm);
  CHECK(o.flops.count() == 48.0);
  CHECK(o.vector_flops.count() == 0.0);
  CHECK(o.bytes.count() == 52);
  // fp32 doubles the bytes, not the FLOPs.
  CHECK(make_gemm("g", 2, 3, 4, DType::kFP32).bytes.count() == 104);
}

TEST_CASE("grouped GEMM skips the weights of empty groups") {
  // groups {3, 0, 1}, n = 2, k = 4: rows 4, flops 2·4·2·4 = 64;
  // bytes = 2·(rows·k + active·k·n + rows·n) = 2·(16 + 2·8 + 8) = 80.
  Op o = make_grouped_gemm("e", {3, 0, 1}, 2, 4, DType::kBF16);
  CHECK(o.groups == 3);
  CHECK(o.m == 4);
  CHECK(o.max_group_m == 3);
  CHECK(o.flops.count() == 64.0);
  CHECK(o.bytes.count() == 80);
  // Same rows in one group: one weight read, 2·(16 + 8 + 8) = 64.
  CHECK(make_grouped_gemm("e", {4}, 2, 4, DType::kBF16).bytes.count() == 64);
}

TEST_CASE("decode attention over a KV cache") {
  // batch 2, context 10, heads 4, kv_heads 2, d = dv = 8, bf16.
  // scores = 2·4·10 = 80; flops = 80·2·(8+8) + 80·5 (softmax) = 2560 + 400 = 2960.
  // bytes per sequence = q 4·8 + KV 2·10·16 + out 4·8 + new KV 2·16 = 416; ×2 seq ×2 B = 1664.
  Op o = make_decode_attention("a", 2, 10, 4, 2, 8, 8, DType::kBF16);
  CHECK(o.flops.count() == 2960.0);
  CHECK(o.vector_flops.count() == 400.0);
  CHECK(o.bytes.count() == 1664);
}

TEST_CASE("MLA absorbed decode reads the latent cache once") {
  // batch 1, context 4, heads 2, kv_lora 8, rope 2: head_dim 10, v 8.
  // scores = 2·4 = 8; flops = 8·2·(10+8) + 8·5 = 288 + 40 = 328.
  // bytes = q 2·10 + latent 4·10 + out 2·8 + new row 10 = 86 elements, 172 B.
  Op o = make_mla_decode_attention("a", 1, 4, 2, 8, 2, DType::kBF16);
  CHECK(o.shared_kv);
  CHECK(o.kv_heads == 1);
  CHECK(o.head_dim == 10);
  CHECK(o.v_head_dim == 8);
  CHECK(o.flops.count() == 328.0);
  CHECK(o.bytes.count() == 172);
}

TEST_CASE("causal prefill attention does about half the FLOPs of full attention") {
  // batch 1, seq 4, heads 2, kv 1, d = dv = 4: scores 2·(4·5/2) = 20;
  // flops = 20·2·8 + 20·5 = 420; bytes = 4·(2·4 + 1·8 + 2·4)·2 B = 192.
  Op o = make_prefill_attention("a", 1, 4, 2, 1, 4, 4, DType::kBF16);
  CHECK(o.flops.count() == 420.0);
  CHECK(o.bytes.count() == 192);
  // Causal/full = (S+1)/(2S) = 1025/2048 for S = 1024.
  Op big = make_prefill_attention("a", 1, 1024, 1, 1, 64, 64, DType::kBF16);
  const double full = 1024.0 * 1024.0 * (2.0 * 128 + 5);
  CHECK(big.flops.count() / full == doctest::Approx(1025.0 / 2048.0));
}

TEST_CASE("row-wise ops") {
  // RMSNorm 3×4: flops 4·12 = 48; bytes 2·(2·12 + 4) = 56.
  Op n = make_rmsnorm("n", 3, 4, DType::kBF16);
  CHECK(n.flops.count() == 48.0);
  CHECK(n.vector_flops.count() == 48.0);
  CHECK(n.bytes.count() == 56);
  // Router 2 tokens, 8 experts, top-2: flops 2·8·(5+2) = 112; bytes 2·8·4 + 2·2·8 = 96.
  Op r = make_router_topk("r", 2, 8, 2);
  CHECK(r.dtype == DType::kFP32);
  CHECK(r.flops.count() == 112.0);
  CHECK(r.bytes.count() == 96);
  // Permute 2 tokens of width 4, k = 2: (8 + 16)·2 B + 4 indices·4 B = 64.
  Op p = make_permute("p", 2, 4, 2, DType::kBF16);
  CHECK(p.flops.count() == 0.0);
  CHECK(p.bytes.count() == 64);
  // Unpermute: flops 2·2·2·4 = 32; bytes (16 + 8)·2 + 4 slots·(4 + 4) = 80.
  Op u = make_unpermute("u", 2, 4, 2, DType::kBF16);
  CHECK(u.flops.count() == 32.0);
  CHECK(u.bytes.count() == 80);
  // SwiGLU 2×4: flops 4·8 = 32; bytes 3·8·2 = 48.
  Op s = make_swiglu("s", 2, 4, DType::kBF16);
  CHECK(s.flops.count() == 32.0);
  CHECK(s.bytes.count() == 48);
  // Three-operand add, fp32, 2×4: flops 2·8 = 16; bytes (3+1)·8·4 = 128.
  Op e = make_elementwise("e", 2, 4, 3, DType::kFP32);
  CHECK(e.flops.count() == 16.0);
  CHECK(e.bytes.count() == 128);
  // A copy reads and writes: 2·100.
  CHECK(make_memcpy("c", Bytes{100}).bytes.count() == 200);
  CHECK(std::string(to_string(OpKind::kGroupedGemm)) == "grouped_gemm");
}

}  // namespace
}  // namespace masim::models
