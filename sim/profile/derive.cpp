#include "sim/profile/derive.hpp"

#include <algorithm>
#include <cmath>

#include "sim/profile/fit.hpp"
#include "sim/profile/op_map.hpp"

namespace masim::profile {

namespace {

Rates datasheet_rates(const Datasheet& d, spec::DType t) {
  Rates r;
  r.tensor_flops_per_s = (t == spec::DType::kFP8 && d.fp8_flops_per_s > 0) ? d.fp8_flops_per_s : d.bf16_flops_per_s;
  r.vector_flops_per_s = d.vector_fp32_flops_per_s;
  r.bytes_per_s = d.hbm_bytes_per_s;
  return r;
}

double scale_ratio(double target, double source) { return source > 0 ? target / source : 0.0; }

// Compute and memory seconds of `op` at datasheet rates (roofline_seconds' two terms).
struct Terms {
  double compute = 0, memory = 0;
};
Terms roof_terms(const models::Op& op, const Rates& r) {
  const double vector = op.vector_flops.count();
  const double tensor = std::max(0.0, op.flops.count() - vector);
  Terms t;
  if (r.tensor_flops_per_s > 0) t.compute += tensor / r.tensor_flops_per_s;
  if (r.vector_flops_per_s > 0) t.compute += vector / r.vector_flops_per_s;
  if (r.bytes_per_s > 0) t.memory = op.bytes.as_double() / r.bytes_per_s;
  return t;
}

}  // namespace

std::optional<DeriveRule> parse_derive_rule(std::string_view name) {
  if (name == "efficiency") return DeriveRule::kCarryEfficiency;
  if (name == "rates") return DeriveRule::kCarryRates;
  return std::nullopt;
}

std::optional<Datasheet> datasheet(std::string_view key) {
  // NVIDIA H200 Tensor Core GPU datasheet (2024), SXM column: BF16 1,979 TFLOPS and
  // FP8 3,958 TFLOPS *with sparsity* (dense = half), FP32 67 TFLOPS, 141 GB HBM3e at 4.8 TB/s.
  if (key == "h200") {
    return Datasheet{"h200", "NVIDIA H200", 989.5e12, 1979e12, 67e12, 4.8e12, 141e9, 132, 1980,
                     {"NVIDIA H200 Tensor Core GPU datasheet, SXM: BF16 1979 TFLOPS and FP8 3958 TFLOPS with "
                      "sparsity (dense: half), FP32 67 TFLOPS, 141 GB HBM3e, 4.8 TB/s",
                      "H200 SXM: 132 SMs and 1980 MHz highest SM clock as the driver reports them "
                      "(calibrate/profiles/h200.json provenance, nvidia-smi clocks.max.sm)"}};
  }
  // NVIDIA H100 Tensor Core GPU datasheet (2023), SXM column: same tensor rates as
  // H200, 80 GB HBM3 at 3.35 TB/s.
  if (key == "h100-sxm") {
    return Datasheet{"h100-sxm", "NVIDIA H100-SXM5-80GB", 989.5e12, 1979e12, 67e12, 3.35e12, 80e9, 132, 1980,
                     {"NVIDIA H100 Tensor Core GPU datasheet, SXM: BF16 1979 TFLOPS and FP8 3958 TFLOPS with "
                      "sparsity (dense: half), FP32 67 TFLOPS, 80 GB HBM3, 3.35 TB/s",
                      "H100 SXM5: 132 SMs and 1980 MHz highest SM clock as the driver reports them "
                      "(calibrate/profiles/h100-sxm.json provenance, nvidia-smi clocks.max.sm)"}};
  }
  // NVIDIA A100 Tensor Core GPU datasheet (2021), 80GB SXM column: BF16 312 TFLOPS
  // dense (624 with sparsity), FP32 19.5 TFLOPS, 80 GB HBM2e at 2,039 GB/s; no FP8.
  if (key == "a100-sxm4-80gb") {
    return Datasheet{"a100-sxm4-80gb", "NVIDIA A100-SXM4-80GB", 312e12, 0.0, 19.5e12, 2.039e12, 80e9, 108, 1410,
                     {"NVIDIA A100 Tensor Core GPU datasheet, 80GB SXM: BF16 312 TFLOPS dense (624 with sparsity), "
                      "FP32 19.5 TFLOPS, 80 GB HBM2e, 2039 GB/s; no FP8 tensor cores",
                      "NVIDIA A100 Tensor Core GPU Architecture whitepaper (2020), Table 1: 108 SMs, 1410 MHz "
                      "GPU boost clock"}};
  }
  return std::nullopt;
}

std::vector<std::string> datasheet_keys() { return {"h200", "h100-sxm", "a100-sxm4-80gb"}; }

Profile derive_profile(const Profile& measured, const std::string& measured_path, const Datasheet& source,
                       const Datasheet& target, DeriveRule rule) {
  Profile out;
  out.derived = true;
  Derivation d;
  d.method =
      rule == DeriveRule::kCarryEfficiency
          ? "t'(x) = t0 + (t(x) - t0) * roof_target(x) / roof_source(x) per table point x; roof = max(tensor FLOPs "
            "/ tensor peak + vector FLOPs / fp32 peak, bytes / HBM bandwidth) at datasheet rates; t0 = the table's "
            "smallest measured time (launch and latency floor, kept). Ceilings scaled by the datasheet ratios. "
            "(sim/profile/derive.hpp, rule \"efficiency\")"
          : "t'(x) = max(t0 + (t(x) - t0) * (c_s >= m_s ? c_t / c_s : sigma), c_t(x) / U_c, m_t(x) / U_m) per table "
            "point x; c = tensor FLOPs / tensor peak + vector FLOPs / fp32 peak, m = bytes / HBM bandwidth at "
            "datasheet rates (s: source, t: target); sigma = (SMs * boost clock) source / target; U_c, U_m = the "
            "table's best c_s / t and m_s / t on the source; t0 = the table's smallest measured time (kept). "
            "Ceilings scaled by the datasheet ratios. (sim/profile/derive.hpp, rule \"rates\")";
  d.source_profile = measured_path;
  d.source_gpu = measured.provenance.gpu_name;
  d.source_date_utc = measured.provenance.date_utc;
  auto sheet = [](const Datasheet& s) {
    return std::map<std::string, double>{{"bf16_flops_per_s", s.bf16_flops_per_s},
                                         {"fp8_flops_per_s", s.fp8_flops_per_s},
                                         {"vector_fp32_flops_per_s", s.vector_fp32_flops_per_s},
                                         {"hbm_bytes_per_s", s.hbm_bytes_per_s},
                                         {"hbm_bytes", s.hbm_bytes},
                                         {"sm_count", static_cast<double>(s.sm_count)},
                                         {"boost_clock_mhz", s.boost_clock_mhz}};
  };
  d.source_datasheet = sheet(source);
  d.target_datasheet = sheet(target);
  d.sources = source.sources;
  d.sources.insert(d.sources.end(), target.sources.begin(), target.sources.end());
  out.derivation = d;

  out.provenance.gpu_name = target.gpu_name;
  out.provenance.hbm_bytes = target.hbm_bytes;
  out.provenance.date_utc = measured.provenance.date_utc;
  out.provenance.masim_version = measured.provenance.masim_version;
  out.provenance.git_commit = measured.provenance.git_commit;
  out.provenance.arguments = {"derived from " + measured_path};

  const Ceilings& mc = measured.ceilings;
  out.ceilings.copy_bytes_per_s = mc.copy_bytes_per_s * scale_ratio(target.hbm_bytes_per_s, source.hbm_bytes_per_s);
  out.ceilings.bf16_flops_per_s = mc.bf16_flops_per_s * scale_ratio(target.bf16_flops_per_s, source.bf16_flops_per_s);
  out.ceilings.fp8_flops_per_s =
      target.fp8_flops_per_s > 0 ? mc.fp8_flops_per_s * scale_ratio(target.fp8_flops_per_s, source.fp8_flops_per_s)
                                 : 0.0;
  out.ceilings.vector_fp32_flops_per_s = target.vector_fp32_flops_per_s;
  out.ceilings.sources = target.sources;

  for (const OpTable& t : measured.ops) {
    // Production tables (issue 17) are left out: the derivation rule and its
    // measured error are for masim's own tables; the production path of another
    // GPU is measured there, not scaled.
    if (t.kernels != kKernelsMasim) {
      out.notes.push_back("dropped " + t.name + " (production): production tables are measured, not derived");
      continue;
    }
    if (t.kind == models::OpKind::kMemcpy && t.name != "memcpy_d2d") {
      out.notes.push_back("dropped " + t.name + ": host-link copies are not scaled by HBM or FLOP ratios");
      continue;
    }
    if (t.dtype == spec::DType::kFP8 && target.fp8_flops_per_s <= 0) {
      out.notes.push_back("dropped " + t.name + ": " + target.gpu_name + " has no fp8 tensor cores");
      continue;
    }
    OpTable n = t;
    n.power_w.clear();
    const Rates rs = datasheet_rates(source, t.dtype);
    const Rates rt = datasheet_rates(target, t.dtype);
    double t0 = 0.0;
    bool have = false;
    for (double v : t.time_us) {
      if (v > 0 && std::isfinite(v)) {
        t0 = have ? std::min(t0, v) : v;
        have = true;
      }
    }
    // The table's best fractions of the source's datasheet compute and bandwidth.
    double best_c = 0.0, best_m = 0.0;
    for (std::size_t f = 0; f < t.points(); ++f) {
      const double v = t.time_us[f];
      if (!(v > 0) || !std::isfinite(v)) continue;
      const Terms s = roof_terms(representative_op(t, t.point(f)), rs);
      best_c = std::max(best_c, s.compute * 1e6 / v);
      best_m = std::max(best_m, s.memory * 1e6 / v);
    }
    const double sigma = (target.sm_count > 0 && target.boost_clock_mhz > 0)
                             ? (source.sm_count * source.boost_clock_mhz) / (target.sm_count * target.boost_clock_mhz)
                             : 1.0;
    auto convert = [&](double v, const std::vector<double>& x) {
      if (!(v > 0) || !std::isfinite(v)) return v;
      const models::Op op = representative_op(t, x);
      if (rule == DeriveRule::kCarryEfficiency) {
        const double a = roofline_seconds(op, rs);
        const double b = roofline_seconds(op, rt);
        const double ratio = a > 0 ? b / a : 1.0;
        return t0 + std::max(0.0, v - t0) * ratio;
      }
      const Terms s = roof_terms(op, rs);
      const Terms g = roof_terms(op, rt);
      double out_us = 0.0;
      if (s.compute >= s.memory || !(best_m > 0)) {
        out_us = t0 + std::max(0.0, v - t0) * (s.compute > 0 ? g.compute / s.compute : 1.0);
      } else {
        // The transfer at the table's best rate, and the rest (latency, launch) carried.
        const double transfer = s.memory * 1e6 / best_m;  // <= v: best_m is the table's highest m_s / t
        const double rest = std::max(0.0, v - transfer);
        const double floor = std::min(t0, rest);
        out_us = floor + (rest - floor) * sigma + g.memory * 1e6 / best_m;
      }
      if (best_c > 0) out_us = std::max(out_us, g.compute * 1e6 / best_c);
      if (best_m > 0) out_us = std::max(out_us, g.memory * 1e6 / best_m);
      return out_us;
    };
    for (std::size_t f = 0; f < t.points(); ++f) {
      const std::vector<double> x = t.point(f);
      n.time_us[f] = convert(t.time_us[f], x);
      if (!n.time_min_us.empty()) n.time_min_us[f] = convert(t.time_min_us[f], x);
      if (!n.time_p90_us.empty()) n.time_p90_us[f] = convert(t.time_p90_us[f], x);
    }
    for (HoldoutPoint& h : n.holdout) h.time_us = convert(h.time_us, h.at);
    for (HoldoutPoint& h : n.model_holdout) h.time_us = convert(h.time_us, h.at);
    refresh_errors(n, out.ceilings);
    out.ops.push_back(std::move(n));
  }
  if (!measured.collectives.empty()) {
    out.notes.push_back("dropped the collectives: NVLink/NVSwitch rates are not derived from HBM or FLOP ratios");
  }
  out.notes.push_back("power_w dropped: board power does not carry over between GPUs");
  return out;
}

}  // namespace masim::profile
