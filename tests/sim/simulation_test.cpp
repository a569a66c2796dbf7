#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

#include <decent/algorithm/allreduce.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/sim/problems.hpp>
#include <decent/sim/simulation.hpp>
#include <decent/topology/topologies.hpp>
#include <decent/topology/weights.hpp>

using namespace decent;

namespace {

template <class T>
auto make_gossip(const topology::graph& g, double gamma = 1.0) {
  return [&g, gamma](comm::inprocess c, parameters<T> p) {
    return gossip<topology::graph, comm::inprocess, exec::host, T>(g, std::move(c), std::move(p), gossip_options{gamma},
                                                                    exec::host(1));
  };
}

template <class T>
std::vector<sim::row> collect(sim::cluster& workers, const sim::problem<T>& task, const sim::loop_options& loop,
                              auto make) {
  std::vector<sim::row> rows;
  sim::simulate<T>(workers, task, loop, make, [&](const sim::row& r) { rows.push_back(r); });
  return rows;
}

}  // namespace

TEST_CASE("gossip consensus on ring:8 equals W^t applied to the start (an independent dense computation)") {
  const int n = 8;
  const auto ring = topology::ring(n);
  const sim::consensus_problem<double> task(n, parameter_layout{{5, 3}}, 1);
  sim::cluster workers(n);
  const auto rows = collect<double>(workers, task, {20, 0.0, 0.0, 1}, make_gossip<double>(ring));
  REQUIRE(rows.size() == 21);

  const auto w = topology::mixing_matrix(ring);
  const std::size_t d = 15;
  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  for (int i = 0; i < n; ++i) task.initial_point(i, x[static_cast<std::size_t>(i)].data());
  for (int t = 0; t <= 20; ++t) {
    std::vector<double> mean(d, 0.0);
    for (const auto& xi : x)
      for (std::size_t k = 0; k < d; ++k) mean[k] += xi[k] / n;
    double dev = 0;
    for (const auto& xi : x)
      for (std::size_t k = 0; k < d; ++k) dev += (xi[k] - mean[k]) * (xi[k] - mean[k]);
    CHECK(rows[static_cast<std::size_t>(t)].consensus == doctest::Approx(dev / n).epsilon(1e-12));
    auto next = x;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < d; ++k) {
        next[i][k] = 0;
        for (std::size_t j = 0; j < n; ++j) next[i][k] += w(static_cast<int>(i), static_cast<int>(j)) * x[j][k];
      }
    x = next;
  }
}

TEST_CASE("gossip consensus decays per step by the square of W's second eigenvalue") {
  const int n = 8;
  const double lambda2 = (1 + 2 * std::cos(2 * std::numbers::pi / n)) / 3;
  for (double gamma : {1.0, 0.5}) {
    const auto ring = topology::ring(n);
    const sim::consensus_problem<double> task(n, parameter_layout{{30, 30}}, 2);
    sim::cluster workers(n);
    const auto rows = collect<double>(workers, task, {60, 0.0, 0.0, 1}, make_gossip<double>(ring, gamma));
    const double rate = 1 - gamma * (1 - lambda2);  // eigenvalue of (1-γ)I + γW on the slowest mode
    for (std::size_t t = 40; t < 60; ++t)
      CHECK(*rows[t + 1].relative_consensus / *rows[t].relative_consensus == doctest::Approx(rate * rate).epsilon(1e-6));
  }
}

TEST_CASE("gossip moves exactly degree x model bytes per step, allreduce the ring all-reduce payload") {
  const int n = 6;
  const auto star = topology::star(n);
  const sim::consensus_problem<float> task(n, parameter_layout{{10, 10}, {10}}, 3);
  sim::cluster workers(n);
  const auto rows = collect<float>(workers, task, {4, 0.0, 0.0, 2}, make_gossip<float>(star));
  REQUIRE(rows.size() == 3);
  // Star: centre degree 5, leaves degree 1 → mean degree 10/6; 110 floats per message.
  CHECK(rows[1].bytes_per_worker == doctest::Approx(2 * 110 * 4 * 10.0 / 6));
  CHECK(rows[2].bytes_per_worker == doctest::Approx(4 * 110 * 4 * 10.0 / 6));

  const auto rows_ar = collect<float>(workers, task, {3, 0.0, 0.0, 1}, [](comm::inprocess c, parameters<float> p) {
    return allreduce<comm::inprocess, exec::host, float>(std::move(c), std::move(p), {}, exec::host(1));
  });
  // Ring all-reduce convention: floor(2(n-1)/n · bytes) per call and worker.
  CHECK(rows_ar[3].bytes_per_worker == 3 * std::floor(2.0 * (n - 1) * 110 * 4 / n));
}

TEST_CASE("allreduce reaches exact consensus in one step, and SGD on it solves the quadratic") {
  const int n = 8;
  const sim::quadratic_problem<double> task(n, sim::quadratic_options{10, 0.5, 100, 1, 0, 4});
  sim::cluster workers(n);
  auto make = [](comm::inprocess c, parameters<double> p) {
    return allreduce<comm::inprocess, exec::host, double>(std::move(c), std::move(p), {}, exec::host(1));
  };
  const auto rows = collect<double>(workers, task, {200, 0.5, 0.0, 1}, make);
  CHECK(rows[0].consensus == 0);                     // quadratic starts at x = 0 everywhere
  CHECK_FALSE(rows[0].relative_consensus.has_value());  // so no relative consensus is defined
  for (std::size_t t = 1; t < rows.size(); ++t) CHECK(rows[t].consensus < 1e-20);  // identical workers; metric round-off only
  CHECK(*rows[0].loss > 1e3);
  CHECK(*rows.back().loss < 1e-8);

  const sim::consensus_problem<double> start(n, parameter_layout{{100}}, 4);
  const auto c = collect<double>(workers, start, {1, 0.0, 0.0, 1}, make);
  CHECK(*c[0].relative_consensus == 1.0);
  CHECK(*c[1].relative_consensus < 1e-20);  // identical workers; the metric's own round-off
}

TEST_CASE("gossip on heterogeneous quadratics plateaus, and the plateau vanishes with zeta^2 = 0") {
  const int n = 16;
  const auto ring = topology::ring(n);
  sim::cluster workers(n);
  auto final_loss = [&](double zeta2) {
    const sim::quadratic_problem<double> task(n, sim::quadratic_options{10, 0.5, 100, zeta2, 0, 5});
    return collect<double>(workers, task, {400, 0.3, 0.0, 400}, make_gossip<double>(ring)).back().loss.value();
  };
  CHECK(final_loss(1.0) > 1e-4);
  CHECK(final_loss(0.0) < 1e-8);
}

TEST_CASE("simulations are deterministic: two runs give bit-identical rows") {
  const int n = 5;
  const auto g = topology::ring(n);
  const sim::logistic_problem<double> task(n, sim::logistic_options{});
  sim::cluster workers(n);
  const auto a = collect<double>(workers, task, {30, 0.5, 0.9, 3}, make_gossip<double>(g));
  const auto b = collect<double>(workers, task, {30, 0.5, 0.9, 3}, make_gossip<double>(g));
  REQUIRE(a.size() == b.size());
  for (std::size_t t = 0; t < a.size(); ++t) {
    CHECK(a[t].consensus == b[t].consensus);
    CHECK(*a[t].loss == *b[t].loss);
  }
  CHECK(*a.back().loss < *a.front().loss);
}

TEST_CASE("a cluster refuses more threads than its limit, and the problems refuse unbounded building costs") {
  CHECK_THROWS_WITH_AS(sim::cluster(sim::cluster::max_workers + 1),
                       doctest::Contains("one thread per worker, at most 32768"), invalid_argument);
  CHECK_NOTHROW(sim::cluster{sim::cluster::max_workers});
  // n·dim³ = 16·1000³ > 2^32: refused before the first rotation is drawn; 16·640³ is just below.
  CHECK_THROWS_WITH_AS(sim::quadratic_problem<double>(16, sim::quadratic_options{1000}),
                       doctest::Contains("lower the dimension"), invalid_argument);
  CHECK(sim::max_quadratic_cost >= 16.0 * 640 * 640 * 640);
}

TEST_CASE("a failing worker ends the whole cluster with its own error, never a hang") {
  sim::cluster workers(4, comm::inprocess_options{std::chrono::milliseconds(20000)});
  CHECK_THROWS_WITH_AS(workers.run([](comm::inprocess c) {
    if (c.rank() == 2) throw std::runtime_error("worker two broke");
    c.barrier();  // the others wait here until the abort wakes them
  }),
                       "worker two broke", std::runtime_error);
}
