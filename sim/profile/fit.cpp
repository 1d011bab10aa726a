#include "sim/profile/fit.hpp"

#include <algorithm>
#include <cmath>

#include "sim/common/assert.hpp"
#include "sim/profile/op_map.hpp"

namespace masim::profile {

Rates table_rates(const OpTable& t, const Ceilings& c) {
  Rates r;
  r.tensor_flops_per_s = (t.dtype == spec::DType::kFP8 && c.fp8_flops_per_s > 0) ? c.fp8_flops_per_s : c.bf16_flops_per_s;
  r.vector_flops_per_s = c.vector_fp32_flops_per_s;
  r.bytes_per_s = c.copy_bytes_per_s;
  return r;
}

double roofline_seconds(const models::Op& op, const Rates& r) {
  const double vector = op.vector_flops.count();
  const double tensor = std::max(0.0, op.flops.count() - vector);
  double compute = 0.0;
  if (r.tensor_flops_per_s > 0) compute += tensor / r.tensor_flops_per_s;
  if (r.vector_flops_per_s > 0) compute += vector / r.vector_flops_per_s;
  const double memory = r.bytes_per_s > 0 ? op.bytes.as_double() / r.bytes_per_s : 0.0;
  return std::max(compute, memory);
}

namespace {

// The cell of v along grid g over the indices `cols` (increasing values), v held
// at the first and last of them: lower and upper index and the upper one's
// log-space weight.
struct Bracket {
  std::size_t lo = 0, hi = 0;
  double w = 0.0;
};
Bracket bracket(const std::vector<double>& g, const std::vector<std::size_t>& cols, double v) {
  if (cols.size() == 1) return {cols.front(), cols.front(), 0.0};
  v = std::clamp(v, g[cols.front()], g[cols.back()]);
  std::size_t j = 1;
  while (j + 1 < cols.size() && g[cols[j]] < v) ++j;
  const std::size_t lo = cols[j - 1], hi = cols[j];
  return {lo, hi, std::clamp((std::log(v) - std::log(g[lo])) / (std::log(g[hi]) - std::log(g[lo])), 0.0, 1.0)};
}

}  // namespace

TableModel::TableModel(const OpTable& t, const Ceilings& c) : t_(t), rates_(table_rates(t, c)) {
  MASIM_ASSERT(t.grid.size() == t.axes.size() && t.time_us.size() == t.points(), "malformed profile table");
  MASIM_ASSERT(t.axes.size() <= kMaxAxes, "profile table with too many axes");
  for (std::size_t a = 0; a < t.axes.size(); ++a) {
    MASIM_ASSERT(!t.grid[a].empty(), "profile table axis without grid values");
    even_cols_.emplace_back();
    odd_cols_.emplace_back();
    for (std::size_t i = 0; i < t.grid[a].size(); ++i) {
      (aligned(a, t.grid[a][i]) ? even_cols_ : odd_cols_).back().push_back(i);
    }
  }
}

double TableModel::roof(const std::vector<double>& x) const {
  return roofline_seconds(representative_op(t_, x), rates_);
}

std::vector<double> TableModel::quantized(const std::vector<double>& x) const {
  std::vector<double> q = x;
  for (std::size_t a = 0; a < q.size(); ++a) {
    const double step = t_.quantum(a);
    if (!(step > 1) || !(q[a] > step)) continue;  // below one quantum the kernel picks smaller tiles
    const std::vector<double>& g = t_.grid[a];
    if (std::binary_search(g.begin(), g.end(), q[a])) continue;  // measured as it is
    q[a] = std::ceil(q[a] / step - 1e-9) * step;
  }
  return q;
}

bool TableModel::aligned(std::size_t a, double v) const {
  const double step = t_.alignment_of(a);
  return !(step > 1) || std::fmod(v, step) == 0;
}

std::optional<double> TableModel::interpolate(const std::vector<double>& x, const Columns& cols) const {
  const std::size_t dims = t_.axes.size();
  Index lo{}, hi{};
  Weights w{};  // weight of the upper corner
  bool above = false;
  for (std::size_t a = 0; a < dims; ++a) {
    const std::vector<double>& g = t_.grid[a];
    if (x[a] > g[cols[a]->back()]) above = true;
    const Bracket b = bracket(g, *cols[a], x[a]);
    lo[a] = b.lo;
    hi[a] = b.hi;
    w[a] = b.w;
  }
  double log_t = 0.0;
  bool iso_done = false;
  if (t_.iso_along >= 0 && !above) {
    if (const auto log_t_iso = interpolate_iso(x, cols, lo, hi, w)) {
      if (std::isnan(*log_t_iso)) return std::nullopt;  // a corner without a measurement
      log_t = *log_t_iso;
      iso_done = true;
    }
  }
  for (std::size_t corner = 0; !iso_done && corner < (std::size_t{1} << dims); ++corner) {
    double weight = 1.0;
    std::size_t flat = 0;
    for (std::size_t a = 0; a < dims; ++a) {
      const bool up = (corner >> a) & 1u;
      weight *= up ? w[a] : 1.0 - w[a];
      flat = flat * t_.grid[a].size() + (up ? hi[a] : lo[a]);
    }
    if (weight == 0.0) continue;
    const double t = t_.time_us[flat];
    if (!(t > 0) || !std::isfinite(t)) return std::nullopt;
    log_t += weight * std::log(t);
  }
  double t_us = std::exp(log_t);
  if (above) {
    // x with each axis clamped to its columns (the edge) and raised to them
    // (below-grid axes are never scaled down).
    std::vector<double> clamped(dims), raised(dims);
    for (std::size_t a = 0; a < dims; ++a) {
      const std::vector<double>& g = t_.grid[a];
      clamped[a] = std::clamp(x[a], g[cols[a]->front()], g[cols[a]->back()]);
      raised[a] = std::max(x[a], g[cols[a]->front()]);
    }
    const double r_edge = roof(clamped);
    const double r_x = roof(raised);
    if (r_edge > 0 && r_x > r_edge) t_us *= r_x / r_edge;
  }
  return t_us;
}

std::optional<double> TableModel::interpolate_iso(const std::vector<double>& x, const Columns& cols, const Index& lo,
                                   const Index& hi, const Weights& w) const {
  // Corners over the other axes; along the iso axis, each corner is read at the
  // value that moves the query's bytes at that corner's other coordinates.
  const std::size_t dims = t_.axes.size();
  const std::size_t p = static_cast<std::size_t>(t_.iso_along);
  const std::vector<double>& gp = t_.grid[p];
  const std::vector<std::size_t>& cp = *cols[p];
  double log_t = 0.0;
  for (std::size_t corner = 0; corner < (std::size_t{1} << dims); ++corner) {
    if ((corner >> p) & 1u) continue;
    double weight = 1.0;
    double scale = 1.0;
    Index at = lo;
    for (std::size_t a = 0; a < dims; ++a) {
      if (a == p) continue;
      const bool up = (corner >> a) & 1u;
      weight *= up ? w[a] : 1.0 - w[a];
      at[a] = up ? hi[a] : lo[a];
      if (t_.iso_scales(a)) {
        const std::vector<double>& g = t_.grid[a];
        const double v = std::clamp(x[a], g[cols[a]->front()], g[cols[a]->back()]);
        scale *= (v + t_.iso_offset[a]) / (g[at[a]] + t_.iso_offset[a]);
      }
    }
    if (weight == 0.0) continue;
    const double xp = x[p] * scale;
    if (xp > gp[cp.back()]) return std::nullopt;  // past the grid at this corner: the plain rule
    const Bracket b = bracket(gp, cp, xp);
    for (int side = 0; side < 2; ++side) {
      const double ws = side ? b.w : 1.0 - b.w;
      if (ws == 0.0) continue;
      at[p] = side ? b.hi : b.lo;
      std::size_t flat = 0;
      for (std::size_t a = 0; a < dims; ++a) flat = flat * t_.grid[a].size() + at[a];
      const double t = t_.time_us[flat];
      if (!(t > 0) || !std::isfinite(t)) return std::nan("");
      log_t += weight * ws * std::log(t);
    }
  }
  return log_t;
}

std::optional<double> TableModel::predict_us(const std::vector<double>& query) const {
  const std::size_t dims = t_.axes.size();
  MASIM_ASSERT(query.size() == dims, "query rank differs from the table's axes");
  const std::vector<double> x = quantized(query);
  // Interpolation uses the aligned columns (every column of an axis without an
  // alignment); an unaligned query is scaled from them by the penalty measured at
  // the nearest unaligned column (first such axis only). An axis with no aligned
  // value at all uses its unaligned ones.
  Columns cols{};
  std::optional<std::size_t> odd_axis;
  std::size_t odd_col = 0;
  for (std::size_t a = 0; a < dims; ++a) {
    cols[a] = even_cols_[a].empty() ? &odd_cols_[a] : &even_cols_[a];
    if (even_cols_[a].empty() || aligned(a, query[a]) || odd_cols_[a].empty() || odd_axis) continue;
    odd_axis = a;
    odd_col = odd_cols_[a].front();
    for (std::size_t i : odd_cols_[a]) {
      if (std::fabs(std::log(t_.grid[a][i] / query[a])) < std::fabs(std::log(t_.grid[a][odd_col] / query[a]))) odd_col = i;
    }
  }
  const auto at_x = interpolate(x, cols);
  if (!odd_axis || !at_x) return at_x;
  const std::size_t a = *odd_axis;
  std::vector<double> xc = x;
  xc[a] = t_.grid[a][odd_col];
  const auto even_at_c = interpolate(xc, cols);
  const std::vector<std::size_t> only_c = {odd_col};
  Columns at_c = cols;
  at_c[a] = &only_c;
  const auto odd_at_c = interpolate(xc, at_c);
  if (!even_at_c || !odd_at_c) return at_x;
  if (query[a] == t_.grid[a][odd_col]) return odd_at_c;
  return *at_x * *odd_at_c / *even_at_c;
}

std::optional<double> TableModel::iso_column_us(const std::vector<std::size_t>& idx, double x_a,
                                                 std::size_t a) const {
  const std::size_t p = static_cast<std::size_t>(t_.iso_along);
  const std::vector<double>& gp = t_.grid[p];
  const double o = t_.iso_offset[a];
  const std::vector<std::size_t>& cp = even_cols_[p];
  const double xp = gp[idx[p]] * (x_a + o) / (t_.grid[a][idx[a]] + o);
  if (xp > gp[cp.back()] || cp.size() < 2) return std::nullopt;
  const Bracket b = bracket(gp, cp, xp);
  auto at = idx;
  at[p] = b.lo;
  const double t0 = t_.time_us[t_.flat_index(at)];
  at[p] = b.hi;
  const double t1 = t_.time_us[t_.flat_index(at)];
  if (!(t0 > 0) || !(t1 > 0)) return std::nullopt;
  return std::exp((1 - b.w) * std::log(t0) + b.w * std::log(t1));
}

std::vector<double> TableModel::loo_interpolation_errors() const {
  std::vector<double> errors;
  for (std::size_t f = 0; f < t_.points(); ++f) {
    const double meas = t_.time_us[f];
    if (!(meas > 0)) continue;
    const auto idx = t_.unflatten(f);
    for (std::size_t a = 0; a < t_.axes.size(); ++a) {
      const auto& g = t_.grid[a];
      // Neighbours of the same alignment class (an unaligned column has none).
      if (!aligned(a, g[idx[a]])) continue;
      const auto& cols = even_cols_[a];
      const auto at = std::find(cols.begin(), cols.end(), idx[a]);
      if (at == cols.begin() || at + 1 == cols.end()) continue;
      auto lo = idx;
      auto hi = idx;
      lo[a] = *(at - 1);
      hi[a] = *(at + 1);
      double tl = t_.time_us[t_.flat_index(lo)];
      double th = t_.time_us[t_.flat_index(hi)];
      if (t_.iso_scales(a)) {
        // Iso-bytes: each neighbour read along the iso axis at the point's bytes.
        const auto l = iso_column_us(lo, g[idx[a]], a);
        const auto h = iso_column_us(hi, g[idx[a]], a);
        if (!l || !h) continue;
        tl = *l;
        th = *h;
      }
      if (!(tl > 0) || !(th > 0)) continue;
      const double w = (std::log(g[idx[a]]) - std::log(g[lo[a]])) / (std::log(g[hi[a]]) - std::log(g[lo[a]]));
      const double pred = std::exp((1 - w) * std::log(tl) + w * std::log(th));
      errors.push_back(100.0 * (pred - meas) / meas);
    }
  }
  return errors;
}

std::vector<double> TableModel::loo_extrapolation_errors() const {
  std::vector<double> errors;
  for (std::size_t f = 0; f < t_.points(); ++f) {
    const double meas = t_.time_us[f];
    if (!(meas > 0)) continue;
    const auto idx = t_.unflatten(f);
    for (std::size_t a = 0; a < t_.axes.size(); ++a) {
      const auto& g = t_.grid[a];
      if (g.size() < 2 || idx[a] + 1 != g.size() || !aligned(a, g[idx[a]])) continue;
      const auto& cols = even_cols_[a];
      if (cols.size() < 2) continue;
      auto in = idx;
      in[a] = cols[cols.size() - 2];
      const double t_in = t_.time_us[t_.flat_index(in)];
      if (!(t_in > 0)) continue;
      const double r_in = roof(t_.point(t_.flat_index(in)));
      const double r_out = roof(t_.point(f));
      const double pred = (r_in > 0 && r_out > r_in) ? t_in * r_out / r_in : t_in;
      errors.push_back(100.0 * (pred - meas) / meas);
    }
  }
  return errors;
}

ErrorSummary summarize(const std::vector<double>& errors_pct) {
  ErrorSummary s;
  std::vector<double> a;
  a.reserve(errors_pct.size());
  for (double e : errors_pct) {
    if (std::isfinite(e)) a.push_back(std::fabs(e));
  }
  s.points = static_cast<int>(a.size());
  if (a.empty()) return s;
  std::sort(a.begin(), a.end());
  const std::size_t n = a.size();
  s.median_abs_pct = n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
  // Nearest rank: the smallest value with at least 95% of the values at or below it.
  const std::size_t rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(n)));
  s.p95_abs_pct = a[std::clamp<std::size_t>(rank, 1, n) - 1];
  s.max_abs_pct = a.back();
  return s;
}

void refresh_errors(OpTable& t, const Ceilings& c) {
  const TableModel m(t, c);
  t.loo_interpolation = summarize(m.loo_interpolation_errors());
  t.loo_extrapolation = summarize(m.loo_extrapolation_errors());
  auto predict_all = [&](std::vector<HoldoutPoint>& points) {
    std::vector<double> errs;
    for (HoldoutPoint& h : points) {
      const auto pred = m.predict_us(h.at);
      h.model_us = pred.value_or(0.0);
      if (pred && h.time_us > 0) errs.push_back(100.0 * (*pred - h.time_us) / h.time_us);
    }
    return summarize(errs);
  };
  t.holdout_error = predict_all(t.holdout);
  t.model_holdout_error = predict_all(t.model_holdout);
}

}  // namespace masim::profile
