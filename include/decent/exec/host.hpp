#pragma once
/// @file
/// @brief The host executor: kernels as loops on the CPU, parallel with OpenMP when it is enabled.
///
/// Determinism: `sum`, `dot` and `squared_norm` add fixed blocks of `reduction_block` elements in index order
/// and then the block partials in order, so the result is bit-identical for any number of threads.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <memory>
#include <vector>

#include <decent/core/config.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/operations.hpp>
#include <decent/exec/executor.hpp>

#if DECENT_HAS_OPENMP
#include <omp.h>
#endif

namespace decent::exec {

/// An owning buffer of host memory (value-initialised), move-only.
template <class T>
class host_buffer {
 public:
  host_buffer() = default;
  explicit host_buffer(std::size_t n) : data_(n ? std::make_unique<T[]>(n) : nullptr), size_(n) {}
  [[nodiscard]] T* data() { return data_.get(); }
  [[nodiscard]] const T* data() const { return data_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t size_ = 0;
};

/// Runs kernels on the calling thread, or on an OpenMP team of `threads` (0: OpenMP's default).
class host {
 public:
  using executor_concept = executor_tag;
  static constexpr memory_space space = memory_space::host;
  template <class T>
  using buffer = host_buffer<T>;
  /// Elements per partial sum of the deterministic reductions.
  static constexpr std::size_t reduction_block = decent::detail::host_reduction_block;

  /// @param threads OpenMP threads per kernel; 0 uses OpenMP's default, 1 runs serially (use 1 when the
  ///        caller already runs one worker per thread, as the in-process simulator does).
  explicit host(int threads = 0) : threads_(threads) {}

  [[nodiscard]] int threads() const {
#if DECENT_HAS_OPENMP
    return threads_ > 0 ? threads_ : omp_get_max_threads();
#else
    return 1;
#endif
  }

  /// Calls f(i) for every i in [0, n); iterations must be independent: no iteration reads or writes what another
  /// writes (an iteration may read a location before it writes it, as in-place kernels do), no shared
  /// accumulator, no exception, no early exit. With GCC and OpenMP 4.0 or newer, element kernels (no
  /// `work_per_item`) run as SIMD loops at every size (`omp for simd`: the compiler needs no alias checks between
  /// the kernel's pointers, and each iteration keeps its own order of operations, so the results are the same
  /// bits).
  template <class F>
  void for_each(std::size_t n, F f) const {
    // A functor whose items are long (rows) may say how many elements one touches (`work_per_item()`); its items
    // loop over their row themselves, so the item loop is not a SIMD loop.
    if constexpr (requires { { f.work_per_item() } -> std::convertible_to<std::size_t>; }) {
      const std::size_t work = f.work_per_item();
      parallel_for<false>(n, f, work > 1 ? (parallel_threshold + work - 1) / work : parallel_threshold);
    } else {
      parallel_for<true>(n, f, parallel_threshold);
    }
  }

  /// Σ_{i<n} term(i) in double, in a fixed order (see file comment).
  template <class F>
  [[nodiscard]] double sum(std::size_t n, F term) const {
    // The order of decent::detail::ordered_sum, with the blocks computed in parallel.
    const std::size_t blocks = (n + reduction_block - 1) / reduction_block;
    if (blocks <= 1) return decent::detail::block_sum(term, 0, n);
    std::vector<double> partial(blocks);
    parallel_for<false>(
        blocks,
        [&](std::size_t b) {
          partial[b] = decent::detail::block_sum(term, b * reduction_block, std::min(n, (b + 1) * reduction_block));
        },
        2);
    double total = 0;
    for (double p : partial) total += p;
    return total;
  }

  template <class T>
  void copy(T* dst, const T* src, std::size_t n) const {
    for_each(n, decent::detail::copy_kernel<T>{dst, src});
  }
  /// Host memory in, executor memory out: a copy here.
  template <class T>
  void upload(T* dst, const T* host_src, std::size_t n) const {
    copy(dst, host_src, n);
  }
  /// Executor memory in, host memory out: a copy here.
  template <class T>
  void download(T* host_dst, const T* src, std::size_t n) const {
    copy(host_dst, src, n);
  }
  template <class T>
  [[nodiscard]] buffer<T> allocate(std::size_t n) const {
    return buffer<T>(n);
  }
  /// Host kernels complete before they return.
  void synchronize() const {}

 private:
  static constexpr std::size_t parallel_threshold = 1u << 14;

  /// Calls f(i) for i in [0, n), on the OpenMP team when n ≥ min_parallel, each thread a contiguous share of
  /// [0, n). Each thread loops over its own copy of f: the copy's fields (pointers, sizes, coefficients) then
  /// live in registers, since no store through a kernel's pointers can change a local object whose address never
  /// escapes — with `f` read through a reference, the compiler must reload every field after every store, which
  /// keeps loops scalar. Where the build carries an AVX2 copy of the loops (DECENT_HOST_AVX2_COPY, kernels.hpp)
  /// and the CPU has AVX2, the threads run that copy: the same operations in the same order, wider vectors.
  template <bool Simd, class F>
  void parallel_for(std::size_t n, const F& f, std::size_t min_parallel) const {
    const auto count = static_cast<std::ptrdiff_t>(n);
#if defined(DECENT_HOST_AVX2_COPY)
    const bool avx2 = decent::detail::host_avx2_copy_runs();
#endif
#if DECENT_HAS_OPENMP
    const int t = threads();
#pragma omp parallel num_threads(t) if (t > 1 && n >= min_parallel)
    {
      const std::ptrdiff_t share = (count + omp_get_num_threads() - 1) / omp_get_num_threads();
      const std::ptrdiff_t begin = std::min(count, share * omp_get_thread_num()), end = std::min(count, begin + share);
#else
    (void)min_parallel;
    {
      const std::ptrdiff_t begin = 0, end = count;
#endif
#if defined(DECENT_HOST_AVX2_COPY)
      if (avx2) items_avx2<Simd>(f, begin, end);
      else
#endif
        items<Simd>(f, begin, end);
    }
  }

  /// f(i) for i in [begin, end), on a copy of f; a SIMD loop where `Simd` (GCC: no alias checks between the
  /// kernel's pointers, each iteration in its own order of operations). Clang reports every `omp simd` loop it
  /// cannot vectorise as a warning (-Wpass-failed, an error under -Werror), and vectorises the plain loop with its
  /// own alias checks: the SIMD loop is for GCC (and nvcc's host compiler).
  template <bool Simd, class F>
  [[gnu::always_inline]] static inline void items(const F& f, std::ptrdiff_t begin, std::ptrdiff_t end) {
    const F local = f;
    if constexpr (Simd) {
#if DECENT_HAS_OPENMP && _OPENMP >= 201307 && !defined(__clang__)
#pragma omp simd
#endif
      for (std::ptrdiff_t i = begin; i < end; ++i) local(static_cast<std::size_t>(i));
    } else {
      for (std::ptrdiff_t i = begin; i < end; ++i) local(static_cast<std::size_t>(i));
    }
  }
#if defined(DECENT_HOST_AVX2_COPY)
  /// `items` compiled for AVX2 (kernels.hpp: DECENT_HOST_AVX2_COPY).
  template <bool Simd, class F>
  DECENT_HOST_AVX2 static void items_avx2(const F& f, std::ptrdiff_t begin, std::ptrdiff_t end) {
    items<Simd>(f, begin, end);
  }
#endif

  int threads_ = 0;
};

static_assert(executor<host>);

}  // namespace decent::exec
