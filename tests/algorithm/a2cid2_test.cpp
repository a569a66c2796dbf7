#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <limits>
#include <vector>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/sim/event_simulator.hpp>
#include <decent/sim/problems.hpp>
#include <decent/topology/matchings.hpp>
#include <decent/topology/topologies.hpp>

#include "algorithm/async_runs.hpp"

using namespace decent;
using namespace decent::test;

namespace {
using acid_t = a2cid2<topology::graph, comm::inprocess, exec::host, double>;
using async_t = async_gossip<topology::graph, comm::inprocess, exec::host, double>;
}  // namespace

TEST_CASE("matching_schedule: every round is a matching of the graph's edges, every colour comes up evenly") {
  for (const topology::graph& g : {topology::ring(8), topology::ring(7), topology::exponential(16), topology::star(5),
                                   topology::torus(3, 4), topology::random_regular(12, 3, 5)}) {
    CAPTURE(g.name());
    const topology::matching_schedule schedule(g, 42);
    int max_degree = 0;
    for (int i = 0; i < g.size(); ++i) max_degree = std::max(max_degree, static_cast<int>(g.neighbors(i).size()));
    CHECK(schedule.colours() >= max_degree);
    CHECK(schedule.colours() <= 2 * max_degree - 1);
    std::set<std::pair<int, int>> seen;
    for (int c = 0; c < schedule.colours(); ++c)
      for (int i = 0; i < g.size(); ++i) {
        const int j = schedule.partner_in(i, c);
        if (j < 0) continue;
        CHECK(schedule.partner_in(j, c) == i);  // symmetric: a matching
        const auto peers = g.neighbors(i);
        CHECK(std::find(peers.begin(), peers.end(), j) != peers.end());
        seen.emplace(std::min(i, j), std::max(i, j));
      }
    CHECK(seen.size() == static_cast<std::size_t>(g.num_edges()));  // each edge in exactly one colour class
    // Colour draws: each of C colours in a fraction 1/C of 20,000 rounds, within 5 standard deviations.
    std::vector<int> count(static_cast<std::size_t>(schedule.colours()), 0);
    const int rounds = 20'000;
    for (int k = 0; k < rounds; ++k) ++count[static_cast<std::size_t>(schedule.colour(k))];
    const double p = 1.0 / schedule.colours();
    for (const int c : count) CHECK(std::abs(c - rounds * p) <= 5 * std::sqrt(rounds * p * (1 - p)));
    // The same seed gives the same schedule, another seed another one.
    const topology::matching_schedule again(g, 42), other(g, 43);
    int differ = 0;
    for (int k = 0; k < 64; ++k) {
      CHECK(again.colour(k) == schedule.colour(k));
      differ += other.colour(k) != schedule.colour(k);
    }
    CHECK(differ > 0);
  }
}

TEST_CASE("a2cid2 threads: communication conserves the sum of x + x~ and the exchange counts follow the rate") {
  const topology::graph g = topology::ring(8);
  async_options o;
  o.rate = 2;
  o.control = rate_control::deterministic;
  o.lr = 0;  // gradients change nothing: only communication moves (x, x̃)
  o.average_at_start = false;
  o.average_at_stop = false;
  run_settings s;
  s.steps = 200;
  s.compute = std::chrono::microseconds(50);
  const auto rs = run_threads<acid_t>(g, o, s);
  double start = 0;
  for (int i = 0; i < g.size(); ++i)
    for (const double v : initial(g.size(), i, s.d)) start += 2 * v;
  CHECK(std::abs(total_mass(rs) - start) <= 1e-12 * std::abs(start) + 1e-12);
  for (const auto& r : rs) {
    CHECK(r.gradients == s.steps);
    // Each step waits for the exchanges granted by the previous one; the last grant may be cut by stop, which
    // adds at most one farewell exchange per neighbour.
    CHECK(r.exchanges >= 2 * s.steps);
    CHECK(r.exchanges <= 2 * (s.steps + 1) + 2);
    CHECK(r.time > 0);
  }
  // Both ends count every exchange of an edge.
  for (int i = 0; i < g.size(); ++i)
    for (int j = 0; j < g.size(); ++j)
      CHECK(rs[static_cast<std::size_t>(i)].exchanges_with[static_cast<std::size_t>(j)] ==
            rs[static_cast<std::size_t>(j)].exchanges_with[static_cast<std::size_t>(i)]);
  // Communication reduced the disagreement (x alone).
  CHECK(deviation(rs) < 1e-3 * initial_deviation(g.size(), s.d));
}

namespace {

/// log(relative consensus) of a run.
double log_relative(const std::vector<worker_result>& rs) {
  return std::log(deviation(rs) / initial_deviation(static_cast<int>(rs.size()), rs.front().x.size()));
}

double mean_exchanges(const std::vector<worker_result>& rs) {
  double total = 0;
  for (const auto& r : rs) total += static_cast<double>(r.exchanges);
  return total / static_cast<double>(rs.size());
}

double mean_time(const std::vector<worker_result>& rs) {
  double total = 0;
  for (const auto& r : rs) total += r.time;
  return total / static_cast<double>(rs.size());
}

}  // namespace

TEST_CASE("a2cid2 threads: consensus speed and exchange statistics agree with the virtual-time simulator") {
  // ring:16, consensus from the same starting points, r = 1 (Poisson), three seeds. The threaded runtime pairs
  // workers by random matchings and keeps time with the clock; the simulator draws Poisson events per edge.
  // Compared: the decay rate of the consensus distance per exchange (async gossip: time plays no part) and per unit
  // of time (A²CiD²: the mixing runs on time), the gain of A²CiD², exchanges per gradient, and the split of
  // exchanges between the two neighbours.
  const topology::graph g = topology::ring(16);
  const int n = g.size();
  async_options o;
  o.lr = 0;
  o.average_at_start = false;
  o.average_at_stop = false;
  run_settings s;
  s.steps = 100;
  s.compute = std::chrono::microseconds(100);
  s.step_clock = true;  // time = steps done: a descheduled thread does not make time jump
  const sim::consensus_problem<double> task(n, parameter_layout{{static_cast<std::int64_t>(s.d)}}, 7);
  double threads_async = 0, threads_acid = 0, sim_async = 0, sim_acid = 0, exchanges = 0;
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    o.seed = seed;
    const auto async = run_threads<async_t>(g, o, s);
    const auto acid = run_threads<acid_t>(g, o, s);
    threads_async += log_relative(async) / mean_exchanges(async);
    threads_acid += log_relative(acid) / mean_time(acid);
    for (const auto* rs : {&async, &acid})
      for (const auto& r : *rs) {
        exchanges += static_cast<double>(r.exchanges);
        // The two neighbours of a ring worker share its exchanges evenly (binomial, 5 standard deviations).
        const int left = static_cast<int>(r.exchanges_with[static_cast<std::size_t>((&r - rs->data() + n - 1) % n)]);
        CHECK(std::abs(2.0 * left - static_cast<double>(r.exchanges)) <= 5 * std::sqrt(static_cast<double>(r.exchanges)));
      }
    sim::event_options e;
    e.rate = 1;
    e.time = 100;
    e.every = 100;
    e.seed = seed;
    sim::event_simulator<double> with_momentum(g, task, e);
    sim_acid += std::log(with_momentum.run().relative_consensus.value()) / e.time;
    sim::event_simulator<double, mixing::pairwise_average<exec::host, double>> plain(g, task, e);
    const double rate = std::log(plain.run().relative_consensus.value());
    sim_async += rate / (2.0 * static_cast<double>(plain.communication_events()) / n);
  }
  MESSAGE("consensus decay, threads vs simulator: async gossip per exchange ", threads_async / 3, " vs ",
          sim_async / 3, ", a2cid2 per unit of time ", threads_acid / 3, " vs ", sim_acid / 3);
  CHECK(threads_async / sim_async == doctest::Approx(1.0).epsilon(0.3));
  CHECK(threads_acid / sim_acid == doctest::Approx(1.0).epsilon(0.3));
  // The momentum variable more than doubles the decay rate on ring:16, in both (time ≈ exchanges at r = 1).
  CHECK(threads_acid / threads_async > 1.5);
  CHECK(sim_acid / sim_async > 1.5);
  // Exchanges per gradient: r = 1 on average (6 runs × 16 workers × 100 steps of Poisson(1) draws; the last grant
  // of a run may be cut by stop).
  CHECK(exchanges / (6.0 * n * s.steps) == doctest::Approx(1.0).epsilon(0.12));
}

namespace {

/// Poisson rate, gradients, and workers that sleep differently in the two runs: the same bits; another seed
/// gives other bits.
template <class Algorithm>
void check_pure_function_of_seed(async_options o) {
  const topology::graph g = topology::ring(6);
  o.rate = 1.5;
  o.lr = 0.05;
  o.seed = 3;
  o.average_at_stop = false;
  run_settings s;
  s.steps = 150;
  s.with_gradient = true;
  const auto fast = run_threads<Algorithm>(g, o, s);
  s.compute = std::chrono::microseconds(100);
  const auto slow = run_threads<Algorithm>(g, o, s);
  for (std::size_t i = 0; i < fast.size(); ++i) {
    CHECK(fast[i].exchanges == slow[i].exchanges);
    CHECK(fast[i].x == slow[i].x);
    CHECK(fast[i].x_tilde == slow[i].x_tilde);
  }
  o.seed = 4;
  const auto other = run_threads<Algorithm>(g, o, s);
  CHECK(other[0].x != fast[0].x);
}

}  // namespace

TEST_CASE("async gossip threads, and a2cid2 with step time: a pure function of the seed, whatever the timing") {
  check_pure_function_of_seed<async_t>({});
  async_options steps;
  steps.step_time = true;
  check_pure_function_of_seed<acid_t>(steps);
}

TEST_CASE("async threads: apply(-lr g) equals step(g) without momentum, bit for bit") {
  const topology::graph g = topology::ring(5);
  async_options o;
  o.lr = 0.07;
  o.momentum = 0;
  run_settings s;
  s.steps = 80;
  s.with_gradient = true;
  const auto stepped = run_threads<async_t>(g, o, s);
  s.apply_lr = 0.07;
  const auto applied = run_threads<async_t>(g, o, s);
  for (std::size_t i = 0; i < stepped.size(); ++i) CHECK(stepped[i].x == applied[i].x);
}

TEST_CASE("async threads: apply(parameters) per tensor equals apply of the packed update, bit for bit") {
  const topology::graph g = topology::ring(4);
  async_options o;
  o.step_time = true;
  run_settings s;
  s.steps = 60;
  s.with_gradient = true;
  s.apply_lr = 0.05;
  const parameter_layout layout{{3, 4}, {4}};
  const auto packed = run_threads<acid_t>(g, o, s, layout);
  s.per_tensor = true;
  const auto split = run_threads<acid_t>(g, o, s, layout);
  for (std::size_t i = 0; i < packed.size(); ++i) {
    CHECK(packed[i].x == split[i].x);
    CHECK(packed[i].x_tilde == split[i].x_tilde);
  }
  CHECK(packed[0].x != initial(4, 0, 16));
}

TEST_CASE("a2cid2 threads: workers with different numbers of steps stop cleanly") {
  // Workers stop at different times; the last ones make their final steps with fewer or no partners.
  const topology::graph g = topology::ring(6);
  async_options o;
  o.lr = 0;
  o.average_at_start = false;
  o.average_at_stop = false;
  run_settings s;
  s.steps_of = [](int rank) { return 40 + 25 * rank; };
  s.compute = std::chrono::microseconds(50);
  const auto rs = run_threads<acid_t>(g, o, s);
  double start = 0;
  for (int i = 0; i < g.size(); ++i)
    for (const double v : initial(g.size(), i, s.d)) start += 2 * v;
  CHECK(std::abs(total_mass(rs) - start) <= 1e-12 * (1 + std::abs(start)));
  for (int i = 0; i < g.size(); ++i) CHECK(rs[static_cast<std::size_t>(i)].gradients == 40 + 25 * i);
  // With the final average every worker ends on the same model.
  o.average_at_stop = true;
  const auto averaged = run_threads<acid_t>(g, o, s);
  for (const auto& r : averaged) CHECK(r.x == averaged.front().x);
}

TEST_CASE("a2cid2 threads: gradients and the final average") {
  // f_i(x) = ½‖x − b_i‖² with b_i[k] = cos(2i + k): the average of the optima is the minimiser of Σ f_i, and the
  // final average of stop() puts every worker on one model near it. Deterministic rate: with Poisson draws the
  // workers' exchange counts differ by about √steps, so the last steps of a fixed-length run find fewer partners.
  const topology::graph g = topology::ring(8);
  async_options o;
  o.lr = 0.05;
  o.momentum = 0.5;
  o.control = rate_control::deterministic;
  run_settings s;
  s.steps = 300;
  s.with_gradient = true;
  const auto rs = run_threads<acid_t>(g, o, s);
  for (const auto& r : rs) {
    CHECK(r.gradients == s.steps);
    for (std::size_t k = 0; k < s.d; ++k) CHECK(r.x[k] == rs.front().x[k]);  // averaged: identical
  }
  double error = 0;
  for (std::size_t k = 0; k < s.d; ++k) {
    double optimum = 0;
    for (int i = 0; i < g.size(); ++i) optimum += std::cos(2.0 * i + static_cast<double>(k)) / g.size();
    error = std::max(error, std::abs(rs.front().x[k] - optimum));
  }
  CHECK(error < 0.05);
}

TEST_CASE("a2cid2 threads: low-rank compressed exchanges as a type alias") {
  const topology::graph g = topology::ring(8);
  const parameter_layout layout{{6, 4}, {5}, {3, 2, 2}};
  compressed_async_options<compress::low_rank_options> o;
  o.rate = 1;
  o.control = rate_control::deterministic;
  o.lr = 0;
  o.average_at_start = false;
  o.average_at_stop = false;
  o.compression.rank = 2;
  run_settings s;
  s.steps = 300;
  s.compute = std::chrono::microseconds(50);
  SUBCASE("a2cid2: sum of x + x~ per tensor unchanged, consensus reached") {
    const auto rs = run_threads<a2cid2_low_rank<topology::graph, comm::inprocess, exec::host, double>>(g, o, s, layout);
    for (std::size_t t = 0; t < layout.num_tensors(); ++t) {
      double before = 0, after = 0;
      for (int i = 0; i < g.size(); ++i) {
        const auto x0 = initial(g.size(), i, layout.numel());
        const auto& r = rs[static_cast<std::size_t>(i)];
        for (std::size_t k = layout.offset(t); k < layout.offset(t) + layout.shape(t).numel(); ++k) {
          before += 2 * x0[k];
          after += r.x[k] + r.x_tilde[k];
        }
      }
      CHECK(std::abs(after - before) <= 1e-12 * (1 + std::abs(before)));
    }
    CHECK(deviation(rs) < 1e-6 * initial_deviation(g.size(), layout.numel()));
  }
  SUBCASE("async gossip on two workers: a rank-1 difference is gone after two exchanges") {
    // X_0 = A, X_1 = A + u vᵀ. The first power iteration (odd: Q̂ random) finds P ∝ u, the second (P̂ = u/‖u‖)
    // removes what is left of the difference; both workers end at A + ½uvᵀ.
    const parameter_layout matrix{{5, 4}};
    auto a = [](std::size_t k) { return std::sin(0.3 + 1.7 * static_cast<double>(k)); };
    auto outer = [](std::size_t k) { return (1.0 + static_cast<double>(k / 4)) * (0.5 - static_cast<double>(k % 4)); };
    s.steps = 2;
    s.start = [&](int, int i, std::size_t numel) {
      std::vector<double> x(numel);
      for (std::size_t k = 0; k < numel; ++k) x[k] = a(k) + (i == 1 ? outer(k) : 0.0);
      return x;
    };
    o.compression.rank = 1;
    const auto rs = run_threads<async_gossip<topology::graph, comm::inprocess, exec::host, double,
                                             compress::low_rank<exec::host, double>>>(topology::chain(2), o, s, matrix);
    REQUIRE(rs[0].exchanges >= 2);
    for (std::size_t k = 0; k < 20; ++k) {
      CHECK(rs[0].x[k] == doctest::Approx(a(k) + 0.5 * outer(k)).epsilon(1e-9));
      CHECK(rs[1].x[k] == doctest::Approx(a(k) + 0.5 * outer(k)).epsilon(1e-9));
    }
  }
}

TEST_CASE("a2cid2 threads: bad input and disagreeing workers fail with an error, never hang") {
  const topology::graph g = topology::ring(4);
  run_settings s;
  s.steps = 50;
  SUBCASE("a rate that is not positive, or so large that a step's draw would never end") {
    async_options o;
    for (const double rate : {0.0, -1.0, 1e12, 1e300, std::numeric_limits<double>::infinity(),
                              std::numeric_limits<double>::quiet_NaN()}) {
      CAPTURE(rate);
      o.rate = rate;
      CHECK_THROWS_WITH_AS(run_threads<acid_t>(g, o, s),
                           doctest::Contains("async_options::rate must be in (0, 10000] exchanges per gradient"),
                           invalid_argument);
    }
  }
  SUBCASE("the library's SGD options are checked by the library") {
    async_options o;
    o.momentum = 2;
    CHECK_THROWS_WITH_AS(run_threads<acid_t>(g, o, s), doctest::Contains("async_options::momentum must be in [0, 1)"),
                         invalid_argument);
    o.momentum = 0;
    o.lr = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(run_threads<acid_t>(g, o, s), doctest::Contains("async_options::lr must be finite"),
                         invalid_argument);
  }
  SUBCASE("workers with different seeds (different schedules) fail at start") {
    comm::inprocess_options world;
    world.deadline = std::chrono::milliseconds(300);
    async_options o;
    o.average_at_start = false;
    o.average_at_stop = false;
    CHECK_THROWS_WITH_AS(run_threads<async_t>(
                             g, o, s, {}, world, [](int rank, async_options& mine) { mine.seed = rank == 0 ? 1 : 2; }),
                         doctest::Contains("disagree on the algorithm and its options"), comm_error);
  }
  SUBCASE("misuse of one worker") {
    comm::inprocess_world world(2);  // rank 1 never starts: nothing here communicates
    std::vector<double> x(3, 1.0);
    acid_t acid(topology::chain(2), comm::inprocess(world, 0), parameters<double>::packed(x.data(), parameter_layout{{3}}));
    CHECK_THROWS_WITH(acid.step(std::vector<double>(3, 0.0)), doctest::Contains("call start() first"));
    CHECK_THROWS_WITH(acid.stop(), doctest::Contains("call start() first"));
    CHECK_THROWS_WITH(acid.apply(std::vector<double>(2, 0.0)), doctest::Contains("the update has 2 elements"));
    std::vector<double> wrong(3, 0.0);
    CHECK_THROWS_WITH(acid.apply(parameters<double>{{wrong.data(), {1, 3}}}),
                      doctest::Contains("apply: the update has the layout [1x3] but the parameters have [3]"));
    CHECK_THROWS_WITH((acid_t(topology::ring(3), comm::inprocess(world, 0),
                              parameters<double>::packed(x.data(), parameter_layout{{3}}))),
                      doctest::Contains("the topology has 3 workers but the communicator has 2"));
  }
}

namespace {

/// `steps` gradient events of f_i(x) = ½‖x − b_i‖² on a running worker (time = steps done, via `ticks`).
template <class Algorithm>
void gradient_steps(Algorithm& algo, std::vector<double>& x, int rank, int steps, std::atomic<double>& ticks) {
  std::vector<double> grad(x.size());
  for (int t = 0; t < steps; ++t) {
    for (std::size_t k = 0; k < x.size(); ++k) grad[k] = x[k] - std::cos(2.0 * rank + static_cast<double>(k));
    algo.step(grad);
    ticks.store(ticks.load() + 1);
  }
}

}  // namespace

namespace {

/// start, 40 steps, stop, start, 40 steps, stop on one set of workers, against the same with a save after the
/// first stop and a load into freshly built workers: the same bits and exchange counts.
template <class Algorithm>
void check_restart_from_checkpoint(const parameter_layout& layout) {
  const topology::graph g = topology::ring(6);
  const std::size_t d = layout.numel();
  typename Algorithm::options o;
  o.lr = 0.05;
  o.rate = 1.3;
  o.seed = 5;
  o.step_time = true;  // A²CiD²'s mixing then follows the steps, not the clock
  auto make = [&](comm::inprocess c, std::vector<double>& x, std::atomic<double>& ticks) {
    typename Algorithm::options mine = o;
    mine.clock = [&ticks] { return ticks.load(); };
    return Algorithm(g, std::move(c), parameters<double>::packed(x.data(), layout), mine, exec::host(1),
                     exec::host(1));
  };
  std::vector<std::vector<double>> straight(6), resumed(6);
  std::vector<std::vector<std::byte>> checkpoints(6);
  std::vector<std::int64_t> straight_exchanges(6), resumed_exchanges(6);
  sim::cluster(6).run([&](comm::inprocess c) {
    const int rank = c.rank();
    std::vector<double>& x = straight[static_cast<std::size_t>(rank)];
    x = initial(6, rank, d);
    std::atomic<double> ticks{0};
    auto algo = make(std::move(c), x, ticks);
    algo.start();
    gradient_steps(algo, x, rank, 40, ticks);
    algo.stop();
    algo.start();
    gradient_steps(algo, x, rank, 40, ticks);
    algo.stop();
    straight_exchanges[static_cast<std::size_t>(rank)] = algo.exchanges();
  });
  sim::cluster(6).run([&](comm::inprocess c) {
    const int rank = c.rank();
    std::vector<double>& x = resumed[static_cast<std::size_t>(rank)];
    x = initial(6, rank, d);
    std::atomic<double> ticks{0};
    auto algo = make(std::move(c), x, ticks);
    algo.start();
    gradient_steps(algo, x, rank, 40, ticks);
    algo.stop();
    checkpoints[static_cast<std::size_t>(rank)] = algo.save();
  });
  sim::cluster(6).run([&](comm::inprocess c) {  // new workers: load, start, 40 steps, stop
    const int rank = c.rank();
    std::vector<double>& x = resumed[static_cast<std::size_t>(rank)];
    std::atomic<double> ticks{0};
    auto algo = make(std::move(c), x, ticks);
    algo.load(checkpoints[static_cast<std::size_t>(rank)]);
    algo.start();
    gradient_steps(algo, x, rank, 40, ticks);
    algo.stop();
    resumed_exchanges[static_cast<std::size_t>(rank)] = algo.exchanges();
  });
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(resumed[i] == straight[i]);
    CHECK(resumed_exchanges[i] == straight_exchanges[i]);
  }
}

}  // namespace

TEST_CASE("async threads: stop, save, load into new workers and start = stop and start again, bit for bit") {
  check_restart_from_checkpoint<async_t>(parameter_layout{{12}});
  check_restart_from_checkpoint<acid_t>(parameter_layout{{12}});
  // With low-rank exchanges the per-edge bases and counters travel in the checkpoint too.
  check_restart_from_checkpoint<async_gossip<topology::graph, comm::inprocess, exec::host, double,
                                             compress::low_rank<exec::host, double>>>(parameter_layout{{4, 3}, {2}});
}

TEST_CASE("a2cid2 threads: a checkpoint carries x~, the momentum, the time and the low-rank bases") {
  const topology::graph g = topology::ring(4);
  using low_rank_acid = a2cid2_low_rank<topology::graph, comm::inprocess, exec::host, double>;
  const parameter_layout layout{{4, 3}, {2}};
  low_rank_acid::options o;
  o.lr = 0.05;
  o.average_at_stop = false;
  std::vector<std::vector<double>> tilde(4), loaded_tilde(4);
  std::vector<double> time(4), loaded_time(4);
  std::vector<std::vector<std::byte>> checkpoints(4), again(4);
  sim::cluster(4).run([&](comm::inprocess c) {
    const int rank = c.rank();
    std::vector<double> x = initial(4, rank, layout.numel());
    std::atomic<double> ticks{0};
    low_rank_acid::options mine = o;
    mine.clock = [&ticks] { return ticks.load(); };
    low_rank_acid algo(g, std::move(c), parameters<double>::packed(x.data(), layout), mine, exec::host(1),
                       exec::host(1));
    algo.start();
    gradient_steps(algo, x, rank, 30, ticks);
    algo.stop();
    tilde[static_cast<std::size_t>(rank)].assign(algo.x_tilde(), algo.x_tilde() + layout.numel());
    time[static_cast<std::size_t>(rank)] = algo.time();
    checkpoints[static_cast<std::size_t>(rank)] = algo.save();
  });
  comm::inprocess_world world(4);
  for (int rank = 0; rank < 4; ++rank) {  // loading needs no communication
    std::vector<double> x(layout.numel());
    low_rank_acid algo(g, comm::inprocess(world, rank), parameters<double>::packed(x.data(), layout), o);
    algo.load(checkpoints[static_cast<std::size_t>(rank)]);
    CHECK(std::vector<double>(algo.x_tilde(), algo.x_tilde() + layout.numel()) == tilde[static_cast<std::size_t>(rank)]);
    CHECK(algo.time() == time[static_cast<std::size_t>(rank)]);
    CHECK(algo.time() > 20);
    CHECK(algo.save() == checkpoints[static_cast<std::size_t>(rank)]);  // everything read is written back
  }
  // Another rate changes η and α̃: the checkpoint does not fit.
  low_rank_acid::options other = o;
  other.rate = 2;
  std::vector<double> x(layout.numel());
  low_rank_acid different(g, comm::inprocess(world, 0), parameters<double>::packed(x.data(), layout), other);
  CHECK_THROWS_WITH_AS(different.load(checkpoints[0]), doctest::Contains("another algorithm or options"),
                       invalid_argument);
}

TEST_CASE("async threads: a stalled worker makes its neighbours fail within the deadline, nothing hangs") {
  // Worker 0 stops stepping for 1.5 s: its neighbours' communication threads wait for it past the 200 ms deadline,
  // and their next step() or stop() reports the comm_error.
  const topology::graph g = topology::ring(4);
  comm::inprocess_options world_options;
  world_options.deadline = std::chrono::milliseconds(200);
  comm::inprocess_world world(4, world_options);
  std::vector<std::string> errors(4);
  const auto begin = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (int rank = 0; rank < 4; ++rank)
      threads.emplace_back([&, rank] {
        std::vector<double> x = initial(4, rank, 8), grad(8, 0.0);
        try {
          async_options o;
          o.control = rate_control::deterministic;
          async_t algo(g, comm::inprocess(world, rank), parameters<double>::packed(x.data(), parameter_layout{{8}}), o,
                       exec::host(1), exec::host(1));
          algo.start();
          for (int t = 0; t < 200; ++t) {
            if (rank == 0 && t == 5) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            algo.step(grad);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
          algo.stop();
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(rank)] = e.what();
        }
      });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  CHECK(seconds < 10);
  // The neighbours of worker 0 fail with the deadline error (not necessarily worker 2, which may only see them go).
  for (const int neighbour : {1, 3}) {
    CAPTURE(neighbour);
    CHECK(errors[static_cast<std::size_t>(neighbour)].find("waited 200 ms") != std::string::npos);
  }
}

TEST_CASE("async threads with patience: a slow worker slows its partners only, not the whole ring") {
  // ring:8, worker 0 computes 20x longer than the others. With patience, worker 4 (farthest from 0) keeps its own
  // pace; without, the fixed schedule spreads worker 0's pace around the ring.
  const topology::graph g = topology::ring(8);
  async_options o;
  o.lr = 0;
  o.average_at_start = false;
  o.average_at_stop = false;
  o.control = rate_control::deterministic;
  run_settings s;
  s.steps = 100;
  s.compute_of = [](int rank) { return std::chrono::microseconds(rank == 0 ? 4000 : 200); };
  o.patience = std::chrono::microseconds(300);
  const auto patient = run_threads<acid_t>(g, o, s);
  o.patience = std::chrono::microseconds(0);
  const auto locked = run_threads<acid_t>(g, o, s);
  MESSAGE("loop seconds of workers 0, 1, 4 — patience: ", patient[0].loop_seconds, ", ", patient[1].loop_seconds, ", ",
          patient[4].loop_seconds, "; schedule only: ", locked[0].loop_seconds, ", ", locked[1].loop_seconds, ", ",
          locked[4].loop_seconds);
  CHECK(patient[4].loop_seconds < 0.4 * patient[0].loop_seconds);
  CHECK(locked[4].loop_seconds > 0.6 * locked[0].loop_seconds);
  // Communication still conserves the sum of x + x~, and the fast workers kept exchanging.
  double start = 0;
  for (int i = 0; i < g.size(); ++i)
    for (const double v : initial(g.size(), i, s.d)) start += 2 * v;
  CHECK(std::abs(total_mass(patient) - start) <= 1e-12 * (1 + std::abs(start)));
  CHECK(patient[4].exchanges >= s.steps - 1);
}
