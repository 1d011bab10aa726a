#include "sim/io/quantity.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

namespace masim::io {
namespace {

struct Unit {
  std::string_view name;
  double factor;
};

constexpr std::array kTimeUnits{Unit{"ps", 1e-12}, Unit{"ns", 1e-9}, Unit{"us", 1e-6},
                                Unit{"\xC2\xB5s", 1e-6}, Unit{"ms", 1e-3}, Unit{"s", 1.0},
                                Unit{"min", 60.0},      Unit{"h", 3600.0},  Unit{"d", 86400.0}};
constexpr std::array kByteUnits{
    Unit{"B", 1.0},           Unit{"KB", 1e3},          Unit{"kB", 1e3},
    Unit{"MB", 1e6},          Unit{"GB", 1e9},          Unit{"TB", 1e12},
    Unit{"KiB", 1024.0},      Unit{"MiB", 1048576.0},   Unit{"GiB", 1073741824.0},
    Unit{"TiB", 1099511627776.0}};
constexpr std::array kBandwidthUnits{
    Unit{"B/s", 1.0},          Unit{"KB/s", 1e3},          Unit{"kB/s", 1e3},
    Unit{"MB/s", 1e6},         Unit{"GB/s", 1e9},          Unit{"TB/s", 1e12},
    Unit{"KiB/s", 1024.0},     Unit{"MiB/s", 1048576.0},   Unit{"GiB/s", 1073741824.0},
    Unit{"b/s", 0.125},        Unit{"Kb/s", 125.0},        Unit{"Mb/s", 1.25e5},
    Unit{"Gb/s", 1.25e8},      Unit{"Tb/s", 1.25e11},      Unit{"Gbit/s", 1.25e8},
    Unit{"Gbps", 1.25e8}};
constexpr std::array kFlopUnits{Unit{"FLOP/s", 1.0},     Unit{"GFLOP/s", 1e9},
                                Unit{"TFLOP/s", 1e12},   Unit{"PFLOP/s", 1e15},
                                Unit{"GFLOPS", 1e9},     Unit{"TFLOPS", 1e12},
                                Unit{"PFLOPS", 1e15}};
constexpr std::array kPowerUnits{Unit{"mW", 1e-3}, Unit{"W", 1.0}, Unit{"kW", 1e3}};
constexpr std::array kFrequencyUnits{Unit{"Hz", 1.0}, Unit{"kHz", 1e3}, Unit{"MHz", 1e6},
                                     Unit{"GHz", 1e9}};

template <std::size_t N>
bool lookup(const std::array<Unit, N>& units, std::string_view u, double& factor) {
  for (const auto& unit : units) {
    if (unit.name == u) {
      factor = unit.factor;
      return true;
    }
  }
  return false;
}

bool lookup_dim(Dimension dim, std::string_view u, double& factor) {
  switch (dim) {
    case Dimension::kTime: return lookup(kTimeUnits, u, factor);
    case Dimension::kBytes: return lookup(kByteUnits, u, factor);
    case Dimension::kBandwidth: return lookup(kBandwidthUnits, u, factor);
    case Dimension::kFlopRate: return lookup(kFlopUnits, u, factor);
    case Dimension::kPower: return lookup(kPowerUnits, u, factor);
    case Dimension::kFrequency: return lookup(kFrequencyUnits, u, factor);
  }
  return false;
}

}  // namespace

std::string dimension_example(Dimension dim) {
  switch (dim) {
    case Dimension::kTime: return "a time such as \"1.5 us\"";
    case Dimension::kBytes: return "a size such as \"80 GiB\"";
    case Dimension::kBandwidth: return "a bandwidth such as \"600 GB/s\"";
    case Dimension::kFlopRate: return "a rate such as \"312 TFLOP/s\"";
    case Dimension::kPower: return "a power such as \"400 W\"";
    case Dimension::kFrequency: return "a frequency such as \"1410 MHz\"";
  }
  return "a quantity";
}

QuantityResult parse_quantity(std::string_view text, Dimension dim) {
  QuantityResult r;
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  const char* begin = text.data() + i;
  const char* end = text.data() + text.size();
  double v = 0.0;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc{} || ptr == begin) {
    r.error = "expected " + dimension_example(dim) + ", found \"" + std::string(text) + "\"";
    return r;
  }
  std::string_view rest(ptr, static_cast<std::size_t>(end - ptr));
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) rest.remove_suffix(1);
  if (rest.empty()) {
    r.error = "expected " + dimension_example(dim) + ", found \"" + std::string(text) +
              "\" (a unit is required)";
    return r;
  }
  double factor = 0.0;
  if (!lookup_dim(dim, rest, factor)) {
    r.error = "unknown unit \"" + std::string(rest) + "\"; expected " + dimension_example(dim);
    return r;
  }
  if (!std::isfinite(v)) {
    r.error = "expected a finite number, found \"" + std::string(text) + "\"";
    return r;
  }
  r.ok = true;
  r.value = v * factor;
  return r;
}

}  // namespace masim::io
