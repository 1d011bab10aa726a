// The fitted model of one profile table: interpolation between grid points in
// log space, roofline-bounded extrapolation beyond the grid, and the model's own
// leave-one-out error.
//
// A query is first rounded up to the table's quanta along each axis (the work
// granularity of the kernel: 64-key tiles, 64-row query blocks), so a shape
// between two tile multiples is priced as the padded shape it runs as. Values at
// or below one quantum (where kernels choose smaller tiles) and values on the
// grid (measured as they are) are not moved.
//
// Inside the grid: multilinear interpolation of log(time) over log(axis values).
// A power law t ∝ m·n·k (a GEMM in its compute-bound regime, a copy in its
// bandwidth-bound one) is linear in these coordinates, so it is reproduced exactly.
// Alignment (OpTable::alignment): along such an axis, values that are not a
// multiple of the alignment run other kernels (a GEMM whose rows are not 16-byte
// aligned). An aligned query interpolates between aligned grid values only; an
// unaligned one is the aligned prediction times the penalty measured at the
// nearest unaligned grid value, t_odd(c) / t_aligned(c) (at that value itself,
// its measurement).
// Iso bytes (OpTable::iso_along, iso_offset): a streaming kernel's time follows
// the bytes it moves, B ∝ x_along · Π (x_a + o_a), and steps where its buffers
// fall out of L2 at a footprint, not at a token count, so two corners of a cell
// at the same tokens can sit on opposite sides of that step. Each corner over the
// other axes is instead read along `along` at the value that moves the query's
// bytes there (interpolated in log space along that column), and the corners are
// weighted as usual. Where that value lies above the column's grid, the plain rule
// applies; below it, the time holds at the edge. Leave-one-out along a scaling
// axis reads its two neighbours the same way.
// Below the grid's smallest value of an axis the time is held at the edge (the
// latency floor; never extrapolated downwards). Above the largest value the time
// at the edge is scaled by the ratio of roofline times,
//     t(x) = t(x_edge) · roof(x) / roof(x_edge),
//     roof = max(tensor FLOPs / tensor rate + vector FLOPs / vector rate, bytes / copy bandwidth)
// at the profile's measured ceilings, i.e. the efficiency reached at the edge is
// carried to larger shapes (it neither improves nor degrades past the grid).
// A grid cell with a missing (NaN) corner gives no prediction (the cost model then
// uses the roofline).
//
// Leave-one-out: each interior grid point is predicted from its two neighbours
// along one axis with the point's plane left out (interpolation error), and each
// point on an upper edge from its inner neighbour by the roofline rule
// (extrapolation error); errors are 100·(predicted − measured) / measured.
//
//   TableModel m(*profile.find("gemm_bf16"), profile.ceilings);
//   std::optional<double> us = m.predict_us({64, 6144, 4096});
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "sim/profile/profile.hpp"

namespace masim::profile {

struct Rates {
  double tensor_flops_per_s = 0;
  double vector_flops_per_s = 0;
  double bytes_per_s = 0;
};
// The ceilings that bound `t`'s extrapolation (fp8 rate for fp8 GEMMs).
Rates table_rates(const OpTable& t, const Ceilings& c);

// Roofline seconds of `op` at `r` (zero rates drop their term).
double roofline_seconds(const models::Op& op, const Rates& r);

class TableModel {
 public:
  TableModel(const OpTable& t, const Ceilings& c);
  std::optional<double> predict_us(const std::vector<double>& x) const;
  // Signed errors in percent, one per left-out point (and axis).
  std::vector<double> loo_interpolation_errors() const;
  std::vector<double> loo_extrapolation_errors() const;

 private:
  double roof(const std::vector<double>& x) const;
  std::vector<double> quantized(const std::vector<double>& x) const;
  bool aligned(std::size_t a, double v) const;
  static constexpr std::size_t kMaxAxes = 8;
  using Columns = std::array<const std::vector<std::size_t>*, kMaxAxes>;
  using Index = std::array<std::size_t, kMaxAxes>;
  using Weights = std::array<double, kMaxAxes>;
  // log(time) by iso-bytes interpolation over the cell lo..hi (weights w of the
  // upper corners); nullopt where a corner's iso value lies past the grid (the
  // plain rule applies), NaN where a corner it reads has no measurement.
  std::optional<double> interpolate_iso(const std::vector<double>& x, const Columns& cols, const Index& lo, const Index& hi,
                         const Weights& w) const;
  // Time in the grid column through `idx` along the iso axis, at the value that moves
  // the bytes of the point with axis `a` at x_a instead (nullopt: past the grid).
  std::optional<double> iso_column_us(const std::vector<std::size_t>& idx, double x_a, std::size_t a) const;
  // Multilinear log-space interpolation over the grid indices *cols[a] of each axis.
  std::optional<double> interpolate(const std::vector<double>& x, const Columns& cols) const;
  const OpTable& t_;
  Rates rates_;
  // Per axis: the grid indices of aligned and of unaligned values (every index is
  // aligned on an axis without an alignment), built once.
  std::vector<std::vector<std::size_t>> even_cols_, odd_cols_;
};

// Median, 95th percentile (nearest rank) and max of |errors|.
ErrorSummary summarize(const std::vector<double>& errors_pct);

// Recomputes a table's leave-one-out summaries and its holdout predictions and summary.
void refresh_errors(OpTable& t, const Ceilings& c);

}  // namespace masim::profile
