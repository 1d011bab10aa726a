// Number formatting for reports: fixed decimals, significant digits, thousands
// separators and signed deltas, always in the "C" locale so that output is
// byte-identical everywhere.
//
//   format_fixed(3.1416, 2)       -> "3.14"
//   format_grouped(123456.4)      -> "123,456"
//   format_sig(0.000123456, 3)    -> "0.000123"
//   format_delta_pct(2.05, 2.00)  -> "+2.5%"
//   format_delta_pp(70.0, 67.2)   -> "+2.8 pp"
#pragma once

#include <string>

namespace masim::report {

std::string format_fixed(double v, int decimals);
// Integer part grouped by thousands with ',' and `decimals` decimals.
std::string format_grouped(double v, int decimals = 0);
// `digits` significant digits, no exponent for |v| in [1e-6, 1e15).
std::string format_sig(double v, int digits);
// A sensible display for a measured value: grouped integers from 1000 up,
// 3 significant digits below (at least 2 decimals between 1 and 1000).
std::string format_auto(double v);
// Relative difference of `sim` from `ref` in percent, signed ("+2.5%", "-31.0%");
// "n/a" when ref is 0.
std::string format_delta_pct(double sim, double ref);
// Difference in percentage points, signed ("+2.8 pp").
std::string format_delta_pp(double sim, double ref);
// (sim - ref) / ref, or nothing meaningful when ref == 0 (returns 0 and sets ok=false).
double relative_delta(double sim, double ref, bool* ok = nullptr);

}  // namespace masim::report
