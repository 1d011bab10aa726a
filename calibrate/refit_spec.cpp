#include "calibrate/refit_spec.hpp"

#include <cmath>
#include <cstdlib>

namespace masim::calibrate {

bool set_iso_bytes(profile::Profile& p, const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) return false;
  const std::string lhs = spec.substr(0, eq);
  const std::string rhs = spec.substr(eq + 1);
  if (rhs == "none") {
    profile::OpTable* t = p.find(lhs);
    if (!t) return false;
    t->iso_along = -1;
    t->iso_offset.clear();
    return true;
  }
  const auto dot = lhs.find('.');
  profile::OpTable* t = dot == std::string::npos ? nullptr : p.find(lhs.substr(0, dot));
  if (!t || rhs.empty()) return false;
  auto axis_of = [&](const std::string& name) -> int {
    for (std::size_t a = 0; a < t->axes.size(); ++a) {
      if (t->axes[a] == name) return static_cast<int>(a);
    }
    return -1;
  };
  const int along = axis_of(lhs.substr(dot + 1));
  if (along < 0) return false;
  std::vector<double> offset(t->axes.size(), std::nan(""));
  std::size_t start = 0;
  while (start <= rhs.size()) {
    const auto star = rhs.find('*', start);
    const std::string factor = rhs.substr(start, star == std::string::npos ? std::string::npos : star - start);
    const auto plus = factor.find('+');
    const int a = axis_of(factor.substr(0, plus));
    double o = 0;
    if (plus != std::string::npos) {
      char* end = nullptr;
      o = std::strtod(factor.c_str() + plus + 1, &end);
      if (end == factor.c_str() + plus + 1 || *end != '\0' || !(o >= 0)) return false;
    }
    if (a < 0 || a == along || !std::isnan(offset[static_cast<std::size_t>(a)])) return false;
    offset[static_cast<std::size_t>(a)] = o;
    if (star == std::string::npos) break;
    start = star + 1;
  }
  t->iso_along = along;
  t->iso_offset = offset;
  return true;
}

}  // namespace masim::calibrate
