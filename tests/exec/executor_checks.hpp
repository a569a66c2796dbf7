#pragma once
// Checks of the Executor contract, shared by the host test (exec::host) and the CUDA test (exec::cuda).
// A test file provides `transfer<Exec>` with upload(vector) -> buffer and download(buffer) -> vector.

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include <decent/core/rng.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/operations.hpp>

namespace checks {

template <class Exec>
struct transfer;

template <class T>
std::vector<T> random_vector(std::size_t n, std::uint32_t stream) {
  const decent::random_stream s{99, stream, 0};
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(s.normal(i));
  return v;
}

/// for_each runs every index exactly once with the shared functors.
template <class Exec, class T>
void check_elementwise(const Exec& ex) {
  using io = transfer<Exec>;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, std::size_t{70001}}) {
    const auto x0 = random_vector<T>(n, 1), m0 = random_vector<T>(n, 2), g0 = random_vector<T>(n, 3);
    auto x = io::upload(ex, x0);
    auto m = io::upload(ex, m0);
    auto g = io::upload(ex, g0);
    ex.for_each(n, decent::detail::sgd_momentum_kernel<T>{x.data(), m.data(), g.data(), 0.25, 0.9});
    const auto x1 = io::download(ex, x, n), m1 = io::download(ex, m, n);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = 0.9 * static_cast<double>(m0[i]) + static_cast<double>(g0[i]);
      REQUIRE(static_cast<double>(m1[i]) == doctest::Approx(v).epsilon(1e-6));
      REQUIRE(static_cast<double>(x1[i]) == doctest::Approx(static_cast<double>(x0[i]) - 0.25 * v).epsilon(1e-6));
    }
  }
}

/// The gossip update: x ← self·x + Σ_j coef_j r_j, for every number of inputs (one pass or several).
template <class Exec, class T>
void check_weighted_sum(const Exec& ex) {
  using io = transfer<Exec>;
  const std::size_t n = 5000;
  for (int count : {0, 1, 2, 3, 8, 9, 13, 17}) {
    const auto x0 = random_vector<T>(n, 4);
    auto x = io::upload(ex, x0);
    std::vector<std::vector<T>> inputs;
    std::vector<decltype(io::upload(ex, x0))> device_inputs;
    std::vector<const T*> pointers;
    std::vector<double> coef;
    for (int j = 0; j < count; ++j) {
      inputs.push_back(random_vector<T>(n, 100 + static_cast<std::uint32_t>(j)));
      device_inputs.push_back(io::upload(ex, inputs.back()));
      pointers.push_back(device_inputs.back().data());
      coef.push_back(1.0 / (j + 2));
    }
    decent::detail::weighted_sum(ex, n, x.data(), 0.5, pointers.data(), coef.data(), count);
    const auto out = io::download(ex, x, n);
    for (std::size_t i = 0; i < n; ++i) {
      double expected = 0.5 * static_cast<double>(x0[i]);
      for (int j = 0; j < count; ++j) expected += coef[static_cast<std::size_t>(j)] * static_cast<double>(inputs[static_cast<std::size_t>(j)][i]);
      REQUIRE(static_cast<double>(out[i]) == doctest::Approx(expected).epsilon(1e-6));
    }
  }
}

/// Reductions: exact on integer-valued data (every partial sum is an exactly representable integer).
template <class Exec, class T>
void check_reductions(const Exec& ex) {
  using io = transfer<Exec>;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4097}, std::size_t{300001}}) {
    std::vector<T> a(n), b(n);
    double dot = 0, norm = 0;
    for (std::size_t i = 0; i < n; ++i) {
      a[i] = static_cast<T>(static_cast<int>(i % 7) - 3);
      b[i] = static_cast<T>(static_cast<int>(i % 5) - 2);
      dot += static_cast<double>(a[i]) * static_cast<double>(b[i]);
      norm += static_cast<double>(a[i]) * static_cast<double>(a[i]);
    }
    const auto da = io::upload(ex, a), db = io::upload(ex, b);
    CHECK(decent::exec::dot(ex, da.data(), db.data(), n) == dot);
    CHECK(decent::exec::squared_norm(ex, da.data(), n) == norm);
    CHECK(ex.sum(n, decent::detail::squared_distance_term<T>{da.data(), db.data()}) ==
          norm - 2 * dot + decent::exec::squared_norm(ex, db.data(), n));
  }
}

/// Reductions are deterministic: the same input gives the same bits on every call.
template <class Exec, class T>
void check_reduction_determinism(const Exec& ex) {
  using io = transfer<Exec>;
  const auto v = random_vector<T>(1 << 20, 7);
  const auto d = io::upload(ex, v);
  const double first = decent::exec::squared_norm(ex, d.data(), v.size());
  for (int rep = 0; rep < 5; ++rep) CHECK(decent::exec::squared_norm(ex, d.data(), v.size()) == first);
  double reference = 0;
  for (T x : v) reference += static_cast<double>(x) * static_cast<double>(x);
  CHECK(first == doctest::Approx(reference).epsilon(1e-12));
}

template <class Exec, class T>
void check_copy_fill(const Exec& ex) {
  using io = transfer<Exec>;
  const std::size_t n = 12345;
  const auto src = random_vector<T>(n, 8);
  const auto s = io::upload(ex, src);
  auto d = ex.template allocate<T>(n);
  ex.copy(d.data(), s.data(), n);
  CHECK(io::download(ex, d, n) == src);
  decent::exec::fill(ex, d.data(), T(2.5), n);
  CHECK(io::download(ex, d, n) == std::vector<T>(n, T(2.5)));
  // Fresh buffers are zero-filled.
  auto z = ex.template allocate<T>(n);
  CHECK(io::download(ex, z, n) == std::vector<T>(n, T(0)));
}

/// P = X·Q and Q = Xᵀ·P against naive triple loops in double.
template <class Exec, class T>
void check_matmul(const Exec& ex, double tolerance) {
  using io = transfer<Exec>;
  const std::size_t a = 37, b = 53;
  for (std::size_t r : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
    const auto x = random_vector<T>(a * b, 9), q = random_vector<T>(b * r, 10), p = random_vector<T>(a * r, 11);
    const auto dx = io::upload(ex, x), dq = io::upload(ex, q), dp = io::upload(ex, p);
    auto out_p = ex.template allocate<T>(a * r);
    auto out_q = ex.template allocate<T>(b * r);
    decent::exec::matmul(ex, dx.data(), a, b, dq.data(), r, out_p.data());
    decent::exec::matmul_transposed(ex, dx.data(), a, b, dp.data(), r, out_q.data());
    const auto xp = io::download(ex, out_p, a * r), xq = io::download(ex, out_q, b * r);
    for (std::size_t i = 0; i < a; ++i)
      for (std::size_t c = 0; c < r; ++c) {
        double acc = 0;
        for (std::size_t k = 0; k < b; ++k) acc += static_cast<double>(x[i * b + k]) * static_cast<double>(q[k * r + c]);
        REQUIRE(static_cast<double>(xp[i * r + c]) == doctest::Approx(acc).epsilon(tolerance));
      }
    for (std::size_t k = 0; k < b; ++k)
      for (std::size_t c = 0; c < r; ++c) {
        double acc = 0;
        for (std::size_t i = 0; i < a; ++i) acc += static_cast<double>(x[i * b + k]) * static_cast<double>(p[i * r + c]);
        REQUIRE(static_cast<double>(xq[k * r + c]) == doctest::Approx(acc).epsilon(tolerance));
      }
  }
}

template <class Exec>
void check_all(const Exec& ex) {
  check_elementwise<Exec, float>(ex);
  check_elementwise<Exec, double>(ex);
  check_weighted_sum<Exec, float>(ex);
  check_weighted_sum<Exec, double>(ex);
  check_reductions<Exec, float>(ex);
  check_reductions<Exec, double>(ex);
  check_reduction_determinism<Exec, double>(ex);
  check_copy_fill<Exec, float>(ex);
  check_copy_fill<Exec, double>(ex);
  check_matmul<Exec, float>(ex, 1e-5);
  check_matmul<Exec, double>(ex, 1e-12);
}

}  // namespace checks
