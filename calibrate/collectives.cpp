#include "calibrate/collectives.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "kernels/cuda/check.hpp"
#include "calibrate/harness.hpp"

#if MASIM_CALIBRATE_HAVE_NCCL
#include <nccl.h>
#endif
#if MASIM_CALIBRATE_HAVE_MPI
#include <mpi.h>
#endif

namespace masim::calibrate {

#if MASIM_CALIBRATE_HAVE_NCCL

namespace {

#define MASIM_NCCL_CHECK(call)                                                                            \
  do {                                                                                                    \
    const ncclResult_t masim_r_ = (call);                                                                 \
    if (masim_r_ != ncclSuccess)                                                                          \
      ::masim::kernels::cuda::throw_device_error(std::string(#call) + " failed: " + ncclGetErrorString(masim_r_), \
                                                 __FILE__, __LINE__);                                     \
  } while (0)

const char* const kNames[] = {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv", "ma_exchange"};

float value(int rank, std::int64_t i, int salt) {
  return static_cast<float>((rank + 1) * ((i + salt) % 7 + 1));
}

// One collective at one size on every rank's communicator (this process's rank).
struct Coll {
  ncclComm_t comm;
  int rank;
  int n;
  cudaStream_t stream;
  float* in;
  float* out;
  std::int64_t count;   // floats in the per-rank buffer (see header)

  // Enqueue one run of collective `c`.
  void launch(int c) const {
    switch (c) {
      case 0: MASIM_NCCL_CHECK(ncclAllReduce(in, out, count, ncclFloat, ncclSum, comm, stream)); break;
      case 1: MASIM_NCCL_CHECK(ncclAllGather(in, out, count / n, ncclFloat, comm, stream)); break;
      case 2: MASIM_NCCL_CHECK(ncclReduceScatter(in, out, count / n, ncclFloat, ncclSum, comm, stream)); break;
      case 3: {
        const std::int64_t chunk = count / n;
        MASIM_NCCL_CHECK(ncclGroupStart());
        for (int p = 0; p < n; ++p) {
          MASIM_NCCL_CHECK(ncclSend(in + p * chunk, chunk, ncclFloat, p, comm, stream));
          MASIM_NCCL_CHECK(ncclRecv(out + p * chunk, chunk, ncclFloat, p, comm, stream));
        }
        MASIM_NCCL_CHECK(ncclGroupEnd());
        break;
      }
      case 4: {
        MASIM_NCCL_CHECK(ncclGroupStart());
        MASIM_NCCL_CHECK(ncclSend(in, count, ncclFloat, (rank + 1) % n, comm, stream));
        MASIM_NCCL_CHECK(ncclRecv(out, count, ncclFloat, (rank + n - 1) % n, comm, stream));
        MASIM_NCCL_CHECK(ncclGroupEnd());
        break;
      }
      case 5: {
        // Attention ranks [0, n/2) send count/(n - n/2) floats to each expert rank.
        const int a = n / 2;
        const int e = n - a;
        const std::int64_t chunk = count / e;
        MASIM_NCCL_CHECK(ncclGroupStart());
        if (rank < a) {
          for (int p = 0; p < e; ++p) MASIM_NCCL_CHECK(ncclSend(in + p * chunk, chunk, ncclFloat, a + p, comm, stream));
        } else {
          for (int p = 0; p < a; ++p) MASIM_NCCL_CHECK(ncclRecv(out + p * chunk, chunk, ncclFloat, p, comm, stream));
        }
        MASIM_NCCL_CHECK(ncclGroupEnd());
        break;
      }
      default: break;
    }
  }

  // Expected out[i] on this rank for collective c (inputs: value(rank, i, 0)).
  bool verify(int c) const {
    std::vector<float> h(static_cast<std::size_t>(count));
    MASIM_CUDA_CHECK(cudaMemcpy(h.data(), out, sizeof(float) * h.size(), cudaMemcpyDeviceToHost));
    const std::int64_t chunk = count / n;
    const std::int64_t step = std::max<std::int64_t>(1, count / 4096);
    for (std::int64_t i = 0; i < count; i += step) {
      double want = 0;
      switch (c) {
        case 0:
          for (int r = 0; r < n; ++r) want += value(r, i, 0);
          break;
        case 1: want = value(static_cast<int>(i / chunk), i % chunk, 0); break;
        case 2:
          if (i >= chunk) continue;
          for (int r = 0; r < n; ++r) want += value(r, rank * chunk + i, 0);
          break;
        case 3: want = value(static_cast<int>(i / chunk), rank * chunk + i % chunk, 0); break;
        case 4: want = value((rank + n - 1) % n, i, 0); break;
        case 5: {
          const int a = n / 2;
          if (rank < a) continue;
          const std::int64_t ch = count / (n - a);
          if (i >= ch * a) continue;
          want = value(static_cast<int>(i / ch), (rank - a) * ch + i % ch, 0);
          break;
        }
        default: break;
      }
      if (h[static_cast<std::size_t>(i)] != static_cast<float>(want)) return false;
    }
    return true;
  }
};

double bus_factor(int c, int n) {
  switch (c) {
    case 0: return 2.0 * (n - 1) / n;
    case 1:
    case 2:
    case 3: return static_cast<double>(n - 1) / n;
    default: return 1.0;
  }
}

__attribute__((unused)) void fill_input(float* d, std::int64_t count, int rank, cudaStream_t s) {
  std::vector<float> h(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) h[static_cast<std::size_t>(i)] = value(rank, i, 0);
  MASIM_CUDA_CHECK(cudaMemcpyAsync(d, h.data(), sizeof(float) * h.size(), cudaMemcpyHostToDevice, s));
  MASIM_CUDA_CHECK(cudaStreamSynchronize(s));
}

// Measures every collective on `comm`; rank 0's tables come back.
std::vector<profile::CollectiveTable> measure_all(ncclComm_t comm, int rank, int n, cudaStream_t stream, bool quick,
                                                  double max_bytes, const std::string& launch_kind) {
  std::vector<double> sizes;
  for (double b = 8; b <= (quick ? (1 << 24) : max_bytes) * 1.0000001; b *= quick ? 16 : 2) sizes.push_back(b);
  const std::int64_t max_count = static_cast<std::int64_t>(sizes.back() / 4) + 8 * n;
  float* in = nullptr;
  float* out = nullptr;
  MASIM_CUDA_CHECK(cudaMalloc(&in, sizeof(float) * static_cast<std::size_t>(max_count)));
  MASIM_CUDA_CHECK(cudaMalloc(&out, sizeof(float) * static_cast<std::size_t>(max_count)));
  fill_input(in, max_count, rank, stream);
  std::vector<profile::CollectiveTable> tables;
  cudaEvent_t e0, e1;
  MASIM_CUDA_CHECK(cudaEventCreate(&e0));
  MASIM_CUDA_CHECK(cudaEventCreate(&e1));
  for (int c = 0; c < 6; ++c) {
    if (c == 5 && n < 2) continue;
    profile::CollectiveTable t;
    t.name = kNames[c];
    t.ranks = n;
    t.launch = launch_kind;
    for (double bytes : sizes) {
      // Element count: a multiple of n (and of the expert count for ma_exchange).
      std::int64_t count = std::max<std::int64_t>(static_cast<std::int64_t>(bytes / 4), 2LL * n);
      count = count / (2LL * n) * (2LL * n);
      Coll k{comm, rank, n, stream, in, out, count};
      MASIM_CUDA_CHECK(cudaMemsetAsync(out, 0xFF, sizeof(float) * static_cast<std::size_t>(count), stream));
      k.launch(c);
      MASIM_CUDA_CHECK(cudaStreamSynchronize(stream));
      const bool ok = k.verify(c);
      // Agree on the outcome across ranks with a one-element all-reduce (also a barrier).
      float flag = ok ? 0.0f : 1.0f;
      float* dflag = out;
      MASIM_CUDA_CHECK(cudaMemcpy(dflag, &flag, sizeof flag, cudaMemcpyHostToDevice));
      MASIM_NCCL_CHECK(ncclAllReduce(dflag, dflag, 1, ncclFloat, ncclSum, comm, stream));
      MASIM_CUDA_CHECK(cudaStreamSynchronize(stream));
      MASIM_CUDA_CHECK(cudaMemcpy(&flag, dflag, sizeof flag, cudaMemcpyDeviceToHost));
      t.bytes.push_back(static_cast<double>(count) * 4.0);
      if (flag != 0.0f) {
        t.time_us.push_back(std::numeric_limits<double>::quiet_NaN());
        t.algbw_gb_per_s.push_back(std::numeric_limits<double>::quiet_NaN());
        t.busbw_gb_per_s.push_back(std::numeric_limits<double>::quiet_NaN());
        t.status.push_back("wrong");
        continue;
      }
      // Warm up, then time batches; iterations scale down with size.
      const int iters = std::clamp(static_cast<int>(2e8 / std::max(bytes, 1e4)), 2, 50);
      for (int w = 0; w < 3; ++w) k.launch(c);
      std::vector<double> samples;
      for (int r = 0; r < 7; ++r) {
        MASIM_CUDA_CHECK(cudaEventRecord(e0, stream));
        for (int i = 0; i < iters; ++i) k.launch(c);
        MASIM_CUDA_CHECK(cudaEventRecord(e1, stream));
        MASIM_CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        MASIM_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        samples.push_back(1e3 * ms / iters);
      }
      const Timing tm = summarize_samples(samples);
      t.time_us.push_back(tm.median_us);
      const double algbw = static_cast<double>(count) * 4.0 / (tm.median_us * 1e-6) * 1e-9;
      t.algbw_gb_per_s.push_back(algbw);
      t.busbw_gb_per_s.push_back(algbw * bus_factor(c, n));
      t.status.push_back("ok");
    }
    tables.push_back(std::move(t));
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(in);
  cudaFree(out);
  return tables;
}

}  // namespace

std::vector<profile::CollectiveTable> single_process_collectives(Device& dev, bool quick) {
  ncclComm_t comm = nullptr;
  int devs[1] = {0};
  MASIM_CUDA_CHECK(cudaGetDevice(&devs[0]));
  MASIM_NCCL_CHECK(ncclCommInitAll(&comm, 1, devs));
  std::vector<profile::CollectiveTable> t;
  try {
    t = measure_all(comm, 0, 1, dev.stream(), quick, quick ? 1 << 24 : 1073741824.0, "single process");
  } catch (...) {
    ncclCommDestroy(comm);
    throw;
  }
  ncclCommDestroy(comm);
  return t;
}

namespace {

int rank_main(int rank, int n, int local_device, const ncclUniqueId& id, const CollectiveOptions& opt,
              const std::string& launch_kind) {
  MASIM_CUDA_CHECK(cudaSetDevice(local_device));
  cudaStream_t stream;
  MASIM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  ncclComm_t comm;
  MASIM_NCCL_CHECK(ncclCommInitRank(&comm, n, id, rank));
  auto tables = measure_all(comm, rank, n, stream, opt.quick, opt.max_bytes, launch_kind);
  ncclCommDestroy(comm);
  cudaStreamDestroy(stream);
  if (rank == 0) {
    profile::Profile p;
    cudaDeviceProp props{};
    MASIM_CUDA_CHECK(cudaGetDeviceProperties(&props, local_device));
    p.provenance = basic_provenance(props);
    p.provenance.date_utc = utc_now();
    p.provenance.arguments = opt.arguments;
    p.collectives = tables;
    for (const auto& t : tables) {
      for (std::size_t i = 0; i < t.bytes.size(); ++i) {
        std::printf("%-14s ranks %d %12.0f B  %10.2f us  algbw %8.2f GB/s  busbw %8.2f GB/s  %s\n", t.name.c_str(),
                    t.ranks, t.bytes[i], t.time_us[i], t.algbw_gb_per_s[i], t.busbw_gb_per_s[i],
                    t.status[i].c_str());
      }
    }
    if (!opt.out.empty()) profile::write_profile(p, opt.out);
  }
  return 0;
}

}  // namespace

int run_collectives_multi(const CollectiveOptions& opt, int argc, char** argv) {
  (void)argc;
  (void)argv;
#if MASIM_CALIBRATE_HAVE_MPI
  if (opt.use_mpi) {
    MPI_Init(&argc, &argv);
    int rank = 0, n = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
    int local_rank = 0;
    MPI_Comm_rank(local, &local_rank);
    ncclUniqueId id;
    if (rank == 0) MASIM_NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
    int rc = 0;
    try {
      rc = rank_main(rank, n, local_rank, id, opt, "mpi");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
    MPI_Finalize();
    return rc;
  }
#else
  if (opt.use_mpi) {
    std::fprintf(stderr, "masim-calibrate was built without MPI\n");
    return 3;
  }
#endif
  // One process per local GPU: the parent must not touch CUDA before forking.
  int n = opt.ranks;
  if (n <= 0) {
    // Counting devices initializes CUDA in a throwaway child, keeping the parent clean.
    int fds[2];
    if (pipe(fds) != 0) return 3;
    const pid_t c = fork();
    if (c == 0) {
      int count = 0;
      if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
      if (write(fds[1], &count, sizeof count) != sizeof count) _exit(3);
      _exit(0);
    }
    int count = 0;
    if (read(fds[0], &count, sizeof count) != sizeof count) count = 0;
    waitpid(c, nullptr, 0);
    close(fds[0]);
    close(fds[1]);
    n = count;
  }
  if (n < 1) {
    std::fprintf(stderr, "no GPU visible\n");
    return 3;
  }
  ncclUniqueId id;
  MASIM_NCCL_CHECK(ncclGetUniqueId(&id));
  std::vector<pid_t> kids;
  for (int r = 0; r < n; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      int rc = 3;
      try {
        rc = rank_main(r, n, r, id, opt, "one process per GPU");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: %s\n", r, e.what());
      }
      std::fflush(stdout);
      _exit(rc);
    }
    kids.push_back(pid);
  }
  int worst = 0;
  for (pid_t k : kids) {
    int st = 0;
    waitpid(k, &st, 0);
    const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
    worst = std::max(worst, rc);
  }
  return worst;
}

#else  // no NCCL

std::vector<profile::CollectiveTable> single_process_collectives(Device&, bool) {
  throw io::EnvironmentError("masim-calibrate was built without NCCL");
}

int run_collectives_multi(const CollectiveOptions&, int, char**) {
  std::fprintf(stderr, "masim-calibrate was built without NCCL\n");
  return 3;
}

#endif

}  // namespace masim::calibrate
