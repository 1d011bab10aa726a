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
#include <optional>
#include <string>
#include <vector>

#include "sim/models/op.hpp"
#include "sim/spec/spec.hpp"

namespace masim::models {

enum class CostSource : std::uint8_t { kRoofline, kProfile };
const char* to_string(CostSource s);

struct OpCost {
  SimTime time;
  CostSource source = CostSource::kRoofline;
};

// The measured error of a model's prices over whole steps (a derived profile's,
// measured where a real profile of the same GPU exists): a step priced at t lies
// within t / (1 + max_pct/100) .. t / (1 + min_pct/100) of the truth.
struct CostBand {
  std::string what;          // where it was measured ("H200 -> H100 derivation against ...")
  int steps = 0;
  double bias_pct = 0;       // median signed error
  double min_pct = 0;
  double max_pct = 0;
};

struct PowerFit;  // sim/models/power.hpp

class ComputeCostModel {
 public:
  virtual ~ComputeCostModel() = default;
  virtual OpCost cost(const Op& op) const = 0;
  // The cost if this model covers `op`, else nullopt (a profile without a
  // measurement near this shape). Models that cover every op keep the default.
  virtual std::optional<OpCost> find_cost(const Op& op) const { return cost(op); }
  // One line: what the model is and where its numbers come from.
  virtual std::string describe() const = 0;
  // The measured error band of whole steps, where one is known (derived profiles).
  virtual std::optional<CostBand> band() const { return std::nullopt; }
  // The power model fitted from NVML readings, where the model's source has one
  // (a calibration profile's "power_model"); nullptr: the datasheet's idle and TDP.
  virtual const PowerFit* power_fit() const { return nullptr; }
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

// A primary model (e.g. the calibration profile of sim/profile) layered over a
// fallback (the roofline): each op is priced by the primary when it covers the
// op (find_cost), else by the fallback; OpCost.source says which. Neither model
// is owned; both must outlive this one.
//
//   RooflineCostModel roof(gpu);
//   LayeredCostModel cost(profile_model, roof);
class LayeredCostModel final : public ComputeCostModel {
 public:
  LayeredCostModel(const ComputeCostModel& primary, const ComputeCostModel& fallback)
      : primary_(&primary), fallback_(&fallback) {}
  OpCost cost(const Op& op) const override;
  std::string describe() const override;
  std::optional<CostBand> band() const override { return primary_->band(); }
  const PowerFit* power_fit() const override { return primary_->power_fit(); }

 private:
  const ComputeCostModel* primary_;
  const ComputeCostModel* fallback_;
};

// Accounting over a sequence of ops (one segment, one layer, one GPU's program).
struct CostTotals {
  SimTime time;                  // sum of op durations (ops run back to back on one stream)
  Flops flops;                   // sum of Op::flops
  Flops tensor_flops;            // flops - vector_flops (the MFU numerator)
  Bytes bytes;                   // sum of Op::bytes
  int ops = 0;
  int from_profile = 0;          // ops priced by a calibration profile
  int from_roofline = 0;         // ops priced by the roofline
  CostTotals& operator+=(const CostTotals& o);
};
CostTotals total_cost(const std::vector<Op>& ops, const ComputeCostModel& model);
// Sum of FLOPs and bytes only (no model).
CostTotals total_work(const std::vector<Op>& ops);

}  // namespace masim::models
