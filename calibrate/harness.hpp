// The one timing harness (nccl-tests / CUTLASS-profiler style).
//
// For one op at one shape: a pilot run estimates the time t; N = ~target/t
// launches (rotating over buffer sets so repeated runs do not hit in L2) are
// captured into a CUDA graph; after warm-up replays the graph is replayed R
// times with a CUDA event between replays, and each replay gives one sample of
// the per-launch time (replay time / N). A decode step runs as a captured graph
// too, so these times include the same inter-kernel gaps that masim's
// predictions are compared against. Ops that cannot be captured (pageable host
// copies, a library call that refuses capture) are launched directly between
// the events instead (Timing::graph = false).
//
// Statistics over the R samples: calibrate/timing.hpp. Board power: NVML's energy counter over the replay
// window (average watts), else NVML's power reading at its end.
//
//   Timing t = measure(dev, [&](int i) { launch(i % sets); }, true, TimingOptions{});
#pragma once

#include <functional>
#include <vector>

#include "calibrate/device.hpp"
#include "calibrate/timing.hpp"

namespace masim::calibrate {

struct TimingOptions {
  double target_graph_us = 600;   // launches per replay chosen to fill about this long
  int max_launches_per_graph = 64;
  double window_ms = 6;           // time spent replaying per measurement
  int min_replays = 6;
  int max_replays = 200;
  int warmup_replays = 2;
};

Timing measure(Device& dev, const std::function<void(int)>& launch, bool capturable, const TimingOptions& opt);

}  // namespace masim::calibrate
