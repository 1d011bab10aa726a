// The power model fitted from NVML readings (issue 17): `masim-calibrate-torch
// power` runs each op for >= 1 s (a compute-bound GEMM, GEMMs of falling
// intensity, GEMVs, a 1 GiB device copy, GQA decode attention) and records the
// board's mean power (energy counter), the SM clock and the op's time. Each run
// is described by masim's own op (sim/models/op.hpp: tensor FLOPs, CUDA-core
// FLOPs, bytes), and
//   P − idle = (e_t · F_tensor + e_v · F_vector + e_m · B) / t
// is fitted by least squares in watts over the non-idle runs, energies >= 0
// (every subset of the three terms is tried; the best with no negative energy is
// kept). Runs at the board limit are data like any other: at the cap the work
// per second is what the cap allows, so the same energies hold; the model then
// prices the capped time as PowerFit::capped_time (sim/models/power.hpp), which
// the fit report checks against each capped run's measured time and SM clock.
// idle_w is the mean of the idle runs, cap_w the enforced board limit NVML reports.
//
//   io::Diagnostics d;
//   auto f = fit_power(readings_json, "power.json", d);
//   f->fit.hbm_pj_per_byte;  f->report["runs"]
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/models/op.hpp"
#include "sim/models/power.hpp"
#include "sim/profile/cost_model.hpp"

namespace masim::calibrate {

struct PowerFitResult {
  models::PowerFit fit;
  nlohmann::json report;   // per run: measured and fitted power, capped-time check; residuals
  std::vector<models::Op> ops;  // masim's op of each report["runs"] row, in order
};

// Adds to each row of r.report["runs"] what `cost` prices its op at: the table's
// time before the power cap ("table_us"), after it ("priced_us", the time a
// scenario runs), and the error of each against the measured op time. `cost`
// should be the profile with the fitted power model (ProfileCostModel).
void price_power_runs(PowerFitResult& r, const profile::ProfileCostModel& cost);

std::optional<PowerFitResult> fit_power(const nlohmann::json& readings, const std::string& file, io::Diagnostics& diags);

}  // namespace masim::calibrate
