// MPI ranks for a distributed sweep (sweep_runner.hpp's Ranks): `mpirun -np N
// masim sweep FILE` runs the points i with i mod N = rank on each rank and
// gathers every record at rank 0, which writes the same files one process
// would. Built only when CMake finds MPI (OpenMPI from Debian:
// scripts/setup.sh); MASIM_HAVE_MPI is then defined for the CLI.
//
//   if (sweep::launched_by_mpi()) {
//     sweep::MpiRanks ranks(&argc, &argv);   // MPI_Init ... MPI_Finalize
//     options.ranks = &ranks;
//   }
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/sweep/sweep_runner.hpp"

namespace masim::sweep {

// True when this process was started by mpirun/mpiexec (OpenMPI's or a PMI
// launcher's environment), so that a plain `masim sweep` never initializes MPI.
bool launched_by_mpi();

class MpiRanks final : public Ranks {
 public:
  MpiRanks(int* argc, char*** argv);
  ~MpiRanks() override;
  MpiRanks(const MpiRanks&) = delete;
  MpiRanks& operator=(const MpiRanks&) = delete;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::vector<std::string> gather(const std::string& text) override;
  std::uint64_t sum(std::uint64_t v) override;

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace masim::sweep
