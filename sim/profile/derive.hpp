// Profiles for GPUs we have not measured, derived from a measured profile and
// datasheets. Two rules (DeriveRule):
//
// kCarryEfficiency (the first rule, issue 8): for each table point x with
// measured time t(x) on the source GPU,
//     t'(x) = t0 + (t(x) − t0) · roof_target(x) / roof_source(x)
// where roof = max(c, m), c = tensor FLOPs / tensor peak + vector FLOPs / fp32
// peak, m = bytes / HBM bandwidth at each GPU's *datasheet* rates, and t0 is the
// table's smallest measured time (the launch and latency floor, kept as measured:
// it comes from the host, driver and kernel prologue, not from the peak rates).
// Equivalently, the fraction of datasheet peak that the source GPU's kernels
// reach at shape x is assumed to be reached on the target too.
//
// kCarryRates (the default since issue 21): measured on an H100, the first rule
// was 10-23% slow on most tables, because a kernel far below the HBM roofline
// (small GEMMs, short decode attention, microsecond row-wise ops) is limited by
// latency and parallelism, not by the bandwidth the ratio scales. So:
//     base(x) = t0 + (t(x) − t0) · (c_s ≥ m_s ? c_t / c_s : σ)
//     t'(x)   = max(base(x), c_t(x) / U_c, m_t(x) / U_m)
// Compute-dominated points (at the source's datasheet rates) keep their fraction
// of tensor peak; memory-dominated points keep their achieved rate, scaled by
// σ = (SMs · boost clock)_source / (SMs · boost clock)_target (issue rate and
// memory requests in flight; 1 between H200 and H100); and no point may exceed
// on the target the best fraction of datasheet compute (U_c = max c_s/t) or of
// datasheet bandwidth (U_m = max m_s/t) that the source reached on that table.
// Tables the target cannot run (fp8
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
  int sm_count = 0;                // streaming multiprocessors
  double boost_clock_mhz = 0;      // highest SM clock
  std::vector<std::string> sources;
};

enum class DeriveRule { kCarryEfficiency, kCarryRates };
// "efficiency" / "rates"; nullopt for another name.
std::optional<DeriveRule> parse_derive_rule(std::string_view name);

// The datasheets this repository cites; nullopt for an unknown key.
std::optional<Datasheet> datasheet(std::string_view key);
std::vector<std::string> datasheet_keys();

Profile derive_profile(const Profile& measured, const std::string& measured_path, const Datasheet& source,
                       const Datasheet& target, DeriveRule rule = DeriveRule::kCarryRates);

}  // namespace masim::profile
