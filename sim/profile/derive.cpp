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

}  // namespace

std::optional<Datasheet> datasheet(std::string_view key) {
  // NVIDIA H200 Tensor Core GPU datasheet (2024), SXM column: BF16 1,979 TFLOPS and
  // FP8 3,958 TFLOPS *with sparsity* (dense = half), FP32 67 TFLOPS, 141 GB HBM3e at 4.8 TB/s.
  if (key == "h200") {
    return Datasheet{"h200", "NVIDIA H200", 989.5e12, 1979e12, 67e12, 4.8e12, 141e9,
                     {"NVIDIA H200 Tensor Core GPU datasheet, SXM: BF16 1979 TFLOPS and FP8 3958 TFLOPS with "
                      "sparsity (dense: half), FP32 67 TFLOPS, 141 GB HBM3e, 4.8 TB/s"}};
  }
  // NVIDIA H100 Tensor Core GPU datasheet (2023), SXM column: same tensor rates as
  // H200, 80 GB HBM3 at 3.35 TB/s.
  if (key == "h100-sxm") {
    return Datasheet{"h100-sxm", "NVIDIA H100-SXM5-80GB", 989.5e12, 1979e12, 67e12, 3.35e12, 80e9,
                     {"NVIDIA H100 Tensor Core GPU datasheet, SXM: BF16 1979 TFLOPS and FP8 3958 TFLOPS with "
                      "sparsity (dense: half), FP32 67 TFLOPS, 80 GB HBM3, 3.35 TB/s"}};
  }
  // NVIDIA A100 Tensor Core GPU datasheet (2021), 80GB SXM column: BF16 312 TFLOPS
  // dense (624 with sparsity), FP32 19.5 TFLOPS, 80 GB HBM2e at 2,039 GB/s; no FP8.
  if (key == "a100-sxm4-80gb") {
    return Datasheet{"a100-sxm4-80gb", "NVIDIA A100-SXM4-80GB", 312e12, 0.0, 19.5e12, 2.039e12, 80e9,
                     {"NVIDIA A100 Tensor Core GPU datasheet, 80GB SXM: BF16 312 TFLOPS dense (624 with sparsity), "
                      "FP32 19.5 TFLOPS, 80 GB HBM2e, 2039 GB/s; no FP8 tensor cores"}};
  }
  return std::nullopt;
}

std::vector<std::string> datasheet_keys() { return {"h200", "h100-sxm", "a100-sxm4-80gb"}; }

Profile derive_profile(const Profile& measured, const std::string& measured_path, const Datasheet& source,
                       const Datasheet& target) {
  Profile out;
  out.derived = true;
  Derivation d;
  d.method =
      "t'(x) = t0 + (t(x) - t0) * roof_target(x) / roof_source(x) per table point x; roof = max(tensor FLOPs / "
      "tensor peak + vector FLOPs / fp32 peak, bytes / HBM bandwidth) at datasheet rates; t0 = the table's "
      "smallest measured time (launch and latency floor, kept). Ceilings scaled by the datasheet ratios. "
      "(sim/profile/derive.hpp)";
  d.source_profile = measured_path;
  d.source_gpu = measured.provenance.gpu_name;
  d.source_date_utc = measured.provenance.date_utc;
  auto sheet = [](const Datasheet& s) {
    return std::map<std::string, double>{{"bf16_flops_per_s", s.bf16_flops_per_s},
                                         {"fp8_flops_per_s", s.fp8_flops_per_s},
                                         {"vector_fp32_flops_per_s", s.vector_fp32_flops_per_s},
                                         {"hbm_bytes_per_s", s.hbm_bytes_per_s},
                                         {"hbm_bytes", s.hbm_bytes}};
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
    auto convert = [&](double v, const std::vector<double>& x) {
      if (!(v > 0) || !std::isfinite(v)) return v;
      const models::Op op = representative_op(t, x);
      const double a = roofline_seconds(op, rs);
      const double b = roofline_seconds(op, rt);
      const double ratio = a > 0 ? b / a : 1.0;
      return t0 + std::max(0.0, v - t0) * ratio;
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
