#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <decent/detail/linalg.hpp>
#include <decent/sim/problems.hpp>

using decent::sim::consensus_problem;
using decent::sim::logistic_options;
using decent::sim::logistic_problem;
using decent::sim::quadratic_options;
using decent::sim::quadratic_problem;

namespace {
double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}
}  // namespace

TEST_CASE("quadratic: heterogeneity, optimum distance and spectrum are as requested") {
  for (double zeta2 : {0.0, 0.1, 1.0, 25.0}) {
    const quadratic_problem<double> q(6, quadratic_options{10, 0.5, 100, zeta2, 0, 3});
    CHECK(q.zeta2() == doctest::Approx(zeta2).epsilon(1e-9).scale(1));
    CHECK(norm(q.optimum()) == doctest::Approx(100).epsilon(1e-12));
  }
  const quadratic_problem<double> q(4, quadratic_options{5, 0.3, 10, 1, 0, 1});
  for (int i = 0; i < 4; ++i) {
    // Eigenvalues of A_iᵀA_i are the squared singular values linspace(0.3, 1, 5)².
    const auto& a = q.matrix(i);
    decent::detail::dense_matrix ata(5, 5);
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 5; ++c)
        for (int k = 0; k < 5; ++k) ata(r, c) += a(k, r) * a(k, c);
    const auto ev = decent::detail::symmetric_eigenvalues(ata);
    for (std::size_t k = 0; k < 5; ++k) {
      const double s = 0.3 + 0.7 * static_cast<double>(k) / 4;
      CHECK(ev[k] == doctest::Approx(s * s).epsilon(1e-12));
    }
  }
}

TEST_CASE("quadratic: the optimum is stationary for the sum and the loss is f(mean) - f*") {
  const int n = 5, d = 8;
  const quadratic_problem<double> q(n, quadratic_options{d, 0.5, 100, 2.0, 0, 11});
  std::vector<double> total(d, 0.0), g(d);
  double zeta2 = 0;
  for (int i = 0; i < n; ++i) {
    q.gradient(i, q.optimum().data(), g.data(), 0);
    for (int k = 0; k < d; ++k) total[static_cast<std::size_t>(k)] += g[static_cast<std::size_t>(k)];
    zeta2 += norm(g) * norm(g) / n;
  }
  CHECK(norm(total) < 1e-9);
  CHECK(zeta2 == doctest::Approx(2.0).epsilon(1e-9));
  CHECK(std::abs(*q.loss(q.optimum().data())) < 1e-9);
  const std::vector<double> zero(d, 0.0);
  CHECK(*q.loss(zero.data()) > 1.0);
  CHECK(*q.loss(zero.data()) == doctest::Approx(q.value(zero) - q.optimal_value()));
}

TEST_CASE("quadratic: gradient of worker i is A_iᵀ(A_i x − b_i) (finite differences of ½‖A_i x − b_i‖²)") {
  const int d = 6;
  const quadratic_problem<double> q(3, quadratic_options{d, 0.5, 10, 1, 0, 5});
  std::vector<double> x(d), g(d);
  for (int k = 0; k < d; ++k) x[static_cast<std::size_t>(k)] = 0.3 * k - 1;
  auto half_residual = [&](const std::vector<double>& y) {
    const auto& a = q.matrix(1);
    double s = 0;
    for (int r = 0; r < d; ++r) {
      double v = -q.offset(1)[static_cast<std::size_t>(r)];
      for (int c = 0; c < d; ++c) v += a(r, c) * y[static_cast<std::size_t>(c)];
      s += v * v;
    }
    return 0.5 * s;
  };
  q.gradient(1, x.data(), g.data(), 0);
  for (std::size_t k = 0; k < d; ++k) {
    auto up = x, down = x;
    up[k] += 1e-6;
    down[k] -= 1e-6;
    CHECK(g[k] == doctest::Approx((half_residual(up) - half_residual(down)) / 2e-6).epsilon(1e-7));
  }
}

TEST_CASE("quadratic: gradient noise has variance sigma^2 in total and is reproducible per step") {
  const int d = 10;
  const quadratic_problem<double> clean(2, quadratic_options{d, 0.5, 1, 1, 0, 2});
  const quadratic_problem<double> noisy(2, quadratic_options{d, 0.5, 1, 1, 0.5, 2});
  std::vector<double> x(d, 0.1), g0(d), g1(d), again(d);
  clean.gradient(0, x.data(), g0.data(), 0);
  double energy = 0;
  const int steps = 4000;
  for (int t = 0; t < steps; ++t) {
    noisy.gradient(0, x.data(), g1.data(), static_cast<std::uint64_t>(t));
    for (std::size_t k = 0; k < d; ++k) energy += (g1[k] - g0[k]) * (g1[k] - g0[k]);
  }
  CHECK(energy / steps == doctest::Approx(0.25).epsilon(0.05));
  noisy.gradient(0, x.data(), g1.data(), 17);
  noisy.gradient(0, x.data(), again.data(), 17);
  CHECK(g1 == again);
}

TEST_CASE("quadratic: the same seed gives the same problem, another seed another") {
  const quadratic_problem<double> a(3, quadratic_options{4, 0.5, 1, 1, 0, 9}), b(3, quadratic_options{4, 0.5, 1, 1, 0, 9});
  const quadratic_problem<double> c(3, quadratic_options{4, 0.5, 1, 1, 0, 10});
  CHECK(a.offset(2) == b.offset(2));
  CHECK(a.offset(2) != c.offset(2));
}

TEST_CASE("quadratic: bad options are rejected") {
  CHECK_THROWS_AS(quadratic_problem<double>(4, quadratic_options{0, 0.5, 1, 1, 0, 0}), decent::invalid_argument);
  CHECK_THROWS_AS(quadratic_problem<double>(4, quadratic_options{3, 0.0, 1, 1, 0, 0}), decent::invalid_argument);
  CHECK_THROWS_AS(quadratic_problem<double>(4, quadratic_options{3, 0.5, 1, -1, 0, 0}), decent::invalid_argument);
}

TEST_CASE("logistic: the gradient of f is the mean of the workers' gradients (finite differences)") {
  logistic_options o;
  o.dim = 3;
  o.classes = 3;
  o.samples = 20;
  const int n = 4;
  const logistic_problem<double> p(n, o);
  const std::size_t size = p.layout().numel();
  REQUIRE(size == 3 * 3 + 3);
  std::vector<double> w(size), g(size), total(size, 0.0);
  for (std::size_t k = 0; k < size; ++k) w[k] = 0.1 * static_cast<double>(k % 5) - 0.2;
  for (int i = 0; i < n; ++i) {
    p.gradient(i, w.data(), g.data(), 0);
    for (std::size_t k = 0; k < size; ++k) total[k] += g[k] / n;
  }
  for (std::size_t k = 0; k < size; ++k) {
    auto up = w, down = w;
    up[k] += 1e-6;
    down[k] -= 1e-6;
    CHECK(total[k] == doctest::Approx((*p.loss(up.data()) - *p.loss(down.data())) / 2e-6).epsilon(1e-6));
  }
}

TEST_CASE("logistic: labels are split unevenly across workers by the heterogeneity") {
  logistic_options o;
  o.samples = 4000;
  o.classes = 4;
  o.heterogeneity = 3;  // 3/4 of each worker's samples from its dominant class, the rest uniform
  const logistic_problem<double> skewed(4, o);
  o.heterogeneity = 0;
  const logistic_problem<double> iid(4, o);
  for (int i = 0; i < 4; ++i) {
    double dominant = 0, uniform = 0;
    for (std::size_t s = 0; s < 4000; ++s) {
      dominant += skewed.label(i, s) == static_cast<std::size_t>(i) ? 1 : 0;
      uniform += iid.label(i, s) == static_cast<std::size_t>(i) ? 1 : 0;
    }
    CHECK(dominant / 4000 == doctest::Approx(0.75 + 0.25 / 4).epsilon(0.05));
    CHECK(uniform / 4000 == doctest::Approx(0.25).epsilon(0.1));
  }
}

TEST_CASE("consensus: workers start from different, reproducible points and have no gradient") {
  const consensus_problem<float> p(3, decent::parameter_layout{{4, 5}, {5}}, 42);
  CHECK(p.layout().numel() == 25);
  std::vector<float> a(25), b(25), again(25);
  p.initial_point(0, a.data());
  p.initial_point(1, b.data());
  p.initial_point(0, again.data());
  CHECK(a == again);
  CHECK(a != b);
  CHECK_FALSE(p.has_gradient());
  CHECK_FALSE(p.loss(nullptr).has_value());
}
