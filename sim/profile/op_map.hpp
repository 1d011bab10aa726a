// Which profile table prices which op, and at which grid coordinates.
//
// Each op family is measured on a grid over the shape parameters its time
// depends on (the table's axes):
//   gemm_bf16, gemm_fp8          m, n, k
//   grouped_gemm_bf16            groups (with rows), m_per_group (mean rows), n, k
//   attention_decode_d{D}        kv_streams (= batch · kv_heads), context, group (= heads / kv_heads)
//   attention_prefill_d{D}       q_streams (= batch · heads), seq
//   rmsnorm, swiglu              tokens, width
//   router_topk                  tokens, experts, top_k
//   permute, unpermute           tokens, width, top_k
//   elementwise                  elements (= tokens · width), operands
//   memcpy_d2d                   bytes
// fp16 ops use the bf16 tables (same tensor-core and memory rates on Ampere and
// Hopper, per the A100/H100 datasheets). Ops a profile has no table for (fp32
// GEMMs, MLA's shared-KV attention, head dims without a table, zero-sized ops)
// are left to the roofline.
//
//   auto q = table_query(models::make_gemm("o_proj", 64, 4096, 4096, DType::kBF16));
//   // q->table == "gemm_bf16", q->x == {64, 4096, 4096}
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sim/models/op.hpp"
#include "sim/profile/profile.hpp"

namespace masim::profile {

struct TableQuery {
  std::string table;
  std::vector<double> x;  // in the table's axis order
};

std::optional<TableQuery> table_query(const models::Op& op);

// The axes a table of `kind` must have, in order.
const std::vector<std::string>& canonical_axes(models::OpKind kind);

// The table name for an op family ("attention_decode_d128" needs head_dim).
std::string table_name(models::OpKind kind, spec::DType dtype, int head_dim);

// An op with the table's shape at `x` (for FLOPs and bytes: roofline bounds,
// achieved rates, derivation).
models::Op representative_op(const OpTable& t, const std::vector<double>& x);

}  // namespace masim::profile
