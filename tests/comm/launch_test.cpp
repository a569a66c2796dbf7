#include <doctest/doctest.h>

#include <map>
#include <string>

#include <decent/comm/launch.hpp>

using namespace decent;

namespace {
comm::launch_info detect(const std::map<std::string, std::string>& env) {
  return comm::detect_launch([&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}
}  // namespace

TEST_CASE("launch: rank and size from mpirun, PMI, srun or torchrun variables, in that order") {
  const auto none = detect({});
  CHECK(none.rank == 0);
  CHECK(none.size == 1);
  CHECK(none.launcher == "none");
  const auto torch = detect({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}});
  CHECK(torch.rank == 3);
  CHECK(torch.size == 8);
  CHECK(torch.local_rank == 1);
  CHECK(torch.launcher == "torchrun");
  const auto slurm = detect({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"RANK", "0"}, {"WORLD_SIZE", "2"}});
  CHECK(slurm.rank == 5);  // RANK without torchrun's own variables: srun's variables win
  // torchrun inside an srun allocation: torchrun, the inner launcher, wins.
  const auto inner = detect({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}, {"RANK", "7"},
                             {"WORLD_SIZE", "16"}, {"LOCAL_RANK", "3"}, {"LOCAL_WORLD_SIZE", "8"}});
  CHECK(inner.launcher == "torchrun");
  CHECK(inner.rank == 7);
  CHECK(inner.local_rank == 3);
  CHECK(slurm.local_rank == 0);  // SLURM_LOCALID absent
  CHECK(slurm.launcher == "srun");
  const auto ompi = detect({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                            {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
  CHECK(ompi.rank == 1);
  CHECK(ompi.launcher == "mpirun");
  const auto pmi = detect({{"PMI_RANK", "2"}, {"PMI_SIZE", "4"}, {"MPI_LOCALRANKID", "0"}});
  CHECK(pmi.launcher == "pmi");
  CHECK(pmi.size == 4);
}

TEST_CASE("launch: incomplete or inconsistent variables are errors that name the variable") {
  CHECK_THROWS_WITH_AS(detect({{"RANK", "1"}}), doctest::Contains("RANK is set but WORLD_SIZE is not"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(detect({{"RANK", "4"}, {"WORLD_SIZE", "4"}}), doctest::Contains("RANK=4 is outside [0, WORLD_SIZE=4)"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(detect({{"RANK", "x1"}, {"WORLD_SIZE", "4"}}), doctest::Contains("RANK='x1' is not a non-negative integer"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(detect({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "0"}}), doctest::Contains("SLURM_PROCID=0 is outside"),
                       invalid_argument);
  CHECK_THROWS_AS(detect({{"RANK", "1"}, {"WORLD_SIZE", "-3"}}), invalid_argument);
}
