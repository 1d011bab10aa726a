// Shared by the libFuzzer targets (fuzz_*.cpp): run a step, and abort (so that
// libFuzzer, or the replay test, keeps and names the input) when an exception
// escapes or an invariant fails.
//
//   fuzz::no_throw("parse_topology", [&] { topology::parse_topology(doc, "f.json", "", d); });
//   fuzz::require(j.has_value() == d.empty(), "parse_json_text: value and diagnostics disagree");
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace masim::fuzz {

inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz: %s\n", what);
  std::abort();
}

template <class F>
void no_throw(const char* step, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: exception escaped %s: %s\n", step, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz: a non-standard exception escaped %s\n", step);
    std::abort();
  }
}

}  // namespace masim::fuzz
