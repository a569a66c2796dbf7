// A topology type written by a user — no tag, no constants, no name, only size() and neighbors(rank) — runs
// gossip, RelaySGD (it is a tree) and A²CiD² exactly as the built-in graph with the same neighbour lists does.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>

#include "algorithm/async_runs.hpp"

using namespace decent;

namespace {

/// The user's type: neighbour lists it keeps itself.
class my_topology {
 public:
  explicit my_topology(std::vector<std::vector<int>> lists) : lists_(std::move(lists)) {}
  int size() const { return static_cast<int>(lists_.size()); }
  std::span<const int> neighbors(int rank) const { return lists_.at(static_cast<std::size_t>(rank)); }

 private:
  std::vector<std::vector<int>> lists_;
};
static_assert(topology::topology<my_topology>);

/// The lists of a built-in graph, in its order, handed to the user's type.
my_topology copy_of(const topology::graph& g) {
  std::vector<std::vector<int>> lists;
  for (int i = 0; i < g.size(); ++i) lists.emplace_back(g.neighbors(i).begin(), g.neighbors(i).end());
  return my_topology(std::move(lists));
}

/// Worker i starts from x_i[k] = sin(1 + 3i + 0.7k); every worker runs `steps` local steps (x −= lr·(x − k))
/// and mixes with `Algorithm`; returns all workers' x.
template <class Algorithm, class Topology>
std::vector<std::vector<double>> run_sync(const Topology& topo, int steps, double lr = 0.05) {
  const int n = topo.size();
  const std::size_t d = 37;
  std::vector<std::vector<double>> x(static_cast<std::size_t>(n), std::vector<double>(d));
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < d; ++k) x[static_cast<std::size_t>(i)][k] = std::sin(1.0 + 3.0 * i + 0.7 * static_cast<double>(k));
  sim::cluster workers(n);
  workers.run([&](comm::inprocess c) {
    std::vector<double>& mine = x[static_cast<std::size_t>(c.rank())];
    Algorithm algo(topo, std::move(c), parameters<double>::packed(mine.data(), parameter_layout{{37}}), {}, exec::host(1));
    for (int t = 0; t < steps; ++t) {
      for (std::size_t k = 0; k < d; ++k) mine[k] -= lr * (mine[k] - static_cast<double>(k));
      algo.mix();
    }
  });
  return x;
}

double mean_of(const std::vector<std::vector<double>>& x, std::size_t k) {
  double sum = 0;
  for (const auto& xi : x) sum += xi[k];
  return sum / static_cast<double>(x.size());
}

/// Σ_i ‖x_i − x̄‖².
double spread(const std::vector<std::vector<double>>& x) {
  double total = 0;
  for (std::size_t k = 0; k < x.front().size(); ++k)
    for (const auto& xi : x) total += (xi[k] - mean_of(x, k)) * (xi[k] - mean_of(x, k));
  return total;
}

}  // namespace

TEST_CASE("a user's topology type: gossip equals gossip on the graph with the same lists, bit for bit") {
  const topology::graph ring = topology::ring(8);
  const auto mine = run_sync<gossip<my_topology, comm::inprocess, exec::host, double>>(copy_of(ring), 12);
  const auto theirs = run_sync<gossip<topology::graph, comm::inprocess, exec::host, double>>(ring, 12);
  CHECK(mine == theirs);
  // And it is gossip: the mean moves only by the local steps (x̄ ← x̄ − 0.05(x̄ − k) per step, 12 steps).
  const std::vector<std::vector<double>> start = run_sync<gossip<my_topology, comm::inprocess, exec::host, double>>(copy_of(ring), 0);
  for (std::size_t k = 0; k < 37; ++k) {
    const double expected = static_cast<double>(k) + std::pow(0.95, 12) * (mean_of(start, k) - static_cast<double>(k));
    CHECK(mean_of(mine, k) == doctest::Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("a user's topology type: relaysgd on a user tree equals relaysgd on the graph, and a cycle is refused") {
  const topology::graph tree = topology::binary_tree(7);
  const auto mine = run_sync<relaysgd<my_topology, comm::inprocess, exec::host, double>>(copy_of(tree), 10);
  const auto theirs = run_sync<relaysgd<topology::graph, comm::inprocess, exec::host, double>>(tree, 10);
  CHECK(mine == theirs);
  // Without local steps RelaySum drives the workers to consensus: the spread falls by orders of magnitude.
  const auto start = run_sync<relaysgd<my_topology, comm::inprocess, exec::host, double>>(copy_of(tree), 0, 0);
  const auto mixed = run_sync<relaysgd<my_topology, comm::inprocess, exec::host, double>>(copy_of(tree), 30, 0);
  CHECK(spread(mixed) < 1e-3 * spread(start));
  CHECK(spread(start) > 1);
  // A user's graph with a cycle is refused with the fix, as the built-in ones are.
  CHECK_THROWS_AS((void)topology::spanning_trees(copy_of(topology::ring(5))), topology_error);
}

TEST_CASE("a user's topology type: a2cid2 and async gossip on it equal the runs on the graph, bit for bit") {
  const topology::graph ring = topology::ring(6);
  test::run_settings s;
  s.steps = 30;
  s.with_gradient = true;
  s.step_clock = true;
  async_options o;
  o.step_time = true;  // a pure function of the seed: the two runs must agree exactly
  o.lr = 0.05;
  o.seed = 3;
  const auto mine = test::run_threads<a2cid2<my_topology, comm::inprocess, exec::host, double>>(copy_of(ring), o, s);
  const auto theirs = test::run_threads<a2cid2<topology::graph, comm::inprocess, exec::host, double>>(ring, o, s);
  REQUIRE(mine.size() == theirs.size());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    CHECK(mine[i].x == theirs[i].x);
    CHECK(mine[i].x_tilde == theirs[i].x_tilde);
    CHECK(mine[i].exchanges == theirs[i].exchanges);
    CHECK(mine[i].exchanges > 0);
  }
  const auto gossip_mine = test::run_threads<async_gossip<my_topology, comm::inprocess, exec::host, double>>(copy_of(ring), o, s);
  const auto gossip_theirs = test::run_threads<async_gossip<topology::graph, comm::inprocess, exec::host, double>>(ring, o, s);
  for (std::size_t i = 0; i < gossip_mine.size(); ++i) CHECK(gossip_mine[i].x == gossip_theirs[i].x);
}

namespace {

/// A user's time-varying topology: on 8 workers, neighbours i ± 1 at even steps and i ± 2 at odd ones.
class my_alternating_ring {
 public:
  my_alternating_ring() {
    for (int parity = 0; parity < 2; ++parity)
      for (int i = 0; i < 8; ++i)
        lists_[static_cast<std::size_t>(parity)][static_cast<std::size_t>(i)] = {(i + 8 - 1 - parity) % 8,
                                                                                 (i + 1 + parity) % 8};
  }
  int size() const { return 8; }
  std::span<const int> neighbors(int rank, std::int64_t step) const {
    return lists_[static_cast<std::size_t>(step % 2)][static_cast<std::size_t>(rank)];
  }
  static constexpr bool time_varying = true;

 private:
  std::array<std::array<std::vector<int>, 8>, 2> lists_{};  // [step parity][rank]
};
static_assert(topology::topology<my_alternating_ring>);

}  // namespace

TEST_CASE("a user's time-varying topology: gossip follows it step by step, a2cid2 and relaysgd refuse it") {
  const my_alternating_ring topo;
  const std::size_t d = 37;
  const auto start = run_sync<gossip<my_alternating_ring, comm::inprocess, exec::host, double>>(topo, 0, 0);
  const auto one = run_sync<gossip<my_alternating_ring, comm::inprocess, exec::host, double>>(topo, 1, 0);
  const auto mixed = run_sync<gossip<my_alternating_ring, comm::inprocess, exec::host, double>>(topo, 2, 0);
  // Independently: every degree is 2, so w = 1/3; step 0 averages with i ± 1, step 1 with i ± 2.
  auto round = [](const std::vector<std::vector<double>>& x, int hop) {
    auto y = x;
    for (int i = 0; i < 8; ++i)
      for (std::size_t k = 0; k < x.front().size(); ++k)
        y[static_cast<std::size_t>(i)][k] = (x[static_cast<std::size_t>(i)][k] + x[static_cast<std::size_t>((i + 8 - hop) % 8)][k] +
                                             x[static_cast<std::size_t>((i + hop) % 8)][k]) / 3.0;
    return y;
  };
  // One step apart (both gossip matrices are circulant, so they commute: only the first step tells the parity).
  const auto after_one = round(start, 1), expected = round(after_one, 2);
  for (int i = 0; i < 8; ++i)
    for (std::size_t k = 0; k < d; ++k) {
      CHECK(one[static_cast<std::size_t>(i)][k] == doctest::Approx(after_one[static_cast<std::size_t>(i)][k]).epsilon(1e-14));
      CHECK(mixed[static_cast<std::size_t>(i)][k] == doctest::Approx(expected[static_cast<std::size_t>(i)][k]).epsilon(1e-14));
    }
  // A²CiD² needs a static graph (its constants come from one Laplacian): refused at construction, with the reason.
  sim::cluster workers(8);
  std::vector<double> x(8 * d, 1.0);
  CHECK_THROWS_WITH_AS(workers.run([&](comm::inprocess c) {
                         double* mine = x.data() + static_cast<std::size_t>(c.rank()) * d;
                         a2cid2<my_alternating_ring, comm::inprocess, exec::host, double> algo(
                             topo, std::move(c), parameters<double>::packed(mine, parameter_layout{{d}}));
                       }),
                       doctest::Contains("needs a static topology"), topology_error);
  CHECK_THROWS_AS((void)topology::spanning_trees(topo), topology_error);
}
