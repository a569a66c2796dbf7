// The MPI communicator, run by ctest under `mpirun -np 2` and `-np 4`. Every rank runs the same doctest cases;
// a failure on any rank fails the run. References come from the in-process communicator: each process simulates
// the whole world in threads and compares its own rank's result bit for bit.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <mpi.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/algorithm/allreduce.hpp>
#include <decent/algorithm/choco.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/powergossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/comm/launch.hpp>
#include <decent/comm/mpi.hpp>
#include <decent/compress/sign.hpp>
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

const parameter_layout layout{{6, 5}, {4}, {3, 2, 2}};

/// Worker `rank`'s run: x⁰_i[k] = sin(1 + 3i + 0.7k); each step a local SGD step on f_i(x) = ½‖x − b_i‖²
/// (b_i[k] = cos(2i + k)), then `mix`. `make(comm, params)` builds the algorithm.
template <class Comm, class Make>
std::vector<double> run_worker(Comm comm, int steps, Make make) {
  const int rank = comm.rank();
  std::vector<double> x(layout.numel());
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::sin(1.0 + 3.0 * rank + 0.7 * static_cast<double>(k));
  auto algo = make(std::move(comm), parameters<double>::packed(x.data(), layout));
  for (int t = 0; t < steps; ++t) {
    for (std::size_t k = 0; k < x.size(); ++k) x[k] -= 0.1 * (x[k] - std::cos(2.0 * rank + static_cast<double>(k)));
    algo.mix();
  }
  return x;
}

/// This rank's x from the MPI run and from an in-process run of the whole world.
template <class Make>
void check_same_as_inprocess(int steps, Make make) {
  const int n = world_size();
  std::vector<std::vector<double>> reference(static_cast<std::size_t>(n));
  sim::cluster(n).run([&](comm::inprocess c) {
    const int rank = c.rank();
    reference[static_cast<std::size_t>(rank)] = run_worker(std::move(c), steps, make);
  });
  const std::vector<double> mine = run_worker(comm::mpi(MPI_COMM_WORLD), steps, make);
  CHECK(mine == reference[static_cast<std::size_t>(world_rank())]);
}

topology::graph graph_for(int n) { return n >= 3 ? topology::ring(n) : topology::chain(n); }

}  // namespace

TEST_CASE("mpi: the launch environment of mpirun gives MPI's rank and size") {
  const comm::launch_info launch = comm::detect_launch();
  CHECK(launch.launcher == "mpirun");
  CHECK(launch.rank == world_rank());
  CHECK(launch.size == world_size());
  CHECK(launch.local_rank == world_rank());  // one machine
}

TEST_CASE("mpi: a batch of sends and receives, counters, a barrier") {
  const int n = world_size(), me = world_rank();
  comm::mpi c;
  CHECK(c.rank() == me);
  CHECK(c.size() == n);
  const int right = (me + 1) % n, left = (me + n - 1) % n;
  std::vector<double> out = {1.0 * me, 2.0 * me, 3.0 * me}, from_left(3), tagged(1);
  const double marker = 100.0 + me;
  const comm::send_op sends[] = {{right, out.data(), 3 * sizeof(double), 0}, {right, &marker, sizeof(double), 7}};
  const comm::recv_op recvs[] = {{left, tagged.data(), sizeof(double), 7}, {left, from_left.data(), 3 * sizeof(double), 0}};
  c.exchange(sends, recvs);
  CHECK(from_left == std::vector<double>{1.0 * left, 2.0 * left, 3.0 * left});
  CHECK(tagged[0] == 100.0 + left);
  CHECK(c.stats() == comm::counters{4 * sizeof(double), 2, 4 * sizeof(double), 2});
  c.barrier();
}

TEST_CASE("mpi: allreduce_sum equals the in-process communicator's, bit for bit") {
  const int n = world_size();
  for (const std::size_t count : {std::size_t{1}, std::size_t{3}, std::size_t{1001}}) {
    auto value = [](int rank, std::size_t k) { return std::sin(0.1 + rank * 1.3 + static_cast<double>(k)) * 1e3; };
    std::vector<std::vector<double>> reference(static_cast<std::size_t>(n));
    std::vector<std::vector<float>> reference_f(static_cast<std::size_t>(n));
    sim::cluster(n).run([&](comm::inprocess c) {
      auto& v = reference[static_cast<std::size_t>(c.rank())];
      auto& f = reference_f[static_cast<std::size_t>(c.rank())];
      for (std::size_t k = 0; k < count; ++k) {
        v.push_back(value(c.rank(), k));
        f.push_back(static_cast<float>(value(c.rank(), k)));
      }
      c.allreduce_sum(v.data(), count);
      c.allreduce_sum(f.data(), count);
    });
    comm::mpi c;
    std::vector<double> v;
    std::vector<float> f;
    for (std::size_t k = 0; k < count; ++k) {
      v.push_back(value(c.rank(), k));
      f.push_back(static_cast<float>(value(c.rank(), k)));
    }
    c.allreduce_sum(v.data(), count);
    c.allreduce_sum(f.data(), count);
    CHECK(v == reference[static_cast<std::size_t>(c.rank())]);
    CHECK(f == reference_f[static_cast<std::size_t>(c.rank())]);
    CHECK(c.stats().bytes_sent == (2 * static_cast<std::uint64_t>(n - 1) * count * 8 / static_cast<std::uint64_t>(n)) +
                                      (2 * static_cast<std::uint64_t>(n - 1) * count * 4 / static_cast<std::uint64_t>(n)));
  }
}

TEST_CASE("mpi: every synchronous algorithm gives the in-process result bit for bit (f64, host)") {
  const int n = world_size();
  const topology::graph g = graph_for(n);
  SUBCASE("allreduce") {
    check_same_as_inprocess(5, [](auto c, parameters<double> p) {
      return allreduce<decltype(c), exec::host, double>(std::move(c), p, {}, exec::host(1));
    });
  }
  SUBCASE("gossip") {
    check_same_as_inprocess(8, [&](auto c, parameters<double> p) {
      return gossip<topology::graph, decltype(c), exec::host, double>(g, std::move(c), p, {}, exec::host(1));
    });
  }
  SUBCASE("relaysgd") {
    const topology::graph tree = topology::chain(n);
    check_same_as_inprocess(8, [&](auto c, parameters<double> p) {
      return relaysgd<topology::graph, decltype(c), exec::host, double>(tree, std::move(c), p, {}, exec::host(1));
    });
  }
  SUBCASE("powergossip") {
    powergossip_options o;
    o.compression.rank = 2;
    o.compression.iterations = 2;
    check_same_as_inprocess(8, [&](auto c, parameters<double> p) {
      return powergossip<topology::graph, decltype(c), exec::host, double>(g, std::move(c), p, o, exec::host(1));
    });
  }
  SUBCASE("choco with sign compression") {
    choco_options<compress::sign<exec::host, double>::options> o;
    o.gamma = 0.3;
    check_same_as_inprocess(8, [&](auto c, parameters<double> p) {
      return choco<topology::graph, decltype(c), compress::sign<exec::host, double>>(g, std::move(c), p, o,
                                                                                  exec::host(1));
    });
  }
}

namespace {
template <class C>
using async_on = async_gossip<topology::graph, C, exec::host, double>;
template <class C>
using acid_on = a2cid2<topology::graph, C, exec::host, double>;

template <template <class> class Algorithm>
void check_async_same_as_inprocess() {
  REQUIRE(comm::mpi::threads_serialized());
  const int n = world_size();
  const topology::graph g = graph_for(n);
  auto run = [&](auto c) {
    const int rank = c.rank();
    std::vector<double> x(layout.numel()), grad(layout.numel());
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::sin(1.0 + 3.0 * rank + 0.7 * static_cast<double>(k));
    async_options o;
    o.rate = 1.5;
    o.lr = 0.05;
    o.seed = 11;
    o.step_time = true;
    Algorithm<decltype(c)> algo(g, std::move(c), parameters<double>::packed(x.data(), layout), o, exec::host(1),
                                exec::host(1));
    algo.start();
    for (int t = 0; t < 100; ++t) {
      for (std::size_t k = 0; k < x.size(); ++k) grad[k] = x[k] - std::cos(2.0 * rank + static_cast<double>(k));
      algo.step(grad);
    }
    algo.stop();
    return x;
  };
  std::vector<std::vector<double>> reference(static_cast<std::size_t>(n));
  sim::cluster(n).run([&](comm::inprocess c) {
    const int rank = c.rank();
    reference[static_cast<std::size_t>(rank)] = run(std::move(c));
  });
  CHECK(run(comm::mpi(MPI_COMM_WORLD)) == reference[static_cast<std::size_t>(world_rank())]);
}
}  // namespace

TEST_CASE("mpi: asynchronous gossip, and a2cid2 with step time, give the in-process result bit for bit") {
  check_async_same_as_inprocess<async_on>();
  check_async_same_as_inprocess<acid_on>();
}

TEST_CASE("mpi: ranks that disagree on the topology or the layout all report it") {
  const int n = world_size(), me = world_rank();
  std::vector<double> x(12, 1.0);
  if (n >= 3) {
    gossip<topology::graph, comm::mpi, exec::host, double> g(me == 1 ? topology::chain(n) : topology::ring(n),
                                                            comm::mpi(), {{x.data(), {12}}}, {}, exec::host(1));
    CHECK_THROWS_WITH_AS(g.mix(), doctest::Contains(n == 4 ? "the workers disagree on the topology (ranks 0, 2, 3 vs rank 1) —"
                                                           : "the workers disagree on the topology ("),
                         comm_error);
  }
  gossip<topology::graph, comm::mpi, exec::host, double> g(graph_for(n), comm::mpi(),
                                                          {{x.data(), {me == 0 ? 3 : 4, 3}}}, {}, exec::host(1));
  CHECK_THROWS_WITH_AS(g.mix(),
                       doctest::Contains(n == 2 ? "the workers disagree on the parameter layout (rank 0: [3x3] packed; "
                                                  "rank 1: [4x3] packed)"
                                                : "the workers disagree on the parameter layout (rank 0: [3x3] packed; "
                                                  "ranks 1, 2, 3: [4x3] packed)"),
                       comm_error);
  // The check is not counted as payload, and agreeing ranks pass it.
  gossip<topology::graph, comm::mpi, exec::host, double> ok(graph_for(n), comm::mpi(), {{x.data(), {12}}}, {},
                                                           exec::host(1));
  ok.mix();
  CHECK(ok.communicator().stats().bytes_sent == graph_for(n).neighbors(me).size() * 12 * sizeof(double));
}

TEST_CASE("mpi: a2cid2 on a communication thread ends with one averaged model on every rank") {
  const int n = world_size();
  std::vector<double> x(layout.numel()), grad(layout.numel());
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::sin(1.0 + 3.0 * world_rank() + 0.7 * static_cast<double>(k));
  a2cid2<topology::graph, comm::mpi, exec::host, double> algo(graph_for(n), comm::mpi(),
                                                             parameters<double>::packed(x.data(), layout), {},
                                                             exec::host(1), exec::host(1));
  algo.start();
  for (int t = 0; t < 100; ++t) {
    for (std::size_t k = 0; k < x.size(); ++k) grad[k] = x[k] - std::cos(2.0 * world_rank() + static_cast<double>(k));
    algo.step(grad);
  }
  algo.stop();
  CHECK(algo.exchanges() > 50);
  std::vector<double> first = x;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  CHECK(x == first);  // the final average is bit-identical everywhere
}

TEST_CASE("mpi: a receive of the wrong size is an error on the receiving rank") {
  const int n = world_size(), me = world_rank();
  comm::mpi c;
  if (n < 2 || me > 1) return;
  std::vector<double> buffer(4, 1.0);
  if (me == 0) {
    const comm::send_op shorter{1, buffer.data(), 2 * sizeof(double), 3};
    c.exchange(std::span(&shorter, 1), {});
    const comm::send_op longer{1, buffer.data(), 4 * sizeof(double), 4};
    c.exchange(std::span(&longer, 1), {});
  } else {
    const comm::recv_op recv{0, buffer.data(), 4 * sizeof(double), 3};
    CHECK_THROWS_WITH_AS(c.exchange({}, std::span(&recv, 1)), doctest::Contains("expected 32 bytes from rank 0"),
                         comm_error);
    const comm::recv_op small{0, buffer.data(), 2 * sizeof(double), 4};  // MPI truncation
    CHECK_THROWS_WITH_AS(c.exchange({}, std::span(&small, 1)), doctest::Contains("rank 0"), comm_error);
  }
}

TEST_CASE("mpi: a stalled peer is an error within the deadline, and nothing hangs") {
  const int n = world_size(), me = world_rank();
  comm::mpi_options o;
  o.deadline = std::chrono::milliseconds(300);
  comm::mpi c(MPI_COMM_WORLD, o);
  if (n < 2 || me > 1) return;
  const int peer = 1 - me;
  double out = me, in = -1;
  const comm::send_op send{peer, &out, sizeof(double), 0};
  const comm::recv_op recv{peer, &in, sizeof(double), 0};
  if (me == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // stalls past rank 0's deadline, then arrives
    c.exchange(std::span(&send, 1), std::span(&recv, 1));  // completes against rank 0's still-posted requests
    CHECK(in == 0.0);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(c.exchange(std::span(&send, 1), std::span(&recv, 1)),
                       doctest::Contains("rank 0 waited 300 ms for an exchange (receiving from ranks 1)"), comm_error);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(waited >= 0.3);
  CHECK(waited < 1.2);  // the error comes at the deadline, long before the peer wakes up
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let rank 1's late exchange complete
}

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  doctest::Context context(argc, argv);
  const int result = context.run();
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
