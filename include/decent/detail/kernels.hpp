#pragma once
/// @file
/// @brief Element-wise and reduction functors shared by every executor.
///
/// Each piece of math is written once here, as a trivially copyable functor with a `DECENT_HD` call
/// operator taking an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <decent/core/config.hpp>
#include <decent/core/rng.hpp>

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

/// Row i of P = X·Q: p[i·r + c] = Σ_k x[i·b + k]·q[k·r + c] (X row-major a×b, Q b×r, r small).
template <class T>
DECENT_HD void times_basis_row(const T* x, std::size_t b, const T* q, std::size_t r, std::size_t i, T* p) {
  for (std::size_t c = 0; c < r; ++c) {
    double acc = 0;
    for (std::size_t k = 0; k < b; ++k) acc += static_cast<double>(x[i * b + k]) * static_cast<double>(q[k * r + c]);
    p[i * r + c] = static_cast<T>(acc);
  }
}

/// Row k of Q = Xᵀ·P: q[k·r + c] = Σ_i x[i·b + k]·p[i·r + c] (X row-major a×b, P a×r).
template <class T>
DECENT_HD void transposed_times_basis_row(const T* x, std::size_t a, std::size_t b, const T* p, std::size_t r,
                                          std::size_t k, T* q) {
  for (std::size_t c = 0; c < r; ++c) {
    double acc = 0;
    for (std::size_t i = 0; i < a; ++i) acc += static_cast<double>(x[i * b + k]) * static_cast<double>(p[i * r + c]);
    q[k * r + c] = static_cast<T>(acc);
  }
}

/// Row i of P = X·Q.
template <class T>
struct matmul_row {
  const T* x;
  const T* q;
  T* p;
  std::size_t b, r;
  DECENT_HD void operator()(std::size_t i) const { times_basis_row(x, b, q, r, i, p); }
};

/// Row k of Q = Xᵀ·P.
template <class T>
struct matmul_transposed_row {
  const T* x;
  const T* p;
  T* q;
  std::size_t a, b, r;
  DECENT_HD void operator()(std::size_t k) const { transposed_times_basis_row(x, a, b, p, r, k, q); }
};


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


/// Heavy-ball SGD step (PyTorch convention, dampening 0): m ← μ·m + g; x ← x − lr·m, and the same move on
/// `also` when it is set (A²CiD²'s x̃, docs/algorithms.md §1.5).
template <class T>
struct sgd_momentum_kernel {
  T* x;
  T* m;
  const T* g;
  double lr;
  double momentum;
  T* also = nullptr;
  DECENT_HD void operator()(std::size_t i) const {
    const double v = momentum * static_cast<double>(m[i]) + static_cast<double>(g[i]);
    m[i] = static_cast<T>(v);
    x[i] = static_cast<T>(static_cast<double>(x[i]) - lr * v);
    if (also) also[i] = static_cast<T>(static_cast<double>(also[i]) - lr * v);
  }
};

/// dst[i] = src[stride·i]: the coordinates of one RelaySum slice, compacted.
template <class T>
struct gather_kernel {
  T* dst;
  const T* src;
  std::size_t stride;
  DECENT_HD void operator()(std::size_t i) const { dst[i] = src[stride * i]; }
};

/// RelaySum's outgoing messages of one slice, all neighbours in one pass (docs/algorithms.md §2.1), over
/// length + 1 items: m_j[i] = u[i] + Σ_{k≠j} r_k[i], summed in neighbour order in double. Items i < length are
/// coordinates, with u[i] = x[stride·i] (model variant) or x[stride·i] − previous[i] (grad variant: the update
/// the worker applied); item `length` is the count, with u = 1, so counts are relayed exactly like values.
template <class T>
struct relay_messages_kernel {
  const T* x;
  std::size_t stride;
  std::size_t length;
  const T* previous;       ///< null: model variant
  const T* const* relay;   ///< relay[k]: last message received from neighbour k (count at [length])
  T* const* message;       ///< message[j]: the message to neighbour j
  int degree;
  DECENT_HD void operator()(std::size_t i) const {
    const double u = i == length ? 1.0
                                 : static_cast<double>(x[stride * i]) - (previous ? static_cast<double>(previous[i]) : 0.0);
    for (int j = 0; j < degree; ++j) {
      double m = u;
      for (int k = 0; k < degree; ++k)
        if (k != j) m += static_cast<double>(relay[k][i]);
      message[j][i] = static_cast<T>(m);
    }
  }
};

/// RelaySum's update of one slice from S = u + Σ_k r_k[i] and C = 1 + Σ_k r_k[length] (the counts), both in
/// neighbour order in double. Model variant (previous null): x ← (S + (n − C)·reference)/n for world_size
/// normalisation, S/C for counts. Grad variant: x ← previous + S/n (or S/C), and previous ← x.
template <class T>
struct relay_update_kernel {
  T* x;
  std::size_t stride;
  std::size_t length;
  T* previous;              ///< grad variant: the parameters after the last round; null for the model variant
  const T* reference;       ///< model variant: x⁽⁰⁾ on these coordinates
  const T* const* relay;
  int degree;
  double workers;           ///< n
  bool by_counts;           ///< counts normalisation instead of world_size
  DECENT_HD void operator()(std::size_t i) const {
    const double xi = static_cast<double>(x[stride * i]);
    double s = previous ? xi - static_cast<double>(previous[i]) : xi;
    double reached = 1.0;
    for (int k = 0; k < degree; ++k) {
      s += static_cast<double>(relay[k][i]);
      reached += static_cast<double>(relay[k][length]);
    }
    const double divisor = by_counts ? reached : workers;
    if (previous) {
      const T updated = static_cast<T>(static_cast<double>(previous[i]) + s / divisor);
      x[stride * i] = updated;
      previous[i] = updated;
    } else {
      const double fill = by_counts || reached >= workers ? 0.0 : (workers - reached) * static_cast<double>(reference[i]);
      x[stride * i] = static_cast<T>((s + fill) / divisor);
    }
  }
};


/// y[i] += a·x[i] (in double, rounded once), and the same for `also` when given (one read of x for both).
template <class T>
struct axpy_kernel {
  T* y;
  const T* x;
  double a;
  T* also = nullptr;
  DECENT_HD void operator()(std::size_t i) const {
    const double step = a * static_cast<double>(x[i]);
    y[i] = static_cast<T>(static_cast<double>(y[i]) + step);
    if (also) also[i] = static_cast<T>(static_cast<double>(also[i]) + step);
  }
};


/// Σ_i m[i·ld + c1]·m[i·ld + c2]: the dot product of two columns of a row-major matrix with ld columns.
template <class T>
struct column_dot_term {
  const T* m;
  std::size_t ld, c1, c2;
  DECENT_HD double operator()(std::size_t i) const {
    return static_cast<double>(m[i * ld + c1]) * static_cast<double>(m[i * ld + c2]);
  }
};

/// m[i·ld + dst] ← f·m[i·ld + dst] + a·m[i·ld + src] (column operations of Gram–Schmidt).
template <class T>
struct column_update_kernel {
  T* m;
  std::size_t ld, dst, src;
  double f, a;
  DECENT_HD void operator()(std::size_t i) const {
    m[i * ld + dst] = static_cast<T>(f * static_cast<double>(m[i * ld + dst]) + a * static_cast<double>(m[i * ld + src]));
  }
};

/// Modified Gram–Schmidt on the `cols` columns of a row-major rows×cols matrix, in place, as PowerGossip's
/// reference does it: column c ← c/(‖c‖₂ + ε), then its projection is removed from every later column.
/// A zero column stays zero (thanks to ε), never NaN.
template <class Exec, class T>
void orthonormalize_columns(const Exec& ex, T* m, std::size_t rows, std::size_t cols, double epsilon) {
  for (std::size_t c = 0; c < cols; ++c) {
    const double norm = sqrt(ex.sum(rows, column_dot_term<T>{m, cols, c, c}));
    ex.for_each(rows, column_update_kernel<T>{m, cols, c, c, 1.0 / (norm + epsilon), 0.0});
    for (std::size_t later = c + 1; later < cols; ++later) {
      const double projection = ex.sum(rows, column_dot_term<T>{m, cols, c, later});
      ex.for_each(rows, column_update_kernel<T>{m, cols, later, c, 1.0, -projection});
    }
  }
}

/// dst[i] = N(0,1) draw (offset + i) of a random stream.
template <class T>
struct normal_fill_kernel {
  T* dst;
  random_stream stream;
  std::uint64_t offset;
  DECENT_HD void operator()(std::size_t i) const { dst[i] = static_cast<T>(stream.normal(offset + i)); }
};

/// dst[i] = sign·(peer[i] − own[i]).
template <class T>
struct difference_kernel {
  T* dst;
  const T* own;
  const T* peer;
  double sign;
  DECENT_HD void operator()(std::size_t i) const {
    dst[i] = static_cast<T>(sign * (static_cast<double>(peer[i]) - static_cast<double>(own[i])));
  }
};

/// PowerGossip's products of one matrix X (a×b) with the bases of all its edges, one pass over X: by rows,
/// out[j] = X·basis[j] (basis b×r, item = a row of X); by columns, out[j] = Xᵀ·basis[j] (basis a×r, item = a
/// column of X).
template <class T>
struct low_rank_project_kernel {
  const T* x;
  std::size_t a, b, r;
  bool by_rows;
  const T* const* basis;
  T* const* out;
  int edges;
  DECENT_HD void operator()(std::size_t item) const {
    for (int j = 0; j < edges; ++j) {
      if (by_rows) times_basis_row(x, b, basis[j], r, item, out[j]);
      else transposed_times_basis_row(x, a, b, basis[j], r, item, out[j]);
    }
  }
};

/// PowerGossip's decoded differences of one matrix X (a×b) for all its edges of one side, in factored form
/// (item e = element (i, k) of X): D̂_j = (peer[j] − own[j])·basis[j]ᵀ by rows (messages a×r, basis b×r), or
/// basis[j]·(peer[j] − own[j])ᵀ by columns (basis a×r, messages b×r); the column sum in double, in order.
template <class T>
struct low_rank_terms {
  std::size_t b, r;
  bool by_rows;
  const T* const* basis;
  const T* const* own;
  const T* const* peer;
  DECENT_HD double operator()(int j, std::size_t e) const {
    const std::size_t i = e / b, k = e % b;
    const std::size_t message_row = by_rows ? i : k, basis_row = by_rows ? k : i;
    double s = 0;
    for (std::size_t c = 0; c < r; ++c)
      s += (static_cast<double>(peer[j][message_row * r + c]) - static_cast<double>(own[j][message_row * r + c])) *
           static_cast<double>(basis[j][basis_row * r + c]);
    return s;
  }
};

/// x[e] ← x[e] + Σ_j coef[j]·terms(j, e): a rule's update from decoded differences, edges summed in order in
/// double and rounded once.
template <class T, class Terms>
struct add_differences_kernel {
  T* x;
  Terms terms;
  const double* coef;
  int edges;
  DECENT_HD void operator()(std::size_t e) const {
    double acc = 0;
    for (int j = 0; j < edges; ++j) acc += coef[j] * terms(j, e);
    x[e] = static_cast<T>(static_cast<double>(x[e]) + acc);
  }
};

/// Whether block b (`width` elements) of v[0, n) holds a NaN or an infinity: 1 or 0, so that a sum over the blocks
/// is 0 iff every value is finite. A value is non-finite iff its exponent bits are all set; the test is an integer
/// OR over the block (no floating-point dependency chain), so a check runs at memory bandwidth. The finiteness
/// check of decent/core/finite.hpp.
template <class T>
struct finiteness_term {
  static constexpr std::size_t width = 256;
  using bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  static constexpr bits exponent = sizeof(T) == 8 ? bits(0x7ff0000000000000ull) : bits(0x7f800000u);
  const T* v;
  std::size_t n;
  [[nodiscard]] static constexpr std::size_t blocks(std::size_t count) { return (count + width - 1) / width; }
  DECENT_HD double operator()(std::size_t b) const {
    const std::size_t begin = b * width, end = begin + width < n ? begin + width : n;
    bits any = 0;
    for (std::size_t k = begin; k < end; ++k) {
      bits x;
      memcpy(&x, v + k, sizeof x);
      any |= static_cast<bits>((x & exponent) == exponent);
    }
    return static_cast<double>(any);
  }
};

/// |v[i]| in double.
template <class T>
struct abs_term {
  const T* v;
  DECENT_HD double operator()(std::size_t i) const {
    const double x = static_cast<double>(v[i]);
    return x < 0 ? -x : x;
  }
};

/// Word w of a sign bitmap: bit b set when v[32w + b] ≥ 0.
template <class T>
struct pack_signs_kernel {
  const T* v;
  std::size_t n;
  std::uint32_t* words;
  DECENT_HD void operator()(std::size_t w) const {
    std::uint32_t bits = 0;
    for (std::size_t b = 0; b < 32 && 32 * w + b < n; ++b)
      if (v[32 * w + b] >= T(0)) bits |= std::uint32_t{1} << b;
    words[w] = bits;
  }
};

/// dst[i] += coef·scale·(±1 from bit i of the sign bitmap); scale is read from executor memory.
template <class T>
struct add_signs_kernel {
  T* dst;
  const T* scale;
  const std::uint32_t* words;
  double coef;
  DECENT_HD void operator()(std::size_t i) const {
    const bool positive = (words[i / 32] >> (i % 32)) & 1u;
    dst[i] = static_cast<T>(static_cast<double>(dst[i]) + coef * static_cast<double>(*scale) * (positive ? 1.0 : -1.0));
  }
};

/// dst[index[m]] += coef·value[m] (indices distinct).
template <class T>
struct scatter_add_kernel {
  T* dst;
  const std::uint32_t* index;
  const T* value;
  double coef;
  DECENT_HD void operator()(std::size_t m) const {
    dst[index[m]] = static_cast<T>(static_cast<double>(dst[index[m]]) + coef * static_cast<double>(value[m]));
  }
};

/// A²CiD²'s closed-form mixing of a pair (x, x̃) over a time Δ (docs/algorithms.md §1.4), with e = exp(−2ηΔ):
/// x ← s + e·h, x̃ ← s − e·h where s = (x + x̃)/2 and h = (x − x̃)/2 (x + x̃ is invariant). e = 1 leaves the
/// pair untouched (no rounding).
DECENT_HD inline void acid_mix_pair(double& x, double& x_tilde, double decay) {
  if (decay == 1.0) return;
  const double s = 0.5 * (x + x_tilde), h = 0.5 * (x - x_tilde);
  x = s + decay * h;
  x_tilde = s - decay * h;
}

/// Mixes (x, x̃) in place with decay e (acid_mix_pair).
template <class T>
struct acid_mix_kernel {
  T* x;
  T* x_tilde;
  double decay;  ///< e
  DECENT_HD void operator()(std::size_t i) const {
    double a = static_cast<double>(x[i]), b = static_cast<double>(x_tilde[i]);
    acid_mix_pair(a, b, decay);
    x[i] = static_cast<T>(a);
    x_tilde[i] = static_cast<T>(b);
  }
};

/// out[i] = x mixed with decay e (acid_mix_pair), without changing x or x̃ (x̃ null: out = x).
template <class T>
struct acid_mixed_kernel {
  T* out;
  const T* x;
  const T* x_tilde;
  double decay;
  DECENT_HD void operator()(std::size_t i) const {
    double a = static_cast<double>(x[i]);
    if (x_tilde) {
      double b = static_cast<double>(x_tilde[i]);
      acid_mix_pair(a, b, decay);
    }
    out[i] = static_cast<T>(a);
  }
};

/// A pairwise communication event on worker i in one pass (docs/algorithms.md §1.5): mix (x_i, x̃_i) with e first
/// (e = 1: already mixed), then with d = x_j − x_i: x̃_i += α̃·d and x_i += d/2. Without x̃ (null: the
/// asynchronous gossip baseline) only x_i += d/2. With `sent` (the snapshot of x_i that travelled to j while
/// x_i kept changing — the threaded runtime), d = x_j − sent, so both endpoints apply opposite updates.
/// `step` (½ for an exchange) is the share of d added to x; a compressed exchange that moved a snapshot from
/// `sent` to `peer` applies its change with step 1 and 2α̃.
template <class T>
struct acid_exchange_kernel {
  T* x;
  T* x_tilde;       ///< null for async gossip
  const T* peer;    ///< x_j as received
  double decay;     ///< e of the mixing up to the event
  double alpha_tilde;
  const T* sent = nullptr;  ///< what this worker sent, when it is not x_i itself
  double step = 0.5;        ///< share of d added to x_i
  DECENT_HD void operator()(std::size_t i) const {
    double a = static_cast<double>(x[i]), b = x_tilde ? static_cast<double>(x_tilde[i]) : 0.0;
    if (x_tilde) acid_mix_pair(a, b, decay);
    const double d = static_cast<double>(peer[i]) - (sent ? static_cast<double>(sent[i]) : a);
    if (x_tilde) x_tilde[i] = static_cast<T>(b + alpha_tilde * d);
    x[i] = static_cast<T>(a + step * d);
  }
};

}  // namespace decent::detail
