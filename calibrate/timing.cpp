#include "calibrate/timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace masim::calibrate {

Timing summarize_samples(std::vector<double> samples_us) {
  Timing t;
  if (samples_us.empty()) return t;
  std::sort(samples_us.begin(), samples_us.end());
  const std::size_t n = samples_us.size();
  t.min_us = samples_us.front();
  t.median_us = n % 2 ? samples_us[n / 2] : 0.5 * (samples_us[n / 2 - 1] + samples_us[n / 2]);
  const std::size_t r90 = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(n)));
  t.p90_us = samples_us[std::clamp<std::size_t>(r90, 1, n) - 1];
  // Ranks floor(0.1 n) .. n − 1 − floor(0.1 n): the same count dropped at each end.
  const std::size_t cut = n / 10;
  double sum = 0;
  for (std::size_t i = cut; i < n - cut; ++i) sum += samples_us[i];
  t.mid_mean_us = sum / static_cast<double>(n - 2 * cut);
  t.spread_pct = t.median_us > 0 ? 100.0 * (t.p90_us - t.min_us) / t.median_us : 0.0;
  t.replays = static_cast<int>(n);
  return t;
}

}  // namespace masim::calibrate
