// Number formats and reproducible test inputs shared by the CUDA kernels and
// their CPU references (the same bits on host and device).
//
// bf16: the upper 16 bits of an IEEE-754 binary32, rounded to nearest even
// (NaN kept quiet). fp8 e4m3 ("E4M3FN", OCP 8-bit floating point spec v1.0,
// 2023): 1 sign, 4 exponent (bias 7), 3 mantissa bits, no infinities, max 448,
// rounded to nearest even and saturated at ±448.
//
// Inputs are a pure function of (seed, index): a splitmix64-style hash mapped
// to a float in [-1, 1) with 24 random bits, so a CPU reference can regenerate
// any element of a GPU buffer without copying it back.
//
//   std::uint16_t b = masim::kernels::float_to_bf16(1.0f);   // 0x3F80
//   float x = masim::kernels::random_uniform(/*seed=*/7, /*index=*/123);   // in [-1, 1)
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MASIM_HD __host__ __device__ __forceinline__
#else
#define MASIM_HD inline
#endif

namespace masim::kernels {

MASIM_HD std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

MASIM_HD float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Round-to-nearest-even float -> bf16 bits.
MASIM_HD std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0) {
    return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  }
  const std::uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

MASIM_HD float bf16_to_float(std::uint16_t b) { return bits_float(static_cast<std::uint32_t>(b) << 16); }

// The float that `f` becomes after a round trip through bf16.
MASIM_HD float round_bf16(float f) { return bf16_to_float(float_to_bf16(f)); }

// fp8 e4m3 bits -> float (exact).
MASIM_HD float fp8e4m3_to_float(std::uint8_t v) {
  const std::uint32_t sign = (v & 0x80u) ? 0x80000000u : 0u;
  const std::uint32_t e = (v >> 3) & 0xFu;
  const std::uint32_t m = v & 0x7u;
  if (e == 0xF && m == 0x7) return bits_float(sign | 0x7FC00000u);  // NaN
  if (e == 0) {
    // Subnormal: m · 2^-9.
    const float mag = static_cast<float>(m) * (1.0f / 512.0f);
    return sign ? -mag : mag;
  }
  // Normal: (1 + m/8) · 2^(e-7); as binary32 the exponent is e - 7 + 127.
  return bits_float(sign | ((e + 120u) << 23) | (m << 20));
}

// float -> fp8 e4m3 bits, round to nearest even, saturating at ±448.
MASIM_HD std::uint8_t float_to_fp8e4m3(float f) {
  const std::uint32_t u = float_bits(f);
  const std::uint8_t sign = (u & 0x80000000u) ? 0x80 : 0x00;
  const std::uint32_t abs_bits = u & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return static_cast<std::uint8_t>(sign | 0x7F);  // NaN
  const float a = bits_float(abs_bits);
  if (a >= 448.0f) return static_cast<std::uint8_t>(sign | 0x7E);             // saturate
  // Smallest normal is 2^-6. Below it the spacing is 2^-9: round a·512 to even.
  if (a < 0.015625f) {
    const float scaled = a * 512.0f;                    // exact (power of two)
    std::uint32_t q = static_cast<std::uint32_t>(scaled);
    const float rest = scaled - static_cast<float>(q);
    if (rest > 0.5f || (rest == 0.5f && (q & 1u))) ++q;
    // q == 8 rounds up into the smallest normal (e = 1, m = 0): bits 0x08, same encoding.
    return static_cast<std::uint8_t>(sign | q);
  }
  // Normal: keep 3 mantissa bits of binary32 (23 bits) with round to nearest even.
  const std::uint32_t exp32 = (abs_bits >> 23) & 0xFFu;  // 121..135 here
  std::uint32_t mant = abs_bits & 0x7FFFFFu;
  std::uint32_t e = exp32 - 120u;                         // e4m3 exponent field 1..15
  std::uint32_t m = mant >> 20;
  const std::uint32_t rest = mant & 0xFFFFFu;
  if (rest > 0x80000u || (rest == 0x80000u && (m & 1u))) {
    ++m;
    if (m == 8u) {
      m = 0;
      ++e;
    }
  }
  if (e > 15u || (e == 15u && m == 7u)) return static_cast<std::uint8_t>(sign | 0x7E);
  return static_cast<std::uint8_t>(sign | (e << 3) | m);
}

// splitmix64 finalizer (Steele, Lea & Flood 2014): a bijective 64-bit mix.
MASIM_HD std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1) with 24 random bits; exact in binary32.
MASIM_HD float random_uniform(std::uint64_t seed, std::uint64_t index) {
  const std::uint64_t h = mix64(index ^ mix64(seed));
  const std::uint32_t bits24 = static_cast<std::uint32_t>(h >> 40);
  return static_cast<float>(bits24) * (1.0f / 8388608.0f) - 1.0f;
}

// The value a GPU buffer filled by fill_random_bf16(seed, scale) holds at `index`.
MASIM_HD float random_bf16_value(std::uint64_t seed, std::uint64_t index, float scale) {
  return round_bf16(random_uniform(seed, index) * scale);
}
MASIM_HD float random_fp8_value(std::uint64_t seed, std::uint64_t index, float scale) {
  return fp8e4m3_to_float(float_to_fp8e4m3(random_uniform(seed, index) * scale));
}

}  // namespace masim::kernels
