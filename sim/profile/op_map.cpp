#include "sim/profile/op_map.hpp"

#include <cmath>

#include "sim/common/assert.hpp"

namespace masim::profile {

using models::Op;
using models::OpKind;
using spec::DType;

namespace {

std::int64_t as_count(double v) { return std::max<std::int64_t>(0, std::llround(v)); }
double d(std::int64_t v) { return static_cast<double>(v); }
constexpr std::string_view kLabel = "profile_point";

bool half_precision(DType t) { return t == DType::kBF16 || t == DType::kFP16; }

// Groups that received rows, recovered from the op's minimal bytes:
// bytes / dtype = rows·k + active·k·n + rows·n (models::make_grouped_gemm).
std::int64_t active_groups(const Op& op) {
  const std::int64_t eb = spec::dtype_bytes(op.dtype);
  const std::int64_t kn = op.k * op.n;
  if (kn > 0 && eb > 0 && op.bytes.count() % eb == 0) {
    const std::int64_t rest = op.bytes.count() / eb - op.m * (op.k + op.n);
    if (rest >= 0 && rest % kn == 0 && rest / kn <= op.groups) return rest / kn;
  }
  return std::min<std::int64_t>(op.groups, op.m);
}

}  // namespace

const std::vector<std::string>& canonical_axes(OpKind kind) {
  static const std::vector<std::string> gemm = {"m", "n", "k"};
  static const std::vector<std::string> grouped = {"groups", "m_per_group", "n", "k"};
  static const std::vector<std::string> decode = {"kv_streams", "context", "group"};
  static const std::vector<std::string> prefill = {"q_streams", "seq"};
  static const std::vector<std::string> rows = {"tokens", "width"};
  static const std::vector<std::string> router = {"tokens", "experts", "top_k"};
  static const std::vector<std::string> perm = {"tokens", "width", "top_k"};
  static const std::vector<std::string> elem = {"elements", "operands"};
  static const std::vector<std::string> copy = {"bytes"};
  switch (kind) {
    case OpKind::kGemm: return gemm;
    case OpKind::kGroupedGemm: return grouped;
    case OpKind::kAttentionDecode: return decode;
    case OpKind::kAttentionPrefill: return prefill;
    case OpKind::kRmsNorm: return rows;
    case OpKind::kRouterTopK: return router;
    case OpKind::kPermute: return perm;
    case OpKind::kUnpermute: return perm;
    case OpKind::kSwiGLU: return rows;
    case OpKind::kElementwise: return elem;
    case OpKind::kMemcpy: return copy;
  }
  return copy;
}

std::string table_name(OpKind kind, DType dtype, int head_dim) {
  switch (kind) {
    case OpKind::kGemm: return dtype == DType::kFP8 ? "gemm_fp8" : "gemm_bf16";
    case OpKind::kGroupedGemm: return "grouped_gemm_bf16";
    case OpKind::kAttentionDecode: return "attention_decode_d" + std::to_string(head_dim);
    case OpKind::kAttentionPrefill: return "attention_prefill_d" + std::to_string(head_dim);
    case OpKind::kRmsNorm: return "rmsnorm";
    case OpKind::kRouterTopK: return "router_topk";
    case OpKind::kPermute: return "permute";
    case OpKind::kUnpermute: return "unpermute";
    case OpKind::kSwiGLU: return "swiglu";
    case OpKind::kElementwise: return "elementwise";
    case OpKind::kMemcpy: return "memcpy_d2d";
  }
  return "?";
}

std::optional<TableQuery> table_query(const Op& op) {
  switch (op.kind) {
    case OpKind::kGemm:
      if (op.m <= 0 || op.n <= 0 || op.k <= 0) return std::nullopt;
      if (op.dtype == DType::kFP8) return TableQuery{"gemm_fp8", {d(op.m), d(op.n), d(op.k)}};
      if (!half_precision(op.dtype)) return std::nullopt;
      return TableQuery{"gemm_bf16", {d(op.m), d(op.n), d(op.k)}};
    case OpKind::kGroupedGemm: {
      if (!half_precision(op.dtype) || op.m <= 0 || op.n <= 0 || op.k <= 0) return std::nullopt;
      const std::int64_t active = active_groups(op);
      if (active <= 0) return std::nullopt;
      return TableQuery{"grouped_gemm_bf16", {d(active), d(op.m) / d(active), d(op.n), d(op.k)}};
    }
    case OpKind::kAttentionDecode:
      if (!half_precision(op.dtype) || op.shared_kv || op.head_dim != op.v_head_dim || op.kv_heads <= 0 ||
          op.heads <= 0 || op.batch <= 0 || op.context <= 0 || op.heads % op.kv_heads != 0) {
        return std::nullopt;
      }
      return TableQuery{table_name(op.kind, op.dtype, op.head_dim),
                        {d(op.batch) * op.kv_heads, d(op.context), d(op.heads / op.kv_heads)}};
    case OpKind::kAttentionPrefill:
      if (!half_precision(op.dtype) || op.head_dim != op.v_head_dim || op.heads <= 0 || op.batch <= 0 ||
          op.seq <= 0) {
        return std::nullopt;
      }
      return TableQuery{table_name(op.kind, op.dtype, op.head_dim), {d(op.batch) * op.heads, d(op.seq)}};
    case OpKind::kRmsNorm:
    case OpKind::kSwiGLU:
      if (op.tokens <= 0 || op.width <= 0) return std::nullopt;
      return TableQuery{table_name(op.kind, op.dtype, 0), {d(op.tokens), d(op.width)}};
    case OpKind::kRouterTopK:
      if (op.tokens <= 0 || op.width <= 0 || op.top_k <= 0) return std::nullopt;
      return TableQuery{"router_topk", {d(op.tokens), d(op.width), d(op.top_k)}};
    case OpKind::kPermute:
    case OpKind::kUnpermute:
      if (op.tokens <= 0 || op.width <= 0 || op.top_k <= 0) return std::nullopt;
      return TableQuery{table_name(op.kind, op.dtype, 0), {d(op.tokens), d(op.width), d(op.top_k)}};
    case OpKind::kElementwise:
      if (op.tokens <= 0 || op.width <= 0 || op.operands <= 0) return std::nullopt;
      return TableQuery{"elementwise", {d(op.tokens) * d(op.width), d(op.operands)}};
    case OpKind::kMemcpy:
      if (op.width <= 0) return std::nullopt;
      return TableQuery{"memcpy_d2d", {d(op.width)}};
  }
  return std::nullopt;
}

Op representative_op(const OpTable& t, const std::vector<double>& x) {
  MASIM_ASSERT(x.size() == canonical_axes(t.kind).size(), "point rank differs from the table's axes");
  const DType dt = t.dtype;
  const int hd = t.head_dim > 0 ? t.head_dim : 128;
  switch (t.kind) {
    case OpKind::kGemm: return models::make_gemm(kLabel, as_count(x[0]), as_count(x[1]), as_count(x[2]), dt);
    case OpKind::kGroupedGemm: {
      const std::int64_t groups = std::max<std::int64_t>(1, as_count(x[0]));
      // Spread round(groups · m_per_group) rows as evenly as possible.
      const std::int64_t rows = std::max<std::int64_t>(groups, std::llround(x[0] * x[1]));
      std::vector<std::int64_t> gm(static_cast<std::size_t>(groups), rows / groups);
      for (std::int64_t i = 0; i < rows % groups; ++i) ++gm[static_cast<std::size_t>(i)];
      return models::make_grouped_gemm(kLabel, gm, as_count(x[2]), as_count(x[3]), dt);
    }
    case OpKind::kAttentionDecode:
      return models::make_decode_attention(kLabel, as_count(x[0]), as_count(x[1]),
                                           static_cast<int>(std::max<std::int64_t>(1, as_count(x[2]))), 1, hd, hd,
                                           dt);
    case OpKind::kAttentionPrefill:
      return models::make_prefill_attention(kLabel, as_count(x[0]), as_count(x[1]), 1, 1, hd, hd, dt);
    case OpKind::kRmsNorm: return models::make_rmsnorm(kLabel, as_count(x[0]), as_count(x[1]), dt);
    case OpKind::kRouterTopK:
      return models::make_router_topk(kLabel, as_count(x[0]), as_count(x[1]), static_cast<int>(as_count(x[2])));
    case OpKind::kPermute:
      return models::make_permute(kLabel, as_count(x[0]), as_count(x[1]), static_cast<int>(as_count(x[2])), dt);
    case OpKind::kUnpermute:
      return models::make_unpermute(kLabel, as_count(x[0]), as_count(x[1]), static_cast<int>(as_count(x[2])), dt);
    case OpKind::kSwiGLU: return models::make_swiglu(kLabel, as_count(x[0]), as_count(x[1]), dt);
    case OpKind::kElementwise:
      return models::make_elementwise(kLabel, 1, as_count(x[0]),
                                      static_cast<int>(std::max<std::int64_t>(1, as_count(x[1]))), dt);
    case OpKind::kMemcpy: return models::make_memcpy(kLabel, Bytes{as_count(x[0])});
  }
  return models::make_memcpy(kLabel, Bytes{0});
}

}  // namespace masim::profile
