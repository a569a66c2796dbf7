#pragma once
/// @file
/// @brief An NCCL communicator bootstrapped through MPI: rank 0 creates the unique id and broadcasts it
/// (targets `decent::nccl` and `decent::mpi`).

#include <mpi.h>

#include <decent/comm/nccl.hpp>
#include <decent/core/error.hpp>

namespace decent::comm {

/// The NCCL communicator over the ranks of `comm` (collective), on the current CUDA device and `stream`.
[[nodiscard]] inline nccl make_nccl(MPI_Comm comm = MPI_COMM_WORLD, cudaStream_t stream = nullptr,
                                    nccl_options options = {}) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  ncclUniqueId id{};
  if (rank == 0) id = nccl_unique_id();
  expects<comm_error>(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm) == MPI_SUCCESS, "rank ", rank,
                      ": broadcasting the NCCL unique id with MPI failed");
  return nccl(id, rank, size, stream, options);
}

}  // namespace decent::comm
