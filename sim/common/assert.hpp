// Always-on assertions for internal bugs (never for bad user input, which is a
// Diagnostic). They stay on in optimized builds, as DuckDB's relassert does.
//
//   MASIM_ASSERT(flow.remaining >= 0, "flow overshoot");
#pragma once

#include <cstdio>
#include <cstdlib>

#define MASIM_ASSERT(cond, msg)                                                      \
  do {                                                                               \
    if (!(cond)) [[unlikely]] {                                                      \
      std::fprintf(stderr, "masim internal error: %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   msg, #cond);                                                      \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)
