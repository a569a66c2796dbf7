#pragma once
/// @file
/// @brief Where this process sits in a distributed job, read from the launcher's environment.
///
/// Recognised launchers, the innermost first (e.g. torchrun inside an `srun` allocation sets both):
/// - `torchrun` (TORCHELASTIC_RUN_ID or LOCAL_WORLD_SIZE set): RANK, WORLD_SIZE, LOCAL_RANK;
/// - Open MPI's `mpirun`: OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK;
/// - MPICH / Intel MPI (Hydra, PMI): PMI_RANK, PMI_SIZE, MPI_LOCALRANKID;
/// - Slurm's `srun`: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID;
/// - torchrun-style variables set by hand: RANK, WORLD_SIZE, LOCAL_RANK.
/// Without any of them the process is rank 0 of 1. A launcher's variables must be complete and consistent:
/// a missing size, a value that is not an integer or a rank outside [0, size) is an error naming the variable.
/// The local rank (the process's index on its machine; 0 when the launcher does not say) selects the GPU.

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include <decent/core/error.hpp>

namespace decent::comm {

/// This process's place in the job.
struct launch_info {
  int rank = 0;        ///< global rank
  int size = 1;        ///< number of processes
  int local_rank = 0;  ///< index among the processes of this machine (selects the device)
  std::string launcher = "none";  ///< "mpirun", "pmi", "srun", "torchrun" or "none"
};

/// Reads the launcher's variables through `getenv` (injectable for tests).
/// @throw invalid_argument on incomplete or inconsistent variables
inline launch_info detect_launch(const std::function<const char*(const char*)>& getenv = [](const char* name) {
  return std::getenv(name);
}) {
  struct launcher {
    const char* name;
    const char* rank;
    const char* size;
    const char* local;
    bool elastic = false;  ///< only when torchrun's own variables say it launched this process
  };
  static constexpr launcher launchers[] = {
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", true},
      {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
      {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
  };
  auto integer = [&](const char* variable) -> std::optional<int> {
    const char* text = getenv(variable);
    if (text == nullptr) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text, &end, 10);
    expects(end != text && *end == '\0' && errno == 0 && value >= 0 && value < (1L << 30), "launch: ", variable,
            "='", text, "' is not a non-negative integer");
    return static_cast<int>(value);
  };
  const bool elastic = getenv("TORCHELASTIC_RUN_ID") != nullptr || getenv("LOCAL_WORLD_SIZE") != nullptr;
  for (const launcher& l : launchers) {
    if (l.elastic && !elastic) continue;
    const std::optional<int> rank = integer(l.rank);
    if (!rank) continue;
    const std::optional<int> size = integer(l.size);
    expects(size.has_value(), "launch: ", l.rank, " is set but ", l.size, " is not");
    expects(*size >= 1 && *rank < *size, "launch: ", l.rank, "=", *rank, " is outside [0, ", l.size, "=", *size, ")");
    return launch_info{*rank, *size, integer(l.local).value_or(0), l.name};
  }
  return {};
}

}  // namespace decent::comm
