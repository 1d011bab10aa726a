#include "sim/models/power.hpp"

#include <algorithm>

#include "sim/common/assert.hpp"
#include "sim/models/compute_cost.hpp"

namespace masim::models {

void GpuEnergy::add(SimTime dt, double activity) {
  MASIM_ASSERT(dt >= SimTime::zero(), "negative busy time");
  active_s += dt.seconds() * std::clamp(activity, 0.0, 1.0);
  busy_s += dt.seconds();
}

namespace {
spec::GpuSpec without_launch(spec::GpuSpec g) {
  g.kernel_launch_overhead = SimTime::zero();
  return g;
}
}  // namespace

double PowerFit::dynamic_j(const Op& op) const {
  const double vector = op.vector_flops.count();
  const double tensor = std::max(0.0, op.flops.count() - vector);
  return 1e-12 * (tensor_pj_per_flop * tensor + vector_pj_per_flop * vector + hbm_pj_per_byte * op.bytes.as_double());
}

double PowerFit::demand_w(const Op& op, SimTime t) const {
  return t > SimTime::zero() ? idle_w + dynamic_j(op) / t.seconds() : idle_w;
}

SimTime PowerFit::capped_time(const Op& op, SimTime t) const {
  if (cap_w <= idle_w || demand_w(op, t) <= cap_w) return t;
  return SimTime::seconds(dynamic_j(op) / (cap_w - idle_w));
}

EnergyModel::EnergyModel(const spec::GpuSpec& gpu, std::optional<PowerFit> fit)
    : idle_w_(fit ? fit->idle_w : gpu.idle_w),
      tdp_w_(fit ? fit->cap_w : gpu.tdp_w),
      fit_(std::move(fit)),
      ideal_(without_launch(gpu)) {}

double EnergyModel::activity(const Op& op, SimTime duration) const {
  if (duration <= SimTime::zero()) return 0.0;
  if (fit_) {
    const double p = std::min(fit_->demand_w(op, duration), fit_->cap_w);
    return std::clamp((p - fit_->idle_w) / (fit_->cap_w - fit_->idle_w), 0.0, 1.0);
  }
  // The roofline's time without launch overhead is the time the op would take
  // at the attainable rate of its bound resource.
  return std::clamp(ideal_.cost(op).time / duration, 0.0, 1.0);
}

double EnergyModel::energy_j(SimTime wall, const GpuEnergy& e) const {
  return idle_w_ * wall.seconds() + (tdp_w_ - idle_w_) * e.active_s;
}

double EnergyModel::average_power_w(SimTime wall, const GpuEnergy& e) const {
  return wall > SimTime::zero() ? energy_j(wall, e) / wall.seconds() : idle_w_;
}

}  // namespace masim::models
