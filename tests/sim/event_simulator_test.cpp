#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <decent/compress/low_rank.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/acid_kernels.hpp>
#include <decent/mixing/acid.hpp>
#include <decent/sim/event_simulator.hpp>
#include <decent/sim/problems.hpp>
#include <decent_sim/runner.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

/// exp(A) of a 2×2 matrix by scaling and squaring with a 20-term Taylor series (an independent computation).
std::array<double, 4> expm(std::array<double, 4> a) {
  int squarings = 0;
  double norm = std::abs(a[0]) + std::abs(a[1]) + std::abs(a[2]) + std::abs(a[3]);
  while (norm > 0.5) {
    for (double& v : a) v /= 2;
    norm /= 2;
    ++squarings;
  }
  auto mul = [](const std::array<double, 4>& p, const std::array<double, 4>& q) {
    return std::array<double, 4>{p[0] * q[0] + p[1] * q[2], p[0] * q[1] + p[1] * q[3], p[2] * q[0] + p[3] * q[2],
                                 p[2] * q[1] + p[3] * q[3]};
  };
  std::array<double, 4> result{1, 0, 0, 1}, term{1, 0, 0, 1};
  for (int k = 1; k <= 20; ++k) {
    term = mul(term, a);
    for (double& v : term) v /= k;
    for (int e = 0; e < 4; ++e) result[static_cast<std::size_t>(e)] += term[static_cast<std::size_t>(e)];
  }
  for (int s = 0; s < squarings; ++s) result = mul(result, result);
  return result;
}

/// Virtual time at which relative consensus first reaches 1e-6 (rows every 1 unit), or -1.
double time_to_consensus(const std::string& algorithm, const std::string& topology) {
  double reached = -1;
  sim::run(sim::parse_arguments({"--algorithm", algorithm, "--topology", topology, "--shape", "20", "--time", "5000",
                                 "--precision", "f64"}),
           {}, [&](const sim::row& r) {
             if (*r.relative_consensus <= 1e-6) reached = r.time;
             return reached >= 0;
           });
  return reached;
}

double steady_consensus(const std::string& algorithm, const std::string& rate) {
  double sum = 0;
  int rows = 0;
  sim::run(sim::parse_arguments({"--algorithm", algorithm, "--rate", rate, "--topology", "ring:16", "--problem",
                                 "quadratic", "--mu", "1", "--r0", "1", "--heterogeneity", "1", "--lr", "0.05",
                                 "--time", "400", "--precision", "f64"}),
           [&](const sim::row& r) {
             if (r.time >= 200) {
               sum += r.consensus;
               ++rows;
             }
           });
  return sum / rows;
}

}  // namespace

TEST_CASE("the closed-form mixing equals a numerically computed matrix exponential") {
  const exec::host ex(1);
  for (const double eta : {0.289281, 0.05, 1.7}) {
    for (const double dt : {0.0, 0.3, 1.7, 12.0}) {
      const auto m = expm({-eta * dt, eta * dt, eta * dt, -eta * dt});
      std::vector<double> x = {1.0, -2.5, 0.25}, xt = {0.0, 4.0, 0.25};
      const auto x0 = x, xt0 = xt;
      ex.for_each(3, detail::acid_mix_kernel<double>{x.data(), xt.data(), std::exp(-2 * eta * dt)});
      for (std::size_t k = 0; k < 3; ++k) {
        CHECK(x[k] == doctest::Approx(m[0] * x0[k] + m[1] * xt0[k]).epsilon(1e-13));
        CHECK(xt[k] == doctest::Approx(m[2] * x0[k] + m[3] * xt0[k]).epsilon(1e-13));
        CHECK(x[k] + xt[k] == doctest::Approx(x0[k] + xt0[k]).epsilon(1e-15));
      }
    }
  }
  // docs/algorithms.md §1.4: η = 0.289281, Δ = 1.7, (1, 0) → (0.68698954, 0.31301046).
  std::vector<double> x = {1.0}, xt = {0.0};
  ex.for_each(1, detail::acid_mix_kernel<double>{x.data(), xt.data(), std::exp(-2 * 0.289281 * 1.7)});
  CHECK(x[0] == doctest::Approx(0.68698954).epsilon(1e-8));
  CHECK(xt[0] == doctest::Approx(0.31301046).epsilon(1e-8));
}

TEST_CASE("events by hand: SGD on x and x~, then a fused exchange = mixing, then the pairwise update") {
  const exec::host ex(1);
  const topology::acid_constants k{3.4, 0.875, 0.289281, 0.987669};
  std::vector<double> x = {1, 2, 3, 4};
  const std::vector<double> first_peer = {0, 0, 8, 1}, peer = {0.5, -1, 7, 4}, g = {1, -1, 2, 0};
  std::vector<double> m(4, 0.5);
  mixing::acid<exec::host, double> worker(ex, parameters<double>{{x.data(), {4}}}, k);
  // Exchange at t = 0.3 (no time to mix yet): x̃ = x + α̃d, x = x + d/2 with d = peer − x; now x ≠ x̃.
  worker.exchange(ex, first_peer.data(), 0.0);
  std::vector<double> hx(4), ht(4);
  for (std::size_t i = 0; i < 4; ++i) {
    const double d = first_peer[i] - (static_cast<double>(i) + 1);
    hx[i] = (static_cast<double>(i) + 1) + 0.5 * d;
    ht[i] = (static_cast<double>(i) + 1) + 0.987669 * d;
    CHECK(x[i] == doctest::Approx(hx[i]).epsilon(1e-15));
    CHECK(worker.x_tilde()[i] == doctest::Approx(ht[i]).epsilon(1e-15));
  }
  // Gradient at t = 0.5: mix over 0.5, then m = 0.9m + g, and x, x̃ both move by −lr·m.
  worker.sgd(ex, 0.5, g.data(), m.data(), 0.1, 0.9);
  const double e1 = std::exp(-2 * 0.289281 * 0.5);
  for (std::size_t i = 0; i < 4; ++i) {
    const double s = 0.5 * (hx[i] + ht[i]), h = 0.5 * (hx[i] - ht[i]), v = 0.9 * 0.5 + g[i];
    hx[i] = s + e1 * h - 0.1 * v;
    ht[i] = s - e1 * h - 0.1 * v;
    CHECK(m[i] == doctest::Approx(v).epsilon(1e-15));
    CHECK(x[i] == doctest::Approx(hx[i]).epsilon(1e-14));
    CHECK(worker.x_tilde()[i] == doctest::Approx(ht[i]).epsilon(1e-14));
  }
  // Fused exchange at t = 2: mix over 1.5 inside the kernel, then the pairwise update.
  worker.exchange(ex, peer.data(), 2.0);
  const double e2 = std::exp(-2 * 0.289281 * 1.5);
  for (std::size_t i = 0; i < 4; ++i) {
    const double s = 0.5 * (hx[i] + ht[i]), h = 0.5 * (hx[i] - ht[i]);
    const double mx = s + e2 * h, mt = s - e2 * h, d = peer[i] - mx;
    CHECK(x[i] == doctest::Approx(mx + 0.5 * d).epsilon(1e-14));
    CHECK(worker.x_tilde()[i] == doctest::Approx(mt + 0.987669 * d).epsilon(1e-14));
  }
}

TEST_CASE("with mix-first, communication events leave sum_i (x_i + x~_i) unchanged, the reference order does not") {
  const auto ring = topology::ring(8);
  const sim::consensus_problem<double> task(8, parameter_layout{{30}}, 4);
  for (const auto order : {acid_send_order::mix_first, acid_send_order::reference}) {
    sim::event_options o;
    o.time = 40;
    o.order = order;
    sim::event_simulator<double> simulator(ring, task, o);
    auto total = [&] {
      double s = 0;
      for (int i = 0; i < 8; ++i)
        for (std::size_t k = 0; k < 30; ++k) s += simulator.x(i)[k] + simulator.state(i).x_tilde()[k];
      return s;
    };
    const double start = total();
    double worst = 0;
    simulator.run([&](const sim::row&) { worst = std::max(worst, std::abs(total() - start) / std::abs(start)); });
    CHECK(simulator.communication_events() > 100);
    if (order == acid_send_order::mix_first) CHECK(worst <= 1e-12);
    else CHECK(worst > 1e-6);
  }
}

TEST_CASE("the event simulator gives the same bits on one thread and on two, compressed runs and rows included") {
  const auto ring = topology::ring(6);
  const sim::logistic_problem<float> task(6, [] {
    sim::logistic_options o;
    o.dim = 5000;  // 4 classes: 20004 parameters, above the host executor's parallel threshold
    return o;
  }());
  auto run = [&](int threads, auto rule) {
    sim::event_options o;
    o.time = 3;
    o.every = 0.5;
    o.threads = threads;
    using Rule = typename decltype(rule)::type;
    sim::event_simulator<float, Rule> simulator(ring, task, o);
    std::vector<double> rows;
    simulator.run([&](const sim::row& r) {
      rows.push_back(r.consensus);
      rows.push_back(r.loss.value_or(0));
    });
    std::vector<std::vector<float>> xs;
    for (int i = 0; i < 6; ++i) xs.push_back(simulator.x(i));
    CHECK(simulator.gradient_events() > 10);
    return std::pair{rows, xs};
  };
  using a2cid2 = mixing::a2cid2_rule<exec::host, float>;
  using low_rank = mixing::a2cid2_rule<exec::host, float, compress::low_rank<exec::host, float>>;
  CHECK(run(1, std::type_identity<a2cid2>{}) == run(2, std::type_identity<a2cid2>{}));
  CHECK(run(1, std::type_identity<low_rank>{}) == run(2, std::type_identity<low_rank>{}));
}

TEST_CASE("each edge of an irregular graph exchanges at its own rate (r/2)(1/deg_i + 1/deg_j)") {
  // Star of 5: every edge has rate (r/2)(1/4 + 1) with r = 1, i.e. 0.625; the hub takes part in all of them.
  const auto star = topology::star(5);
  const sim::consensus_problem<double> task(5, parameter_layout{{3}}, 1);
  sim::event_options o;
  o.time = 4000;
  sim::event_simulator<double> simulator(star, task, o);
  simulator.run();
  // 4 edges × 0.625 × 4000 = 10000 exchanges, sd 100; no gradient events for consensus.
  CHECK(std::abs(static_cast<double>(simulator.communication_events()) - 10000) < 500);
  CHECK(simulator.gradient_events() == 0);
  // A chain of 4: edge rates (1/2)(1 + 1/2) = 0.75, (1/2)(1/2 + 1/2) = 0.5, 0.75; every worker 1 gradient/unit.
  const auto chain = topology::chain(4);
  const sim::quadratic_problem<double> quad(4, sim::quadratic_options{2, 0.5, 1, 1, 0, 0});
  o.time = 4000;
  sim::event_simulator<double> line(chain, quad, o);
  line.run();
  const double rates[] = {0.75, 0.5, 0.75};
  REQUIRE(line.edges().size() == 3);
  for (std::size_t e = 0; e < 3; ++e) {
    const double expected = rates[e] * 4000;
    CHECK(std::abs(static_cast<double>(line.communication_events(e)) - expected) < 5 * std::sqrt(expected));
  }
  for (int i = 0; i < 4; ++i) CHECK(std::abs(static_cast<double>(line.gradient_events(i)) - 4000) < 5 * std::sqrt(4000.0));
}

TEST_CASE("event counts follow the Poisson rates, and a seed fixes the whole run") {
  const auto ring = topology::ring(10);
  const sim::quadratic_problem<double> task(10, sim::quadratic_options{4, 0.5, 1, 1, 0, 0});
  sim::event_options o;
  o.time = 500;
  o.rate = 2;
  sim::event_simulator<double> simulator(ring, task, o);
  const auto last = simulator.run();
  // Expected 10·500 = 5000 gradients and 10·2/2·500 = 5000 exchanges; sd ≈ 71.
  CHECK(std::abs(static_cast<double>(simulator.gradient_events()) - 5000) < 5 * 71);
  CHECK(std::abs(static_cast<double>(simulator.communication_events()) - 5000) < 5 * 71);
  CHECK(last.bytes_per_worker == doctest::Approx(2.0 * static_cast<double>(simulator.communication_events()) * 4 * 8 / 10));
  sim::event_simulator<double> again(ring, task, o);
  CHECK(again.run().consensus == last.consensus);
  o.every = 7;  // rows measure copies: how often they come does not change the run
  sim::event_simulator<double> sparse(ring, task, o);
  CHECK(sparse.run().consensus == last.consensus);
  o.every = 1;
  o.seed = 1;
  sim::event_simulator<double> other(ring, task, o);
  CHECK(other.run().consensus != last.consensus);
}

TEST_CASE("consensus: a2cid2 beats async gossip on rings, more so on larger rings, and not on the exponential graph") {
  const double async16 = time_to_consensus("async-gossip", "ring:16"), acid16 = time_to_consensus("a2cid2", "ring:16");
  const double async32 = time_to_consensus("async-gossip", "ring:32"), acid32 = time_to_consensus("a2cid2", "ring:32");
  const double async_exp = time_to_consensus("async-gossip", "exponential:16");
  const double acid_exp = time_to_consensus("a2cid2", "exponential:16");
  MESSAGE("time to 1e-6: ring:16 ", async16, " vs ", acid16, ", ring:32 ", async32, " vs ", acid32, ", exponential:16 ",
          async_exp, " vs ", acid_exp);
  REQUIRE(acid16 > 0);
  REQUIRE(acid32 > 0);
  CHECK(acid16 < 0.7 * async16);
  CHECK(acid32 / async32 < acid16 / async16);  // the gain grows with n
  CHECK(acid_exp / async_exp > 0.75);          // no notable gain on a well-connected graph
  CHECK(acid_exp / async_exp < 1.34);
}

TEST_CASE("with gradients on ring:16, a2cid2 at rate 1 keeps the consensus distance of async gossip at rate 2") {
  const double acid1 = steady_consensus("a2cid2", "1"), async1 = steady_consensus("async-gossip", "1");
  const double async2 = steady_consensus("async-gossip", "2");
  MESSAGE("steady-state consensus: a2cid2 r=1 ", acid1, ", async r=1 ", async1, ", async r=2 ", async2);
  CHECK(acid1 < 0.7 * async1);
  CHECK(acid1 / async2 > 0.7);
  CHECK(acid1 / async2 < 1.4);
}

TEST_CASE("asynchronous runs reject --steps, time-varying graphs and a non-positive rate") {
  CHECK_THROWS_AS(sim::parse_arguments({"--algorithm", "a2cid2", "--steps", "5"}), invalid_argument);
  CHECK_THROWS_AS(sim::run(sim::parse_arguments({"--algorithm", "a2cid2", "--topology", "one-peer-exponential:8",
                                                 "--time", "1"})),
                  invalid_argument);
  CHECK_THROWS_AS(sim::run(sim::parse_arguments({"--algorithm", "async-gossip", "--rate", "0", "--time", "1"})),
                  invalid_argument);
}

namespace {

using low_rank_host = compress::low_rank<exec::host, double>;
using a2cid2_low_rank_rule = mixing::a2cid2_rule<exec::host, double, low_rank_host>;
using pairwise_low_rank_rule = mixing::pairwise_average<exec::host, double, low_rank_host>;

/// Σ_i (x_i + x̃_i) per coordinate (x̃ absent: Σ_i x_i), over the simulator's workers.
template <class Simulator>
std::vector<double> invariant(const Simulator& s, int n, std::size_t numel) {
  std::vector<double> total(numel, 0.0);
  for (int i = 0; i < n; ++i) {
    const double* xt = s.state(i).x_tilde();
    for (std::size_t k = 0; k < numel; ++k) total[k] += s.x(i)[k] + (xt ? xt[k] : 0.0);
  }
  return total;
}

}  // namespace

TEST_CASE("event simulator through the low-rank compressor: exchanges conserve the invariant and reach consensus") {
  const topology::graph g = topology::ring(8);
  // A matrix (compressed, rank 2) and a vector (sent whole, averaged at rate 1).
  const parameter_layout layout{{6, 5}, {4}};
  const std::size_t numel = layout.numel();
  const sim::consensus_problem<double> task(8, layout, 3);
  compress::low_rank_options lr;
  lr.rank = 2;
  sim::event_options o;
  o.time = 60;
  o.seed = 11;
  std::vector<double> before(numel, 0.0);
  for (int i = 0; i < 8; ++i) {
    std::vector<double> x0(numel);
    task.initial_point(i, x0.data());
    for (std::size_t k = 0; k < numel; ++k) before[k] += 2.0 * x0[k];  // x̃ starts at x
  }
  SUBCASE("A2CiD2: sum of x + x~ unchanged, consensus distance falls by orders of magnitude") {
    sim::event_simulator<double, a2cid2_low_rank_rule> s(g, task, o, lr);
    std::vector<sim::row> rows;
    s.run([&](const sim::row& r) { rows.push_back(r); });
    REQUIRE(rows.size() == 61);
    CHECK(s.communication_events() > 200);
    const auto after = invariant(s, 8, numel);
    for (std::size_t k = 0; k < numel; ++k) CHECK(after[k] == doctest::Approx(before[k]).epsilon(1e-12));
    CHECK(*rows.back().relative_consensus < 1e-3);
    // Payload per event, both ways: the 4-vector and the rank-2 factor of the 6×5 matrix (5·2 or 6·2 values, by
    // the side of the edge's power iteration).
    const double per_event_min = 2.0 * (5 * 2 + 4) * sizeof(double), per_event_max = 2.0 * (6 * 2 + 4) * sizeof(double);
    const double total = rows.back().bytes_per_worker * 8;
    CHECK(total >= per_event_min * static_cast<double>(s.communication_events()));
    CHECK(total <= per_event_max * static_cast<double>(s.communication_events()));
    // A pure function of the seed.
    sim::event_simulator<double, a2cid2_low_rank_rule> again(g, task, o, lr);
    again.run();
    for (int i = 0; i < 8; ++i) CHECK(again.x(i) == s.x(i));
  }
  SUBCASE("asynchronous gossip: the mean of x unchanged") {
    sim::event_simulator<double, pairwise_low_rank_rule> s(g, task, o, lr);
    const sim::row last = s.run();
    const auto after = invariant(s, 8, numel);
    for (std::size_t k = 0; k < numel; ++k) CHECK(2.0 * after[k] == doctest::Approx(before[k]).epsilon(1e-12));
    CHECK(*last.relative_consensus < 1e-2);
  }
  SUBCASE("the reference send order needs the uncompressed exchange") {
    o.order = acid_send_order::reference;
    CHECK_THROWS_WITH_AS((sim::event_simulator<double, a2cid2_low_rank_rule>(g, task, o, lr)),
                         doctest::Contains("acid_send_order::mix_first"), invalid_argument);
  }
}
