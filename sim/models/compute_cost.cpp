// Roofline pricing of ops (Williams, Waterman & Patterson, CACM 52(4), 2009).
//
//   t = max(t_compute, t_memory) + kernel_launch_overhead
//   t_compute = (flops - vector_flops) / (peak[dtype] · matmul_efficiency)
//             + vector_flops / (vector_fp32 · matmul_efficiency)
//   t_memory  = bytes / (hbm_bandwidth · memory_efficiency)
//
// Choices, each stated:
//  * Tensor-core FLOPs (GEMMs, the QK^T and PV products of attention) run at the
//    dense tensor-core peak of the op's dtype. Softmax, norms, activations, the
//    router's softmax/top-k and the combine's weighted sum run on CUDA cores, so
//    their FLOPs (Op::vector_flops) are priced at the fp32 vector rate: for
//    attention that is the honest bound once the GEMM part is fast (FlashAttention-2,
//    Dao 2023, §3.1: non-matmul FLOPs are ~16x more expensive per FLOP on A100).
//  * Within one kernel the two compute parts are added, not overlapped: a tile's
//    softmax depends on its QK^T and feeds its PV product. This is conservative
//    for kernels that ping-pong warpgroups (FlashAttention-3).
//  * The same matmul_efficiency (fraction of peak a good kernel reaches) scales
//    both compute rates; the GPU spec has no separate vector efficiency.
//  * A dtype without a tensor peak in the GPU spec uses the nearest one that can
//    hold it: fp8 -> bf16 -> fp16, fp16 <-> bf16, tf32 -> fp32 vector, fp32 ->
//    fp32 vector (fp32 GEMMs without TF32 run on CUDA cores).
#include "sim/models/compute_cost.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <utility>

#include "sim/common/assert.hpp"

namespace masim::models {
namespace {

using spec::DType;

FlopRate tensor_peak(const spec::GpuSpec& gpu, DType t) {
  auto find = [&](std::initializer_list<DType> chain) -> FlopRate {
    for (DType c : chain) {
      auto it = gpu.peak_flops.find(c);
      if (it != gpu.peak_flops.end() && it->second.per_s() > 0.0) return it->second;
    }
    return gpu.vector_fp32_flops;
  };
  switch (t) {
    case DType::kFP8: return find({DType::kFP8, DType::kBF16, DType::kFP16});
    case DType::kBF16: return find({DType::kBF16, DType::kFP16});
    case DType::kFP16: return find({DType::kFP16, DType::kBF16});
    case DType::kTF32: return find({DType::kTF32, DType::kFP32});
    case DType::kFP32: return find({DType::kFP32});
  }
  return gpu.vector_fp32_flops;
}

double seconds_at(double work, double rate) {
  if (work <= 0.0) return 0.0;
  MASIM_ASSERT(rate > 0.0, "roofline: zero rate for nonzero work (GPU spec not validated?)");
  return work / rate;
}

}  // namespace

const char* to_string(CostSource s) {
  switch (s) {
    case CostSource::kRoofline: return "roofline";
    case CostSource::kProfile: return "profile";
  }
  return "?";
}

RooflineCostModel::RooflineCostModel(spec::GpuSpec gpu) : gpu_(std::move(gpu)) {}

OpCost RooflineCostModel::cost(const Op& op) const {
  const double tensor_flops = std::max(0.0, op.flops.count() - op.vector_flops.count());
  const double t_tensor =
      seconds_at(tensor_flops, tensor_peak(gpu_, op.dtype).per_s() * gpu_.matmul_efficiency);
  const double t_vector =
      seconds_at(op.vector_flops.count(), gpu_.vector_fp32_flops.per_s() * gpu_.matmul_efficiency);
  const double t_memory =
      seconds_at(op.bytes.as_double(), gpu_.hbm_bandwidth.bytes_per_s() * gpu_.memory_efficiency);
  const double t = std::max(t_tensor + t_vector, t_memory);
  const auto ps = static_cast<std::int64_t>(std::ceil(t * 1e12));
  return OpCost{SimTime::ps(ps) + gpu_.kernel_launch_overhead, CostSource::kRoofline};
}

std::string RooflineCostModel::describe() const {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "roofline (Williams et al. 2009) for %s: bf16 %.0f TFLOP/s x %.2f, fp32 vector %.1f "
                "TFLOP/s, HBM %.0f GB/s x %.2f, launch %.1f us",
                gpu_.name.c_str(), tensor_peak(gpu_, DType::kBF16).tflops(), gpu_.matmul_efficiency,
                gpu_.vector_fp32_flops.tflops(), gpu_.hbm_bandwidth.gb_per_s(), gpu_.memory_efficiency,
                gpu_.kernel_launch_overhead.us());
  return buf;
}

OpCost LayeredCostModel::cost(const Op& op) const {
  if (std::optional<OpCost> c = primary_->find_cost(op)) return *c;
  return fallback_->cost(op);
}

std::string LayeredCostModel::describe() const {
  return primary_->describe() + "; else " + fallback_->describe();
}

CostTotals& CostTotals::operator+=(const CostTotals& o) {
  time += o.time;
  flops += o.flops;
  tensor_flops += o.tensor_flops;
  bytes += o.bytes;
  ops += o.ops;
  from_profile += o.from_profile;
  from_roofline += o.from_roofline;
  return *this;
}

CostTotals total_work(const std::vector<Op>& ops) {
  CostTotals t;
  for (const Op& op : ops) {
    t.flops += op.flops;
    t.tensor_flops += Flops{std::max(0.0, op.flops.count() - op.vector_flops.count())};
    t.bytes += op.bytes;
    ++t.ops;
  }
  return t;
}

CostTotals total_cost(const std::vector<Op>& ops, const ComputeCostModel& model) {
  CostTotals t = total_work(ops);
  for (const Op& op : ops) {
    const OpCost c = model.cost(op);
    t.time += c.time;
    if (c.source == CostSource::kProfile) {
      ++t.from_profile;
    } else {
      ++t.from_roofline;
    }
  }
  return t;
}

}  // namespace masim::models
