// The baselines of the RelaySGD paper's tables — D², gradient tracking, SGP and quasi-global momentum — against
// independent dense computations of the reference's formulas (docs/algorithms.md §2.7), and their claims.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <decent/algorithm/d2.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/gradient_tracking.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/algorithm/sgp.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>
#include <decent/topology/weights.hpp>

using namespace decent;

namespace {

using matrix = std::vector<std::vector<double>>;  // one row per worker

constexpr std::size_t dim = 7;

/// Worker i's start x⁰_i[k] = sin(1 + 3i + 0.7k) and its optimum b_i[k] = cos(2i + k): f_i(x) = ½‖x − b_i‖².
double start(int i, std::size_t k) { return std::sin(1.0 + 3.0 * i + 0.7 * static_cast<double>(k)); }
double target(int i, std::size_t k) { return std::cos(2.0 * i + static_cast<double>(k)); }

matrix starts(int n) {
  matrix x(static_cast<std::size_t>(n), std::vector<double>(dim));
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < dim; ++k) x[static_cast<std::size_t>(i)][k] = start(i, k);
  return x;
}

/// ∇f(x) = x − b, every worker.
matrix gradients(const matrix& x) {
  matrix g = x;
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t k = 0; k < dim; ++k) g[i][k] = x[i][k] - target(static_cast<int>(i), k);
  return g;
}

matrix plus(const matrix& a, const matrix& b, double s = 1.0) {
  matrix out = a;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t k = 0; k < dim; ++k) out[i][k] += s * b[i][k];
  return out;
}

/// W_γ x with W_γ = (1 − γ)I + γW, W the uniform gossip matrix of g.
matrix mixed(const topology::graph& g, const matrix& x, double gamma) {
  const auto w = topology::mixing_matrix(g);
  matrix out = x;
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t k = 0; k < dim; ++k) {
      double acc = (1 - gamma) * x[i][k];
      for (std::size_t j = 0; j < x.size(); ++j) acc += gamma * w(static_cast<int>(i), static_cast<int>(j)) * x[j][k];
      out[i][k] = acc;
    }
  return out;
}

/// decent: every worker runs `steps` of a plain local SGD step (x ← x − lr·∇f_i(x)) and then mix(); returns all
/// workers' parameters. Two unpacked tensors (reversed in memory) when `packed` is false.
template <class Make>
matrix run(int n, int steps, double lr, Make make, bool packed = true) {
  matrix x = starts(n);
  sim::cluster(n).run([&](comm::inprocess c) {
    const int rank = c.rank();
    double* mine = x[static_cast<std::size_t>(rank)].data();
    const std::size_t head = 3;
    const parameters<double> p =
        packed ? parameters<double>::packed(mine, parameter_layout{{static_cast<std::int64_t>(dim)}})
               : parameters<double>{{mine + head, {static_cast<std::int64_t>(dim - head)}},
                                    {mine, {static_cast<std::int64_t>(head)}}};
    auto algorithm = make(std::move(c), p);
    for (int t = 0; t < steps; ++t) {
      for (std::size_t k = 0; k < dim; ++k) mine[k] -= lr * (mine[k] - target(rank, k));
      algorithm.mix();
    }
  });
  return x;
}

void check_close(const matrix& a, const matrix& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t k = 0; k < dim; ++k) {
      CAPTURE(i);
      CAPTURE(k);
      REQUIRE(a[i][k] == doctest::Approx(b[i][k]).epsilon(tol));
    }
}

/// The optimum of (1/n)Σ f_i: the mean of the b_i.
std::vector<double> optimum(int n) {
  std::vector<double> x(dim, 0.0);
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < dim; ++k) x[k] += target(i, k) / n;
  return x;
}

/// max_i,k |x_i[k] − x*[k]|.
double distance_to_optimum(const matrix& x) {
  const auto best = optimum(static_cast<int>(x.size()));
  double worst = 0;
  for (const auto& xi : x)
    for (std::size_t k = 0; k < dim; ++k) worst = std::max(worst, std::abs(xi[k] - best[k]));
  return worst;
}

}  // namespace

TEST_CASE("d2 equals the reference's D2 and exact diffusion, computed densely (irregular graph, both layouts)") {
  const topology::graph g = topology::binary_tree(7);
  for (const double gamma : {1.0, 0.5}) {  // D² and exact diffusion
    for (const bool packed : {true, false}) {
      CAPTURE(gamma);
      CAPTURE(packed);
      const double lr = 0.3;
      // The reference simulator's d2: update = −lr·g; state ← W(state + update + c); c ← state − prev − update.
      matrix x = starts(g.size()), c(x.size(), std::vector<double>(dim, 0.0));
      for (int t = 0; t < 9; ++t) {
        const matrix update = plus(matrix(x.size(), std::vector<double>(dim, 0.0)), gradients(x), -lr);
        const matrix previous = x;
        x = mixed(g, plus(plus(x, update), c), gamma);
        c = plus(plus(x, previous, -1.0), update, -1.0);
      }
      const matrix ours = run(g.size(), 9, lr, [&](comm::inprocess comm, parameters<double> p) {
        return d2<topology::graph, comm::inprocess, exec::host, double>(g, std::move(comm), p, {gamma}, exec::host(1));
      }, packed);
      check_close(ours, x, 1e-12);
    }
  }
}

TEST_CASE("gradient tracking equals the reference's, in the tracker form of its simulator (irregular graph)") {
  const topology::graph g = topology::star(6);
  for (const bool packed : {true, false}) {
    CAPTURE(packed);
    const double lr = 0.2;
    // The reference simulator: state ← W(state − lr(g − c)); c ← W(c − g) + g — the gradients' form, where the rule
    // works on the local step's update (c there is lr·c here).
    matrix x = starts(g.size()), c(x.size(), std::vector<double>(dim, 0.0));
    for (int t = 0; t < 9; ++t) {
      const matrix grad = gradients(x);
      x = mixed(g, plus(x, plus(grad, c, -1.0), -lr), 1.0);
      c = plus(mixed(g, plus(c, grad, -1.0), 1.0), grad);
    }
    const matrix ours = run(g.size(), 9, lr, [&](comm::inprocess comm, parameters<double> p) {
      return gradient_tracking<topology::graph, comm::inprocess, exec::host, double>(g, std::move(comm), p, {},
                                                                                    exec::host(1));
    }, packed);
    check_close(ours, x, 1e-12);
  }
}

TEST_CASE("gradient tracking on a time-varying topology: both exchanges of a step use that step's graph") {
  const topology::one_peer_exponential g(8);
  const double lr = 0.2;
  matrix x = starts(8), c(x.size(), std::vector<double>(dim, 0.0));
  for (int t = 0; t < 9; ++t) {  // the tracker form, with W_t of step t
    const topology::graph now = g.graph_at(t);
    const matrix grad = gradients(x);
    x = mixed(now, plus(x, plus(grad, c, -1.0), -lr), 1.0);
    c = plus(mixed(now, plus(c, grad, -1.0), 1.0), grad);
  }
  const matrix ours = run(8, 9, lr, [&](comm::inprocess comm, parameters<double> p) {
    return gradient_tracking<topology::one_peer_exponential, comm::inprocess, exec::host, double>(
        g, std::move(comm), p, {}, exec::host(1));
  });
  check_close(ours, x, 1e-12);
}

TEST_CASE("quasi-global momentum around a rule of two exchanges (gradient tracking) steps once per mix") {
  const topology::graph g = topology::ring(6);
  const double lr = 0.05, mu = 0.8;
  // Per step: the user's plain step, the momentum step on it, gradient tracking (in its update form: Δ from x^t),
  // then m from the whole step's displacement.
  matrix x = starts(6), c(x.size(), std::vector<double>(dim, 0.0)), m = c;
  for (int t = 0; t < 10; ++t) {
    const matrix previous = x, user = plus(x, gradients(x), -lr);
    const matrix buffer = plus(plus(previous, user, -1.0), m, mu);  // μm + δ
    const matrix half = plus(user, buffer, -mu);
    const matrix delta = plus(half, previous, -1.0);
    x = mixed(g, plus(half, c), 1.0);
    c = plus(mixed(g, plus(c, delta), 1.0), delta, -1.0);
    for (std::size_t i = 0; i < m.size(); ++i)
      for (std::size_t k = 0; k < dim; ++k) m[i][k] = mu * m[i][k] + (1 - mu) * (previous[i][k] - x[i][k]);
  }
  quasi_global_options<gossip_options> o;
  o.momentum = mu;
  const matrix ours = run(6, 10, lr, [&](comm::inprocess comm, parameters<double> p) {
    return mixer<topology::graph, comm::inprocess, mixing::quasi_global<mixing::gradient_tracking<exec::host, double>>>(
        g, std::move(comm), p, o, exec::host(1));
  });
  check_close(ours, x, 1e-11);
}

TEST_CASE("d2 and gradient tracking reach the exact optimum of heterogeneous objectives, D-PSGD does not") {
  const topology::graph g = topology::ring(8);
  const auto d2_run = run(8, 400, 0.2, [&](comm::inprocess c, parameters<double> p) {
    return d2<topology::graph, comm::inprocess, exec::host, double>(g, std::move(c), p, {}, exec::host(1));
  });
  const auto tracking_run = run(8, 400, 0.2, [&](comm::inprocess c, parameters<double> p) {
    return gradient_tracking<topology::graph, comm::inprocess, exec::host, double>(g, std::move(c), p, {},
                                                                                  exec::host(1));
  });
  const auto gossip_run = run(8, 400, 0.2, [&](comm::inprocess c, parameters<double> p) {
    return gossip<topology::graph, comm::inprocess, exec::host, double>(g, std::move(c), p, {}, exec::host(1));
  });
  CHECK(distance_to_optimum(d2_run) < 1e-10);
  CHECK(distance_to_optimum(tracking_run) < 1e-10);
  CHECK(distance_to_optimum(gossip_run) > 1e-2);  // the heterogeneity bias of D-PSGD at a constant step
}

TEST_CASE("sgp equals averaging with i - 2^(k mod D), computed densely, and averages exactly in D exchanges") {
  for (const int n : {16, 6, 2}) {
    for (const int exchanges : {2, 1, 3}) {
      CAPTURE(n);
      CAPTURE(exchanges);
      const int periods = n == 2 ? 1 : static_cast<int>(std::floor(std::log2(n - 1))) + 1;
      const double lr = 0.1;
      matrix x = starts(n);
      int k = 0;
      for (int t = 0; t < 7; ++t) {
        x = plus(x, gradients(x), -lr);
        for (int e = 0; e < exchanges; ++e, ++k) {
          const int s = 1 << (k % periods);
          matrix next = x;
          for (int i = 0; i < n; ++i)
            for (std::size_t q = 0; q < dim; ++q)
              next[static_cast<std::size_t>(i)][q] =
                  (x[static_cast<std::size_t>(i)][q] + x[static_cast<std::size_t>((i - s + n) % n)][q]) / 2;
          x = next;
        }
      }
      sgp_options o;
      o.exchanges_per_step = exchanges;
      for (const bool packed : {true, false}) {
        CAPTURE(packed);
        const matrix ours = run(n, 7, lr, [&](comm::inprocess c, parameters<double> p) {
          return sgp<comm::inprocess, exec::host, double>(std::move(c), p, o, exec::host(1));
        }, packed);
        check_close(ours, x, 1e-13);
      }
    }
  }
  // No gradient, n = 16: exchanges with shifts 1, 2, 4, 8 leave every worker at the exact average.
  const matrix before = starts(16);
  sgp_options four;
  four.exchanges_per_step = 4;
  const matrix after = run(16, 1, 0.0, [&](comm::inprocess c, parameters<double> p) {
    return sgp<comm::inprocess, exec::host, double>(std::move(c), p, four, exec::host(1));
  });
  for (std::size_t q = 0; q < dim; ++q) {
    double mean = 0;
    for (const auto& xi : before) mean += xi[q] / 16;
    for (const auto& xi : after) CHECK(xi[q] == doctest::Approx(mean).epsilon(1e-15));
  }
}

TEST_CASE("quasi-global momentum equals the reference's training code at a constant learning rate") {
  const topology::graph g = topology::binary_tree(7);
  for (const double mu : {0.9, 0.5, 0.0}) {
    CAPTURE(mu);
    const double lr = 0.05;
    // The reference: buf = μm + g; x ← x − lr(g + μ·buf) (Nesterov, m restored); x ← W x; m ← μm + (1−μ)(prev − x)/lr.
    matrix x = starts(g.size()), m(x.size(), std::vector<double>(dim, 0.0));
    for (int t = 0; t < 12; ++t) {
      const matrix grad = gradients(x), previous = x;
      const matrix buffer = plus(grad, m, mu);
      x = mixed(g, plus(x, plus(grad, buffer, mu), -lr), 1.0);
      matrix moved = plus(previous, x, -1.0);
      for (auto& row : moved)
        for (double& v : row) v /= lr;
      for (std::size_t i = 0; i < m.size(); ++i)
        for (std::size_t k = 0; k < dim; ++k) m[i][k] = mu * m[i][k] + (1 - mu) * moved[i][k];
    }
    for (const bool packed : {true, false}) {
      CAPTURE(packed);
      quasi_global_options<gossip_options> o;
      o.momentum = mu;
      const matrix ours = run(g.size(), 12, lr, [&](comm::inprocess c, parameters<double> p) {
        return quasi_global_gossip<topology::graph, comm::inprocess, exec::host, double>(g, std::move(c), p, o,
                                                                                        exec::host(1));
      }, packed);
      check_close(ours, x, 1e-11);
    }
  }
  // With μ = 0 it is gossip, bit for bit.
  quasi_global_options<gossip_options> none;
  none.momentum = 0;
  const auto without = run(7, 5, 0.1, [&](comm::inprocess c, parameters<double> p) {
    return quasi_global_gossip<topology::graph, comm::inprocess, exec::host, double>(g, std::move(c), p, none,
                                                                                    exec::host(1));
  });
  const auto plain = run(7, 5, 0.1, [&](comm::inprocess c, parameters<double> p) {
    return gossip<topology::graph, comm::inprocess, exec::host, double>(g, std::move(c), p, {}, exec::host(1));
  });
  CHECK(without == plain);
}

TEST_CASE("the baselines reject what they cannot run, with the reason") {
  std::vector<double> x(4 * 3, 1.0);
  const auto error_of = [&](const std::function<void(comm::inprocess, parameters<double>)>& make) {
    std::string message;
    try {
      sim::cluster(4).run([&](comm::inprocess c) {
        const parameters<double> p{{x.data() + 3 * c.rank(), {3}}};
        make(std::move(c), p);
      });
    } catch (const std::exception& e) {
      message = e.what();
    }
    return message;
  };
  CHECK(error_of([](comm::inprocess c, parameters<double> p) {
          d2<topology::one_peer_exponential, comm::inprocess, exec::host, double> d(topology::one_peer_exponential(4),
                                                                                   std::move(c), p);
        }).find("d2 needs a static topology") != std::string::npos);
  CHECK(error_of([](comm::inprocess c, parameters<double> p) {
          sgp<comm::inprocess, exec::host, double> s(std::move(c), p, {0});
        }).find("exchanges_per_step must be >= 1, got 0") != std::string::npos);
  CHECK(error_of([](comm::inprocess c, parameters<double> p) {
          quasi_global_options<gossip_options> o;
          o.momentum = 1;
          quasi_global_gossip<topology::graph, comm::inprocess, exec::host, double> q(topology::ring(4), std::move(c),
                                                                                      p, o);
        }).find("momentum must be in [0, 1), got 1") != std::string::npos);
  CHECK(error_of([](comm::inprocess c, parameters<double> p) {
          d2<topology::graph, comm::inprocess, exec::host, double> d(topology::ring(4), std::move(c), p, {2.0});
        }).find("gamma") != std::string::npos);
}

TEST_CASE("workers that disagree on a baseline's options are told at the first mix") {
  std::vector<double> x(3 * 4, 1.0);
  std::vector<std::string> errors(3);
  sim::cluster(3).run([&](comm::inprocess c) {
    const int rank = c.rank();
    quasi_global_options<gossip_options> o;
    o.momentum = rank == 1 ? 0.8 : 0.9;
    quasi_global_gossip<topology::graph, comm::inprocess, exec::host, double> q(
        topology::ring(3), std::move(c), {{x.data() + 4 * rank, {4}}}, o);
    try {
      q.mix();
    } catch (const std::exception& e) {
      errors[static_cast<std::size_t>(rank)] = e.what();
    }
  });
  for (const auto& e : errors)
    CHECK_MESSAGE(e.find("disagree on the algorithm and its options (ranks 0, 2 vs rank 1)") != std::string::npos, e);
}

TEST_CASE("quasi-global momentum keeps the start check of the rule it wraps (RelaySGD/Grad)") {
  using wrapped = mixing::quasi_global<mixing::relaysum<exec::host, double>>;
  std::vector<double> x(4 * 3);
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<double>(k);  // the workers start apart
  quasi_global_options<relaysum_options> o;
  o.variant = relay_variant::grad;
  CHECK_THROWS_WITH_AS(sim::cluster(4).run([&](comm::inprocess c) {
    mixer<topology::graph, comm::inprocess, wrapped> m(topology::chain(4), std::move(c),
                                                       {{x.data() + 3 * c.rank(), {3}}}, o, exec::host(1));
    m.mix();
  }), doctest::Contains("starting parameters"), comm_error);
}
