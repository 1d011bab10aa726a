// ProfileCostModel: prices each op from a calibration profile's fitted tables
// (sim/profile/fit.hpp) and every op the profile does not cover from the
// roofline (models::RooflineCostModel), saying which in OpCost::source.
//
// Which tables (issue 17): with kernels = kKernelsProduction (the default) an op
// is priced by the profile's production table of its family where there is one
// and it covers the shape (cuBLASLt's heuristic GEMM, PyTorch's SDPA), else by
// masim's own table; with kKernelsMasim by masim's own tables only.
//
// Power cap (issue 17): where the profile has a fitted power model
// (Profile::power_model), an op whose predicted board power at its table (or
// roofline) time exceeds the cap is slowed until it draws the cap,
// models::PowerFit::capped_time: the board lowers the clock, the op's dynamic
// energy (fitted pJ per FLOP and per byte) is assumed clock-independent, so it
// takes dynamic_j / (cap_w - idle_w). Only ops the SM clock paces are slowed:
// tensor FLOPs per byte above the profile's measured ridge (ceilings: best bf16
// rate / copy bandwidth); an HBM-bound op's time does not follow the SM clock.
// Assumed too: each op throttles on its own (the limiter's averaging window is
// not modelled). profile_us() is the table's time before the cap.
//
// Not covered (roofline): op families without a table in the profile, ops
// outside what a table can represent (sim/profile/op_map.hpp), a grid cell with
// a failed measurement, and the backward pass of attention (the profile holds
// forward kernels only).
//
// What the masim CLI calls when scenario.profile is set (and also when it is
// not: then the plain roofline comes back):
//
//   io::Diagnostics diags;
//   std::unique_ptr<models::ComputeCostModel> cost = profile::make_cost_model(scenario, diags);
//   if (!cost) { print diags; exit 2; }      // missing/invalid profile, GPU mismatch
//   cost->describe();                        // "calibration profile ... ; else roofline ..."
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sim/io/diagnostics.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/profile/fit.hpp"
#include "sim/profile/profile.hpp"
#include "sim/spec/spec.hpp"

namespace masim::profile {

class ProfileCostModel final : public models::ComputeCostModel {
 public:
  // `path` is only for describe(); `gpu` feeds the roofline fallback; `kernels`
  // is kKernelsProduction or kKernelsMasim (above).
  ProfileCostModel(Profile p, std::string path, spec::GpuSpec gpu, std::string kernels = kKernelsProduction);
  ProfileCostModel(const ProfileCostModel&) = delete;
  ProfileCostModel& operator=(const ProfileCostModel&) = delete;

  models::OpCost cost(const models::Op& op) const override;
  std::optional<models::OpCost> find_cost(const models::Op& op) const override;
  std::string describe() const override;
  // A derived profile's measured_error (Derivation), else nullopt.
  std::optional<models::CostBand> band() const override;
  const models::PowerFit* power_fit() const override {
    return profile_.power_model ? &*profile_.power_model : nullptr;
  }

  const Profile& profile() const { return profile_; }
  // Predicted microseconds from the profile alone (nullopt: not covered), before the power cap.
  std::optional<double> profile_us(const models::Op& op) const;
  // `t` for `op`, stretched to the board's power cap where the profile's fitted
  // power model predicts more than the cap at `t` (t itself without a power model).
  SimTime at_power_cap(const models::Op& op, SimTime t) const;

 private:
  Profile profile_;
  std::string path_;
  std::string kernels_;
  models::RooflineCostModel roofline_;
  // Per table name, the models to try in order (production first where chosen).
  std::map<std::string, std::vector<TableModel>, std::less<>> tables_;
  std::vector<std::string> production_used_;   // "gemm_bf16: <implementation>", for describe()
};

// "profile is for \"NVIDIA H200\", hardware says \"NVIDIA A100-SXM4-80GB\"" when the
// names differ (case-insensitive, a leading "NVIDIA " ignored); recorded at
// `pointer` of `file` (the scenario's "/profile").
void check_profile_gpu(const Profile& p, const spec::GpuSpec& gpu, const std::string& file,
                       const std::string& pointer, io::Diagnostics& diags);

// Where the scenario's profile path points: as given if that file exists, else
// relative to the scenario file's directory.
std::string resolve_profile_path(const spec::ScenarioSpec& s);

// The scenario's compute cost model: the profile (with roofline fallback) when
// scenario.profile_path is set, else the roofline. nullptr when the profile
// cannot be read, is invalid, or is for another GPU (problems in `diags`).
// `profile_text`, when given, is the profile's content already read (e.g. the
// copy built into the binary for the default scenario), used instead of the disk.
std::unique_ptr<models::ComputeCostModel> make_cost_model(const spec::ScenarioSpec& s, io::Diagnostics& diags,
                                                          const std::string* profile_text = nullptr);

}  // namespace masim::profile
