// Unit-safe value types for masim.
//
// Simulated time is an integer count of picoseconds (SimTime): integer so that
// event order is exact and runs are reproducible; picoseconds so that a 1-byte
// NVLink transfer (~1 ps at 900 GB/s) still has a resolution. int64 ps covers
// about 106 days of simulated time.
//
// Bytes are an integer count; bandwidth is bytes per second (double); FLOP counts
// and FLOP rates are doubles. Decimal prefixes are decimal (GB = 1e9), binary are
// spelled GiB. Example:
//
//   SimTime t = transfer_time(Bytes{1 << 20}, Bandwidth::gb_per_s(600));   // 1.748 us
//   double us = t.us();
#pragma once

#include <cmath>
#include <compare>
#include <cstdint>
#include <limits>

namespace masim {

class SimTime {
 public:
  constexpr SimTime() = default;
  static constexpr SimTime ps(std::int64_t v) { return SimTime{v}; }
  static constexpr SimTime ns(double v) { return SimTime{round_ps(v * 1e3)}; }
  static constexpr SimTime us(double v) { return SimTime{round_ps(v * 1e6)}; }
  static constexpr SimTime ms(double v) { return SimTime{round_ps(v * 1e9)}; }
  static constexpr SimTime seconds(double v) { return SimTime{round_ps(v * 1e12)}; }
  static constexpr SimTime zero() { return SimTime{0}; }
  static constexpr SimTime max() { return SimTime{std::numeric_limits<std::int64_t>::max()}; }

  constexpr std::int64_t count_ps() const { return ps_; }
  constexpr double ns() const { return static_cast<double>(ps_) * 1e-3; }
  constexpr double us() const { return static_cast<double>(ps_) * 1e-6; }
  constexpr double ms() const { return static_cast<double>(ps_) * 1e-9; }
  constexpr double seconds() const { return static_cast<double>(ps_) * 1e-12; }

  constexpr SimTime& operator+=(SimTime o) { ps_ += o.ps_; return *this; }
  constexpr SimTime& operator-=(SimTime o) { ps_ -= o.ps_; return *this; }
  friend constexpr SimTime operator+(SimTime a, SimTime b) { return SimTime{a.ps_ + b.ps_}; }
  friend constexpr SimTime operator-(SimTime a, SimTime b) { return SimTime{a.ps_ - b.ps_}; }
  friend constexpr SimTime operator*(SimTime a, std::int64_t k) { return SimTime{a.ps_ * k}; }
  friend constexpr SimTime operator*(std::int64_t k, SimTime a) { return SimTime{a.ps_ * k}; }
  friend constexpr double operator/(SimTime a, SimTime b) {
    return static_cast<double>(a.ps_) / static_cast<double>(b.ps_);
  }
  friend constexpr auto operator<=>(SimTime, SimTime) = default;

 private:
  constexpr explicit SimTime(std::int64_t v) : ps_(v) {}
  // Rounds to the nearest picosecond, saturating at the int64 range (a cast of
  // an out-of-range double is undefined behaviour).
  static constexpr std::int64_t round_ps(double v) {
    constexpr double kLimit = 9.2e18;
    if (!(v < kLimit)) return std::numeric_limits<std::int64_t>::max();
    if (!(v > -kLimit)) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(v < 0 ? v - 0.5 : v + 0.5);
  }
  std::int64_t ps_ = 0;
};

class Bytes {
 public:
  constexpr Bytes() = default;
  constexpr explicit Bytes(std::int64_t v) : n_(v) {}
  static constexpr Bytes kib(double v) { return Bytes{static_cast<std::int64_t>(v * 1024.0)}; }
  static constexpr Bytes mib(double v) { return Bytes{static_cast<std::int64_t>(v * 1048576.0)}; }
  static constexpr Bytes gib(double v) { return Bytes{static_cast<std::int64_t>(v * 1073741824.0)}; }
  static constexpr Bytes gb(double v) { return Bytes{static_cast<std::int64_t>(v * 1e9)}; }
  constexpr std::int64_t count() const { return n_; }
  constexpr double as_double() const { return static_cast<double>(n_); }
  constexpr double gib() const { return static_cast<double>(n_) / 1073741824.0; }
  constexpr double gb() const { return static_cast<double>(n_) * 1e-9; }
  constexpr Bytes& operator+=(Bytes o) { n_ += o.n_; return *this; }
  constexpr Bytes& operator-=(Bytes o) { n_ -= o.n_; return *this; }
  friend constexpr Bytes operator+(Bytes a, Bytes b) { return Bytes{a.n_ + b.n_}; }
  friend constexpr Bytes operator-(Bytes a, Bytes b) { return Bytes{a.n_ - b.n_}; }
  friend constexpr Bytes operator*(Bytes a, std::int64_t k) { return Bytes{a.n_ * k}; }
  friend constexpr Bytes operator*(std::int64_t k, Bytes a) { return Bytes{a.n_ * k}; }
  friend constexpr auto operator<=>(Bytes, Bytes) = default;

 private:
  std::int64_t n_ = 0;
};

// Bytes per second.
class Bandwidth {
 public:
  constexpr Bandwidth() = default;
  static constexpr Bandwidth bytes_per_s(double v) { return Bandwidth{v}; }
  static constexpr Bandwidth gb_per_s(double v) { return Bandwidth{v * 1e9}; }
  static constexpr Bandwidth gbit_per_s(double v) { return Bandwidth{v * 1e9 / 8.0}; }
  constexpr double bytes_per_s() const { return v_; }
  constexpr double gb_per_s() const { return v_ * 1e-9; }
  friend constexpr Bandwidth operator*(Bandwidth a, double k) { return Bandwidth{a.v_ * k}; }
  friend constexpr Bandwidth operator*(double k, Bandwidth a) { return Bandwidth{a.v_ * k}; }
  friend constexpr auto operator<=>(Bandwidth, Bandwidth) = default;

 private:
  constexpr explicit Bandwidth(double v) : v_(v) {}
  double v_ = 0.0;
};

// Floating-point operations (a count) and FLOP/s (a rate).
class Flops {
 public:
  constexpr Flops() = default;
  constexpr explicit Flops(double v) : v_(v) {}
  constexpr double count() const { return v_; }
  constexpr Flops& operator+=(Flops o) { v_ += o.v_; return *this; }
  friend constexpr Flops operator+(Flops a, Flops b) { return Flops{a.v_ + b.v_}; }
  friend constexpr Flops operator*(Flops a, double k) { return Flops{a.v_ * k}; }
  friend constexpr auto operator<=>(Flops, Flops) = default;

 private:
  double v_ = 0.0;
};

class FlopRate {
 public:
  constexpr FlopRate() = default;
  static constexpr FlopRate per_s(double v) { return FlopRate{v}; }
  static constexpr FlopRate tflops(double v) { return FlopRate{v * 1e12}; }
  constexpr double per_s() const { return v_; }
  constexpr double tflops() const { return v_ * 1e-12; }
  friend constexpr FlopRate operator*(FlopRate a, double k) { return FlopRate{a.v_ * k}; }
  friend constexpr auto operator<=>(FlopRate, FlopRate) = default;

 private:
  constexpr explicit FlopRate(double v) : v_(v) {}
  double v_ = 0.0;
};

// Time to move `b` at `bw`, rounded up to a whole picosecond (never zero for b > 0).
inline SimTime transfer_time(Bytes b, Bandwidth bw) {
  if (b.count() <= 0) return SimTime::zero();
  const double ps = std::ceil(b.as_double() / bw.bytes_per_s() * 1e12);
  return SimTime::ps(static_cast<std::int64_t>(ps));
}

// Time to do `f` at `r`, rounded up to a whole picosecond.
inline SimTime compute_time(Flops f, FlopRate r) {
  if (f.count() <= 0) return SimTime::zero();
  return SimTime::ps(static_cast<std::int64_t>(std::ceil(f.count() / r.per_s() * 1e12)));
}

}  // namespace masim
