// What binds a simulated layout's step: the resource its time goes to, read
// off the metrics the simulation already reports (docs/METRICS.md), not a
// model of its own.
//
//   busy  = gpu_util (the compute stream's busy share of the step)
//   hbm   = hbm_bw_util / memory_efficiency   (share of the roofline's HBM term)
//   flop  = mfu / matmul_efficiency           (share of the roofline's FLOP term)
//   link  = communication exposed_ms / iteration_ms (the compute stream waits on it)
//   idle  = 1 - gpu_util_with_comm            (neither computing nor communicating: bubbles, waiting on another group)
//
// The compute share splits between HBM bandwidth and compute in the ratio
// hbm : flop (which term of the roofline its kernels spend their time in);
// the largest of "HBM bandwidth" (busy·hbm/(hbm+flop)), "compute"
// (busy·flop/(hbm+flop)), "link" (link; the tag with the most exposed time is
// named) and "idle" binds. Memory binds a configuration, not a step: search
// says so when the next larger batch does not fit (search.hpp).
//
//   Binding b = binding_resource(layout_result, scenario);
//   b.resource;  // "HBM bandwidth"
//   b.detail;    // "compute stream busy 84% of the step, kernels at 71% of HBM bandwidth and 9% of peak FLOP/s; ..."
#pragma once

#include <string>

#include "sim/layouts/results.hpp"
#include "sim/spec/spec.hpp"

namespace masim::sweep {

struct Binding {
  std::string resource;  // "HBM bandwidth", "compute", "link (ma_dispatch)", "idle"
  std::string detail;
};

Binding binding_resource(const layouts::LayoutResult& l, const spec::ScenarioSpec& s);

}  // namespace masim::sweep
