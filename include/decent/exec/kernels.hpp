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

/// How many bases `transposed_times_bases_rows` takes in one pass over X.
inline constexpr int product_bases_per_pass = 4;

/// The eight partial sums of a row product (`strided_dot`): lane l adds the terms k ≡ l (mod 8) in increasing k;
/// `total` combines them as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). This is the form devices run;
/// the host runs `host_lane_sums`, the same sums in 16-byte vectors.
template <class T>
struct lane_sums {
  T s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  /// Terms k … k + 7: x[j]·q[j·stride] for j < 8, into lanes 0 … 7.
  DECENT_HD void add8(const T* x, const T* q, std::size_t stride) {
    s0 += x[0] * q[0];
    s1 += x[1] * q[stride];
    s2 += x[2] * q[2 * stride];
    s3 += x[3] * q[3 * stride];
    s4 += x[4] * q[4 * stride];
    s5 += x[5] * q[5 * stride];
    s6 += x[6] * q[6 * stride];
    s7 += x[7] * q[7 * stride];
  }
  /// The last `count` (< 8) terms, into lanes 0 … count − 1.
  DECENT_HD void add_tail(const T* x, const T* q, std::size_t stride, std::size_t count) {
    if (count > 0) s0 += x[0] * q[0];
    if (count > 1) s1 += x[1] * q[stride];
    if (count > 2) s2 += x[2] * q[2 * stride];
    if (count > 3) s3 += x[3] * q[3 * stride];
    if (count > 4) s4 += x[4] * q[4 * stride];
    if (count > 5) s5 += x[5] * q[5 * stride];
    if (count > 6) s6 += x[6] * q[6 * stride];
  }
  [[nodiscard]] DECENT_HD T total() const { return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)); }
  /// The lanes as scalars (this form is its own).
  [[nodiscard]] DECENT_HD lane_sums lanes() const { return *this; }
};

#if defined(__GNUC__) && !defined(__CUDA_ARCH__)
/// `lane_sums` for the host (GCC, Clang, and nvcc's host pass), float or double: the eight lanes as 16-byte GNU
/// vectors (float: 2, double: 4), each a named member, so that they stay in registers. Each vector operation is
/// the scalar one per lane, so the sums are the same bits. Only the full steps of 8 run here: the tail and the
/// total go through `lanes()`. (Left to GCC 12's auto-vectoriser, lanes in an array stayed in memory, stored and
/// reloaded at every step: 0.54× the triad bandwidth for X·Q̂ in bench/mixing_bench; two scalar `lane_sums` in one
/// loop were interleaved and spilled: 0.12–0.13×.)
template <class T>
struct host_lane_sums {
  typedef T vector __attribute__((vector_size(16)));
  static constexpr std::size_t width = 16 / sizeof(T);
  static_assert(width == 2 || width == 4, "host_lane_sums: float or double");
  vector v0 = {}, v1 = {}, v2 = {}, v3 = {};  // lanes 0–3 and 4–7 (float), or 0–1, 2–3, 4–5, 6–7 (double)

  /// x[0 … width) times q[0], q[stride], …: a vector load of q at stride 1, else one value at a time.
  static vector product(const T* x, const T* q, std::size_t stride) {
    vector a, b = {};  // b initialised: with every lane assigned below, GCC still warns where it inlines this
    __builtin_memcpy(&a, x, sizeof a);
    if (stride == 1) __builtin_memcpy(&b, q, sizeof b);
    else
      for (std::size_t l = 0; l < width; ++l) b[l] = q[l * stride];
    return a * b;
  }
  void add8(const T* x, const T* q, std::size_t stride) {
    v0 += product(x, q, stride);
    v1 += product(x + width, q + width * stride, stride);
    if constexpr (width == 2) {
      v2 += product(x + 4, q + 4 * stride, stride);
      v3 += product(x + 6, q + 6 * stride, stride);
    }
  }
  /// The eight lanes as scalars, for the tail and the total.
  [[nodiscard]] lane_sums<T> lanes() const {
    if constexpr (width == 4) return {v0[0], v0[1], v0[2], v0[3], v1[0], v1[1], v1[2], v1[3]};
    else return {v0[0], v0[1], v1[0], v1[1], v2[0], v2[1], v3[0], v3[1]};
  }
};
/// The lanes a row product runs here: vectors on the host for float and double, scalars otherwise.
template <class T>
using row_lane_sums = std::conditional_t<std::is_same_v<T, float> || std::is_same_v<T, double>, host_lane_sums<T>,
                                         lane_sums<T>>;
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define DECENT_HOST_PAIR_LANES 1
/// The row product of rank 2 for float on the host: both columns of one basis q (b×2, row-major: 2b consecutive
/// values) in one pass, with vector loads of q. Vector m of q holds (q_{k,0}, q_{k,1}, q_{k+1,0}, q_{k+1,1}) for
/// k = 2m; it is multiplied by (x_k, x_k, x_{k+1}, x_{k+1}), so the sum of lane l (k mod 8) of column c sits at
/// position 2l + c of v0 … v3: each lane is the scalar `lane_sums`' lane of its column, the same bits.
struct host_pair_lane_sums {
  typedef float vector __attribute__((vector_size(16)));
  vector v0 = {}, v1 = {}, v2 = {}, v3 = {};
  /// Terms k … k + 7: x[0 … 8) and q[0 … 16).
  void add8(const float* x, const float* q) {
    vector lo, hi, q0, q1, q2, q3;
    __builtin_memcpy(&lo, x, sizeof lo);
    __builtin_memcpy(&hi, x + 4, sizeof hi);
    __builtin_memcpy(&q0, q, sizeof q0);
    __builtin_memcpy(&q1, q + 4, sizeof q1);
    __builtin_memcpy(&q2, q + 8, sizeof q2);
    __builtin_memcpy(&q3, q + 12, sizeof q3);
    v0 += __builtin_shufflevector(lo, lo, 0, 0, 1, 1) * q0;
    v1 += __builtin_shufflevector(lo, lo, 2, 2, 3, 3) * q1;
    v2 += __builtin_shufflevector(hi, hi, 0, 0, 1, 1) * q2;
    v3 += __builtin_shufflevector(hi, hi, 2, 2, 3, 3) * q3;
  }
  /// The eight lanes of column c as scalars, for the tail and the total.
  [[nodiscard]] lane_sums<float> lanes(std::size_t c) const {
    return {v0[c], v0[2 + c], v1[c], v1[2 + c], v2[c], v2[2 + c], v3[c], v3[2 + c]};
  }
};
#endif
#endif
#else
template <class T>
using row_lane_sums = lane_sums<T>;
#endif

/// PowerGossip's products (this and the functions below, through `matmul_transposed_row`) sum in T, the tensors'
/// own type, as the reference's torch.matmul does: float tensors in float, double in double. (Until 2026-12-02
/// they summed in double and rounded once; float in float is what lets the loops run 4 lanes wide in SSE2.)
///
/// Σ_{k<n} x[k]·q[k·stride] in the order of `lane_sums`; the stride is `Stride` when it is not 0 (a compile-time
/// stride of 1 makes the loads of q vector loads), else `stride`.
template <std::size_t Stride, class T>
DECENT_HD T strided_dot(const T* x, const T* q, std::size_t n, std::size_t stride) {
  const std::size_t step = Stride != 0 ? Stride : stride;
  row_lane_sums<T> s;
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) s.add8(x + k, q + k * step, step);
  lane_sums<T> all = s.lanes();
  all.add_tail(x + k, q + k * step, step, n - k);
  return all.total();
}

/// `strided_dot` for two vectors q and u against the same x, in one pass: the same sums, with twice the
/// independent lanes (the lanes' add latency, not the loads, bounded a single dot product).
template <std::size_t Stride, class T>
DECENT_HD void strided_dot2(const T* x, const T* q, const T* u, std::size_t n, std::size_t stride, T& xq, T& xu) {
  const std::size_t step = Stride != 0 ? Stride : stride;
  row_lane_sums<T> s, t;
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    s.add8(x + k, q + k * step, step);
    t.add8(x + k, u + k * step, step);
  }
  lane_sums<T> all_q = s.lanes(), all_u = t.lanes();
  all_q.add_tail(x + k, q + k * step, step, n - k);
  all_u.add_tail(x + k, u + k * step, step, n - k);
  xq = all_q.total();
  xu = all_u.total();
}

#ifdef DECENT_HOST_PAIR_LANES
/// Σ_k x[k]·q[2k + c] for c = 0, 1 (a row times a b×2 basis) into xq[0], xq[1], and the same for u into xu, in
/// the order of `lane_sums`: `host_pair_lane_sums`, two bases per pass as in `strided_dot2`. (Rank 2 read q at
/// stride 2 one value at a time before: 0.21× the triad bandwidth in bench/mixing_bench, 0.50× with these.)
inline void pair_dot2(const float* x, const float* q, const float* u, std::size_t n, float* xq, float* xu) {
  host_pair_lane_sums s, t;
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    s.add8(x + k, q + 2 * k);
    t.add8(x + k, u + 2 * k);
  }
  for (std::size_t c = 0; c < 2; ++c) {
    lane_sums<float> all_q = s.lanes(c), all_u = t.lanes(c);
    all_q.add_tail(x + k, q + 2 * k + c, 2, n - k);
    all_u.add_tail(x + k, u + 2 * k + c, 2, n - k);
    xq[c] = all_q.total();
    xu[c] = all_u.total();
  }
}
/// `pair_dot2` for one basis.
inline void pair_dot(const float* x, const float* q, std::size_t n, float* xq) {
  host_pair_lane_sums s;
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) s.add8(x + k, q + 2 * k);
  for (std::size_t c = 0; c < 2; ++c) {
    lane_sums<float> all = s.lanes(c);
    all.add_tail(x + k, q + 2 * k + c, 2, n - k);
    xq[c] = all.total();
  }
}
#endif

/// The host's vector code for the products of several rows or columns (`host_rows_blocks`, `host_columns_blocks`):
/// the vectors' width in bytes and the vector registers that may hold their lanes. As built (`host_simd_built`):
/// 32 bytes with AVX (-mavx, -march=native), else 16 (SSE2, x86-64's baseline); 32 registers with AVX-512, else 16.
/// The sums do not depend on it (each lane is the scalar `lane_sums`' lane).
struct host_simd {
  std::size_t bytes, registers;
};
/// A build for x86-64's baseline (no -mavx2, no -mfma) with GCC or Clang, not under nvcc (whose host code keeps
/// one copy), carries a second copy of the host's loops compiled for AVX2 (`exec::host`, `host_rows_blocks_avx2`)
/// and runs it where the CPU has AVX2. AVX2 without FMA: no product is fused into a sum, and the compiler reorders
/// no floating-point operation in either copy, so both give the same bits.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX2__) && !defined(__FMA__) && \
    !defined(__CUDACC__) && !defined(DECENT_NO_AVX2_COPY)
#define DECENT_HOST_AVX2_COPY 1
#define DECENT_HOST_AVX2 __attribute__((target("avx2"), flatten))
inline constexpr host_simd host_simd_avx2{32, 16};
#endif
#if defined(__AVX512F__)
inline constexpr host_simd host_simd_built{32, 32};
#elif defined(__AVX__)
inline constexpr host_simd host_simd_built{32, 16};
#else
inline constexpr host_simd host_simd_built{16, 16};
#endif

/// Rows of X one pass of X·Q̂ by rows takes at rank `Rank` (`host_rows_dot`, ranks 1 and 2) with vectors of
/// `simd`: as many as keep the lanes of two bases in half the vector registers (float, rank 1: 2 rows in SSE2, 4
/// with AVX2, 8 with AVX-512; rank 2: 1, 2, 4). One row's eight lanes form a chain of dependent adds per vector;
/// rows side by side are independent chains, which is what lets a multiply-add per element run at the rate of the
/// loads rather than of the add's latency, and the bases' vectors are loaded once for all the rows. Other ranks: 1.
template <class T, int Rank>
[[nodiscard]] constexpr std::size_t host_product_rows_with(host_simd simd) {
  if constexpr (Rank < 1 || Rank > 2) {
    return 1;  // the other ranks go a row at a time
  } else {
    const std::size_t width = simd.bytes / sizeof(T), vectors = width >= 8 ? 1 : 8 / width;
    const std::size_t rows = (simd.registers - 4) / (2 * static_cast<std::size_t>(Rank) * vectors);
    return rows < 1 ? 1 : rows > 8 ? 8 : rows;
  }
}

#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && defined(__has_builtin)
#if __has_builtin(__builtin_convertvector) && !defined(__CUDACC__)
#define DECENT_HOST_CONVERT_VECTORS 1  // GNU vectors converted lane by lane (add_signs_kernel's host form)
#endif
#if __has_builtin(__builtin_shufflevector)
#define DECENT_HOST_ROW_BLOCKS 1
#if defined(__CUDACC__)
#define DECENT_HOST_UNROLL  // nvcc's front end knows no GCC pragma
#else
#define DECENT_HOST_UNROLL _Pragma("GCC unroll 16")
#endif
/// Vectors of T, `Bytes` wide, for the row blocks.
template <class T, std::size_t Bytes>
struct host_vector {
  typedef T type __attribute__((vector_size(Bytes)));
  static constexpr std::size_t width = Bytes / sizeof(T);
};

/// The two columns of `width` consecutive rows of a basis of rank 2 (row-major: 2·width values from q), as two
/// vectors: even = q[0], q[2], …; odd = q[1], q[3], ….
template <std::size_t Bytes, class T>
[[gnu::always_inline]] inline void deinterleave_pairs(const T* q, typename host_vector<T, Bytes>::type& even,
                                                      typename host_vector<T, Bytes>::type& odd) {
  using vector = typename host_vector<T, Bytes>::type;
  constexpr std::size_t width = host_vector<T, Bytes>::width;
  vector lo, hi;
  __builtin_memcpy(&lo, q, sizeof lo);
  __builtin_memcpy(&hi, q + width, sizeof hi);
  if constexpr (width == 2) {
    even = __builtin_shufflevector(lo, hi, 0, 2);
    odd = __builtin_shufflevector(lo, hi, 1, 3);
  } else if constexpr (width == 4) {
    even = __builtin_shufflevector(lo, hi, 0, 2, 4, 6);
    odd = __builtin_shufflevector(lo, hi, 1, 3, 5, 7);
  } else {
    static_assert(width == 8, "deinterleave_pairs: 2, 4 or 8 lanes");
    even = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
    odd = __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15);
  }
}

/// Rows i0 … i0 + Rows − 1 of P_e = X·Q_e for `Bases` bases of rank `Rank` (1 or 2; Q_e b×Rank row-major, P_e
/// a×Rank), in one pass over the rows: each sum is `strided_dot`'s (lane l of column c sums the terms k ≡ l (mod 8)
/// in increasing k, the same tail and tree), the lanes in vectors of `Bytes`, every (row, basis, column) its own
/// accumulators. The bases' vectors (at rank 2, their columns split apart) are made once per step for all the rows.
/// Always inlined, so that it takes the vector code of the function it is called from (`host_rows_blocks`).
template <std::size_t Rows, std::size_t Bases, int Rank, std::size_t Bytes, class T>
[[gnu::always_inline]] inline void host_rows_dot(const T* x, std::size_t b, const T* const* q, T* const* p,
                                                 std::size_t i0) {
  static_assert(Rank == 1 || Rank == 2, "host_rows_dot: ranks 1 and 2");
  using vector = typename host_vector<T, Bytes>::type;
  constexpr std::size_t width = host_vector<T, Bytes>::width, per = 8 / width, rank = static_cast<std::size_t>(Rank);
  static_assert(per * width == 8, "host_rows_dot: eight lanes in whole vectors");
  vector acc[Rows][Bases][rank][per] = {};
  std::size_t k = 0;
  for (; k + 8 <= b; k += 8) {
    vector qv[Bases][rank][per];
    for (std::size_t e = 0; e < Bases; ++e)
      for (std::size_t v = 0; v < per; ++v) {
        if constexpr (Rank == 1) __builtin_memcpy(&qv[e][0][v], q[e] + k + v * width, sizeof(vector));
        else deinterleave_pairs<Bytes>(q[e] + 2 * (k + v * width), qv[e][0][v], qv[e][1][v]);
      }
    for (std::size_t h = 0; h < Rows; ++h)
      for (std::size_t v = 0; v < per; ++v) {
        vector xv;
        __builtin_memcpy(&xv, x + (i0 + h) * b + k + v * width, sizeof xv);
        for (std::size_t e = 0; e < Bases; ++e)
          for (std::size_t c = 0; c < rank; ++c) acc[h][e][c][v] += xv * qv[e][c][v];
      }
  }
  for (std::size_t h = 0; h < Rows; ++h)
    for (std::size_t e = 0; e < Bases; ++e)
      for (std::size_t c = 0; c < rank; ++c) {
        T lane[8];
        for (std::size_t v = 0; v < per; ++v)
          for (std::size_t l = 0; l < width; ++l) lane[v * width + l] = acc[h][e][c][v][l];
        lane_sums<T> all{lane[0], lane[1], lane[2], lane[3], lane[4], lane[5], lane[6], lane[7]};
        all.add_tail(x + (i0 + h) * b + k, q[e] + k * rank + c, rank, b - k);
        p[e][(i0 + h) * rank + c] = all.total();
      }
}

/// Rows i0 … i0 + count − 1 of P_j = X·Q_j (ranks 1 and 2) in blocks of `host_product_rows_with<T, Rank>(Simd)`
/// rows and two bases (`host_rows_dot`), the rows left over one at a time.
template <host_simd Simd, int Rank, class T>
[[gnu::always_inline]] inline void host_rows_blocks(const T* x, std::size_t b, const T* const* q, T* const* p,
                                                    int bases, std::size_t i0, std::size_t count) {
  constexpr std::size_t rows = host_product_rows_with<T, Rank>(Simd);
  const std::size_t end = i0 + count;
  int j = 0;
  for (; j + 2 <= bases; j += 2) {
    std::size_t i = i0;
    for (; i + rows <= end; i += rows) host_rows_dot<rows, 2, Rank, Simd.bytes>(x, b, q + j, p + j, i);
    for (; i < end; ++i) host_rows_dot<1, 2, Rank, Simd.bytes>(x, b, q + j, p + j, i);
  }
  if (j < bases) {
    std::size_t i = i0;
    for (; i + rows <= end; i += rows) host_rows_dot<rows, 1, Rank, Simd.bytes>(x, b, q + j, p + j, i);
    for (; i < end; ++i) host_rows_dot<1, 1, Rank, Simd.bytes>(x, b, q + j, p + j, i);
  }
}

#if defined(DECENT_HOST_AVX2_COPY)
/// `host_rows_blocks` compiled for AVX2 (without FMA: every product and sum rounds as in the other copies).
template <int Rank, class T>
DECENT_HOST_AVX2 void host_rows_blocks_avx2(const T* x, std::size_t b, const T* const* q, T* const* p, int bases,
                                            std::size_t i0, std::size_t count) {
  host_rows_blocks<host_simd_avx2, Rank>(x, b, q, p, bases, i0, count);
}
#endif
#endif
#endif

#if defined(DECENT_HOST_AVX2_COPY)
/// Whether this CPU runs the AVX2 copy of the host's loops (asked once).
[[nodiscard]] inline bool host_avx2_copy_runs() {
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return avx2;
}
#endif

/// The vector code the host runs the row and column blocks with: `host_simd_built`, or AVX2's where a portable
/// build runs its AVX2 copy.
[[nodiscard]] inline host_simd host_simd_here() {
#if defined(DECENT_HOST_AVX2_COPY)
  if (host_avx2_copy_runs()) return host_simd_avx2;
#endif
  return host_simd_built;
}

/// Rows of X one host work item of X·Q̂ by rows takes at rank `Rank` (a multiple of what one pass of
/// `times_bases_rows_fixed` takes on this host; 1 where it goes a row at a time).
template <class T, int Rank = 1>
[[nodiscard]] inline std::size_t host_product_rows() {
  return host_product_rows_with<T, Rank>(host_simd_here());
}

/// Row i of P = X·Q: p[i·r + c] = Σ_k x[i·b + k]·q[k·r + c] (X row-major a×b, Q b×r, r small), in T, summed as
/// `strided_dot` (8 interleaved lanes). `times_bases_row_fixed` is the same with r at compile time.
template <class T>
DECENT_HD void times_basis_row(const T* x, std::size_t b, const T* q, std::size_t r, std::size_t i, T* p) {
  for (std::size_t c = 0; c < r; ++c) p[i * r + c] = strided_dot<0>(x + i * b, q + c, b, r);
}

/// Row i of P_j = X·Q_j for the `bases` bases q[j] (b×Rank), into p[j]: the sums of `times_basis_row` with the
/// rank at compile time. One pass over the row per two bases and a column (`strided_dot2`), the lanes in
/// registers: the row (b values) comes from the L1 cache after the first pass.
template <int Rank, class T>
DECENT_HD void times_bases_row_fixed(const T* x, std::size_t b, const T* const* q, T* const* p, int bases,
                                     std::size_t i) {
  constexpr auto rank = static_cast<std::size_t>(Rank);
  const T* row = x + i * b;
  int j = 0;
#if defined(DECENT_HOST_PAIR_LANES) && !defined(__CUDA_ARCH__)
  if constexpr (Rank == 2 && std::is_same_v<T, float>) {
    for (; j + 2 <= bases; j += 2) pair_dot2(row, q[j], q[j + 1], b, p[j] + i * rank, p[j + 1] + i * rank);
    if (j < bases) pair_dot(row, q[j], b, p[j] + i * rank);
    return;
  }
#endif
  for (; j + 2 <= bases; j += 2)
    for (std::size_t c = 0; c < rank; ++c)
      strided_dot2<rank>(row, q[j] + c, q[j + 1] + c, b, rank, p[j][i * rank + c], p[j + 1][i * rank + c]);
  if (j < bases)
    for (std::size_t c = 0; c < rank; ++c) p[j][i * rank + c] = strided_dot<rank>(row, q[j] + c, b, rank);
}

/// Rows i0 … i0 + count − 1 of P_j = X·Q_j for the `bases` bases q[j] (b×Rank), into p[j]: the sums of
/// `times_bases_row_fixed`, row by row; on the host at ranks 1 and 2 (T float or double), in blocks of rows and two
/// bases (`host_rows_blocks`) where the host's vectors hold more than one row (`host_simd_here`).
template <int Rank, class T>
DECENT_HD void times_bases_rows_fixed(const T* x, std::size_t b, const T* const* q, T* const* p, int bases,
                                      std::size_t i0, std::size_t count) {
#if defined(DECENT_HOST_ROW_BLOCKS)
  if constexpr ((Rank == 1 || Rank == 2) && (std::is_same_v<T, float> || std::is_same_v<T, double>)) {
#if defined(DECENT_HOST_AVX2_COPY)
    if (host_avx2_copy_runs()) {
      host_rows_blocks_avx2<Rank>(x, b, q, p, bases, i0, count);
      return;
    }
#endif
    if constexpr (host_product_rows_with<T, Rank>(host_simd_built) > 1) {
      host_rows_blocks<host_simd_built, Rank>(x, b, q, p, bases, i0, count);
      return;
    }
  }
#endif
  for (std::size_t i = i0; i < i0 + count; ++i) times_bases_row_fixed<Rank>(x, b, q, p, bases, i);
}

/// Row k of Q = Xᵀ·P: q[k·r + c] = Σ_i x[i·b + k]·p[i·r + c] (X row-major a×b, P a×r), in T, over i in order.
template <class T>
DECENT_HD void transposed_times_basis_row(const T* x, std::size_t a, std::size_t b, const T* p, std::size_t r,
                                          std::size_t k, T* q) {
  for (std::size_t c = 0; c < r; ++c) {
    T acc = 0;
    for (std::size_t i = 0; i < a; ++i) acc += x[i * b + k] * p[i * r + c];
    q[k * r + c] = acc;
  }
}

/// The most rows of Q = Xᵀ·P (columns of X) one work item of `transposed_times_bases_rows` computes on the host
/// (devices take one per item, a thread each): its stack table's width. Wide items read long contiguous segments
/// of every row, which the prefetchers follow: 16 columns per item ran at half the speed of 128, and timed side by
/// side in one process 512 ran at 0.81–0.97× of the triad bandwidth against 0.67–0.80× for 128 (1000×1000 f32,
/// rank 1, two threads; bench/results/kernels.txt, 2026-12-03).
inline constexpr std::size_t host_product_block = 512;

/// Columns per host work item of Xᵀ·P for a matrix of `columns` columns on `threads` threads: as wide as
/// host_product_block allows while every thread still gets an item, and never below 128 columns (rounded up to
/// 16). The sums do not depend on it (each is over the rows in order).
[[nodiscard]] inline std::size_t host_product_width(std::size_t columns, int threads) {
  const std::size_t t = threads > 1 ? static_cast<std::size_t>(threads) : 1;
  const std::size_t per_thread = (columns + t - 1) / t, rounded = (per_thread + 15) / 16 * 16;
  return rounded < 128 ? 128 : rounded > host_product_block ? host_product_block : rounded;
}

/// Rows k0 … k0 + count − 1 (count ≤ Block) of Q_e = Xᵀ·P_e for `Pass` bases, Rank and Pass at compile time: X
/// read once, a row segment at a time; the sums in a stack table (at most 4·4·Block values of T), the loop over the
/// segment's columns vectorised. Four rows per sweep of the table: a sum takes its four terms one after another,
/// ((s + x_i·p_i) + x_{i+1}·p_{i+1}) + …, so each is still summed over i in order (the bits of one row per sweep),
/// while the table is loaded and stored once per four rows instead of once per row (0.51–0.55× the triad
/// bandwidth at one row per sweep, bench/mixing_bench, 1000×1000 f32, rank 1).
template <std::size_t Block, int Rank, std::size_t Pass, class T>
DECENT_HD void transposed_times_bases_columns(const T* x, std::size_t a, std::size_t b, const T* const* p,
                                              T* const* q, std::size_t k0, std::size_t count) {
  constexpr auto rank = static_cast<std::size_t>(Rank);
  constexpr std::size_t rows = 4;
  T acc[Pass][rank][Block] = {};
  std::size_t i = 0;
  for (; i + rows <= a; i += rows) {
    const T* row = x + i * b + k0;
    T pc[rows][Pass][rank];
    for (std::size_t h = 0; h < rows; ++h)
      for (std::size_t e = 0; e < Pass; ++e)
        for (std::size_t c = 0; c < rank; ++c) pc[h][e][c] = p[e][(i + h) * rank + c];
    for (std::size_t w = 0; w < count; ++w) {
      T v[rows];
      for (std::size_t h = 0; h < rows; ++h) v[h] = row[h * b + w];
      for (std::size_t e = 0; e < Pass; ++e)
        for (std::size_t c = 0; c < rank; ++c) {
          T s = acc[e][c][w];
          for (std::size_t h = 0; h < rows; ++h) s += v[h] * pc[h][e][c];
          acc[e][c][w] = s;
        }
    }
  }
  for (; i < a; ++i) {
    const T* row = x + i * b + k0;
    T pc[Pass][rank];
    for (std::size_t e = 0; e < Pass; ++e)
      for (std::size_t c = 0; c < rank; ++c) pc[e][c] = p[e][i * rank + c];
    for (std::size_t w = 0; w < count; ++w) {
      const T v = row[w];
      for (std::size_t e = 0; e < Pass; ++e)
        for (std::size_t c = 0; c < rank; ++c) acc[e][c][w] += v * pc[e][c];
    }
  }
  for (std::size_t e = 0; e < Pass; ++e)
    for (std::size_t w = 0; w < count; ++w)
      for (std::size_t c = 0; c < rank; ++c) q[e][(k0 + w) * rank + c] = acc[e][c][w];
}

#if defined(DECENT_HOST_ROW_BLOCKS)
/// Vectors of columns one strip of `host_columns_blocks` holds for `Pass` bases of rank `Rank` with vectors of
/// `simd`: as many as keep a sum per (basis, column, vector) and the strip's row of X in the registers (two
/// spare), at most 8.
template <std::size_t Pass, int Rank>
[[nodiscard]] constexpr std::size_t host_columns_vectors(host_simd simd) {
  const std::size_t v = (simd.registers - 2) / (Pass * static_cast<std::size_t>(Rank) + 1);
  return v < 1 ? 1 : v > 8 ? 8 : v;
}

/// Rows k0 … k0 + count − 1 (count ≤ Block) of Q_e = Xᵀ·P_e for `Pass` bases of rank `Rank` on the host, with
/// vectors of `Simd`: the columns in strips of `host_columns_vectors` vectors whose sums stay in registers while
/// the strip goes down a tile of 16 rows of X, with a prefetch 4 rows ahead (the hardware's prefetchers do not
/// follow a walk down the rows), the sums kept in a stack table between tiles; the columns after the last whole
/// strip go to `transposed_times_bases_columns`. Every sum is over i in order, as there: the same bits. Tiles of
/// 16 rows (a prefetch 4 ahead), 32, 64 and 256 (8 ahead) ran at 0.46, 0.49, 0.43 and 0.39x of the same-footprint
/// triad at 1000x1000 f32, rank 1 (in cache), and at 0.68, 0.62, 0.52 and 0.52x at 4000x4000 (bench/mixing_bench,
/// one run each, 2026-12-05).
template <host_simd Simd, std::size_t Block, int Rank, std::size_t Pass, class T>
[[gnu::always_inline]] inline void host_columns_blocks(const T* x, std::size_t a, std::size_t b, const T* const* p,
                                                       T* const* q, std::size_t k0, std::size_t count) {
  using vector = typename host_vector<T, Simd.bytes>::type;
  constexpr std::size_t width = host_vector<T, Simd.bytes>::width, rank = static_cast<std::size_t>(Rank);
  constexpr std::size_t vectors = host_columns_vectors<Pass, Rank>(Simd), strip = vectors * width, tile = 16;
  constexpr std::size_t most = Block / strip > 0 ? Block / strip : 1;
  const std::size_t strips = count / strip < most ? count / strip : most;
  vector table[most][Pass][rank][vectors];
  for (std::size_t i0 = 0; i0 < a; i0 += tile) {
    const std::size_t i1 = a - i0 < tile ? a : i0 + tile;
    for (std::size_t s = 0; s < strips; ++s) {
      // The loops over the sums unrolled (GCC otherwise keeps them in memory), the sums moved element by element.
      vector acc[Pass][rank][vectors];
DECENT_HOST_UNROLL
      for (std::size_t e = 0; e < Pass; ++e)
DECENT_HOST_UNROLL
        for (std::size_t c = 0; c < rank; ++c)
DECENT_HOST_UNROLL
          for (std::size_t v = 0; v < vectors; ++v) acc[e][c][v] = i0 == 0 ? vector{} : table[s][e][c][v];
      for (std::size_t i = i0; i < i1; ++i) {
        const T* row = x + i * b + k0 + s * strip;
        if (i + 4 < i1) {
          __builtin_prefetch(row + 4 * b);
          __builtin_prefetch(row + 4 * b + strip - 1);
        }
        vector xv[vectors];
DECENT_HOST_UNROLL
        for (std::size_t v = 0; v < vectors; ++v) __builtin_memcpy(&xv[v], row + v * width, sizeof(vector));
DECENT_HOST_UNROLL
        for (std::size_t e = 0; e < Pass; ++e)
DECENT_HOST_UNROLL
          for (std::size_t c = 0; c < rank; ++c) {
            const T pe = p[e][i * rank + c];
DECENT_HOST_UNROLL
            for (std::size_t v = 0; v < vectors; ++v) acc[e][c][v] += xv[v] * pe;
          }
      }
DECENT_HOST_UNROLL
      for (std::size_t e = 0; e < Pass; ++e)
DECENT_HOST_UNROLL
        for (std::size_t c = 0; c < rank; ++c)
DECENT_HOST_UNROLL
          for (std::size_t v = 0; v < vectors; ++v) table[s][e][c][v] = acc[e][c][v];
    }
  }
  for (std::size_t s = 0; s < strips; ++s)
    for (std::size_t e = 0; e < Pass; ++e)
      for (std::size_t c = 0; c < rank; ++c)
        for (std::size_t v = 0; v < vectors; ++v)
          for (std::size_t l = 0; l < width; ++l)
            q[e][(k0 + s * strip + v * width + l) * rank + c] = table[s][e][c][v][l];
  const std::size_t done = strips * strip;
  if (done < count) transposed_times_bases_columns<Block, Rank, Pass>(x, a, b, p, q, k0 + done, count - done);
}

#if defined(DECENT_HOST_AVX2_COPY)
/// `host_columns_blocks` compiled for AVX2 (as `host_rows_blocks_avx2`).
template <std::size_t Block, int Rank, std::size_t Pass, class T>
DECENT_HOST_AVX2 void host_columns_blocks_avx2(const T* x, std::size_t a, std::size_t b, const T* const* p,
                                               T* const* q, std::size_t k0, std::size_t count) {
  host_columns_blocks<host_simd_avx2, Block, Rank, Pass>(x, a, b, p, q, k0, count);
}
#endif
#endif

/// Rows k0 … k0 + count − 1 (count ≤ Block) of Q_e = Xᵀ·P_e for `Pass` bases, Rank and Pass at compile time: on
/// the host for float and double, `host_columns_blocks`; otherwise `transposed_times_bases_columns`.
template <std::size_t Block, int Rank, std::size_t Pass, class T>
DECENT_HD void transposed_times_bases_block(const T* x, std::size_t a, std::size_t b, const T* const* p, T* const* q,
                                            std::size_t k0, std::size_t count) {
#if defined(DECENT_HOST_ROW_BLOCKS)
  // The sums of a strip in registers: up to 3 bases at rank 4, 4 at rank 3.
  if constexpr ((std::is_same_v<T, float> || std::is_same_v<T, double>) && Pass * Rank + 2 <= 16) {
#if defined(DECENT_HOST_AVX2_COPY)
    if (host_avx2_copy_runs()) {
      host_columns_blocks_avx2<Block, Rank, Pass>(x, a, b, p, q, k0, count);
      return;
    }
#endif
    host_columns_blocks<host_simd_built, Block, Rank, Pass>(x, a, b, p, q, k0, count);
    return;
  }
#endif
  transposed_times_bases_columns<Block, Rank, Pass>(x, a, b, p, q, k0, count);
}

/// Rows k0 … k0 + count − 1 (count ≤ Block) of Q_j = Xᵀ·P_j for the `bases` bases p[j] (a×r), into q[j] (b×r): the
/// same sums as `transposed_times_basis_row`, over i in order, in T, whatever Block. With a
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
