// Time limits of tests, scaled for slow builds. A sanitizer build runs masim
// several times slower (ASan + UBSan at -O1: about 3-10x; Debug more), so a
// fixed limit that a plain build meets with room to spare times out there
// (issue 20: the determinism test on training.json under the asan preset).
// CMake sets MASIM_TEST_TIME_SCALE (the cache variable of the same name:
// 1 by default, 10 for a sanitizer build) for every test binary and scales the
// ctest TIMEOUTs by it too.
//
//   run_masim("run " + s, dir, scratch, testing::scaled_seconds(60));
#pragma once

#include <initializer_list>
#include <vector>

#ifndef MASIM_TEST_TIME_SCALE
#define MASIM_TEST_TIME_SCALE 1
#endif

// MASIM_TEST_ASAN: built with AddressSanitizer (GCC defines
// __SANITIZE_ADDRESS__, clang answers __has_feature).
#if defined(__SANITIZE_ADDRESS__)
#define MASIM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MASIM_TEST_ASAN 1
#endif
#endif

namespace masim::testing {

inline constexpr int kTimeScale = MASIM_TEST_TIME_SCALE;
inline constexpr int scaled_seconds(int plain_build_seconds) { return plain_build_seconds * kTimeScale; }

// The random cases (seeds) a breadth test walks: every one in a plain build,
// the first only under AddressSanitizer. The sanitizer job checks that the code
// paths are memory-safe and free of undefined behaviour, which one case
// exercises; the plain build covers the breadth. Keeps that job within CI's
// time (scripts/sanitize.sh, docs/RELIABILITY.md).
template <class T>
std::vector<T> breadth(std::initializer_list<T> all) {
#ifdef MASIM_TEST_ASAN
  return std::vector<T>(all.begin(), all.begin() + (all.size() > 0 ? 1 : 0));
#else
  return std::vector<T>(all);
#endif
}

}  // namespace masim::testing
