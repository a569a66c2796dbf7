#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <decent/algorithm/gossip.hpp>
#include <decent/comm/agreement.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>
#include <decent/topology/weights.hpp>

using namespace decent;

namespace {

/// Every worker i starts from x_i[k] = sin(1 + 3i + 0.7k); returns all workers' vectors after `steps` mixes.
template <class Topology>
std::vector<std::vector<double>> run_gossip(const Topology& topo, std::size_t d, int steps, gossip_options options,
                                            bool packed = true) {
  const int n = topo.size();
  std::vector<std::vector<double>> x(static_cast<std::size_t>(n), std::vector<double>(d));
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < d; ++k) x[static_cast<std::size_t>(i)][k] = std::sin(1.0 + 3.0 * i + 0.7 * static_cast<double>(k));
  sim::cluster workers(n);
  workers.run([&](comm::inprocess c) {
    double* mine = x[static_cast<std::size_t>(c.rank())].data();
    // Unpacked: two tensors in reversed memory order, so they are not one contiguous buffer.
    const std::size_t head = d / 3;
    parameters<double> p = packed ? parameters<double>::packed(mine, parameter_layout{{static_cast<std::int64_t>(d)}})
                                  : parameters<double>{{mine + head, {static_cast<std::int64_t>(d - head)}},
                                                       {mine, {static_cast<std::int64_t>(head)}}};
    gossip<Topology, comm::inprocess, exec::host, double> g(topo, std::move(c), p, options, exec::host(1));
    for (int t = 0; t < steps; ++t) g.mix();
  });
  return x;
}

/// ((1−γ)I + γW)^steps x, computed densely from the mixing matrix.
std::vector<std::vector<double>> dense_reference(const topology::graph& g, std::size_t d, int steps, double gamma,
                                                 topology::weight_scheme scheme) {
  const int n = g.size();
  const auto w = topology::mixing_matrix(g, scheme);
  std::vector<std::vector<double>> x(static_cast<std::size_t>(n), std::vector<double>(d));
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < d; ++k) x[static_cast<std::size_t>(i)][k] = std::sin(1.0 + 3.0 * i + 0.7 * static_cast<double>(k));
  for (int t = 0; t < steps; ++t) {
    auto next = x;
    for (std::size_t i = 0; i < x.size(); ++i)
      for (std::size_t k = 0; k < d; ++k) {
        double acc = (1 - gamma) * x[i][k];
        for (std::size_t j = 0; j < x.size(); ++j) acc += gamma * w(static_cast<int>(i), static_cast<int>(j)) * x[j][k];
        next[i][k] = acc;
      }
    x = next;
  }
  return x;
}

void check_close(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t k = 0; k < a[i].size(); ++k) REQUIRE(a[i][k] == doctest::Approx(b[i][k]).epsilon(tol));
}

}  // namespace

TEST_CASE("gossip equals ((1-γ)I + γW)^t x on irregular graphs, for both weight schemes") {
  for (const auto& g : {topology::star(7), topology::binary_tree(9), topology::torus(3, 4)}) {
    for (double gamma : {1.0, 0.6}) {
      for (auto scheme : {topology::weight_scheme::uniform, topology::weight_scheme::metropolis_hastings}) {
        CAPTURE(g.name());
        CAPTURE(gamma);
        check_close(run_gossip(g, 7, 5, {gamma, scheme}), dense_reference(g, 7, 5, gamma, scheme), 1e-13);
      }
    }
  }
}

TEST_CASE("gossip with more than eight neighbours (several kernel passes) is still ((1-γ)I + γW) x") {
  const auto g = topology::complete(12);  // degree 11
  check_close(run_gossip(g, 9, 3, {0.9}), dense_reference(g, 9, 3, 0.9, topology::weight_scheme::uniform), 1e-13);
}

TEST_CASE("gossip on separate tensors equals gossip on one packed buffer, bit for bit") {
  const auto g = topology::ring(6);
  CHECK(run_gossip(g, 10, 4, {}, true) == run_gossip(g, 10, 4, {}, false));
}

TEST_CASE("gossip preserves the mean of every coordinate") {
  const auto g = topology::random_regular(10, 3, 1);
  const auto before = run_gossip(g, 6, 0, {});
  const auto after = run_gossip(g, 6, 25, {1.3});
  for (std::size_t k = 0; k < 6; ++k) {
    double s0 = 0, s1 = 0;
    for (std::size_t i = 0; i < before.size(); ++i) {
      s0 += before[i][k];
      s1 += after[i][k];
    }
    CHECK(s1 == doctest::Approx(s0).epsilon(1e-13));
  }
}

TEST_CASE("gossip on the one-peer exponential graph averages exactly in log2(n) steps") {
  const topology::one_peer_exponential g(16);
  const auto x = run_gossip(g, 5, 4, {});
  const auto x0 = run_gossip(g, 5, 0, {});
  for (std::size_t k = 0; k < 5; ++k) {
    double mean = 0;
    for (const auto& xi : x0) mean += xi[k] / 16;
    for (const auto& xi : x) CHECK(xi[k] == doctest::Approx(mean).epsilon(1e-14));
  }
}

TEST_CASE("gossip rejects a topology and communicator of different sizes, and a non-positive gamma") {
  sim::cluster workers(3);
  std::vector<float> x(3 * 4, 1.0f);
  CHECK_THROWS_AS(workers.run([&](comm::inprocess c) {
    const parameters<float> p{{x.data() + 4 * c.rank(), {4}}};
    gossip<topology::graph, comm::inprocess, exec::host, float> g(topology::ring(4), std::move(c), p);
  }),
                  invalid_argument);
  CHECK_THROWS_AS(workers.run([&](comm::inprocess c) {
    const parameters<float> p{{x.data() + 4 * c.rank(), {4}}};
    gossip<topology::graph, comm::inprocess, exec::host, float> g(topology::ring(3), std::move(c), p, {0.0});
  }),
                  invalid_argument);
  // γ ≥ 2 overshoots, NaN and infinity are no rates: the library refuses them itself, not only the CLI.
  for (const double gamma : {2.0, 1e300, std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(), -1.0}) {
    CAPTURE(gamma);
    CHECK_THROWS_WITH_AS(workers.run([&](comm::inprocess c) {
      const parameters<float> p{{x.data() + 4 * c.rank(), {4}}};
      gossip<topology::graph, comm::inprocess, exec::host, float> g(topology::ring(3), std::move(c), p, {gamma});
    }),
                         doctest::Contains("gossip_options::gamma (the diffusion rate) must be in (0, 2)"),
                         invalid_argument);
  }
}

namespace {

/// Runs `worker(comm)` on n threads of one in-process world without aborting it on the first failure, and
/// returns every rank's error message ("" when it returned normally).
template <class Worker>
std::vector<std::string> errors_of_every_rank(int n, Worker worker) {
  comm::inprocess_world world(n, comm::inprocess_options{std::chrono::milliseconds(5000)});
  std::vector<std::string> errors(static_cast<std::size_t>(n));
  {
    std::vector<std::jthread> threads;
    for (int r = 0; r < n; ++r)
      threads.emplace_back([&, r] {
        try {
          worker(comm::inprocess(world, r));
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(r)] = e.what();
        }
      });
  }
  return errors;
}

}  // namespace

TEST_CASE("workers that disagree on the topology, the options or the layout all report it at the first mix") {
  using gossip_t = gossip<topology::graph, comm::inprocess, exec::host, double>;
  std::vector<double> x(4 * 6, 1.0);
  SUBCASE("topology") {
    const auto errors = errors_of_every_rank(4, [&](comm::inprocess c) {
      const int rank = c.rank();
      gossip_t g(rank == 2 ? topology::chain(4) : topology::ring(4), std::move(c), {{x.data() + 6 * rank, {6}}});
      g.mix();
    });
    for (const auto& e : errors) {
      CHECK(e.find("the workers disagree on the topology (ranks 0, 1, 3 vs rank 2) —") != std::string::npos);
      CHECK(e.find("options") == e.rfind("options"));  // only in the advice, not among the parts that differ
    }
  }
  SUBCASE("options and layout") {
    const auto errors = errors_of_every_rank(3, [&](comm::inprocess c) {
      const int rank = c.rank();
      gossip_options o;
      o.gamma = rank == 0 ? 0.5 : 1.0;
      gossip_t g(topology::ring(3), std::move(c), {{x.data() + 6 * rank, {rank == 1 ? 2 : 3, 2}}}, o);
      g.mix();
    });
    // The worker that differs and both layouts are named.
    for (const auto& e : errors)
      CHECK(e.find("disagree on the algorithm and its options (rank 0 vs ranks 1, 2), the parameter layout (ranks 0, "
                   "2: [3x2] packed; rank 1: [2x2] packed) —") != std::string::npos);
  }
  SUBCASE("agreement: every rank passes") {
    const auto errors = errors_of_every_rank(3, [&](comm::inprocess c) {
      const int rank = c.rank();
      gossip_t g(topology::ring(3), std::move(c), {{x.data() + 6 * rank, {6}}});
      g.mix();
      CHECK(g.communicator().stats().bytes_sent == 2 * 6 * sizeof(double));  // the check itself is not counted
    });
    for (const auto& e : errors) CHECK(e.empty());
  }
}

namespace {

/// The in-process communicator without its `agree`: agreement then goes through `allreduce_sum` (the path of
/// communicators that do not offer `agree`).
class without_agree {
 public:
  using communicator_concept = comm::communicator_tag;
  static constexpr bool can_access(memory_space s) { return s == memory_space::host; }
  explicit without_agree(comm::inprocess c) : c_(std::move(c)) {}
  [[nodiscard]] int rank() const { return c_.rank(); }
  [[nodiscard]] int size() const { return c_.size(); }
  void exchange(std::span<const comm::send_op> s, std::span<const comm::recv_op> r) { c_.exchange(s, r); }
  void barrier() { c_.barrier(); }
  void allreduce_sum(double* d, std::size_t n) { c_.allreduce_sum(d, n); }
  void allreduce_sum(float* d, std::size_t n) { c_.allreduce_sum(d, n); }
  [[nodiscard]] comm::counters stats() const { return c_.stats(); }

 private:
  comm::inprocess c_;
};

}  // namespace

TEST_CASE("agreement through allreduce_sum, for communicators without agree(): equal and unequal values") {
  // Values that differ only in one 16-bit quarter, and values whose quarters have equal sums across ranks (1+3 =
  // 2+2) but not equal squares: both are found; equal values pass.
  for (const bool differ : {false, true}) {
    std::vector<int> verdicts(4);
    const auto errors = errors_of_every_rank(4, [&](comm::inprocess c) {
      without_agree w(std::move(c));
      const int rank = w.rank();
      const std::uint64_t base = 0x1234'5678'9abc'def0ull;
      const std::uint64_t quarter = differ ? std::uint64_t{rank == 0 ? 1u : rank == 1 ? 3u : 2u} << 16 : 0;
      verdicts[static_cast<std::size_t>(rank)] = comm::all_agree(w, base + quarter) ? 1 : 0;
    });
    for (const auto& e : errors) CHECK(e.empty());
    for (const int v : verdicts) CHECK(v == (differ ? 0 : 1));
  }
}

TEST_CASE("workers whose tensors differ in size get a clear error instead of garbage or a hang") {
  sim::cluster workers(3, comm::inprocess_options{std::chrono::milliseconds(20000)});
  std::vector<float> x(3 * 8, 1.0f);
  try {
    workers.run([&](comm::inprocess c) {
      const int rank = c.rank();
      const std::int64_t size = rank == 1 ? 8 : 4;  // worker 1 has a bigger model
      gossip<topology::graph, comm::inprocess, exec::host, float> g(topology::ring(3), std::move(c),
                                                                     {{x.data() + 8 * rank, {size}}});
      g.mix();
    });
    FAIL("expected a comm_error");
  } catch (const comm_error& e) {
    const std::string what = e.what();
    CHECK(what.find("disagree on the parameter layout") != std::string::npos);  // checked before any exchange
  }
}
