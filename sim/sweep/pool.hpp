// A fixed pool of worker threads over the indices 0..n-1: each worker takes
// the next index from a shared counter until none is left or `stop` is set.
// Work items must be independent (sweep points are: no global mutable state in
// sim/, STYLE.md rule 5); what a caller writes it writes by index, so its
// results do not depend on the number of threads or their timing.
//
//   std::vector<double> out(n);
//   parallel_for(n, 4, nullptr, [&](std::size_t i) { out[i] = work(i); });
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace masim::sweep {

// Runs fn(i) for every i in [0, n) on `jobs` threads (the calling thread is
// one of them). The first exception a worker throws stops the others and is
// rethrown here.
template <class Fn>
void parallel_for(std::size_t n, int jobs, const std::atomic<bool>* stop, Fn&& fn) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mu;
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (;;) {
      if (failed.load() || (stop != nullptr && stop->load())) return;
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mu);
        if (!failure) failure = std::current_exception();
        failed.store(true);
        return;
      }
    }
  };
  const std::size_t threads = std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(std::max(jobs, 1)), n));
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

// The default of --jobs: the machine's hardware threads (1 when unknown).
inline int default_jobs() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace masim::sweep
