// NCCL across processes, bootstrapped with MPI: `mpirun -np 2`, one GPU per rank (exit 77 on every rank when
// there are fewer GPUs than ranks: ctest reports "Skipped"). Gossip on device parameters over NCCL must match the
// host in-process run of the same workers.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/comm/nccl_mpi.hpp>
#include <decent/exec/cuda.cuh>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

/// x⁰_i[k] = sin(1 + 3i + 0.7k); `steps` local SGD steps toward b_i[k] = cos(2i + k), each followed by mix().
template <class Exec, class Comm, class Make>
std::vector<double> run_worker(Comm comm, int steps, Make make) {
  const int rank = comm.rank();
  const std::size_t d = 40;
  std::vector<double> x(d);
  for (std::size_t k = 0; k < d; ++k) x[k] = std::sin(1.0 + 3.0 * rank + 0.7 * static_cast<double>(k));
  Exec ex;
  auto device = ex.template allocate<double>(d);
  ex.upload(device.data(), x.data(), d);
  auto algo = make(std::move(comm), parameters<double>::packed(device.data(), parameter_layout{{8, 5}}, Exec::space));
  for (int t = 0; t < steps; ++t) {
    ex.download(x.data(), device.data(), d);
    for (std::size_t k = 0; k < d; ++k) x[k] -= 0.1 * (x[k] - std::cos(2.0 * rank + static_cast<double>(k)));
    ex.upload(device.data(), x.data(), d);
    ex.synchronize();
    algo.mix();
  }
  ex.download(x.data(), device.data(), d);
  return x;
}

}  // namespace

TEST_CASE("nccl across ranks: gossip and relaysgd on device parameters match the host in-process run") {
  const int n = world_size();
  const topology::graph g = n >= 3 ? topology::ring(n) : topology::chain(n);
  auto gossip_on = [&](auto c, parameters<double> p) {
    using Exec = std::conditional_t<std::is_same_v<decltype(c), comm::nccl>, exec::cuda, exec::host>;
    return gossip<topology::graph, decltype(c), Exec, double>(g, std::move(c), p);
  };
  auto relay_on = [&](auto c, parameters<double> p) {
    using Exec = std::conditional_t<std::is_same_v<decltype(c), comm::nccl>, exec::cuda, exec::host>;
    return relaysgd<topology::graph, decltype(c), Exec, double>(topology::chain(n), std::move(c), p);
  };
  std::vector<std::vector<double>> gossip_reference(static_cast<std::size_t>(n)), relay_reference(gossip_reference);
  sim::cluster(n).run([&](comm::inprocess c) {
    const auto rank = static_cast<std::size_t>(c.rank());
    gossip_reference[rank] = run_worker<exec::host>(std::move(c), 10, gossip_on);
  });
  sim::cluster(n).run([&](comm::inprocess c) {
    const auto rank = static_cast<std::size_t>(c.rank());
    relay_reference[rank] = run_worker<exec::host>(std::move(c), 10, relay_on);
  });
  const auto mine = run_worker<exec::cuda>(comm::make_nccl(), 10, gossip_on);
  const auto relayed = run_worker<exec::cuda>(comm::make_nccl(), 10, relay_on);
  const auto me = static_cast<std::size_t>(world_rank());
  for (std::size_t k = 0; k < mine.size(); ++k) {
    CHECK(mine[k] == doctest::Approx(gossip_reference[me][k]).epsilon(1e-12));
    CHECK(relayed[k] == doctest::Approx(relay_reference[me][k]).epsilon(1e-12));
  }
}

TEST_CASE("nccl across ranks: a stalled peer is an error within the deadline") {
  comm::nccl_options o;
  o.deadline = std::chrono::milliseconds(500);
  comm::nccl c = comm::make_nccl(MPI_COMM_WORLD, nullptr, o);
  if (world_size() < 2) return;
  exec::cuda ex;
  auto buffer = ex.allocate<double>(4);
  const int me = world_rank();
  if (me == 1) {
    MPI_Barrier(MPI_COMM_WORLD);  // rank 0 has failed and aborted its communicator by now
    return;
  }
  if (me == 0) {
    const comm::recv_op recv{1, buffer.data(), 4 * sizeof(double), 0};
    CHECK_THROWS_WITH_AS(c.exchange({}, std::span(&recv, 1)), doctest::Contains("a peer stalled or died"), comm_error);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
  int fewest = devices;
  MPI_Allreduce(&devices, &fewest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  int result = 77;
  if (fewest >= world_size()) {
    (void)cudaSetDevice(world_rank() % devices);
    doctest::Context context(argc, argv);
    result = context.run();
  } else if (world_rank() == 0) {
    std::printf("%d GPU(s) for %d ranks: skipping the multi-rank NCCL tests\n", fewest, world_size());
  }
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
