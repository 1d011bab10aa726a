// The requests a serving run receives: drawn from the scenario's arrival
// process and length distributions, or read from a trace (already parsed into
// spec::ServingSpec::trace by the front end).
//
//   std::vector<Request> rs = make_requests(serving, /*rate_override=*/0.0);
#pragma once

#include <cstdint>
#include <vector>

#include "sim/spec/spec.hpp"

namespace masim::serving {

struct Request {
  std::int64_t id = 0;
  double arrival_s = 0.0;
  std::int64_t prompt = 0;    // tokens
  std::int64_t output = 0;    // tokens to generate (>= 1)
};

// Poisson: exponential inter-arrival times of mean 1 / rate. Gamma: inter-arrival
// times Gamma(k = 1 / cv², θ = cv² / rate), mean 1 / rate, coefficient of
// variation cv (bursty for cv > 1). Lengths: fixed, uniform on [min, max], or
// lognormal with the given mean and cv (σ² = ln(1 + cv²), μ = ln(mean) − σ²/2),
// rounded and clamped to [min, max]. The arrival and length streams are separate
// forks of the seed, so a rate sweep keeps every request's lengths. A trace's
// arrival times are scaled by trace_time_scale. `rate_override` > 0 replaces the
// arrival rate (rate sweeps).
std::vector<Request> make_requests(const spec::ServingSpec& s, double rate_override = 0.0);

}  // namespace masim::serving
