#include "calibrate/power_fit.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "sim/models/op.hpp"

namespace masim::calibrate {

using json = nlohmann::json;

namespace {

struct Run {
  std::string name;
  models::Op op;
  double t_s = 0;       // one op's time
  double power_w = 0;   // mean board power over the window
  double clock_mhz = 0;
  std::array<double, 3> x{};  // tensor FLOP/s, vector FLOP/s, bytes/s (per second of the op)
};

// Least squares y ≈ Σ c_j x_j over the columns in `use` (others 0); false if singular.
bool solve(const std::vector<Run>& runs, const std::vector<double>& y, const std::array<bool, 3>& use,
           std::array<double, 3>& c) {
  std::vector<int> cols;
  for (int j = 0; j < 3; ++j) {
    if (use[static_cast<std::size_t>(j)]) cols.push_back(j);
  }
  const std::size_t n = cols.size();
  double a[3][4] = {};
  for (std::size_t r = 0; r < runs.size(); ++r) {
    // Scale each column to O(1) so the normal equations stay well conditioned.
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        a[i][j] += runs[r].x[static_cast<std::size_t>(cols[i])] * runs[r].x[static_cast<std::size_t>(cols[j])];
      }
      a[i][n] += runs[r].x[static_cast<std::size_t>(cols[i])] * y[r];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {  // Gauss-Jordan with partial pivoting
    std::size_t piv = i;
    for (std::size_t k = i + 1; k < n; ++k) {
      if (std::fabs(a[k][i]) > std::fabs(a[piv][i])) piv = k;
    }
    for (std::size_t j = 0; j <= n; ++j) std::swap(a[i][j], a[piv][j]);
    if (std::fabs(a[i][i]) < 1e-300) return false;
    for (std::size_t k = 0; k < n; ++k) {
      if (k == i) continue;
      const double f = a[k][i] / a[i][i];
      for (std::size_t j = i; j <= n; ++j) a[k][j] -= f * a[i][j];
    }
  }
  c = {0, 0, 0};
  for (std::size_t i = 0; i < n; ++i) c[static_cast<std::size_t>(cols[i])] = a[i][n] / a[i][i];
  return true;
}

}  // namespace

std::optional<PowerFitResult> fit_power(const json& readings, const std::string& file, io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  if (!readings.is_object() || !readings.contains("runs") || !readings["runs"].is_array()) {
    diags.error(file, "/runs", "expected masim-calibrate-torch power's readings (an array \"runs\")");
    return std::nullopt;
  }
  const double cap = readings.value("power_limit_w", 0.0);
  if (!(cap > 0)) diags.error(file, "/power_limit_w", "expected the board power limit NVML enforced (> 0 W)");
  const double sm_max = readings.contains("clocks_mhz") ? readings["clocks_mhz"].value("sm_max", 0.0) : 0.0;
  std::vector<double> idle;
  std::vector<Run> runs;
  const json& rs = readings["runs"];
  for (std::size_t i = 0; i < rs.size(); ++i) {
    const json& r = rs[i];
    const std::string ptr = io::pointer_join("/runs", i);
    const double p = r.contains("energy_power_w") ? r["energy_power_w"].get<double>() : r.value("power_mean_w", 0.0);
    if (!(p > 0)) {
      diags.error(file, ptr, "expected a power reading (energy_power_w or power_mean_w > 0)");
      continue;
    }
    if (r.value("window_s", 0.0) < 1.0) {
      diags.error(file, ptr + "/window_s", "a power run must last at least 1 s (NVML averages over up to a second)");
      continue;
    }
    const json shape = r.value("shape", json::object());
    const std::string op = shape.value("op", "");
    Run run;
    run.name = r.value("run", "");
    run.power_w = p;
    run.clock_mhz = r.value("sm_clock_median_mhz", 0.0);
    run.t_s = r.value("op_us", 0.0) * 1e-6;
    if (op.empty()) {
      idle.push_back(p);
      continue;
    }
    if (op == "gemm") {
      run.op = models::make_gemm("power_run", shape.at("m").get<std::int64_t>(), shape.at("n").get<std::int64_t>(),
                                 shape.at("k").get<std::int64_t>(), spec::DType::kBF16);
    } else if (op == "memcpy") {
      run.op = models::make_memcpy("power_run", Bytes(shape.at("bytes").get<std::int64_t>()));
    } else if (op == "attention_decode") {
      const auto kv = shape.at("kv_heads").get<int>();
      const auto d = shape.at("head_dim").get<int>();
      run.op = models::make_decode_attention("power_run", shape.at("batch").get<std::int64_t>(),
                                             shape.at("context").get<std::int64_t>(), kv * shape.at("group").get<int>(),
                                             kv, d, d, spec::DType::kBF16);
    } else {
      diags.error(file, ptr + "/shape/op", "unknown op \"" + op + "\" (expected gemm, memcpy or attention_decode)");
      continue;
    }
    if (!(run.t_s > 0)) {
      diags.error(file, ptr + "/op_us", "expected the op's time (> 0)");
      continue;
    }
    const double vec = run.op.vector_flops.count();
    run.x = {std::max(0.0, run.op.flops.count() - vec) / run.t_s, vec / run.t_s, run.op.bytes.as_double() / run.t_s};
    runs.push_back(run);
  }
  if (idle.empty()) diags.error(file, "/runs", "expected at least one idle run (no \"shape\")");
  if (runs.size() < 3) diags.error(file, "/runs", "expected at least three op runs to fit three energies");
  if (diags.size() != before) return std::nullopt;

  double idle_w = 0;
  for (double v : idle) idle_w += v;
  idle_w /= static_cast<double>(idle.size());
  std::vector<double> y;
  for (const Run& r : runs) y.push_back(r.power_w - idle_w);
  // Every subset of the three terms; the least-squares fit with no negative energy
  // and the smallest residual wins.
  std::array<double, 3> best{};
  double best_sse = std::numeric_limits<double>::infinity();
  std::array<bool, 3> best_use{};
  // The CUDA-core term is left out: among the runs only decode attention does
  // CUDA-core work (its softmax), so its energy would be fitted to that one run
  // exactly (H100, the first readings: 1,373 pJ/FLOP, an absurd figure). The two
  // terms left are the compute-bound (tensor) and memory-bound (HBM) activities.
  for (int mask = 1; mask < 8; ++mask) {
    if (mask & 2) continue;
    const std::array<bool, 3> use = {(mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0};
    std::array<double, 3> c{};
    if (!solve(runs, y, use, c)) continue;
    if (c[0] < 0 || c[1] < 0 || c[2] < 0) continue;
    double sse = 0;
    for (std::size_t r = 0; r < runs.size(); ++r) {
      const double pred = c[0] * runs[r].x[0] + c[1] * runs[r].x[1] + c[2] * runs[r].x[2];
      sse += (pred - y[r]) * (pred - y[r]);
    }
    if (sse < best_sse) {
      best_sse = sse;
      best = c;
      best_use = use;
    }
  }
  PowerFitResult res;
  res.fit.idle_w = idle_w;
  res.fit.tensor_pj_per_flop = best[0] * 1e12;
  res.fit.vector_pj_per_flop = best[1] * 1e12;
  res.fit.hbm_pj_per_byte = best[2] * 1e12;
  res.fit.cap_w = cap;
  json rows = json::array();
  std::vector<double> abs_err;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const Run& u = runs[r];
    const double pred = idle_w + best[0] * u.x[0] + best[1] * u.x[1] + best[2] * u.x[2];
    const double e = 100.0 * (pred - u.power_w) / u.power_w;
    abs_err.push_back(std::fabs(e));
    json row = {{"run", u.name},
                {"measured_w", u.power_w},
                {"fitted_w", pred},
                {"error_pct", e},
                {"op_us", u.t_s * 1e6},
                {"sm_clock_mhz", u.clock_mhz},
                {"tensor_tflop_per_s", u.x[0] * 1e-12},
                {"hbm_tb_per_s", u.x[2] * 1e-12}};
    // At the cap: the time the model gives (energy at the cap) against the measured one.
    if (u.power_w >= 0.97 * cap) {
      const double capped_s = res.fit.dynamic_j(u.op) / (cap - idle_w);
      row["capped"] = true;
      row["capped_time_model_us"] = capped_s * 1e6;
      row["capped_time_error_pct"] = 100.0 * (capped_s - u.t_s) / u.t_s;
    }
    rows.push_back(row);
    res.ops.push_back(u.op);
  }
  std::sort(abs_err.begin(), abs_err.end());
  char src[256];
  std::snprintf(src, sizeof src,
                "fitted from NVML readings %s (%zu op runs of >= 1 s, %zu idle; terms used: tensor %s, vector %s, "
                "bytes %s): median |power error| %.1f%%, max %.1f%%",
                file.c_str(), runs.size(), idle.size(), best_use[0] ? "yes" : "no", best_use[1] ? "yes" : "no",
                best_use[2] ? "yes" : "no", abs_err[abs_err.size() / 2], abs_err.back());
  res.fit.source = src;
  res.report = json{{"kind", "masim-power-fit"},
                    {"readings", file},
                    {"gpu", readings.contains("provenance") ? readings["provenance"].value("gpu_name", "") : ""},
                    {"sm_max_mhz", sm_max},
                    {"fit",
                     {{"idle_w", res.fit.idle_w},
                      {"tensor_pj_per_flop", res.fit.tensor_pj_per_flop},
                      {"vector_pj_per_flop", res.fit.vector_pj_per_flop},
                      {"hbm_pj_per_byte", res.fit.hbm_pj_per_byte},
                      {"cap_w", res.fit.cap_w},
                      {"source", res.fit.source}}},
                    {"runs", rows}};
  return res;
}

void price_power_runs(PowerFitResult& r, const profile::ProfileCostModel& cost) {
  json& rows = r.report["runs"];
  for (std::size_t i = 0; i < rows.size() && i < r.ops.size(); ++i) {
    json& row = rows[i];
    const double measured = row.value("op_us", 0.0);
    const std::optional<double> table = cost.profile_us(r.ops[i]);
    if (!table || !(measured > 0)) continue;
    const double priced = cost.at_power_cap(r.ops[i], SimTime::us(*table)).us();
    row["table_us"] = *table;
    row["table_error_pct"] = 100.0 * (*table - measured) / measured;
    row["priced_us"] = priced;
    row["priced_error_pct"] = 100.0 * (priced - measured) / measured;
  }
}

}  // namespace masim::calibrate
