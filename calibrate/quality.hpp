// `masim-calibrate quality`: the kernel-quality figures of issue 5 — achieved
// TFLOP/s and TB/s per op at representative shapes, decode attention's
// bandwidth against the measured device-to-device copy bandwidth at large
// batch × context, and the grouped GEMM against a dense cuBLAS GEMM of the same
// total FLOPs. Every figure comes from a checked measurement (run.hpp's
// measure_point); FLOPs and bytes are masim's (models/op.hpp) for the same shape.
#pragma once

#include <string>

namespace masim::calibrate {

struct QualityOptions {
  std::string out;   // JSON report (optional)
  bool quick = false;
};

int run_quality(const QualityOptions& opt);

}  // namespace masim::calibrate
