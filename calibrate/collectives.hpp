// NCCL collectives for the profile (nccl-tests conventions, doc/PERFORMANCE.md):
// all_reduce, all_gather, reduce_scatter, all_to_all, send_recv (a ring of
// sends), and MA Separation's many-to-many token exchange (ma_exchange: the
// first half of the ranks send equal shares to every rank of the second half),
// from 8 B to 1 GiB per rank. Each size is checked (exact small-integer fp32
// data) before it is timed; algbw = bytes / time and
//   busbw = algbw · 2(n−1)/n (all_reduce), · (n−1)/n (all_gather,
//   reduce_scatter, all_to_all), · 1 (send_recv, ma_exchange).
// `bytes` is the per-rank buffer: the all_reduce / all_to_all / send_recv
// buffer, all_gather's output, reduce_scatter's input (nccl-tests' "size").
//
// One process per GPU: run_collectives_multi forks one child per local GPU
// (the parent only makes the NCCL unique id) or, built with MPI and started by
// mpirun, uses MPI ranks across nodes.
//
//   auto tables = single_process_collectives(dev, /*quick=*/false);   // ranks = 1
#pragma once

#include <string>
#include <vector>

#include "calibrate/device.hpp"
#include "sim/profile/profile.hpp"

namespace masim::calibrate {

struct CollectiveOptions {
  int ranks = 0;              // 0: every visible GPU
  bool quick = false;
  bool use_mpi = false;
  std::string out;            // JSON file with the tables (rank 0 writes it)
  double max_bytes = 1073741824.0;
  std::vector<std::string> arguments;  // the command line (recorded in the output's provenance)
};

// Communicator of size 1 on `dev` (what a one-GPU machine can measure).
std::vector<profile::CollectiveTable> single_process_collectives(Device& dev, bool quick);

// Communicator over several GPUs, one process each. Returns the exit code.
int run_collectives_multi(const CollectiveOptions& opt, int argc, char** argv);

}  // namespace masim::calibrate
