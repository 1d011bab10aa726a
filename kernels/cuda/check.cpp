#include "kernels/cuda/check.hpp"

#include <cstdio>

namespace masim::kernels::cuda {

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, "%s:%d: %s failed: %s (%s)", file, line, call, cudaGetErrorString(e),
                cudaGetErrorName(e));
  throw DeviceError(buf);
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, "%s:%d: %s failed: %s (%d)", file, line, call, cublas_status_name(s),
                static_cast<int>(s));
  throw DeviceError(buf);
}

void throw_device_error(const std::string& what, const char* file, int line) {
  throw DeviceError(std::string(file) + ":" + std::to_string(line) + ": " + what);
}

}  // namespace masim::kernels::cuda
