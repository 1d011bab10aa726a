#include "calibrate/harness.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "kernels/cuda/check.hpp"

namespace masim::calibrate {

namespace {
constexpr double kMinEnergyWindowS = 0.5;
}  // namespace

namespace {

struct Events {
  explicit Events(std::size_t n) : ev(n) {
    for (auto& e : ev) MASIM_CUDA_CHECK(cudaEventCreate(&e));
  }
  ~Events() {
    for (auto& e : ev) cudaEventDestroy(e);
  }
  std::vector<cudaEvent_t> ev;
};

// Captures `n` launches into an executable graph; nullptr if capture is refused.
cudaGraphExec_t try_capture(Device& dev, const std::function<void(int)>& launch, int n) {
  cudaStream_t s = dev.stream();
  if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  bool failed = false;
  try {
    for (int i = 0; i < n; ++i) launch(i);
  } catch (const kernels::cuda::DeviceError&) {
    failed = true;
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(s, &graph);
  (void)cudaGetLastError();
  if (failed || end != cudaSuccess || graph == nullptr) {
    if (graph) cudaGraphDestroy(graph);
    return nullptr;
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (inst != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  return exec;
}

}  // namespace

Timing measure(Device& dev, const std::function<void(int)>& launch, bool capturable, const TimingOptions& opt) {
  cudaStream_t s = dev.stream();
  // Pilot: one untimed run (module load, plan caches), then three timed.
  launch(0);
  MASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  Events pilot(2);
  MASIM_CUDA_CHECK(cudaEventRecord(pilot.ev[0], s));
  for (int i = 0; i < 3; ++i) launch(i + 1);
  MASIM_CUDA_CHECK(cudaEventRecord(pilot.ev[1], s));
  MASIM_CUDA_CHECK(cudaEventSynchronize(pilot.ev[1]));
  float ms = 0;
  MASIM_CUDA_CHECK(cudaEventElapsedTime(&ms, pilot.ev[0], pilot.ev[1]));
  const double t_est_us = std::max(1e-3, 1e3 * ms / 3.0);
  const int n = std::clamp(static_cast<int>(std::ceil(opt.target_graph_us / t_est_us)), 1, opt.max_launches_per_graph);

  cudaGraphExec_t exec = capturable ? try_capture(dev, launch, n) : nullptr;
  auto replay = [&]() {
    if (exec) {
      MASIM_CUDA_CHECK(cudaGraphLaunch(exec, s));
    } else {
      for (int i = 0; i < n; ++i) launch(i);
    }
  };
  for (int w = 0; w < opt.warmup_replays; ++w) replay();
  const double replay_us = t_est_us * n;
  const int reps =
      std::clamp(static_cast<int>(std::ceil(opt.window_ms * 1e3 / replay_us)), opt.min_replays, opt.max_replays);
  Events ev(static_cast<std::size_t>(reps) + 1);
  MASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  // The energy counter is read only when the window can reach its minimum
  // (below, the reading is not used, and an NVML call costs milliseconds).
  const bool long_window = reps * replay_us * 1e-6 >= 0.5 * kMinEnergyWindowS;
  std::optional<std::uint64_t> e0;
  if (long_window) e0 = dev.nvml().energy_mj();
  const auto w0 = std::chrono::steady_clock::now();
  MASIM_CUDA_CHECK(cudaEventRecord(ev.ev[0], s));
  for (int r = 0; r < reps; ++r) {
    replay();
    MASIM_CUDA_CHECK(cudaEventRecord(ev.ev[static_cast<std::size_t>(r) + 1], s));
  }
  MASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  const auto w1 = std::chrono::steady_clock::now();
  std::optional<std::uint64_t> e1;
  if (long_window) e1 = dev.nvml().energy_mj();
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(reps));
  for (int r = 0; r < reps; ++r) {
    float m = 0;
    MASIM_CUDA_CHECK(cudaEventElapsedTime(&m, ev.ev[static_cast<std::size_t>(r)], ev.ev[static_cast<std::size_t>(r) + 1]));
    samples.push_back(1e3 * m / n);
  }
  if (exec) cudaGraphExecDestroy(exec);
  Timing t = summarize_samples(std::move(samples));
  t.launches_per_replay = n;
  t.graph = exec != nullptr;
  const double wall_s = std::chrono::duration<double>(w1 - w0).count();
  t.power_w = std::numeric_limits<double>::quiet_NaN();
  // NVML's energy counter advances in steps (tens of milliseconds), so over a
  // window of a few milliseconds its difference is 0 or a whole step (it gave
  // "power" above 40 kW on H200); it is used only over long windows, else the
  // board's power reading (NVML averages it over about a second).
  if (e0 && e1 && *e1 > *e0 && wall_s >= kMinEnergyWindowS) {
    t.power_w = static_cast<double>(*e1 - *e0) * 1e-3 / wall_s;
  } else if (auto p = dev.nvml().power_w()) {
    t.power_w = *p;
  }
  return t;
}

}  // namespace masim::calibrate
