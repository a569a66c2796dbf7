#pragma once
/// @file
/// @brief The element-wise and reduction functors every part of the library shares: copies, fills, scaled sums,
/// dot products, small dense products, the SGD step, normal draws.
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.
/// The kernels of one algorithm or compressor live next to it (mixing/relaysum_kernels.hpp,
/// mixing/acid_kernels.hpp, compress/low_rank_kernels.hpp, compress/sign_top_k_kernels.hpp); this header is
/// included by the executors and by exec/operations.hpp, not by the Executor concept.

#include <cstddef>
#include <cstdint>

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

/// Terms per partial sum of the host executor's deterministic reductions (exec::host::sum).
inline constexpr std::size_t host_reduction_block = 4096;

/// Σ_{begin ≤ i < end} term(i) in double, from 0, in index order. (Under nvcc, the check that a host-only term is
/// not called from device code is left to the instantiation that runs there: exec::host::sum passes host terms.)
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class F>
DECENT_HD double block_sum(const F& term, std::size_t begin, std::size_t end) {
  double s = 0;
  for (std::size_t i = begin; i < end; ++i) s += term(i);
  return s;
}

/// Σ_{i<n} term(i) in double in the host executor's order, on one thread: blocks of `host_reduction_block`
/// terms (`block_sum`), then the blocks' sums in order from 0; a single block is its own sum. exec::host::sum
/// computes the blocks in parallel and adds them the same way.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class F>
DECENT_HD double ordered_sum(std::size_t n, const F& term) {
  if (n <= host_reduction_block) return block_sum(term, 0, n);
  double total = 0;
  for (std::size_t begin = 0; begin < n; begin += host_reduction_block)
    total += block_sum(term, begin, n - begin < host_reduction_block ? n : begin + host_reduction_block);
  return total;
}

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

/// How many interleaved partial sums a row of P = X·Q is summed in (see `times_basis_row`).
inline constexpr std::size_t product_lanes = 8;
/// How many bases `transposed_times_bases_rows` takes in one pass over X.
inline constexpr int product_bases_per_pass = 4;

/// The lanes of a row product combined in a fixed tree: ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)).
DECENT_HD inline double combine_lanes(const double (&s)[product_lanes]) {
  static_assert(product_lanes == 8, "combine_lanes names every lane");
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/// Row i of P = X·Q: p[i·r + c] = Σ_k x[i·b + k]·q[k·r + c] (X row-major a×b, Q b×r, r small), in double, rounded
/// once. Summation order: `product_lanes` partial sums, lane l adding the terms k ≡ l (mod 8) in increasing k, then
/// `combine_lanes` — so that the loop over k vectorises. `times_bases_row_fixed` is the same with r at compile time.
template <class T>
DECENT_HD void times_basis_row(const T* x, std::size_t b, const T* q, std::size_t r, std::size_t i, T* p) {
  const T* row = x + i * b;
  for (std::size_t c = 0; c < r; ++c) {
    double s[product_lanes] = {};
    std::size_t k = 0;
    for (; k + product_lanes <= b; k += product_lanes)
      for (std::size_t l = 0; l < product_lanes; ++l)
        s[l] += static_cast<double>(row[k + l]) * static_cast<double>(q[(k + l) * r + c]);
    for (; k < b; ++k) s[k % product_lanes] += static_cast<double>(row[k]) * static_cast<double>(q[k * r + c]);
    p[i * r + c] = static_cast<T>(combine_lanes(s));
  }
}

/// Row i of P_j = X·Q_j for the `Pass` bases q[0 … Pass) (b×Rank), into p[0 … Pass): the sums of
/// `times_basis_row`, with the rank and the number of bases at compile time, so that the partial sums stay in
/// registers.
template <int Rank, std::size_t Pass, class T>
DECENT_HD void times_bases_row_pass(const T* row, std::size_t b, const T* const* q, T* const* p, std::size_t i) {
  constexpr auto rank = static_cast<std::size_t>(Rank);
  double s[Pass][rank][product_lanes] = {};
  std::size_t k = 0;
  for (; k + product_lanes <= b; k += product_lanes) {
    double v[product_lanes];
    for (std::size_t l = 0; l < product_lanes; ++l) v[l] = static_cast<double>(row[k + l]);
    for (std::size_t e = 0; e < Pass; ++e)
      for (std::size_t c = 0; c < rank; ++c)
        for (std::size_t l = 0; l < product_lanes; ++l) s[e][c][l] += v[l] * static_cast<double>(q[e][(k + l) * rank + c]);
  }
  for (; k < b; ++k)
    for (std::size_t e = 0; e < Pass; ++e)
      for (std::size_t c = 0; c < rank; ++c)
        s[e][c][k % product_lanes] += static_cast<double>(row[k]) * static_cast<double>(q[e][k * rank + c]);
  for (std::size_t e = 0; e < Pass; ++e)
    for (std::size_t c = 0; c < rank; ++c) p[e][i * rank + c] = static_cast<T>(combine_lanes(s[e][c]));
}

/// Row i of P_j = X·Q_j for the `bases` bases q[j] (b×Rank), into p[j]: the sums of `times_basis_row` with the
/// rank at compile time, every column of the row and up to `PerPass` bases in one pass over it (rank 1: 4 bases,
/// so that the row is read once for all of them; higher ranks: one, so that the partial sums stay in registers).
template <int Rank, class T, std::size_t PerPass = Rank == 1 ? 4 : 1>
DECENT_HD void times_bases_row_fixed(const T* x, std::size_t b, const T* const* q, T* const* p, int bases,
                                     std::size_t i) {
  static_assert(PerPass >= 1 && PerPass <= 4, "times_bases_row_fixed: 1 to 4 bases per pass");
  const T* row = x + i * b;
  for (int first = 0; first < bases; first += static_cast<int>(PerPass)) {
    const auto left = static_cast<std::size_t>(bases - first);
    const T* const* qs = q + first;
    T* const* ps = p + first;
    // The number of bases of this pass at compile time (a runtime count keeps the partial sums in memory).
    if (left >= PerPass) times_bases_row_pass<Rank, PerPass>(row, b, qs, ps, i);
    else if (left == 3) times_bases_row_pass<Rank, (PerPass > 3 ? 3 : PerPass)>(row, b, qs, ps, i);
    else if (left == 2) times_bases_row_pass<Rank, (PerPass > 2 ? 2 : PerPass)>(row, b, qs, ps, i);
    else times_bases_row_pass<Rank, 1>(row, b, qs, ps, i);
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

/// How many rows of Q = Xᵀ·P (columns of X) one work item of `transposed_times_bases_rows` computes on the host
/// (devices take one per item, a thread each): 128 neighbouring columns, so that an item reads 512 contiguous
/// bytes of every row of a float X, not one cache line per row (which the prefetchers did not follow: 16 columns
/// per item ran at half the speed, bench/mixing_bench).
inline constexpr std::size_t host_product_block = 128;

/// Rows k0 … k0 + count − 1 (count ≤ Block) of Q_e = Xᵀ·P_e for `Pass` bases, Rank and Pass at compile time: X
/// read once, a row segment at a time; the sums in a stack table (at most 4·4·Block doubles), the loop over the
/// segment's columns vectorised.
template <std::size_t Block, int Rank, std::size_t Pass, class T>
DECENT_HD void transposed_times_bases_block(const T* x, std::size_t a, std::size_t b, const T* const* p, T* const* q,
                                            std::size_t k0, std::size_t count) {
  constexpr auto rank = static_cast<std::size_t>(Rank);
  double acc[Pass][rank][Block] = {};
  for (std::size_t i = 0; i < a; ++i) {
    const T* row = x + i * b + k0;
    double pc[Pass][rank];
    for (std::size_t e = 0; e < Pass; ++e)
      for (std::size_t c = 0; c < rank; ++c) pc[e][c] = static_cast<double>(p[e][i * rank + c]);
    for (std::size_t w = 0; w < count; ++w) {
      const double v = static_cast<double>(row[w]);
      for (std::size_t e = 0; e < Pass; ++e)
        for (std::size_t c = 0; c < rank; ++c) acc[e][c][w] += v * pc[e][c];
    }
  }
  for (std::size_t e = 0; e < Pass; ++e)
    for (std::size_t w = 0; w < count; ++w)
      for (std::size_t c = 0; c < rank; ++c) q[e][(k0 + w) * rank + c] = static_cast<T>(acc[e][c][w]);
}

/// Rows k0 … k0 + count − 1 (count ≤ Block) of Q_j = Xᵀ·P_j for the `bases` bases p[j] (a×r), into q[j] (b×r): the
/// same sums as `transposed_times_basis_row`, over i in order, in double, rounded once, whatever Block. With a
/// compile-time Rank and Block > 1, X is read once for up to 4 bases (`transposed_times_bases_block`); otherwise
/// the columns go one by one.
template <std::size_t Block, int Rank, class T>
DECENT_HD void transposed_times_bases_rows(const T* x, std::size_t a, std::size_t b, const T* const* p, T* const* q,
                                           int bases, std::size_t r, std::size_t k0, std::size_t count) {
  if constexpr (Block > 1 && Rank > 0) {
    constexpr int per_pass = product_bases_per_pass;
    static_assert(per_pass == 4, "transposed_times_bases_rows: the passes below name 1 to 4 bases");
    for (int first = 0; first < bases; first += per_pass) {
      // The number of bases of this pass at compile time (the table's size).
      const int left = bases - first;
      const T* const* ps = p + first;
      T* const* qs = q + first;
      if (left >= 4) transposed_times_bases_block<Block, Rank, 4>(x, a, b, ps, qs, k0, count);
      else if (left == 3) transposed_times_bases_block<Block, Rank, 3>(x, a, b, ps, qs, k0, count);
      else if (left == 2) transposed_times_bases_block<Block, Rank, 2>(x, a, b, ps, qs, k0, count);
      else transposed_times_bases_block<Block, Rank, 1>(x, a, b, ps, qs, k0, count);
    }
  } else {
    for (int j = 0; j < bases; ++j)
      for (std::size_t w = 0; w < count; ++w) transposed_times_basis_row(x, a, b, p[j], r, k0 + w, q[j]);
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

}  // namespace decent::detail
