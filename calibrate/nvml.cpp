#include "calibrate/nvml.hpp"

#include <dlfcn.h>

namespace masim::calibrate {

namespace {

template <typename F>
bool bind(void* lib, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  return out != nullptr;
}

}  // namespace

Nvml::Nvml() {
  lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib_) {
    error_ = "libnvidia-ml.so.1 not found";
    return;
  }
  const bool ok = bind(lib_, "nvmlInit_v2", init_) && bind(lib_, "nvmlShutdown", shutdown_) &&
                  bind(lib_, "nvmlDeviceGetHandleByIndex_v2", by_index_) &&
                  bind(lib_, "nvmlDeviceGetHandleByPciBusId_v2", by_bus_) &&
                  bind(lib_, "nvmlDeviceGetPowerUsage", power_) &&
                  bind(lib_, "nvmlDeviceGetTotalEnergyConsumption", energy_) &&
                  bind(lib_, "nvmlDeviceGetClockInfo", clock_) && bind(lib_, "nvmlDeviceGetMaxClockInfo", max_clock_) &&
                  bind(lib_, "nvmlSystemGetDriverVersion", driver_) && bind(lib_, "nvmlDeviceGetName", name_);
  if (!ok) {
    error_ = "libnvidia-ml.so.1 lacks an expected symbol";
    return;
  }
  bind(lib_, "nvmlDeviceGetEnforcedPowerLimit", limit_);  // optional
  if (init_() != 0) {
    error_ = "nvmlInit failed";
    return;
  }
  void* dev = nullptr;
  if (by_index_(0, &dev) != 0) {
    error_ = "nvmlDeviceGetHandleByIndex(0) failed";
    return;
  }
  device_ = dev;
}

Nvml::~Nvml() {
  if (device_ && shutdown_) shutdown_();
  if (lib_) dlclose(lib_);
}

bool Nvml::select_by_pci_bus_id(const std::string& bus_id) {
  if (!by_bus_ || !init_ || error_ == "nvmlInit failed" || lib_ == nullptr) return false;
  void* dev = nullptr;
  if (by_bus_(bus_id.c_str(), &dev) != 0) return false;
  device_ = dev;
  error_.clear();
  return true;
}

std::optional<double> Nvml::power_w() const {
  unsigned mw = 0;
  if (!device_ || power_(device_, &mw) != 0) return std::nullopt;
  return mw * 1e-3;
}

std::optional<std::uint64_t> Nvml::energy_mj() const {
  unsigned long long mj = 0;
  if (!device_ || energy_(device_, &mj) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(mj);
}

std::optional<unsigned> Nvml::clock_mhz(int clock_type, bool max) const {
  unsigned v = 0;
  if (!device_) return std::nullopt;
  const int rc = max ? max_clock_(device_, clock_type, &v) : clock_(device_, clock_type, &v);
  if (rc != 0) return std::nullopt;
  return v;
}

std::optional<double> Nvml::power_limit_w() const {
  unsigned mw = 0;
  if (!device_ || !limit_ || limit_(device_, &mw) != 0) return std::nullopt;
  return mw * 1e-3;
}

std::string Nvml::driver_version() const {
  char buf[96] = {0};
  if (!driver_ || driver_(buf, sizeof buf) != 0) return "";
  return buf;
}

std::string Nvml::name() const {
  char buf[96] = {0};
  if (!device_ || name_(device_, buf, sizeof buf) != 0) return "";
  return buf;
}

}  // namespace masim::calibrate
