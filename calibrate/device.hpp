// One GPU as masim-calibrate uses it: a stream, a bump-allocated memory arena
// (one cudaMalloc, reset between measurements), cuBLAS, NVML, and the
// provenance the profile records.
//
//   Device dev(/*arena_bytes=*/64ull << 30);
//   auto* x = dev.alloc<Bf16>(n);     // valid until dev.reset()
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "calibrate/nvml.hpp"
#include "kernels/cuda/blas.hpp"
#include "sim/profile/profile.hpp"

namespace masim::calibrate {

class Device {
 public:
  // Takes `arena_bytes` of device memory (less if less is free, keeping `reserve_bytes`).
  explicit Device(std::size_t arena_bytes, std::size_t reserve_bytes = 6ull << 30);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  cudaStream_t stream() const { return stream_; }
  kernels::cuda::Blas& blas() { return *blas_; }
  Nvml& nvml() { return nvml_; }
  const cudaDeviceProp& props() const { return props_; }
  int sm_count() const { return props_.multiProcessorCount; }
  std::size_t l2_bytes() const { return static_cast<std::size_t>(props_.l2CacheSize); }

  // Arena allocation, 256-byte aligned; nullptr when the arena is exhausted.
  void* alloc_bytes(std::size_t bytes);
  template <typename T>
  T* alloc(std::size_t count) {
    return static_cast<T*>(alloc_bytes(count * sizeof(T)));
  }
  std::size_t arena_free() const { return arena_bytes_ - used_; }
  std::size_t arena_bytes() const { return arena_bytes_; }
  void reset() { used_ = 0; }

  void sync();
  // Provenance of this device and software stack (date and arguments filled by the caller).
  profile::Provenance provenance() const;

 private:
  int device_ = 0;
  cudaDeviceProp props_{};
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<kernels::cuda::Blas> blas_;
  Nvml nvml_;
  char* arena_ = nullptr;
  std::size_t arena_bytes_ = 0;
  std::size_t used_ = 0;
};

// "13.0" from 13000.
std::string cuda_version_string(int v);
// Provenance that needs no Device (no arena, cuBLAS or NVML): the GPU's name,
// UUID, SMs, L2 and memory, CUDA and NCCL versions and the host.
profile::Provenance basic_provenance(const cudaDeviceProp& props);
// ISO 8601 UTC now, e.g. "2026-11-20T10:11:12Z".
std::string utc_now();

}  // namespace masim::calibrate
