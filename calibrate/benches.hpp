// One descriptor per measured op family (the CUTLASS-profiler / nccl-tests
// shape): its profile table, grid, buffers, launch and correctness check
// against the CPU reference (kernels/reference). The harness (harness.hpp) times
// whatever launch() enqueues; run.cpp walks the grids.
//
// Inputs are the reproducible values of kernels/reference/numeric.hpp, fresh for
// every shape (seeded by table and point), so a check regenerates exactly the
// inputs the GPU saw. Every check first poisons the outputs (0xFF: NaN in bf16)
// and then requires every output written and a sample of outputs within the
// tolerance of the fp64 reference (‖got − want‖₂ / ‖want‖₂).
//
//   auto benches = all_benches();
//   Bench& b = *benches[0];             // gemm_bf16
//   b.prepare(dev, {64, 4096, 4096}, /*sets=*/4, seed);
//   CheckResult c = b.check(dev);      // c.ok, c.rel_error
//   b.launch(dev, 1);                  // one timed run on buffer set 1
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "calibrate/device.hpp"
#include "kernels/cuda/blas.hpp"
#include "sim/common/rng.hpp"
#include "sim/models/op.hpp"

namespace masim::calibrate {

// Grid choices of `masim-calibrate run` (RunOptions::grids).
struct GridOptions {
  std::vector<double> gemm_extra_n;   // extra gemm_bf16 columns n (e.g. 60: a 60-expert router's unaligned rows)
  bool grouped_dense_nk = false;      // experiment: grouped_gemm_bf16's n and k at 1.5× steps to 8192
  bool grouped_dense_groups = false;  // experiment: grouped_gemm_bf16's group counts at 1.5× steps
};

struct CheckResult {
  bool ok = false;
  double rel_error = 0;
  std::string detail;   // why it failed
};

class Bench {
 public:
  virtual ~Bench() = default;
  virtual std::string table() const = 0;
  virtual models::OpKind kind() const = 0;
  virtual spec::DType dtype() const { return spec::DType::kBF16; }
  virtual int head_dim() const { return 0; }
  virtual std::string implementation() const = 0;
  // Grid values per axis (canonical axis order of sim/profile/op_map.hpp).
  virtual std::vector<std::vector<double>> grid(bool quick) const = 0;
  // Work granularity per axis (profile OpTable::quanta; empty: none).
  virtual std::vector<double> quanta() const { return {}; }
  // Alignment per axis (profile OpTable::alignment; empty: none).
  virtual std::vector<double> alignment() const { return {}; }
  // Iso-bytes interpolation (profile OpTable::iso_along and iso_offset; along < 0: none).
  struct IsoBytes {
    int along = -1;
    std::vector<double> offset;  // per axis; NaN: the axis does not scale the bytes
  };
  virtual IsoBytes iso_bytes() const { return {}; }
  // The recorded time: the median of the replays, or (true) their interdecile
  // mean, for ops whose replays alternate between two modes (calibrate/timing.hpp).
  virtual bool interdecile_mean() const { return false; }
  // After prepare: which implementation the point runs when the bench chooses
  // one per shape ("loop" or "grouped" for the auto grouped GEMM); journaled.
  virtual std::string variant() const { return {}; }
  // Device bytes of one buffer set (rotated against L2) and of buffers shared by all sets.
  virtual std::size_t set_bytes(const std::vector<double>& x) const = 0;
  virtual std::size_t shared_bytes(const std::vector<double>& /*x*/) const { return 0; }
  // Shapes too expensive to time within the run's budget (recorded as "skipped").
  virtual bool over_compute_cap(const std::vector<double>& /*x*/) const { return false; }
  // Allocates `sets` buffer sets from the arena and fills the inputs. False: this
  // shape is not supported by the implementation (recorded as "unsupported").
  virtual bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) = 0;
  virtual void launch(Device& dev, int set) = 0;
  virtual CheckResult check(Device& dev) = 0;
  virtual bool capturable() const { return true; }
  virtual void release() {}
  // An off-grid shape within the grid's box (each axis off its grid values where
  // the axis allows), snapped to what the kernels accept.
  virtual std::vector<double> random_point(Rng& rng, bool quick) const;

 protected:
  // Axis-specific rounding of a random value (default: nearest integer >= 1).
  virtual double snap(std::size_t axis, double v) const;
};

// `decode_variant` selects decode attention's kernels (kernels/cuda DecodeAttentionArgs::variant).
// `grids` adds columns and experiment grids (GridOptions).
std::vector<std::unique_ptr<Bench>> all_benches(int decode_variant = 0, const GridOptions& grids = {});
std::unique_ptr<Bench> make_bench(const std::string& table);   // nullptr: no such table
std::unique_ptr<Bench> make_grouped_bench(kernels::cuda::GroupedGemm::Mode mode);
std::unique_ptr<Bench> make_decode_bench(int head_dim, int variant);

// Elements of a device array at `idx` (one small copy each).
template <typename T>
std::vector<T> fetch(const T* device, const std::vector<std::int64_t>& idx);
// Relative L2 error of got vs want; +inf on non-finite got.
double rel_error(const std::vector<double>& got, const std::vector<double>& want);

}  // namespace masim::calibrate
