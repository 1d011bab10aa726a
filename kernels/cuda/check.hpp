// Error checking for CUDA, cuBLAS, cuBLASLt and NCCL calls: a failure throws
// DeviceError whose message carries file:line, the call and the library's own
// message (masim-calibrate turns it into exit code 3).
//
//   MASIM_CUDA_CHECK(cudaMalloc(&p, bytes));
//   MASIM_CUBLAS_CHECK(cublasGemmEx(...));
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace masim::kernels::cuda {

class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line);
[[noreturn]] void throw_device_error(const std::string& what, const char* file, int line);
const char* cublas_status_name(cublasStatus_t s);

}  // namespace masim::kernels::cuda

#define MASIM_CUDA_CHECK(call)                                                          \
  do {                                                                                  \
    const cudaError_t masim_e_ = (call);                                                \
    if (masim_e_ != cudaSuccess) [[unlikely]]                                           \
      ::masim::kernels::cuda::throw_cuda_error(masim_e_, #call, __FILE__, __LINE__);    \
  } while (0)

#define MASIM_CUBLAS_CHECK(call)                                                        \
  do {                                                                                  \
    const cublasStatus_t masim_s_ = (call);                                             \
    if (masim_s_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                 \
      ::masim::kernels::cuda::throw_cublas_error(masim_s_, #call, __FILE__, __LINE__);  \
  } while (0)

// After a kernel launch: the launch error, if any.
#define MASIM_CUDA_CHECK_LAUNCH() MASIM_CUDA_CHECK(cudaGetLastError())
