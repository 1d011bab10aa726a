#include "calibrate/device.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "kernels/cuda/check.hpp"

#if MASIM_CALIBRATE_HAVE_NCCL
#include <nccl.h>
#endif

namespace masim::calibrate {

std::string cuda_version_string(int v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d.%d", v / 1000, (v % 1000) / 10);
  return buf;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Device::Device(std::size_t arena_bytes, std::size_t reserve_bytes) {
  MASIM_CUDA_CHECK(cudaGetDevice(&device_));
  MASIM_CUDA_CHECK(cudaGetDeviceProperties(&props_, device_));
  MASIM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  blas_ = std::make_unique<kernels::cuda::Blas>(stream_);
  char bus[32] = {0};
  if (cudaDeviceGetPCIBusId(bus, sizeof bus, device_) == cudaSuccess) nvml_.select_by_pci_bus_id(bus);
  std::size_t free_b = 0, total_b = 0;
  MASIM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const std::size_t can = free_b > reserve_bytes ? free_b - reserve_bytes : 0;
  arena_bytes_ = std::min(arena_bytes, can);
  if (arena_bytes_ > 0) MASIM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&arena_), arena_bytes_));
}

Device::~Device() {
  if (arena_) cudaFree(arena_);
  blas_.reset();
  if (stream_) cudaStreamDestroy(stream_);
}

void* Device::alloc_bytes(std::size_t bytes) {
  const std::size_t aligned = (bytes + 255) / 256 * 256;
  if (used_ + aligned > arena_bytes_) return nullptr;
  void* p = arena_ + used_;
  used_ += aligned;
  return p;
}

void Device::sync() { MASIM_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

profile::Provenance basic_provenance(const cudaDeviceProp& props) {
  profile::Provenance p;
  p.gpu_name = props.name;
  char uuid[64];
  const unsigned char* u = reinterpret_cast<const unsigned char*>(props.uuid.bytes);
  std::snprintf(uuid, sizeof uuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  p.gpu_uuid = uuid;
  p.sm_count = props.multiProcessorCount;
  p.l2_bytes = static_cast<double>(props.l2CacheSize);
  p.hbm_bytes = static_cast<double>(props.totalGlobalMem);
  int v = 0;
  if (cudaRuntimeGetVersion(&v) == cudaSuccess) p.cuda_runtime_version = cuda_version_string(v);
  if (cudaDriverGetVersion(&v) == cudaSuccess) p.cuda_driver_version = cuda_version_string(v);
#if MASIM_CALIBRATE_HAVE_NCCL
  if (ncclGetVersion(&v) == ncclSuccess) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%d.%d.%d", v / 10000, (v / 100) % 100, v % 100);
    p.nccl_version = buf;
  }
#endif
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) p.host = host;
  return p;
}

profile::Provenance Device::provenance() const {
  profile::Provenance p = basic_provenance(props_);
  p.cublas_version = blas_->version();
  p.driver_version = nvml_.driver_version();
  auto put = [&](const char* key, std::optional<unsigned> mhz) {
    if (mhz) p.clocks_mhz[key] = *mhz;
  };
  put("sm_max", nvml_.clock_mhz(1, true));
  put("mem_max", nvml_.clock_mhz(2, true));
  put("sm_at_start", nvml_.clock_mhz(1, false));
  put("mem_at_start", nvml_.clock_mhz(2, false));
  return p;
}

}  // namespace masim::calibrate
