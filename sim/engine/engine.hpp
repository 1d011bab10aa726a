// The discrete-event engine: time, events and resources. It knows nothing of
// GPUs, networks or JSON.
//
// Events are ordered by (time, priority, insertion sequence), so events at the
// same time and priority run first-in first-out and every run is reproducible.
// An event is a small plain struct: the handler to call and a 64-bit payload
// the handler interprets (a task id, a flow id). There is no closure and no heap
// allocation per event: the queue is a 4-ary heap in one growing vector, and
// cancellation uses a recycled slot table.
//
// Models (GPU compute streams, the flow-level network) implement Resource and
// register with an Engine; they schedule events to themselves or to any other
// handler. Two Engines share nothing.
//
//   struct Ping final : EventHandler {
//     void handle(Engine& e, std::uint64_t n) override {
//       if (n > 0) e.schedule_after(SimTime::us(1), id, n - 1);
//     }
//     HandlerId id{};
//   } ping;
//   Engine engine;
//   ping.id = engine.add_handler(&ping);
//   engine.schedule(SimTime::zero(), ping.id, 3);
//   engine.run();                       // engine.now() == 3 us
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "sim/common/units.hpp"

namespace masim::engine {

class Engine;

using HandlerId = std::uint32_t;

// Named priorities: lower runs first among events at the same time. Completions
// run before new starts so a resource freed at time t can be reused at time t.
enum class Priority : std::uint8_t {
  kCompletion = 16,
  kNormal = 64,
  kStart = 96,
  kLow = 192,
};

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void handle(Engine& engine, std::uint64_t payload) = 0;
};

// A model of something that takes simulated time (a compute stream, a network).
// `model()` is a one-line statement of its equations, printed with results.
class Resource : public EventHandler {
 public:
  virtual std::string_view name() const = 0;
  virtual std::string_view model() const = 0;
};

// A handle for cancelling one scheduled event. Default-constructed: no event.
struct EventHandle {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  bool valid() const { return slot != 0; }
};

class Engine {
 public:
  Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  HandlerId add_handler(EventHandler* handler);

  void schedule(SimTime at, HandlerId handler, std::uint64_t payload,
                Priority priority = Priority::kNormal);
  void schedule_after(SimTime delay, HandlerId handler, std::uint64_t payload,
                      Priority priority = Priority::kNormal) {
    schedule(now_ + delay, handler, payload, priority);
  }
  EventHandle schedule_cancellable(SimTime at, HandlerId handler, std::uint64_t payload,
                                   Priority priority = Priority::kNormal);
  // Returns false if the event already ran or was cancelled.
  bool cancel(EventHandle h);

  // Runs one event; false if none is pending.
  bool step();
  void run();
  // Runs every event with time <= until, then sets now() to `until`.
  void run_until(SimTime until);

  SimTime now() const { return now_; }
  std::size_t pending() const { return heap_.size(); }
  std::uint64_t events_processed() const { return processed_; }
  // Grows internal storage so `n` pending events need no reallocation.
  void reserve(std::size_t n) { heap_.reserve(n); }

 private:
  struct Event {
    std::int64_t time_ps;
    std::uint64_t order;    // priority in the top 8 bits, insertion sequence below
    std::uint64_t payload;
    HandlerId handler;
    std::uint32_t slot;     // cancellation slot, 0 if not cancellable
  };
  static bool before(const Event& a, const Event& b) {
    return a.time_ps < b.time_ps || (a.time_ps == b.time_ps && a.order < b.order);
  }
  void push(const Event& e);
  Event pop();
  std::uint64_t next_order(Priority priority);
  // A cancellable event's slot is live while its generation is odd.
  bool slot_live(std::uint32_t slot) const { return (slot_generation_[slot] & 1u) != 0; }

  std::vector<Event> heap_;
  std::vector<EventHandler*> handlers_;
  // Cancellation: slot -> generation; odd generation = live. Free slots recycled.
  std::vector<std::uint32_t> slot_generation_;
  std::vector<std::uint32_t> free_slots_;
  SimTime now_ = SimTime::zero();
  std::uint64_t seq_ = 0;
  std::uint64_t processed_ = 0;
};

}  // namespace masim::engine
