#include "sim/engine/engine.hpp"

#include "sim/common/assert.hpp"

namespace masim::engine {

namespace {
constexpr std::uint64_t kSeqMask = (std::uint64_t{1} << 56) - 1;
constexpr std::size_t kArity = 4;
}  // namespace

std::uint64_t Engine::next_order(Priority priority) {
  return (std::uint64_t{static_cast<std::uint8_t>(priority)} << 56) | (seq_++ & kSeqMask);
}

Engine::Engine() {
  slot_generation_.push_back(0);  // slot 0 means "not cancellable"
}

HandlerId Engine::add_handler(EventHandler* handler) {
  MASIM_ASSERT(handler != nullptr, "null event handler");
  handlers_.push_back(handler);
  return static_cast<HandlerId>(handlers_.size() - 1);
}

void Engine::schedule(SimTime at, HandlerId handler, std::uint64_t payload, Priority priority) {
  MASIM_ASSERT(at >= now_, "event scheduled in the past");
  MASIM_ASSERT(handler < handlers_.size(), "unknown event handler");
  push(Event{at.count_ps(), next_order(priority),
             payload, handler, 0});
}

EventHandle Engine::schedule_cancellable(SimTime at, HandlerId handler, std::uint64_t payload,
                                         Priority priority) {
  MASIM_ASSERT(at >= now_, "event scheduled in the past");
  MASIM_ASSERT(handler < handlers_.size(), "unknown event handler");
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slot_generation_.size());
    slot_generation_.push_back(0);
  }
  const std::uint32_t gen = ++slot_generation_[slot];  // now odd: live
  push(Event{at.count_ps(), next_order(priority),
             payload, handler, slot});
  return EventHandle{slot, gen};
}

bool Engine::cancel(EventHandle h) {
  if (!h.valid() || h.slot >= slot_generation_.size()) return false;
  if (slot_generation_[h.slot] != h.generation) return false;  // ran, or cancelled already
  ++slot_generation_[h.slot];  // even: dead; the heap entry is skipped when popped
  return true;
}

void Engine::push(const Event& e) {
  heap_.push_back(e);
  std::size_t i = heap_.size() - 1;
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!before(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

Engine::Event Engine::pop() {
  const Event top = heap_.front();
  const Event last = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n > 0) {
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = i * kArity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + kArity < n ? first + kArity : n;
      for (std::size_t c = first + 1; c < end; ++c) {
        if (before(heap_[c], heap_[best])) best = c;
      }
      if (!before(heap_[best], last)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = last;
  }
  return top;
}

bool Engine::step() {
  while (!heap_.empty()) {
    const Event e = pop();
    if (e.slot != 0) {
      const bool live = slot_live(e.slot);
      if (live) ++slot_generation_[e.slot];  // consumed: even again
      free_slots_.push_back(e.slot);
      if (!live) continue;
    }
    now_ = SimTime::ps(e.time_ps);
    ++processed_;
    handlers_[e.handler]->handle(*this, e.payload);
    return true;
  }
  return false;
}

void Engine::run() {
  while (step()) {
  }
}

void Engine::run_until(SimTime until) {
  while (!heap_.empty() && heap_.front().time_ps <= until.count_ps()) {
    const Event& front = heap_.front();
    if (front.slot != 0 && !slot_live(front.slot)) {
      free_slots_.push_back(front.slot);  // cancelled: drop without running
      pop();
      continue;
    }
    step();
  }
  if (now_ < until) now_ = until;
}

}  // namespace masim::engine
