// GPU power and energy: a linear utilization model per GPU.
//
//   P(t) = idle_w + (tdp_w - idle_w) · a(t)          (Fan, Weber & Barroso, "Power
//   E    = idle_w · T + (tdp_w - idle_w) · Σ dt_i·a_i  provisioning for a warehouse-
//                                                      sized computer", ISCA 2007)
// over a wall time T, where the GPU is busy for intervals dt_i at activity a_i in
// [0, 1] and idle (a = 0) otherwise. Units: watts, seconds, joules.
//
// Activity of an op (a stated choice): the fraction of the roofline's attainable
// rate it reaches on its bound resource, max(compute, memory) with
//   compute = (tensor_flops / (peak·matmul_eff) + vector_flops / (vec·matmul_eff)) / t
//   memory  = bytes / (hbm·memory_eff) / t,
// clamped to [0, 1]. A roofline-priced op therefore runs at activity ~1 less its
// launch-overhead share; a calibrated (slower) op at less. This treats a saturated
// HBM like saturated tensor cores, which overstates the power of memory-bound
// decode (Patel et al., "Characterizing Power Management Opportunities for LLMs
// in the Cloud", ASPLOS 2024, measure decode well below TDP); measured NVML power
// from a calibration profile should replace it where available.
//
//   EnergyModel pm(gpu);
//   GpuEnergy e;  e.add(op_time, pm.activity(op, op_time));
//   double joules = pm.energy_j(iteration_time, e);
#pragma once

#include "sim/common/units.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/models/op.hpp"
#include "sim/spec/spec.hpp"

namespace masim::models {

// Busy time of one GPU weighted by activity (seconds at full activity).
struct GpuEnergy {
  double active_s = 0.0;
  double busy_s = 0.0;
  void add(SimTime dt, double activity);
};

class EnergyModel {
 public:
  explicit EnergyModel(const spec::GpuSpec& gpu);
  // Activity in [0, 1] of `op` when it takes `duration` (from any cost model).
  double activity(const Op& op, SimTime duration) const;
  // Joules one GPU draws over `wall`.
  double energy_j(SimTime wall, const GpuEnergy& e) const;
  double average_power_w(SimTime wall, const GpuEnergy& e) const;

 private:
  double idle_w_;
  double tdp_w_;
  RooflineCostModel ideal_;  // the GPU's roofline without launch overhead
};

}  // namespace masim::models
