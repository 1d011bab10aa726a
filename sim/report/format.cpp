#include "sim/report/format.hpp"

#include <cmath>
#include <cstdio>
#include <string>

namespace masim::report {

namespace {
std::string printf_double(const char* fmt, int precision, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, precision, v);
  std::string s = buf;
  if (s == "-0" || s.rfind("-0.", 0) == 0) {
    // "-0.00" is a rounding artefact of a tiny negative number: show it unsigned.
    bool all_zero = true;
    for (char c : s.substr(1)) {
      if (c != '0' && c != '.') all_zero = false;
    }
    if (all_zero) s = s.substr(1);
  }
  return s;
}
}  // namespace

std::string format_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  return printf_double("%.*f", decimals, v);
}

std::string format_grouped(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  std::string s = format_fixed(std::fabs(v), decimals);
  const std::size_t dot = s.find('.');
  std::string int_part = s.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : s.substr(dot);
  std::string grouped;
  for (std::size_t i = 0; i < int_part.size(); ++i) {
    if (i > 0 && (int_part.size() - i) % 3 == 0) grouped += ',';
    grouped += int_part[i];
  }
  const bool negative = v < 0 && format_fixed(std::fabs(v), decimals).find_first_not_of("0.") !=
                                     std::string::npos;
  return (negative ? "-" : "") + grouped + frac;
}

std::string format_sig(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  if (v == 0.0) return "0";
  const double mag = std::floor(std::log10(std::fabs(v)));
  int decimals = digits - 1 - static_cast<int>(mag);
  if (decimals < 0) decimals = 0;
  return format_fixed(v, decimals);
}

std::string format_auto(double v) {
  if (!std::isfinite(v)) return "n/a";
  const double a = std::fabs(v);
  if (a >= 1000.0) return format_grouped(v, 0);
  if (a >= 1.0) return format_fixed(v, 2);
  return format_sig(v, 3);
}

double relative_delta(double sim, double ref, bool* ok) {
  if (ref == 0.0 || !std::isfinite(sim) || !std::isfinite(ref)) {
    if (ok != nullptr) *ok = false;
    return 0.0;
  }
  if (ok != nullptr) *ok = true;
  return (sim - ref) / std::fabs(ref);
}

std::string format_delta_pct(double sim, double ref) {
  bool ok = false;
  const double d = relative_delta(sim, ref, &ok);
  if (!ok) return "n/a";
  std::string s = format_fixed(100.0 * d, 1);
  if (s[0] != '-') s = "+" + s;
  return s + "%";
}

std::string format_delta_pp(double sim, double ref) {
  if (!std::isfinite(sim) || !std::isfinite(ref)) return "n/a";
  std::string s = format_fixed(sim - ref, 1);
  if (s[0] != '-') s = "+" + s;
  return s + " pp";
}

}  // namespace masim::report
