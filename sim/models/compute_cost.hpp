// Compute cost models: Op + GPU -> duration.
//
// RooflineCostModel (Williams, Waterman & Patterson, CACM 2009):
//   t = max(flops / (peak[dtype] · matmul_efficiency), bytes / (hbm_bw · memory_efficiency))
//       + kernel_launch_overhead
// Calibrated profiles (sim/profile) implement the same interface per op and fall
// back to the roofline for ops they do not cover; OpCost says which was used.
//
//   RooflineCostModel roof(gpu);
//   OpCost c = roof.cost(make_gemm("o_proj", 64, 4096, 4096, DType::kBF16));
#pragma once

#include <memory>
#include <string>

#include "sim/models/op.hpp"
#include "sim/spec/spec.hpp"

namespace masim::models {

enum class CostSource : std::uint8_t { kRoofline, kProfile };
const char* to_string(CostSource s);

struct OpCost {
  SimTime time;
  CostSource source = CostSource::kRoofline;
};

class ComputeCostModel {
 public:
  virtual ~ComputeCostModel() = default;
  virtual OpCost cost(const Op& op) const = 0;
  // One line: what the model is and where its numbers come from.
  virtual std::string describe() const = 0;
};

class RooflineCostModel final : public ComputeCostModel {
 public:
  explicit RooflineCostModel(spec::GpuSpec gpu);
  OpCost cost(const Op& op) const override;
  std::string describe() const override;
  const spec::GpuSpec& gpu() const { return gpu_; }

 private:
  spec::GpuSpec gpu_;
};

}  // namespace masim::models
