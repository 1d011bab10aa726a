#include "sim/sweep/binding.hpp"

#include <algorithm>
#include <cstdio>

namespace masim::sweep {

namespace {

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f%%", 100.0 * v);
  return b;
}

}  // namespace

Binding binding_resource(const layouts::LayoutResult& l, const spec::ScenarioSpec& s) {
  const layouts::LayoutMetrics& m = l.metrics;
  const spec::GpuSpec& g = s.hardware.gpu;
  const double busy = std::clamp(m.gpu_util_mean, 0.0, 1.0);
  const double hbm = g.memory_efficiency > 0 ? m.hbm_bw_util / g.memory_efficiency : 0.0;
  const double flop = g.matmul_efficiency > 0 ? m.mfu / g.matmul_efficiency : 0.0;
  const double split = hbm + flop > 0 ? hbm / (hbm + flop) : 0.5;
  const double link = m.iteration_ms > 0 ? std::clamp(l.communication_total.exposed_ms / m.iteration_ms, 0.0, 1.0) : 0.0;
  const double idle = std::clamp(1.0 - m.gpu_util_with_comm_mean, 0.0, 1.0);
  int top = 0;
  for (int t = 1; t < layouts::kNumCommTags; ++t) {
    if (l.communication[static_cast<std::size_t>(t)].exposed_ms > l.communication[static_cast<std::size_t>(top)].exposed_ms) top = t;
  }
  const std::string tag = layouts::to_string(static_cast<layouts::CommTag>(top));
  struct Cand {
    double share;
    std::string name;
  };
  const Cand cands[] = {{busy * split, "HBM bandwidth"},
                        {busy * (1.0 - split), "compute"},
                        {link, "link (" + tag + ")"},
                        {idle, "idle (waiting)"}};
  const Cand* best = &cands[0];
  for (const Cand& c : cands) {
    if (c.share > best->share) best = &c;
  }
  Binding b;
  b.resource = best->name;
  b.detail = "compute stream busy " + pct(busy) + " of the step (kernels at " + pct(m.hbm_bw_util) +
             " of HBM bandwidth, " + pct(m.mfu) + " of peak FLOP/s), communication exposed " + pct(link) +
             (link > 0 ? " (most: " + tag + ")" : std::string()) + ", idle " + pct(idle);
  return b;
}

}  // namespace masim::sweep
