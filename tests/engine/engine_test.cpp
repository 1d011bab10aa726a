#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "sim/common/rng.hpp"
#include "sim/engine/engine.hpp"

using masim::SimTime;
using namespace masim::engine;

namespace {
struct Recorder final : EventHandler {
  std::vector<std::uint64_t> seen;
  std::vector<std::int64_t> at;
  void handle(Engine& e, std::uint64_t payload) override {
    seen.push_back(payload);
    at.push_back(e.now().count_ps());
  }
};
}  // namespace

TEST_CASE("events run in (time, priority, insertion) order") {
  Engine e;
  Recorder r;
  const HandlerId h = e.add_handler(&r);
  e.schedule(SimTime::ps(20), h, 1);
  e.schedule(SimTime::ps(10), h, 2, Priority::kLow);
  e.schedule(SimTime::ps(10), h, 3, Priority::kCompletion);
  e.schedule(SimTime::ps(10), h, 4);  // same time and priority as 5: FIFO
  e.schedule(SimTime::ps(10), h, 5);
  e.run();
  CHECK(r.seen == std::vector<std::uint64_t>{3, 4, 5, 2, 1});
  CHECK(e.now() == SimTime::ps(20));
  CHECK(e.events_processed() == 5);
}

TEST_CASE("cancelled events never run; cancel twice fails") {
  Engine e;
  Recorder r;
  const HandlerId h = e.add_handler(&r);
  EventHandle a = e.schedule_cancellable(SimTime::ps(5), h, 1);
  EventHandle b = e.schedule_cancellable(SimTime::ps(6), h, 2);
  CHECK(e.cancel(a));
  CHECK_FALSE(e.cancel(a));
  e.run();
  CHECK(r.seen == std::vector<std::uint64_t>{2});
  CHECK_FALSE(e.cancel(b));  // already ran
  // A recycled slot does not let an old handle cancel a new event.
  EventHandle c = e.schedule_cancellable(SimTime::ps(7), h, 3);
  CHECK_FALSE(e.cancel(a));
  e.run();
  CHECK(r.seen == std::vector<std::uint64_t>{2, 3});
  CHECK_FALSE(e.cancel(c));
}

TEST_CASE("run_until stops at the horizon and skips cancelled events") {
  Engine e;
  Recorder r;
  const HandlerId h = e.add_handler(&r);
  EventHandle a = e.schedule_cancellable(SimTime::ps(5), h, 1);
  e.schedule(SimTime::ps(50), h, 2);
  e.cancel(a);
  e.run_until(SimTime::ps(10));
  CHECK(r.seen.empty());
  CHECK(e.now() == SimTime::ps(10));
  CHECK(e.pending() == 1);
  e.run();
  CHECK(r.seen == std::vector<std::uint64_t>{2});
}

namespace {
// The hold model: each event schedules one more at now + random increment.
struct Hold final : EventHandler {
  masim::Rng rng{7};
  HandlerId id = 0;
  std::uint64_t budget = 0;
  std::vector<std::int64_t> trace;
  void handle(Engine& e, std::uint64_t payload) override {
    trace.push_back(e.now().count_ps() ^ static_cast<std::int64_t>(payload));
    if (budget == 0) return;
    --budget;
    e.schedule_after(SimTime::ps(static_cast<std::int64_t>(rng.below(1000))), id, payload + 1);
  }
};
std::vector<std::int64_t> run_hold(std::uint64_t seed) {
  Engine e;
  Hold h;
  h.rng = masim::Rng(seed);
  h.id = e.add_handler(&h);
  h.budget = 5000;
  for (int i = 0; i < 64; ++i) e.schedule(SimTime::ps(i), h.id, static_cast<std::uint64_t>(i) << 20);
  e.run();
  return h.trace;
}
}  // namespace

TEST_CASE("time never goes backwards and runs are deterministic") {
  const auto a = run_hold(11);
  const auto b = run_hold(11);
  const auto c = run_hold(12);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a.size() == 5064);
}

TEST_CASE("two engines in one process do not interfere") {
  Engine e1, e2;
  Recorder r1, r2;
  const HandlerId h1 = e1.add_handler(&r1);
  const HandlerId h2 = e2.add_handler(&r2);
  e1.schedule(SimTime::us(1), h1, 1);
  e2.schedule(SimTime::us(2), h2, 2);
  e1.run();
  CHECK(e1.now() == SimTime::us(1));
  CHECK(e2.now() == SimTime::zero());
  e2.run();
  CHECK(r1.seen.size() == 1);
  CHECK(r2.seen.size() == 1);
}

TEST_CASE("SimTime is exact integer picoseconds") {
  CHECK(SimTime::us(1.5).count_ps() == 1'500'000);
  CHECK(SimTime::ns(0.001).count_ps() == 1);
  CHECK(masim::transfer_time(masim::Bytes{1 << 20}, masim::Bandwidth::gb_per_s(600)).count_ps() ==
        1'747'627);  // 1048576 / 6e11 s = 1.7476266 us, rounded up
}

TEST_CASE("SimTime conversions saturate instead of overflowing") {
  // 1e300 s is 1e312 ps, far past int64's 9.22e18: the cast alone would be undefined.
  CHECK(SimTime::seconds(1e300) == SimTime::max());
  CHECK(SimTime::seconds(-1e300).count_ps() == std::numeric_limits<std::int64_t>::min());
  CHECK(SimTime::seconds(1.0).count_ps() == 1'000'000'000'000);
}
