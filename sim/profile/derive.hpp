// Profiles for GPUs we have not measured, derived from a measured profile and
// datasheets ("efficiency curves carried over").
//
// For each table point x with measured time t(x) on the source GPU:
//     t'(x) = t0 + (t(x) − t0) · roof_target(x) / roof_source(x)
// where roof = max(tensor FLOPs / tensor peak + vector FLOPs / fp32 peak, bytes /
// HBM bandwidth) at each GPU's *datasheet* rates, and t0 is the table's smallest
// measured time (the launch and latency floor, kept as measured: it comes from
// the host, driver and kernel prologue, not from the peak rates). Equivalently,
// the fraction of datasheet peak that the source GPU's kernels reach at shape x
// is assumed to be reached on the target too. Tables the target cannot run (fp8
// GEMMs on A100) and host-link copies and collectives (PCIe/NVLink, not
// modelled by these ratios) are dropped and listed in the profile's notes; masim
// uses the roofline for those ops. The measured ceilings are scaled the same way.
//
//   Profile a100 = derive_profile(h200, "calibrate/profiles/h200.json", datasheet("h200"),
//                                 datasheet("a100-sxm4-80gb"));
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/profile/profile.hpp"

namespace masim::profile {

struct Datasheet {
  std::string key;                 // "h200", "h100-sxm", "a100-sxm4-80gb"
  std::string gpu_name;            // as the driver names the GPU
  double bf16_flops_per_s = 0;     // dense tensor-core peak
  double fp8_flops_per_s = 0;      // dense; 0 when the GPU has no fp8 tensor cores
  double vector_fp32_flops_per_s = 0;
  double hbm_bytes_per_s = 0;
  double hbm_bytes = 0;
  std::vector<std::string> sources;
};

// The datasheets this repository cites; nullopt for an unknown key.
std::optional<Datasheet> datasheet(std::string_view key);
std::vector<std::string> datasheet_keys();

Profile derive_profile(const Profile& measured, const std::string& measured_path, const Datasheet& source,
                       const Datasheet& target);

}  // namespace masim::profile
