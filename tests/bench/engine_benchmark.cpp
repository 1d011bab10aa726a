// BM_Engine_*: the classic hold model (each popped event schedules one new event
// at now + a random increment), at 1 K, 64 K and 1 M pending events. Reports
// events/s. The increment is exponential with mean 1 us so the queue's time
// distribution stays stationary.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sim/common/rng.hpp"
#include "sim/engine/engine.hpp"

using namespace masim;
using namespace masim::engine;

namespace {

struct Hold final : EventHandler {
  Rng rng{12345};
  HandlerId id = 0;
  std::vector<std::int64_t> increments;  // pre-drawn so the RNG's log() is not what we time
  std::size_t next = 0;
  void handle(Engine& e, std::uint64_t payload) override {
    const std::int64_t inc = increments[next];
    next = (next + 1) & (increments.size() - 1);
    e.schedule_after(SimTime::ps(inc), id, payload);
  }
};

void BM_Engine_Hold(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  Engine engine;
  Hold hold;
  hold.id = engine.add_handler(&hold);
  hold.increments.resize(1 << 16);
  for (auto& x : hold.increments) x = static_cast<std::int64_t>(hold.rng.exponential(1e6)) + 1;
  engine.reserve(pending + 1);
  for (std::size_t i = 0; i < pending; ++i) {
    engine.schedule(SimTime::ps(static_cast<std::int64_t>(hold.rng.exponential(1e6))), hold.id, i);
  }
  // Warm the queue into its steady state before timing.
  for (std::size_t i = 0; i < pending * 2; ++i) engine.step();
  const std::uint64_t before = engine.events_processed();
  for (auto _ : state) {
    engine.step();
  }
  const std::uint64_t done = engine.events_processed() - before;
  if (done != static_cast<std::uint64_t>(state.iterations()) || engine.pending() != pending) {
    state.SkipWithError("hold model lost or gained events");
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
  state.counters["pending"] = static_cast<double>(engine.pending());
}
BENCHMARK(BM_Engine_Hold)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);

// Cancellation cost: half the events are scheduled cancellable and cancelled.
struct Canceller final : EventHandler {
  Rng rng{99};
  HandlerId id = 0;
  void handle(Engine& e, std::uint64_t payload) override {
    const SimTime t = e.now() + SimTime::ps(static_cast<std::int64_t>(rng.below(2'000'000)) + 1);
    EventHandle h = e.schedule_cancellable(t, id, payload);
    e.cancel(h);
    e.schedule(t, id, payload);
  }
};

void BM_Engine_HoldWithCancel(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  Engine engine;
  Canceller c;
  c.id = engine.add_handler(&c);
  for (std::size_t i = 0; i < pending; ++i) engine.schedule(SimTime::ps(static_cast<std::int64_t>(i)), c.id, i);
  const std::uint64_t before = engine.events_processed();
  for (auto _ : state) engine.step();
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(engine.events_processed() - before),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Engine_HoldWithCancel)->Arg(1 << 10)->Arg(1 << 16);

}  // namespace

BENCHMARK_MAIN();
