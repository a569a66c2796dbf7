#pragma once
/// @file
/// @brief Element-wise and reduction functors shared by every executor.
///
/// Each piece of math is written once here, as a trivially copyable functor with a `DECENT_HD` call
/// operator taking an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.

#include <cstddef>

#include <decent/core/config.hpp>

namespace decent::detail {

/// dst[i] = src[i].
template <class T>
struct copy_kernel {
  T* dst;
  const T* src;
  DECENT_HD void operator()(std::size_t i) const { dst[i] = src[i]; }
};

/// dst[i] = value.
template <class T>
struct fill_kernel {
  T* dst;
  T value;
  DECENT_HD void operator()(std::size_t i) const { dst[i] = value; }
};

/// Term i of a dot product, accumulated in double.
template <class T>
struct dot_term {
  const T* a;
  const T* b;
  DECENT_HD double operator()(std::size_t i) const { return static_cast<double>(a[i]) * static_cast<double>(b[i]); }
};

/// Term i of a squared Euclidean distance ‖a − b‖², accumulated in double.
template <class T>
struct squared_distance_term {
  const T* a;
  const T* b;
  DECENT_HD double operator()(std::size_t i) const {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    return d * d;
  }
};

/// Row i of P = X·Q, with X row-major a×b and Q, P row-major b×r and a×r (r small: PowerGossip's rank).
template <class T>
struct matmul_row {
  const T* x;
  const T* q;
  T* p;
  std::size_t b, r;
  DECENT_HD void operator()(std::size_t i) const {
    for (std::size_t c = 0; c < r; ++c) {
      double acc = 0;
      for (std::size_t k = 0; k < b; ++k) acc += static_cast<double>(x[i * b + k]) * static_cast<double>(q[k * r + c]);
      p[i * r + c] = static_cast<T>(acc);
    }
  }
};

/// Row k of Q = Xᵀ·P, with X row-major a×b, P row-major a×r and Q row-major b×r.
template <class T>
struct matmul_transposed_row {
  const T* x;
  const T* p;
  T* q;
  std::size_t a, b, r;
  DECENT_HD void operator()(std::size_t k) const {
    for (std::size_t c = 0; c < r; ++c) {
      double acc = 0;
      for (std::size_t i = 0; i < a; ++i) acc += static_cast<double>(x[i * b + k]) * static_cast<double>(p[i * r + c]);
      q[k * r + c] = static_cast<T>(acc);
    }
  }
};

}  // namespace decent::detail

namespace decent::detail {

/// x[i] ← s·x[i]  (scales in double, rounds once).
template <class T>
struct scale_kernel {
  T* x;
  double factor;
  DECENT_HD void operator()(std::size_t i) const { x[i] = static_cast<T>(factor * static_cast<double>(x[i])); }
};

/// x[i] ← self·x[i] + Σ_{j<Terms} coef[j]·r[j][i], summed in j order in double and rounded once.
/// `Terms` is a compile-time constant so that the loop over j unrolls and the loop over i vectorises;
/// `weighted_sum` below splits any number of inputs into passes of at most `max_weighted_terms`.
template <class T, int Terms>
struct weighted_sum_kernel {
  T* x;
  double self;
  const T* r[static_cast<std::size_t>(Terms)];
  double coef[static_cast<std::size_t>(Terms)];
  DECENT_HD void operator()(std::size_t i) const {
    double acc = self * static_cast<double>(x[i]);
    for (int j = 0; j < Terms; ++j) acc += coef[j] * static_cast<double>(r[j][i]);
    x[i] = static_cast<T>(acc);
  }
};

inline constexpr int max_weighted_terms = 8;

/// Calls pass.template operator()<K>() with K = min(k, max_weighted_terms) as a compile-time constant.
template <int K = 1, class Pass>
void with_term_count(int k, Pass& pass) {
  if constexpr (K < max_weighted_terms) {
    if (k > K) return with_term_count<K + 1>(k, pass);
  }
  pass.template operator()<K>();
}

/// x ← self·x + Σ_j coef[j]·r[j] over n elements, on `ex`: one pass over x per `max_weighted_terms` inputs
/// (later passes use self = 1). Gossip applies x_i + γΣ_j w_ij(x_j − x_i) with self = 1 − γΣ_j w_ij.
template <class Exec, class T>
void weighted_sum(const Exec& ex, std::size_t n, T* x, double self, const T* const* r, const double* coef, int count) {
  if (count == 0) {
    if (self != 1.0) ex.for_each(n, scale_kernel<T>{x, self});
    return;
  }
  for (int first = 0; first < count; first += max_weighted_terms, self = 1.0) {
    auto pass = [&]<int K>() {
      weighted_sum_kernel<T, K> kernel{x, self, {}, {}};
      for (int j = 0; j < K; ++j) {
        kernel.r[j] = r[first + j];
        kernel.coef[j] = coef[first + j];
      }
      ex.for_each(n, kernel);
    };
    with_term_count(count - first, pass);
  }
}

}  // namespace decent::detail

namespace decent::detail {

/// Heavy-ball SGD step (PyTorch convention, dampening 0): m ← μ·m + g; x ← x − lr·m.
template <class T>
struct sgd_momentum_kernel {
  T* x;
  T* m;
  const T* g;
  double lr;
  double momentum;
  DECENT_HD void operator()(std::size_t i) const {
    const double v = momentum * static_cast<double>(m[i]) + static_cast<double>(g[i]);
    m[i] = static_cast<T>(v);
    x[i] = static_cast<T>(static_cast<double>(x[i]) - lr * v);
  }
};

}  // namespace decent::detail

namespace decent::detail {

/// dst[i] = src[stride·i]: the coordinates of one RelaySum slice, compacted.
template <class T>
struct gather_kernel {
  T* dst;
  const T* src;
  std::size_t stride;
  DECENT_HD void operator()(std::size_t i) const { dst[i] = src[stride * i]; }
};

/// RelaySum's outgoing messages of one slice, all neighbours in one pass (ALGORITHMS.md §2.1):
/// m_j[i] = u[i] + Σ_{k≠j} r_k[i], summed in neighbour order in double, with u[i] = x[stride·i] for the
/// model variant and u[i] = x[stride·i] − previous[i] (the update the worker applied) for the grad variant.
template <class T>
struct relay_messages_kernel {
  const T* x;
  std::size_t stride;
  const T* previous;       ///< null: model variant
  const T* const* relay;   ///< relay[k]: last message received from neighbour k
  T* const* message;       ///< message[j]: the message to neighbour j
  int degree;
  DECENT_HD void operator()(std::size_t i) const {
    const double u = static_cast<double>(x[stride * i]) - (previous ? static_cast<double>(previous[i]) : 0.0);
    for (int j = 0; j < degree; ++j) {
      double m = u;
      for (int k = 0; k < degree; ++k)
        if (k != j) m += static_cast<double>(relay[k][i]);
      message[j][i] = static_cast<T>(m);
    }
  }
};

/// RelaySum's update of one slice from S = u + Σ_k r_k (neighbour order, double):
/// model variant (previous null): x ← scale·S + fill·reference (fill = (n − C)/n for world_size
/// normalisation, 0 for counts); grad variant: x ← previous + scale·S and previous ← x.
template <class T>
struct relay_update_kernel {
  T* x;
  std::size_t stride;
  T* previous;              ///< grad variant: the parameters after the last round; null for the model variant
  const T* reference;       ///< model variant: x⁽⁰⁾ on these coordinates (read only when fill ≠ 0)
  const T* const* relay;
  int degree;
  double scale;
  double fill;
  DECENT_HD void operator()(std::size_t i) const {
    const double xi = static_cast<double>(x[stride * i]);
    double s = previous ? xi - static_cast<double>(previous[i]) : xi;
    for (int k = 0; k < degree; ++k) s += static_cast<double>(relay[k][i]);
    if (previous) {
      const T updated = static_cast<T>(static_cast<double>(previous[i]) + scale * s);
      x[stride * i] = updated;
      previous[i] = updated;
    } else {
      x[stride * i] = static_cast<T>(scale * s + (fill != 0.0 ? fill * static_cast<double>(reference[i]) : 0.0));
    }
  }
};

}  // namespace decent::detail

namespace decent::detail {

/// y[i] += a·x[i] (in double, rounded once).
template <class T>
struct axpy_kernel {
  T* y;
  const T* x;
  double a;
  DECENT_HD void operator()(std::size_t i) const {
    y[i] = static_cast<T>(static_cast<double>(y[i]) + a * static_cast<double>(x[i]));
  }
};

}  // namespace decent::detail
