// Statistics of one measurement's samples (CPU only; the harness fills them).
//
// Statistics over the R per-launch samples: min, median, p90 (nearest rank),
// spread = (p90 − min) / median, and the interdecile mean (the mean of the
// samples ranked from the 10th to the 90th percentile). The median is the
// recorded time of most ops; the interdecile mean is recorded for ops whose
// replays alternate between two modes (pinned-host copies over PCIe: 1.5 and
// 1.8 µs at small sizes on H200), where the median lands on one mode or the
// other as the mix shifts, while the mean moves with the mix.
//
//   Timing t = summarize_samples({1.5, 1.8, 1.5, 1.8});  // t.median_us 1.65
#pragma once

#include <vector>

namespace masim::calibrate {

struct Timing {
  double min_us = 0;
  double median_us = 0;
  double p90_us = 0;
  double mid_mean_us = 0;  // interdecile mean
  double spread_pct = 0;
  double power_w = 0;      // NaN when NVML is unavailable
  int launches_per_replay = 0;
  int replays = 0;
  bool graph = false;
};

// Median, p90 (nearest rank), interdecile mean etc. of per-launch samples in
// microseconds; all zero for no samples.
Timing summarize_samples(std::vector<double> samples_us);

}  // namespace masim::calibrate
