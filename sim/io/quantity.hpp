// Quantities with units in input files: "600 GB/s", "1.5 us", "80 GiB",
// "312 TFLOP/s", "400 W", "200 Gb/s" (bits), "1410 MHz".
//
// Decimal prefixes are decimal (GB = 1e9 B), binary prefixes are spelled KiB/MiB/GiB.
// A lowercase "b" is bits (Gb/s = 1e9/8 B/s). The value is returned in the base
// unit of its dimension: seconds, bytes, bytes/s, FLOP/s, watts, hertz.
//
//   auto q = parse_quantity("600 GB/s", Dimension::kBandwidth);  // q.value == 6e11
#pragma once

#include <string>
#include <string_view>

namespace masim::io {

enum class Dimension { kTime, kBytes, kBandwidth, kFlopRate, kPower, kFrequency };

struct QuantityResult {
  bool ok = false;
  double value = 0.0;   // in the dimension's base unit
  std::string error;    // when !ok: what was expected
};

QuantityResult parse_quantity(std::string_view text, Dimension dim);

// "a time such as \"1.5 us\"" etc., for messages.
std::string dimension_example(Dimension dim);

}  // namespace masim::io
