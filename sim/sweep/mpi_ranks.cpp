#include "sim/sweep/mpi_ranks.hpp"

#include <mpi.h>

#include <cstdlib>
#include <limits>

#include "sim/io/diagnostics.hpp"

namespace masim::sweep {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw io::EnvironmentError(std::string(what) + " failed: " + std::string(msg, static_cast<std::size_t>(len)));
}

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

MpiRanks::MpiRanks(int* argc, char*** argv) {
  check(MPI_Init(argc, argv), "MPI_Init");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

MpiRanks::~MpiRanks() { MPI_Finalize(); }

std::vector<std::string> MpiRanks::gather(const std::string& text) {
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw io::EnvironmentError("a rank's sweep records exceed 2 GiB; run fewer points per rank");
  }
  const int len = static_cast<int>(text.size());
  std::vector<int> lens(rank_ == 0 ? static_cast<std::size_t>(size_) : 0);
  check(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<int> offsets;
  std::string all;
  if (rank_ == 0) {
    long long total = 0;
    for (int l : lens) {
      offsets.push_back(static_cast<int>(total));
      total += l;
    }
    if (total > std::numeric_limits<int>::max()) throw io::EnvironmentError("the sweep's records exceed 2 GiB");
    all.resize(static_cast<std::size_t>(total));
  }
  check(MPI_Gatherv(text.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> out;
  if (rank_ != 0) return out;
  for (int r = 0; r < size_; ++r) {
    out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                             static_cast<std::size_t>(lens[static_cast<std::size_t>(r)])));
  }
  return out;
}

std::uint64_t MpiRanks::sum(std::uint64_t v) {
  unsigned long long in = v, out = 0;
  check(MPI_Allreduce(&in, &out, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

}  // namespace masim::sweep
