#include "sim/serving/traffic.hpp"

#include <algorithm>
#include <cmath>

#include "sim/common/rng.hpp"

namespace masim::serving {

namespace {

std::int64_t draw(const spec::LengthDist& d, Rng& rng) {
  switch (d.kind) {
    case spec::LengthKind::kFixed: return d.value;
    case spec::LengthKind::kUniform:
      return d.min + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(d.max - d.min + 1)));
    case spec::LengthKind::kLognormal: {
      const double s2 = std::log1p(d.cv * d.cv);
      const double mu = std::log(d.mean) - 0.5 * s2;
      const double x = std::exp(mu + std::sqrt(s2) * rng.normal());
      const double r = std::round(x);
      return std::clamp(static_cast<std::int64_t>(std::min(r, 9.0e15)), d.min, d.max);
    }
  }
  return d.min;
}

}  // namespace

std::vector<Request> make_requests(const spec::ServingSpec& s, double rate_override) {
  std::vector<Request> out;
  if (s.arrivals == spec::ArrivalKind::kTrace) {
    out.reserve(s.trace.size());
    for (std::size_t i = 0; i < s.trace.size(); ++i) {
      const spec::TraceRequest& q = s.trace[i];
      out.push_back({static_cast<std::int64_t>(i), q.arrival_s * s.trace_time_scale, q.prompt_tokens,
                     std::max<std::int64_t>(1, q.output_tokens)});
    }
    return out;
  }
  const double rate = rate_override > 0.0 ? rate_override : s.rate_per_s;
  Rng root(s.seed);
  Rng arrivals = root.fork(1);
  Rng lengths = root.fork(2);
  const double k = 1.0 / (s.cv * s.cv);
  double t = 0.0;
  out.reserve(static_cast<std::size_t>(s.requests));
  for (std::int64_t i = 0; i < s.requests; ++i) {
    Request r;
    r.id = i;
    if (i > 0) {
      t += s.arrivals == spec::ArrivalKind::kGamma ? arrivals.gamma(k) / (k * rate) : arrivals.exponential(1.0 / rate);
    }
    r.arrival_s = t;
    r.prompt = draw(s.prompt, lengths);
    r.output = std::max<std::int64_t>(1, draw(s.output, lengths));
    out.push_back(r);
  }
  return out;
}

}  // namespace masim::serving
