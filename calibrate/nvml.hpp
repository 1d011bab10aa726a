// NVML, loaded at run time (dlopen of libnvidia-ml.so.1) so masim-calibrate
// builds where no NVML header is installed and still runs where no driver
// library is present (power then reads as unavailable). Only the few calls the
// calibration needs, with the stable NVML C ABI (nvml.h, NVML API v2 symbols).
//
//   Nvml nvml;                       // loads and initializes, or available() == false
//   auto mw = nvml.power_mw(0);      // board power in milliwatts
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace masim::calibrate {

class Nvml {
 public:
  Nvml();
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool available() const { return device_ != nullptr; }
  // Why NVML is unavailable (empty when available).
  const std::string& error() const { return error_; }
  // Selects the device by PCI bus id ("0000:19:00.0"), as CUDA reports it.
  bool select_by_pci_bus_id(const std::string& bus_id);

  std::optional<double> power_w() const;
  // Total energy since driver load, millijoules (Volta and later).
  std::optional<std::uint64_t> energy_mj() const;
  std::optional<unsigned> clock_mhz(int clock_type, bool max) const;  // 0 graphics, 1 SM, 2 memory
  // The board power limit the driver enforces (nvmlDeviceGetEnforcedPowerLimit).
  std::optional<double> power_limit_w() const;
  std::string driver_version() const;
  std::string name() const;

 private:
  void* lib_ = nullptr;
  void* device_ = nullptr;
  std::string error_;
  // Function pointers (NVML returns 0 on success).
  int (*init_)() = nullptr;
  int (*shutdown_)() = nullptr;
  int (*by_index_)(unsigned, void**) = nullptr;
  int (*by_bus_)(const char*, void**) = nullptr;
  int (*power_)(void*, unsigned*) = nullptr;
  int (*energy_)(void*, unsigned long long*) = nullptr;
  int (*clock_)(void*, int, unsigned*) = nullptr;
  int (*max_clock_)(void*, int, unsigned*) = nullptr;
  int (*driver_)(char*, unsigned) = nullptr;
  int (*name_)(void*, char*, unsigned) = nullptr;
  int (*limit_)(void*, unsigned*) = nullptr;  // optional symbol
};

}  // namespace masim::calibrate
