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
//
// Fitted from NVML (issue 17; calibrate/power_fit.hpp fits it, a profile carries
// it as "power_model"): an op's board power follows the work it does per second,
// with separate terms for tensor-core FLOPs, CUDA-core FLOPs and HBM bytes,
//   P(op, t) = idle_w + (e_t · F_tensor + e_v · F_vector + e_m · B) / t,
// energies per FLOP and per byte fitted by least squares over >= 1 s runs of
// GEMMs, a GEMV, a device copy and decode attention. Above the board limit cap_w
// the driver lowers the clock until the board draws cap_w, so the op takes
//   t_capped = (e_t · F_tensor + e_v · F_vector + e_m · B) / (cap_w − idle_w)
// (PowerFit::capped_time): the energy per op is the same, delivered at the cap.
// With a PowerFit, EnergyModel's activity is (min(P, cap_w) − idle_w) /
// (cap_w − idle_w) and energy_j uses idle_w and cap_w in place of the datasheet's.
#pragma once

#include <optional>
#include <string>

#include "sim/common/units.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/models/op.hpp"
#include "sim/spec/spec.hpp"

namespace masim::models {

struct PowerFit {
  double idle_w = 0;
  double tensor_pj_per_flop = 0;
  double vector_pj_per_flop = 0;
  double hbm_pj_per_byte = 0;
  double cap_w = 0;
  std::string source;  // where the numbers come from (readings file, fit residuals)

  // Joules the op's work costs above idle.
  double dynamic_j(const Op& op) const;
  // Board power of `op` taking `t` at full clock (uncapped).
  double demand_w(const Op& op, SimTime t) const;
  // The op's time under the cap: t itself, or longer when demand_w(op, t) > cap_w.
  SimTime capped_time(const Op& op, SimTime t) const;
};

// Busy time of one GPU weighted by activity (seconds at full activity).
struct GpuEnergy {
  double active_s = 0.0;
  double busy_s = 0.0;
  void add(SimTime dt, double activity);
};

class EnergyModel {
 public:
  explicit EnergyModel(const spec::GpuSpec& gpu, std::optional<PowerFit> fit = std::nullopt);
  // Activity in [0, 1] of `op` when it takes `duration` (from any cost model).
  double activity(const Op& op, SimTime duration) const;
  // Joules one GPU draws over `wall`.
  double energy_j(SimTime wall, const GpuEnergy& e) const;
  double average_power_w(SimTime wall, const GpuEnergy& e) const;

 private:
  double idle_w_;
  double tdp_w_;
  std::optional<PowerFit> fit_;
  RooflineCostModel ideal_;  // the GPU's roofline without launch overhead
};

}  // namespace masim::models
