// Calibration profile: what masim-calibrate measured on one GPU (or derived for
// another from datasheets), as plain data. The only thing that passes from
// masim-calibrate to masim.
//
// A profile holds provenance (GPU, driver, library versions, date, arguments),
// the measured ceilings (copy bandwidth, GEMM rates), one OpTable per op family
// measured on a tensor grid (times in microseconds, units in key names), and the
// NCCL collective tables. The file is versioned JSON ("schema": 1); the loader is
// strict (unknown keys, wrong shapes and values are diagnostics with file and
// JSON Pointer, all reported at once). docs/CALIBRATION.md describes the format.
//
//   io::Diagnostics d;
//   std::optional<Profile> p = load_profile("calibrate/profiles/h200.json", d);
//   const OpTable* t = p->find("gemm_bf16");   // axes m, n, k; t->time_us row-major
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/models/op.hpp"
#include "sim/models/power.hpp"
#include "sim/spec/spec.hpp"

namespace masim::profile {

inline constexpr int kProfileSchema = 1;
inline constexpr const char* kProfileKind = "masim-calibration-profile";
// Which implementation a table measured (OpTable::kernels): masim's own kernels
// (kernels/cuda, GEMM algorithms timed per shape) or the production path a
// deployment runs (cuBLASLt's heuristic choice, PyTorch's SDPA; issue 17).
inline constexpr const char* kKernelsMasim = "masim";
inline constexpr const char* kKernelsProduction = "production";

struct Provenance {
  std::string gpu_name;              // as the driver names it ("NVIDIA H200")
  std::string gpu_uuid;
  int sm_count = 0;
  double l2_bytes = 0;
  double hbm_bytes = 0;
  std::map<std::string, double> clocks_mhz;   // "sm_max", "mem_max", "sm_at_start", ...
  std::string driver_version;
  std::string cuda_runtime_version;
  std::string cuda_driver_version;
  std::string cublas_version;
  std::string nccl_version;
  std::string date_utc;              // ISO 8601
  std::string host;
  std::string masim_version;
  std::string git_commit;
  std::vector<std::string> arguments;  // the command line of the run
};

// Measured ceilings (the denominators of "achieved" figures and of the
// roofline that bounds extrapolation). Zero when not measured.
struct Ceilings {
  double copy_bytes_per_s = 0;        // device-to-device copy, bytes read + written per second
  double bf16_flops_per_s = 0;        // best dense bf16 GEMM rate measured
  double fp8_flops_per_s = 0;         // best fp8 GEMM rate measured (0: none)
  double vector_fp32_flops_per_s = 0; // datasheet fp32 CUDA-core rate (not measured)
  std::vector<std::string> sources;   // where the non-measured numbers come from
};

struct ErrorSummary {
  int points = 0;
  double median_abs_pct = 0;
  double p95_abs_pct = 0;
  double max_abs_pct = 0;
};

struct HoldoutPoint {
  std::vector<double> at;   // axis values, in the table's axis order
  double time_us = 0;       // measured median
  double model_us = 0;      // the table's prediction (fit without this point)
  std::string source;       // model holdouts: which model, batch, context and op
};

// One op family measured on a tensor-product grid. time_us is row-major over
// `axes` (last axis fastest); NaN marks a point with no valid measurement
// (wrong result, unsupported, skipped), which the cost model never uses.
struct OpTable {
  std::string name;                      // "gemm_bf16", "attention_decode_d128", ...
  models::OpKind kind = models::OpKind::kGemm;
  spec::DType dtype = spec::DType::kBF16;
  int head_dim = 0;                      // attention tables only
  std::string implementation;            // what ran ("cublasGemmEx", "kernels/cuda rmsnorm")
  // kKernelsMasim or kKernelsProduction; a profile may hold one table of each
  // per name, and the scenario's "kernels" picks which prices (cost_model.hpp).
  std::string kernels = kKernelsMasim;
  std::vector<std::string> axes;
  std::vector<std::vector<double>> grid; // one strictly increasing list per axis
  // Work granularity per axis (empty, or one value >= 1 per axis): the kernel
  // pays for ceil(x / q) * q along the axis (a tile of 64 keys, a CTA edge), so a
  // query is rounded up to a multiple of q before it is interpolated. 1: none.
  std::vector<double> quanta;
  // Alignment per axis (empty, or one value >= 1 per axis): grid values that are
  // not a multiple of it are measured in their own regime (unaligned rows) and
  // are not interpolated with the aligned ones (sim/profile/fit.hpp). 1: none.
  std::vector<double> alignment;
  // Iso-bytes interpolation (sim/profile/fit.hpp) for streaming kernels, whose time
  // follows the bytes they move: the axis `iso_along` (-1: none) and, per axis, an
  // offset o_a (NaN: the axis does not scale the bytes; iso_along's is unused), with
  // bytes ∝ x[iso_along] · Π (x_a + o_a). JSON:
  //   "iso_bytes": {"along": "tokens", "scale": {"width": 0, "top_k": 1}}
  int iso_along = -1;
  std::vector<double> iso_offset;
  std::vector<double> time_us;           // median per point
  std::vector<double> time_min_us;       // optional (empty or one per point)
  std::vector<double> time_p90_us;
  std::vector<double> spread_pct;        // (p90 - min) / median
  std::vector<double> power_w;
  std::vector<std::string> status;       // "ok", "wrong", "unsupported", "skipped", "error"
  ErrorSummary loo_interpolation;        // leave-one-out, interior points
  ErrorSummary loo_extrapolation;        // leave-one-out, upper boundary points
  std::vector<HoldoutPoint> holdout;     // off-grid measurements (random shapes in the grid's box)
  ErrorSummary holdout_error;
  std::vector<HoldoutPoint> model_holdout;  // off-grid shapes of real models' decode steps
  ErrorSummary model_holdout_error;

  std::size_t points() const;
  // Row-major index of the grid point with per-axis indices `idx`.
  std::size_t flat_index(const std::vector<std::size_t>& idx) const;
  std::vector<std::size_t> unflatten(std::size_t flat) const;
  std::vector<double> point(std::size_t flat) const;
  // The quantum of axis `a` (1 when none is recorded).
  double quantum(std::size_t a) const;
  // The alignment of axis `a` (1 when none is recorded).
  double alignment_of(std::size_t a) const;
  // Whether axis `a` scales the bytes of an iso-bytes table (never iso_along itself).
  bool iso_scales(std::size_t a) const;
};

struct CollectiveTable {
  std::string name;                 // "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"
  int ranks = 1;
  std::string launch;               // "single process" | "one process per GPU" | "mpi"
  std::vector<double> bytes;        // message size per rank (nccl-tests convention)
  std::vector<double> time_us;
  std::vector<double> algbw_gb_per_s;
  std::vector<double> busbw_gb_per_s;
  std::vector<std::string> status;
};

// The derivation rule's error measured where both a derived and a measured
// profile of one GPU exist (calibrate/derivation_error.hpp): over whole decode and
// prefill steps, 100 · (derived − measured) / measured.
struct MeasuredError {
  std::string against;    // the measured profile it was checked against
  std::string report;     // the derivation-error report
  int steps = 0;
  double bias_pct = 0;    // median signed error
  double p95_abs_pct = 0;
  double min_pct = 0;     // the band: a step priced at t lies in t/(1+max) .. t/(1+min)
  double max_pct = 0;
};

struct Derivation {
  std::string method;
  std::string source_profile;       // path of the measured profile it came from
  std::string source_gpu;
  std::string source_date_utc;
  std::map<std::string, double> source_datasheet;   // keys with units: "bf16_flops_per_s", ...
  std::map<std::string, double> target_datasheet;
  std::vector<std::string> sources;  // datasheet citations
  std::optional<MeasuredError> measured_error;
};

struct Profile {
  int schema = kProfileSchema;
  bool derived = false;
  std::optional<Derivation> derivation;
  Provenance provenance;
  Ceilings ceilings;
  std::vector<OpTable> ops;
  std::vector<CollectiveTable> collectives;
  // Fitted from NVML readings (calibrate/power_fit.hpp, `masim-profile power-fit`);
  // JSON "power_model": {idle_w, tensor_pj_per_flop, vector_pj_per_flop,
  // hbm_pj_per_byte, cap_w, source}. Absent: masim uses the datasheet's idle and TDP.
  std::optional<models::PowerFit> power_model;
  std::vector<std::string> notes;

  // The table of masim's kernels named `name` (nullptr if none).
  const OpTable* find(std::string_view name) const;
  OpTable* find(std::string_view name);
  // The table named `name` measured with `kernels` (kKernelsMasim / kKernelsProduction).
  const OpTable* find(std::string_view name, std::string_view kernels) const;
  OpTable* find(std::string_view name, std::string_view kernels);
};

// Strict parsing; nullopt when any problem was recorded in `diags`.
std::optional<Profile> parse_profile(const nlohmann::json& doc, const std::string& file, io::Diagnostics& diags);
std::optional<Profile> load_profile(const std::string& path, io::Diagnostics& diags);

// Deterministic JSON text: objects indented, numeric arrays on one line.
std::string to_json_text(const Profile& p);
// Writes `path` atomically (a temporary file in the same directory, then rename).
// Throws io::EnvironmentError when the file cannot be written.
void write_text_atomic(const std::string& path, const std::string& text);
void write_profile(const Profile& p, const std::string& path);

// "bf16" -> DType, "gemm" -> OpKind (the names op.cpp and spec.cpp print).
std::optional<spec::DType> parse_dtype(std::string_view s);
std::optional<models::OpKind> parse_op_kind(std::string_view s);

// Same GPU model? Names are compared as lower-case tokens without "NVIDIA": the
// model token must match ("h200"), and the form factor (pcie, sxm*, nvl) and the
// memory size ("80gb") must match where both names state them. So the driver's
// "NVIDIA H200" matches the hardware file's "NVIDIA H200-SXM-141GB", and "NVIDIA
// H100 80GB HBM3" matches "NVIDIA H100-SXM5-80GB", but not "NVIDIA H100 PCIe".
bool same_gpu_name(std::string_view a, std::string_view b);

}  // namespace masim::profile
