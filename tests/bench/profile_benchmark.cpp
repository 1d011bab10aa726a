// BM_Profile_Load: reading and checking the committed H200 profile (1.5 MB of
// JSON, 36 K grid points). BM_Profile_Predict/<table>: TableModel::predict_us at
// 4,096 random shapes inside the table's grid box (queries/s); gemm_bf16 at
// widths that are multiples of 8 and, in the unaligned variant, at odd widths
// (three interpolations per query: the aligned fit at x and at the unaligned
// column, and the column itself).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "sim/common/rng.hpp"
#include "sim/profile/fit.hpp"
#include "sim/profile/profile.hpp"

using namespace masim;

namespace {

// MASIM_BENCH_PROFILE overrides the profile (to compare builds on one file).
const std::string kProfile = std::getenv("MASIM_BENCH_PROFILE") != nullptr
                                 ? std::string(std::getenv("MASIM_BENCH_PROFILE"))
                                 : std::string(MASIM_SOURCE_DIR) + "/calibrate/profiles/h200.json";

const profile::Profile& h200() {
  static const profile::Profile p = [] {
    io::Diagnostics d;
    auto loaded = profile::load_profile(kProfile, d);
    if (!loaded) std::abort();
    return *loaded;
  }();
  return p;
}

// Log-uniform shapes in the table's box. Along `axis` (if >= 0) the values are
// made odd (odd = true: unaligned rows) or multiples of 8 (aligned, as models' widths are).
std::vector<std::vector<double>> shapes(const profile::OpTable& t, int axis, bool odd) {
  Rng rng(7);
  std::vector<std::vector<double>> out;
  for (int i = 0; i < 4096; ++i) {
    std::vector<double> x;
    for (std::size_t a = 0; a < t.axes.size(); ++a) {
      const double lo = std::log(t.grid[a].front()), hi = std::log(t.grid[a].back());
      double v = std::round(std::exp(lo + (hi - lo) * rng.uniform()));
      if (static_cast<int>(a) == axis) v = odd ? (std::fmod(v, 2.0) == 0 ? v + 1 : v) : std::ceil(v / 8) * 8;
      x.push_back(std::min(v, t.grid[a].back()));
    }
    out.push_back(std::move(x));
  }
  return out;
}

void BM_Profile_Load(benchmark::State& state) {
  for (auto _ : state) {
    io::Diagnostics d;
    auto p = profile::load_profile(kProfile, d);
    if (!p) state.SkipWithError("profile did not load");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_Profile_Load)->Unit(benchmark::kMillisecond);

void predict(benchmark::State& state, const std::string& table, int axis, bool odd) {
  const profile::Profile& p = h200();
  const profile::OpTable* t = p.find(table);
  if (t == nullptr) {
    state.SkipWithError("no such table");
    return;
  }
  const profile::TableModel m(*t, p.ceilings);
  const auto xs = shapes(*t, axis, odd);
  std::int64_t priced = 0;
  double sum = 0;
  for (auto _ : state) {
    for (const auto& x : xs) {
      if (auto us = m.predict_us(x)) {
        sum += *us;
        ++priced;
      }
    }
  }
  benchmark::DoNotOptimize(sum);
  if (priced == 0) state.SkipWithError("no shape was priced");
  state.counters["queries/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * xs.size(),
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(predict, gemm_bf16, std::string("gemm_bf16"), 1, false);
BENCHMARK_CAPTURE(predict, gemm_bf16_unaligned, std::string("gemm_bf16"), 1, true);
BENCHMARK_CAPTURE(predict, grouped_gemm_bf16, std::string("grouped_gemm_bf16"), -1, false);
BENCHMARK_CAPTURE(predict, attention_decode_d128, std::string("attention_decode_d128"), -1, false);
BENCHMARK_CAPTURE(predict, rmsnorm, std::string("rmsnorm"), -1, false);
// Iso-bytes interpolation: each corner read along tokens at the query's bytes.
BENCHMARK_CAPTURE(predict, unpermute_iso_bytes, std::string("unpermute"), -1, false);

}  // namespace
BENCHMARK_MAIN();
