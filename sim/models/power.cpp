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

EnergyModel::EnergyModel(const spec::GpuSpec& gpu)
    : idle_w_(gpu.idle_w), tdp_w_(gpu.tdp_w), ideal_(without_launch(gpu)) {}

double EnergyModel::activity(const Op& op, SimTime duration) const {
  if (duration <= SimTime::zero()) return 0.0;
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
